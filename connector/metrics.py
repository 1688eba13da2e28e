"""Prometheus metrics of every process, served by the web process's /metrics (docs/operations.md).

The web process's gunicorn workers share their counters through prometheus_client's multiprocess
mode (gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR). Worker processes usually run on other
machines (Heroku dynos), which nobody scrapes: each worker's sweeper leaves a snapshot of its
counters in Redis (`snapshot()`, stored by storage), and /metrics adds up the snapshots of the
live workers with the web process's own (`merge()`). What the whole relay shares (backlog, dead
letters, queue depth, the org's API usage) is read from Redis at each scrape.

Labels are bounded: a status is an HTTP status class or an error kind, never an id or a text.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

WEBHOOKS = Counter("connector_webhooks", "LINE webhook requests answered, by HTTP status", ["status"])
WEBHOOK_SECONDS = Histogram(
    "connector_webhook_seconds",
    "Time to answer a LINE webhook",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2),
)
DRAINS = Counter("connector_drain_jobs", "Drain jobs run by the workers, by outcome (ok, error)", ["outcome"])
DRAIN_SECONDS = Histogram(
    "connector_drain_job_seconds",
    "Time of one drain job (until nothing is claimable)",
    buckets=(*_CALL_BUCKETS, 60, 300),
)
DRAIN_EVENTS = Counter("connector_drained_events", "Events applied by drain jobs")
CALLS = Counter(
    "connector_api_calls", "Calls to Salesforce, LINE and Twilio, by service and status", ["service", "status"]
)
CALL_SECONDS = Histogram(
    "connector_api_call_seconds", "Time of a call to a service", ["service"], buckets=_CALL_BUCKETS
)


_WEBHOOK_BY_STATUS: dict[int, object] = {}


def webhook_answered(status: int, seconds: float) -> None:
    """One webhook answer (the hot path: the labelled child is looked up once per status)."""
    child = _WEBHOOK_BY_STATUS.get(status)
    if child is None:
        child = _WEBHOOK_BY_STATUS.setdefault(status, WEBHOOKS.labels(str(status)))
    child.inc()
    WEBHOOK_SECONDS.observe(seconds)


def status_of(exc: BaseException | None, http_status: int | None = None) -> str:
    """A bounded label: `2xx`..`5xx`, else the kind of failure (`timeout`, `connection`, `error`)."""
    if http_status:
        return f"{http_status // 100}xx"
    if exc is None:
        return "ok"
    name = type(exc).__name__.lower()
    if "timeout" in name:
        return "timeout"
    if "connection" in name or isinstance(exc, OSError):
        return "connection"
    return "error"


@contextmanager
def timed_call(service: str):
    """Count and time one call; `call.status` may be set to the HTTP status seen."""
    call = _Call()
    start = time.perf_counter()
    try:
        yield call
    except BaseException as exc:
        call.status = call.status or status_of(exc, getattr(exc, "status", None))
        raise
    finally:
        CALL_SECONDS.labels(service).observe(time.perf_counter() - start)
        CALLS.labels(service, call.status or "ok").inc()


class _Call:
    status: str | None = None


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_registry() -> CollectorRegistry:
    """This process's metrics (and, in gunicorn, its sibling workers')."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def snapshot() -> str:
    """This process's counters and histograms in the text format (what a worker leaves in Redis)."""
    return generate_latest(process_registry()).decode()


def merge(texts: Iterable[str]) -> list:
    """Metric families of several processes' text snapshots, added up sample by sample."""
    families: dict[str, object] = {}
    sums: dict[str, dict[tuple, float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.type not in ("counter", "histogram", "gauge") or family.name.startswith(("python_", "process_")):
                continue
            families.setdefault(family.name, family)
            acc = sums.setdefault(family.name, {})
            for s in family.samples:
                if s.name.endswith("_created"):
                    continue
                key = (s.name, tuple(sorted(s.labels.items())))
                acc[key] = acc.get(key, 0.0) + s.value
    out = []
    for name, family in families.items():
        family.samples = [Sample(n, dict(labels), v) for (n, labels), v in sums[name].items()]
        out.append(family)
    return out
