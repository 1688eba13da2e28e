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

from connector.domain.records import CASE, KEY_FIELDS, MESSAGE, SESSION, Upsert
from connector.gateways import soql
from connector.gateways.errors import Permanent
from connector.gateways.line import ContentTooLarge
from connector.gateways.salesforce import CONTENT_DOCUMENT_ID
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
    if store.marker(marker + ":try") and _already_uploaded(rt, key):
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
    rt.salesforce.create_file(
        title=name,
        path_on_client=name,
        data_b64=base64.b64encode(data).decode(),
        parent=parent,
        then_update=(
            MESSAGE,
            KEY_FIELDS[MESSAGE],
            key,
            {
                "Content_Status__c": "Stored",
                "File_Name__c": name[:255],
                "File_Size__c": len(data),
                "Content_Document_Id__c": CONTENT_DOCUMENT_ID,
            },
        ),
    )
    store.set_marker(marker, {"status": "Stored"}, ttl_s=CONTENT_TTL_S)
    rt.blobs.delete(CONTENT, key)
    log.info("content of message %s stored in Salesforce (%d bytes)", key, len(data))
    return "stored"


def _already_uploaded(rt, key: str) -> bool:
    return soql.message_content_document(rt.salesforce, key) is not None


def _final(rt, marker: str, key: str, status: str) -> str:
    rt.salesforce.upsert_many([Upsert(MESSAGE, key, {"Content_Status__c": status})])
    rt.store.set_marker(marker, {"status": status}, ttl_s=CONTENT_TTL_S)
    log.warning("content of message %s not stored: %s", key, status)
    return status
