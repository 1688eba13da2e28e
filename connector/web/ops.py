"""Operations endpoints: liveness, readiness, metrics (no personal data)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify

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
    rt = current_app.extensions["connector"]
    try:
        store = rt.store
        body = {
            "backlog": store.backlog(),
            "dead_letters": len(store.dead_letters()),
            "queued_jobs": rt.queue.count,
            "counters": store.metrics(),
            **outage.status(rt),
        }
    except StorageError as exc:
        return jsonify(error=f"redis unavailable ({type(exc).__name__})"), 503
    return jsonify(body), 200
