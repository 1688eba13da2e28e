"""Operator -> LINE: deliver one outbound message record exactly once, then record the outcome.

The record arrives from the `message.send` callout (sealed in the job's arguments) or from the
sweep of records still Pending in Salesforce. Exactly once:

* the push carries `X-Line-Retry-Key` = retry_key("op:" + record Id) (the message key), so a
  second push of the same record - a retried job, a sweep racing the callout, a lost marker -
  is answered 409 by LINE and counted as delivered;
* a marker in Redis remembers the outcome, so a retried job only writes the status back;
* a short per-record lock keeps two jobs of the same record from working at once.

Outcome on the record (upsert by Message_Key__c): Delivery_Status__c Sent (+ LINE_Message_Id__c,
Sent_At__c, the error cleared) or Failed (+ Delivery_Error__c, the reason). LINE unavailable
(5xx, timeout, 429) -> the job raises and RQ retries; the record stays Pending meanwhile and
the sweep would find it again after its last retry.

Images: the ContentVersion's bytes are fetched from Salesforce once (checked: JPEG or PNG, at
most 10 MB), kept sealed in Redis for the first hour, and served to LINE from signed links on the
relay that work for `routing.operator_image_link_days` (connector/web/media.py): the original
and a preview within LINE's size rules.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from connector.domain import media
from connector.domain import operator as operator_domain
from connector.domain.records import MESSAGE, Upsert
from connector.gateways import soql
from connector.gateways.errors import Permanent
from connector.jobs import DELIVER_OPERATOR_MESSAGE, delivery, enqueue, job_id
from connector.runtime import get_runtime
from connector.storage.blobs import MEDIA

log = logging.getLogger(__name__)
MAX_TEXT_UTF16 = 5000
LOCK_MS = 120_000


class Undeliverable(Exception):
    """The record cannot become a LINE message (the reason goes to Delivery_Error__c)."""


def deliver(sealed: bytes) -> str:
    """RQ job: deliver one operator message record (sealed callout record)."""
    rt = get_runtime()
    record = rt.vault.open_json(sealed)
    key = record["messageKey"]
    if operator_domain.is_internal(record):
        log.error("outbound %s refused: internal message, never sent to LINE", key)
        return "refused"
    lease = rt.leases.acquire(f"outbound:{key}", LOCK_MS)
    if lease is None:
        log.info("outbound %s: another job is delivering it", key)
        return "busy"
    try:
        result = _push(rt, record)
        _write_back(rt, key, result)
        return result["status"]
    finally:
        rt.leases.release(f"outbound:{key}", lease)


def _push(rt, record: dict) -> dict:
    key = record["messageKey"]
    result = rt.store.marker(key)
    if result:
        return result
    try:
        channel_id, _, to = operator_domain.parse_session_key(record.get("sessionKey") or "")
        rt.config.channel(channel_id)
        message = _message(rt, record)
    except (ValueError, KeyError):
        return delivery.failed(rt, key, "not a session of a configured LINE channel")
    except Undeliverable as exc:
        return delivery.failed(rt, key, str(exc))
    result = delivery.push_once(rt, channel_id, to, [message], key)
    log.info("outbound %s: %s", key, result["status"])
    return result


def _message(rt, record: dict) -> dict:
    mtype = record.get("messageType")
    if mtype == "text":
        text = record.get("text") or ""
        if not text.strip():
            raise Undeliverable("empty text")
        if len(text.encode("utf-16-le")) // 2 > MAX_TEXT_UTF16:
            raise Undeliverable(f"text longer than {MAX_TEXT_UTF16} characters (LINE's limit)")
        return {"type": "text", "text": text}
    if mtype == "sticker":
        if not record.get("stickerPackageId") or not record.get("stickerId"):
            raise Undeliverable("sticker without package or sticker id")
        return {"type": "sticker", "packageId": str(record["stickerPackageId"]), "stickerId": str(record["stickerId"])}
    if mtype == "image":
        original, preview = image_urls(rt, record)
        return {"type": "image", "originalContentUrl": original, "previewImageUrl": preview}
    raise Undeliverable(f"message type {mtype!r} cannot be sent")


def image_urls(rt, record: dict) -> tuple[str, str]:
    """Check the image once and keep it in Redis for the first fetches; return the signed links
    of the original and of its preview, valid as long as the chat may be read."""
    version_id = record.get("contentVersionId") or _latest_version(rt, record.get("contentDocumentId"))
    if not version_id:
        raise Undeliverable("image without a file")
    if not rt.blobs.exists(MEDIA, version_id):
        try:
            data = rt.salesforce.content_version_data(version_id)
        except Permanent as exc:
            raise Undeliverable(f"image file not readable: {exc}") from None
        if len(data) > media.MAX_ORIGINAL_BYTES:
            raise Undeliverable("image larger than 10 MB (LINE's limit)")
        if media.image_type(data) is None:
            raise Undeliverable("image must be JPEG or PNG")
        rt.blobs.put(MEDIA, version_id, data, rt.settings.routing.media_url_ttl_seconds)
    exp = int(time.time()) + rt.settings.routing.operator_image_link_days * 86400
    base = f"{rt.settings.public_base_url.rstrip('/')}/media/"
    keys = rt.config.encryption_keys
    return (
        base + media.make_token(keys, version_id, exp, media.ORIGINAL),
        base + media.make_token(keys, version_id, exp, media.PREVIEW),
    )


def _latest_version(rt, document_id: str | None) -> str | None:
    if not document_id:
        return None
    return soql.latest_content_version(rt.salesforce, document_id)


def _write_back(rt, key: str, result: dict) -> None:
    # Delivery_Error__c is cleared explicitly: an earlier failed attempt may have set it.
    fields = {"Delivery_Error__c": None, **delivery.delivery_fields(result)}
    res = rt.salesforce.upsert_many([Upsert(MESSAGE, key, fields)])
    r = res.get((MESSAGE, key))
    if not (r and r.ok):
        raise RuntimeError(f"delivery status of {key} not recorded: {r.code if r else 'no result'}")


# --------------------------------------------------------------------------- the sweep


def sweep_due(rt) -> bool:
    """At most one sweep per `outbound_sweep_interval_seconds` across all workers."""
    ttl = max(1, int(rt.settings.routing.outbound_sweep_interval_seconds))
    return rt.leases.once("outbound-sweep", ttl)


def sweep_job() -> int:
    return sweep(get_runtime())


def sweep(rt, now: float | None = None) -> int:
    """Enqueue delivery of operator records still Pending after `outbound_sweep_delay_seconds`
    (their callout was lost or failed): one SOQL query. Returns how many were enqueued."""
    s = rt.settings.routing
    now = time.time() if now is None else now
    before = datetime.fromtimestamp(now - s.outbound_sweep_delay_seconds, tz=UTC)
    rows = soql.pending_operator_messages(rt.salesforce, before)
    n = 0
    for row in rows:
        key = row.get("Message_Key__c") or ""
        if not key.startswith("op:") or key.startswith("op:pending:") or operator_domain.is_internal(row):
            continue
        record = {
            "id": row["Id"],
            "messageKey": key,
            "messageType": row.get("Type__c"),
            "text": row.get("Text__c"),
            "sessionKey": (row.get("Chat_Session__r") or {}).get("Session_Key__c"),
            "stickerPackageId": row.get("Sticker_Package_Id__c"),
            "stickerId": row.get("Sticker_Id__c"),
            "contentVersionId": None,
            "contentDocumentId": row.get("Content_Document_Id__c"),
        }
        enqueue(rt, DELIVER_OPERATOR_MESSAGE, rt.vault.seal_json(record), key=job_id("op", key))
        n += 1
    if n:
        log.info("outbound sweep: %d pending operator message(s) re-enqueued", n)
    return n
