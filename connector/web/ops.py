"""Operations endpoints: liveness, readiness, metrics (no personal data)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from connector import metrics as prom
from connector.gateways.errors import GatewayError
from connector.jobs import outage
from connector.storage import StorageError, ping

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)
_READY_CACHE_S = 30.0


@bp.get("/healthz")
def healthz():
    return jsonify(status="alive"), 200


@bp.get("/readyz")
def readyz():
    """Ready when Redis answers and Salesforce authenticates (cached for 30 s); never a 500."""
    rt = current_app.extensions["connector"]
    checks = {}
    try:
        ping(rt.redis)
        checks["redis"] = "ok"
    except StorageError as exc:
        checks["redis"] = f"unavailable ({type(exc).__name__})"
    if time.time() - rt.salesforce_ok_at < _READY_CACHE_S:
        checks["salesforce"] = "ok"
    else:
        try:
            rt.salesforce.client()
            rt.salesforce_ok_at = time.time()
            checks["salesforce"] = "ok"
        except GatewayError as exc:
            checks["salesforce"] = f"unavailable ({exc})"
        except Exception as exc:  # noqa: BLE001 - readiness reports a failure, it never is one (no 500)
            log.error("readyz: salesforce check failed: %s", type(exc).__name__)
            checks["salesforce"] = f"unavailable ({type(exc).__name__})"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ok else "not ready", checks=checks), 200 if ok else 503


@bp.get("/metrics")
def metrics():
    """Prometheus' text format; the JSON view with `?format=json` (or Accept: application/json only)."""
    rt = current_app.extensions["connector"]
    try:
        store = rt.store
        body = {
            "backlog": store.backlog(),
            "dead_letters": len(store.dead_letters()),
            "queued_jobs": rt.queue.count,
            "counters": store.metrics(),
            **outage.status(rt),
            "settings_sync": store.settings_status() if rt.base_config.settings.settings_sync.enabled else None,
        }
        if not _wants_json():
            snapshots = store.metrics_snapshots(time.time(), _snapshot_max_age(rt))
    except StorageError as exc:
        return jsonify(error=f"redis unavailable ({type(exc).__name__})"), 503
    if _wants_json():
        return jsonify(body), 200
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Relay(body, [generate_latest(prom.process_registry()).decode(), *snapshots]))
    return current_app.response_class(
        generate_latest(registry), status=200, mimetype=None, content_type=CONTENT_TYPE_LATEST
    )


def _wants_json() -> bool:
    if request.args.get("format") == "json":
        return True
    accept = request.accept_mimetypes
    return accept.best_match(["text/plain", "application/json"]) == "application/json" and accept["text/plain"] == 0


def _snapshot_max_age(rt) -> float:
    """A worker that has not left a snapshot for this long has stopped: its counts leave the sums."""
    return max(60.0, 6 * rt.settings.queue.sweep_interval_seconds)


class _Relay:
    """What the relay shares in Redis, and the processes' counters added up (connector/metrics.py)."""

    def __init__(self, body: dict, process_texts: list[str]):
        self.body, self.process_texts = body, process_texts

    def collect(self):
        b = self.body
        yield from prom.merge(self.process_texts)
        backlog = GaugeMetricFamily("connector_backlog", "What waits in Redis for the workers", labels=["what"])
        for what, n in b["backlog"].items():
            backlog.add_metric([what], n)
        yield backlog
        yield GaugeMetricFamily(
            "connector_dead_letters", "Events and jobs in the dead-letter registry", value=b["dead_letters"]
        )
        yield GaugeMetricFamily(
            "connector_queued_jobs", "Jobs waiting in the RQ queue (queue depth)", value=b["queued_jobs"]
        )
        counts = CounterMetricFamily(
            "connector_relay_events", "Relay-wide counts kept in Redis, by name", labels=["name"]
        )
        for name, n in sorted(b["counters"].items()):
            counts.add_metric([name], n)
        yield counts
        yield GaugeMetricFamily(
            "connector_salesforce_paused",
            "1 while Salesforce writes are paused (outage or API reserve)",
            value=int(b["salesforce_paused"]),
        )
        api = b.get("salesforce_api")
        if api:
            yield GaugeMetricFamily(
                "connector_salesforce_api_used", "The org's daily API requests used (last reported)", value=api["used"]
            )
            yield GaugeMetricFamily(
                "connector_salesforce_api_limit", "The org's daily API request limit", value=api["limit"]
            )
            yield GaugeMetricFamily(
                "connector_salesforce_api_reserve_share",
                "Share of the daily limit left to other integrations",
                value=api["reserve_share"],
            )
            yield GaugeMetricFamily(
                "connector_salesforce_api_budget_share",
                "Share of the connector's part of the limit used (1: writes pause until usage falls)",
                value=api["budget_share"],
            )
        sync = b.get("settings_sync")
        if sync:
            yield GaugeMetricFamily(
                "connector_settings_sync_ok",
                "1 when the last sync of the admins' settings from Salesforce was valid (0: the last good ones stay)",
                value=int(sync["ok"]),
            )
            yield GaugeMetricFamily(
                "connector_settings_sync_timestamp_seconds", "When the settings were last synced", value=sync["at"]
            )
        mem = b["redis_memory"]
        yield GaugeMetricFamily("connector_redis_memory_used_bytes", "Redis used memory", value=mem["used"])
        yield GaugeMetricFamily("connector_redis_memory_max_bytes", "Redis maxmemory (0: none)", value=mem["max"])
