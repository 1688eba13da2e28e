"""Identity-verification images: schedule their deletion, delete them everywhere, audit it.

* **Schedule.** An image that arrives within `retention.identity_request_window_minutes` after an
  operator asked for an ID document (`identity.request` callout), or that an operator marks
  (`media.identity` callout, action `mark`), gets `Identity_Class__c` and `Retention_Until__c` on
  its message record in Salesforce AND an entry in Redis (storage/retention.py).
* **Purge** (`purge`, one job for up to 200 files): the sealed bytes in Redis, signed media links
  (their bytes in Redis), the Salesforce file and its recycle-bin entry (the package's Apex REST
  resource, 1 API call), then in one call the message record's placeholder and the audit record
  (`LINE_Data_Deletion__c`, upsert on the message key: one per file however often this runs).
  The Redis entry goes last, so a purge that dies halfway is found again.
* **Nothing forgotten.** Every `check_interval_seconds` a worker queues purges for the Redis
  entries that are due; once a day (`day_seconds`) a sweep asks Salesforce for identity images past
  retention without `Content_Deleted_At__c` (a lost Redis, a worker that died before scheduling)
  and purges them too. A purge that fails (Salesforce down, a file refused) is retried by RQ and by
  the next check, counted (`retention_purge_failed`) and logged; from the third failure of a file
  it is logged as an error (alert).
* **Operator "delete now"** (`media.identity`, action `delete`): the same purge, now, with the
  operator in the audit record.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from connector.domain import retention as R
from connector.domain.records import DELETION, MESSAGE, Upsert, parse_sf_datetime
from connector.gateways import soql
from connector.gateways.errors import GatewayError
from connector.jobs import RETENTION_PURGE, RETENTION_SWEEP, enqueue, job_id
from connector.runtime import get_runtime
from connector.storage.blobs import CONTENT, MEDIA, MEDIA_PREVIEW

log = logging.getLogger(__name__)
ALERT_AFTER = 3  # failed attempts of one file before it is logged as an error


# -- scheduling --------------------------------------------------------------------------------
def identity_fields(rt, channel_id: str, start: float) -> tuple[dict, float, R.Rule]:
    """The message-record fields that put an identity image on the schedule, its due time and rule."""
    rule = R.rule_for(rt.settings.retention, channel_id)
    due = R.due_at(start, rule)
    return {"Identity_Class__c": True, "Retention_Until__c": R.iso(due)}, due, rule


def asked_recently(rt, session_key: str, now: float) -> bool:
    """Whether an image arriving now in this session is identity-class (an ID document was asked for)."""
    window = rt.settings.retention.identity_request_window_minutes * 60
    return R.is_identity_image("image", rt.retention_store.asked_at(session_key), now, window)


def schedule(rt, message_key: str, channel_id: str, due: float, rule: R.Rule, document: str = "", **extra) -> None:
    rt.retention_store.schedule(
        message_key, channel=channel_id, due=due, trigger=R.BY_RETENTION, rule=rule.name, document=document, **extra
    )


def callout(sealed: bytes) -> str:
    """RQ job for the callouts `identity.request` (an operator asked the customer for an ID
    document: `{sessionKey}`) and `media.identity` (`{messageKey, action: mark|delete, userId}`)."""
    rt = get_runtime()
    env = rt.vault.open_json(sealed)
    return handle_callout(rt, env["type"], env.get("data") or {})


def handle_callout(rt, kind: str, data: dict) -> str:
    now = time.time()
    if kind == "identity.request":
        rt.retention_store.asked(data["sessionKey"], now, rt.settings.retention.identity_request_window_minutes * 60)
        return "asked"
    key = data["messageKey"]
    rows = soql.messages_by_key(rt.salesforce, [key])
    if not rows:
        log.warning("media.identity ignored: no such message record")
        return "ignored"
    row = rows[0]
    channel_id = ((row.get("Chat_Session__r") or {}).get("Channel_Id__c")) or ""
    document = row.get("Content_Document_Id__c") or ""
    if data.get("action") == "delete":
        rule = R.rule_for(rt.settings.retention, channel_id)
        rt.retention_store.schedule(
            key,
            channel=channel_id,
            due=now,
            trigger=R.BY_OPERATOR,
            rule=rule.name,
            document=document,
            by=str(data.get("userId") or "")[:18],
        )
        rt.salesforce.upsert_many([Upsert(MESSAGE, key, {"Identity_Class__c": True, "Retention_Until__c": R.iso(now)})])
        purge([key])
        return "deleted"
    arrived = _epoch(row.get("Sent_At__c")) or now
    fields, due, rule = identity_fields(rt, channel_id, arrived)
    rt.salesforce.upsert_many([Upsert(MESSAGE, key, fields)])
    schedule(rt, key, channel_id, due, rule, document)
    return "marked"


# -- deleting ----------------------------------------------------------------------------------
def purge(message_keys: list[str]) -> dict[str, str]:
    """RQ job: delete the files of these messages everywhere (at most 200). Idempotent."""
    rt = get_runtime()
    store = rt.retention_store
    keys = list(dict.fromkeys(message_keys))[: R.BATCH]
    items = {k: store.item(k) or {} for k in keys}
    try:
        # Files the schedule does not name (a sweep found them in Salesforce only) are looked up.
        unknown = [k for k in keys if not items[k].get("document")]
        for row in soql.messages_by_key(rt.salesforce, unknown) if unknown else []:
            item = items.setdefault(row["Message_Key__c"], {})
            item["document"] = row.get("Content_Document_Id__c") or ""
            item.setdefault("channel", (row.get("Chat_Session__r") or {}).get("Channel_Id__c") or "")
        documents = sorted({items[k]["document"] for k in keys if items[k].get("document")})
        # Signed links serve the Redis copy first, then the file (gone below): drop the copies (and
        # previews), and the customer's sealed copy.
        for version_id in soql.content_versions_of(rt.salesforce, documents):
            rt.blobs.delete(MEDIA, version_id)
            rt.blobs.delete(MEDIA_PREVIEW, version_id)
        for k in keys:
            rt.blobs.delete(CONTENT, k)
            if not items[k].get("attempt"):
                store.note_attempt(k)
        results = rt.salesforce.purge_files(documents)
    except GatewayError as exc:
        _failed(rt, keys, exc.code or type(exc).__name__)
        raise
    now = time.time()
    upserts, finished, failed = [], [], []
    for k in keys:
        item = items[k]
        doc = item.get("document")
        outcome = R.outcome(results.get(doc, "failed")) if doc else R.ALREADY_GONE
        if outcome is None:
            failed.append(k)
            continue
        if outcome == R.ALREADY_GONE and item.get("attempt"):
            outcome = R.DELETED  # an earlier attempt of ours deleted it and died before the audit
        trigger = item.get("trigger") or R.BY_RETENTION
        rule = item.get("rule") or R.rule_for(rt.settings.retention, item.get("channel") or "").name
        upserts.append(
            Upsert(
                MESSAGE,
                k,
                {
                    "Content_Status__c": "Deleted",
                    "Content_Document_Id__c": None,
                    "Content_Deleted_At__c": R.iso(now),
                    "Text__c": R.placeholder(now, trigger),
                },
            )
        )
        upserts.append(
            _audit(k, item, rule=rule, trigger=trigger, outcome=outcome, at=now),
        )
        finished.append(k)
    try:
        written = rt.salesforce.upsert_many(upserts) if upserts else {}
    except GatewayError as exc:
        _failed(rt, keys, exc.code or type(exc).__name__)
        raise
    not_written = {u.key for u in upserts if u.ident not in written or not written[u.ident].ok}
    for k in finished:
        if k not in not_written:
            store.done(k)
    failed += [k for k in finished if k in not_written]
    if failed:
        _failed(rt, failed, "refused")
        raise RetentionIncomplete(f"{len(failed)} of {len(keys)} file(s) not purged yet")
    rt.store.count("retention_purged", len(finished))
    log.info("identity images purged: %d file(s)", len(finished))
    return dict.fromkeys(finished, "done")


class RetentionIncomplete(RuntimeError):
    """Some files of a purge are not deleted (or not audited) yet: RQ retries, the next check too."""


def _audit(key: str, item: dict, *, rule: str, trigger: str, outcome: str, at: float) -> Upsert:
    return Upsert(
        DELETION,
        key,
        {
            "Content_Document_Id__c": (item.get("document") or None),
            "Channel_Id__c": (item.get("channel") or None),
            "Data_Class__c": R.IDENTITY_IMAGE,
            "Rule__c": rule[:255],
            "Trigger__c": trigger,
            "Outcome__c": outcome,
            "Deleted_At__c": R.iso(at),
            "Requested_By__c": (item.get("by") or None),
        },
    )


def _failed(rt, keys: list[str], why: str) -> None:
    rt.store.count("retention_purge_failed", len(keys))
    worst = max((rt.retention_store.failed(k) for k in keys), default=0)
    level = logging.ERROR if worst >= ALERT_AFTER else logging.WARNING
    log.log(level, "identity-image purge failed for %d file(s) (%s), attempt %d; retried", len(keys), why, worst)


# -- finding what is due -----------------------------------------------------------------------
def tick(rt) -> None:
    """Sweeper task: queue purges for what is due in Redis; once a day, the Salesforce sweep."""
    settings = rt.settings.retention
    if rt.leases.once("retention:check", settings.check_interval_seconds):
        due = rt.retention_store.due(time.time(), limit=10 * R.BATCH)
        for batch in R.batches(due):
            enqueue(rt, RETENTION_PURGE, batch, key=job_id("purge", ",".join(batch)))
    if rt.leases.once("retention:sweep", settings.day_seconds):
        enqueue(rt, RETENTION_SWEEP, key=job_id("retention-sweep", str(int(time.time() // settings.day_seconds))))


def sweep() -> int:
    """RQ job: identity images past retention that Salesforce still holds are scheduled and purged."""
    rt = get_runtime()
    rows = soql.identity_files_past_retention(rt.salesforce, datetime.now(UTC))
    keys = []
    for row in rows:
        key = row["Message_Key__c"]
        channel_id = (row.get("Chat_Session__r") or {}).get("Channel_Id__c") or ""
        if rt.retention_store.item(key) is None:
            rule = R.rule_for(rt.settings.retention, channel_id)
            due = _epoch(row.get("Retention_Until__c")) or time.time()
            schedule(rt, key, channel_id, due, rule, row.get("Content_Document_Id__c") or "")
        keys.append(key)
    for batch in R.batches(keys):
        enqueue(rt, RETENTION_PURGE, batch, key=job_id("purge", ",".join(batch)))
    if keys:
        log.warning("retention sweep: %d identity image(s) past retention still in Salesforce; purging", len(keys))
    return len(keys)


def _epoch(value) -> float | None:
    dt = parse_sf_datetime(value)
    return dt.timestamp() if dt else None
