"""Settings sync: what admins keep in Salesforce custom metadata reaches the relay without a restart.

A worker reads the records (on a schedule, `settings_sync.interval_seconds`, and when an admin
asks through the signed callout `settings.changed`), turns them into overrides of the YAML
(domain/settings_records.py) and validates the result with the YAML's own validators. A valid
result is saved in Redis, where every process picks it up (Runtime.config). An invalid one never
replaces the last good configuration: each problem, naming the record, is logged and kept as the
sync's status (LINE_Connector_Status__c records, `/metrics?format=json`, `connector settings sync`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

from connector.config import ConfigError, overlaid
from connector.domain import records, settings_records
from connector.gateways import soql
from connector.gateways.errors import GatewayError
from connector.i18n import DEFAULT_TEXTS
from connector.jobs import SETTINGS_SYNC, enqueue
from connector.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)


def run() -> dict:
    """RQ entry point."""
    return sync(get_runtime())


def sync(rt: Runtime) -> dict:
    """Read, validate and (when valid) publish the admins' settings. Returns the sync's status."""
    base = rt.base_config
    try:
        records = soql.connector_settings(rt.salesforce)
    except GatewayError as exc:
        status = {"ok": False, "at": time.time(), "problems": [f"Salesforce unavailable ({exc})"], "applied": False}
        log.warning("settings sync: salesforce unavailable (%s); keeping the current settings", type(exc).__name__)
        earlier = (rt.store.settings_status() or {}).get("record_problems", [])
        rt.store.note_settings_status({**status, "record_problems": earlier})  # for when it is back
        return status
    channels = [c.model_dump() for c in base.settings.line.channels]
    overrides = settings_records.overrides_of(records, channels)
    problems = settings_records.record_problems(records, set(DEFAULT_TEXTS["ja"]))
    if not problems:
        try:
            overlaid(base, overrides)
        except ConfigError as exc:
            problems = exc.problems
    counts = {t[:-5]: len(records.get(t, [])) for t in settings_records.TYPES}
    if problems:
        for problem in problems:
            log.warning("settings sync: %s (the last good settings stay in force)", problem)
        status = {"ok": False, "at": time.time(), "problems": problems, "applied": False, "records": counts}
    else:
        digest = hashlib.sha256(json.dumps(overrides, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
        changed = digest != rt.store.synced_settings_digest()
        if changed:
            rt.store.save_synced_settings(overrides, digest)
        log.info("settings sync: %s (%s)", "applied" if changed else "unchanged", counts)
        status = {"ok": True, "at": time.time(), "problems": [], "applied": changed, "records": counts}
    _report(rt, status)
    return status


def _report(rt: Runtime, status: dict) -> None:
    """The status where the relay keeps it, and on LINE_Connector_Status__c records for the admin
    (a failed write is logged; the next sync writes them again)."""
    earlier = (rt.store.settings_status() or {}).get("record_problems", [])
    rt.store.note_settings_status({**status, "record_problems": status["problems"]})
    at = records.sf_datetime(status["at"] * 1000)
    rows = settings_records.status_records(status["problems"], earlier, at=at, version=_version())
    try:
        results = rt.salesforce.upsert_many(records.Upsert(records.STATUS, key, fields) for key, fields in rows)
    except GatewayError as exc:
        log.warning("settings sync: status not written to Salesforce (%s)", type(exc).__name__)
        return
    failed = sorted({r.code or "error" for r in results.values() if not r.ok})
    if failed:
        log.warning("settings sync: status not written to Salesforce (%s)", ", ".join(failed))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("line-sfdc-connector")
    except PackageNotFoundError:
        return "unknown"


def maybe_schedule(rt: Runtime) -> bool:
    """From every worker's sweeper: one sync per interval across all workers."""
    s = rt.base_config.settings.settings_sync
    if not s.enabled or not rt.leases.once("settings-sync", s.interval_seconds):
        return False
    request(rt)
    return True


def request(rt: Runtime) -> None:
    """A sync soon (an admin saved, or the schedule says so). Not retried: the schedule comes back."""
    enqueue(rt, SETTINGS_SYNC, retry=False, failure_ttl_s=24 * 3600)
