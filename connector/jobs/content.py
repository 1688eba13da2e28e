"""Fetch an image/video/audio/file from LINE promptly and keep it as a Salesforce file.

LINE deletes content after a while, so the bytes are downloaded first and held in Redis
(sealed) until Salesforce has them; a retry uploads from Redis instead of downloading again.
The upload is one Composite call that also links the file to the Case and writes the file's id
onto the message record. If an earlier attempt may have uploaded already, the message record is
checked first, so a retry never creates a second file.
"""

from __future__ import annotations

import base64
import logging
import time

from connector.domain.records import CASE, KEY_FIELDS, MESSAGE, SESSION, Upsert
from connector.gateways import soql
from connector.gateways.errors import Permanent
from connector.gateways.line import ContentTooLarge
from connector.gateways.salesforce import CONTENT_DOCUMENT_ID
from connector.jobs import retention
from connector.runtime import get_runtime
from connector.storage.blobs import CONTENT

log = logging.getLogger(__name__)
EXTENSIONS = {"image": ".jpg", "video": ".mp4", "audio": ".m4a", "file": ""}
CONTENT_TTL_S = 7 * 24 * 3600


def fetch(channel_id: str, item: dict) -> str:
    rt = get_runtime()
    store, key = rt.store, item["message_key"]
    marker = f"content:{key}"
    if store.marker(marker):
        return "already stored"
    identity = _identity_class(rt, channel_id, item)
    if store.marker(marker + ":try"):
        document = soql.message_content_document(rt.salesforce, key)
        if document is not None:
            if identity:
                retention.schedule(rt, key, channel_id, identity[1], identity[2], document)
            store.set_marker(marker, {"status": "Stored"})
            return "already stored"
    data = rt.blobs.get(CONTENT, key)
    if data is None:
        try:
            data = rt.line.content(channel_id, item["message_id"], max_bytes=rt.settings.line.max_content_bytes)
        except ContentTooLarge:
            return _final(rt, marker, key, "Too Large")
        except Permanent as exc:
            if exc.status == 404:
                return _final(rt, marker, key, "Expired")
            raise
        rt.blobs.put(CONTENT, key, data, CONTENT_TTL_S)
    name = item.get("file_name") or f"{item['type']}-{item['message_id']}{EXTENSIONS.get(item['type'], '')}"
    parent = (
        (CASE, KEY_FIELDS[CASE], item["case_key"])
        if item.get("case_key")
        else (SESSION, KEY_FIELDS[SESSION], item["session_key"])
    )
    store.set_marker(marker + ":try", {"at": 1}, ttl_s=CONTENT_TTL_S)
    fields = {
        "Content_Status__c": "Stored",
        "File_Name__c": name[:255],
        "File_Size__c": len(data),
        "Content_Document_Id__c": CONTENT_DOCUMENT_ID,
        **(identity[0] if identity else {}),
    }
    stored = rt.salesforce.create_file(
        title=name,
        path_on_client=name,
        data_b64=base64.b64encode(data).decode(),
        parent=parent,
        then_update=(MESSAGE, KEY_FIELDS[MESSAGE], key, fields),
    )
    if identity:  # Retention_Until__c went with the file; the Redis half of the schedule now
        retention.schedule(rt, key, channel_id, identity[1], identity[2], stored.get("content_document_id") or "")
    store.set_marker(marker, {"status": "Stored"}, ttl_s=CONTENT_TTL_S)
    rt.blobs.delete(CONTENT, key)
    log.info("content of message %s stored in Salesforce (%d bytes)", key, len(data))
    return "stored"


def _identity_class(rt, channel_id: str, item: dict):
    """(record fields, due, rule) when this image is an ID document (it arrived within the window
    after an operator asked for one), else None. Decided at the first attempt and remembered, so a
    retry after the window still knows."""
    if item.get("type") != "image" or not item.get("session_key"):
        return None
    name = f"identity:{item['message_key']}"
    decided = rt.store.marker(name)
    if decided is None:
        now = time.time()
        decided = {"at": now} if retention.asked_recently(rt, item["session_key"], now) else {}
        rt.store.set_marker(name, decided, ttl_s=CONTENT_TTL_S)
    if not decided.get("at"):
        return None
    return retention.identity_fields(rt, channel_id, float(decided["at"]))


def _final(rt, marker: str, key: str, status: str) -> str:
    rt.salesforce.upsert_many([Upsert(MESSAGE, key, {"Content_Status__c": status})])
    rt.store.set_marker(marker, {"status": status}, ttl_s=CONTENT_TTL_S)
    log.warning("content of message %s not stored: %s", key, status)
    return status
