"""Images an operator sends, served to LINE from signed links that last as long as the chat.

LINE fetches `originalContentUrl` / `previewImageUrl` itself, when the customer opens the chat -
which may be days after it was sent - so the links must keep working (`routing.
operator_image_link_days`). The outbound job checks the file and keeps its bytes sealed in Redis
for the first `routing.media_url_ttl_seconds`; after that this endpoint fetches them again from
where the file lives, Salesforce (one API call per fetch, then cached for that time again), and
makes the preview (domain/media.py) the first time it is asked for. The token names the
ContentVersion, the expiry and original or preview, with an HMAC (domain/media.py).

200 image bytes · 404 bad, expired or unknown token, or a file that is gone from Salesforce or is
no JPEG/PNG (no detail about which) · 503 Salesforce unavailable or writes paused, and Redis
could not serve it either (LINE's app fetches the image again when the chat is opened again).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, jsonify

from connector.domain import media as rules
from connector.gateways.errors import GatewayError, Permanent
from connector.storage import StorageError
from connector.storage.blobs import MEDIA, MEDIA_PREVIEW

log = logging.getLogger(__name__)
bp = Blueprint("media", __name__)

RETRY_AFTER_S = 60


class _Gone(Exception):
    pass


@bp.get("/media/<token>")
def media(token: str):
    rt = current_app.extensions["connector"]
    opened = rules.open_token(rt.config.encryption_keys, token, time.time())
    if opened is None:
        return _not_found()
    version_id, variant = opened
    try:
        if variant == rules.PREVIEW:
            data = _cached(rt, MEDIA_PREVIEW, version_id) or _keep(
                rt, MEDIA_PREVIEW, version_id, _preview(_original(rt, version_id))
            )
        else:
            data = _original(rt, version_id)
    except _Gone:
        return _not_found()
    except GatewayError as exc:  # Salesforce down or paused: LINE's app asks again later
        log.warning("media: salesforce unavailable (%s); answering 503", exc.code or type(exc).__name__)
        resp = jsonify(error="temporarily unavailable")
        resp.headers["Retry-After"] = str(RETRY_AFTER_S)
        return resp, 503
    resp = Response(data, mimetype=rules.image_type(data) or "application/octet-stream")
    resp.headers["Cache-Control"] = "private, max-age=86400"  # a ContentVersion never changes
    return resp


def _original(rt, version_id: str) -> bytes:
    data = _cached(rt, MEDIA, version_id)
    if data is not None:
        return data
    try:
        data = rt.salesforce.content_version_data(version_id)
    except Permanent:  # deleted (retention, an operator), or never readable
        raise _Gone from None
    if len(data) > rules.MAX_ORIGINAL_BYTES or rules.image_type(data) is None:
        raise _Gone
    return _keep(rt, MEDIA, version_id, data)


def _preview(data: bytes) -> bytes:
    try:
        return rules.preview(data)
    except rules.NotAnImage:
        raise _Gone from None


def _cached(rt, kind: str, version_id: str) -> bytes | None:
    try:
        return rt.blobs.get(kind, version_id)
    except StorageError as exc:  # Redis away: Salesforce still has the file
        log.warning("media: redis unavailable (%s); fetching from salesforce", type(exc).__name__)
    except ValueError:  # sealed with a key that is no longer configured: fetch it again
        pass
    return None


def _keep(rt, kind: str, version_id: str, data: bytes) -> bytes:
    try:
        rt.blobs.put(kind, version_id, data, rt.settings.routing.media_url_ttl_seconds)
    except StorageError:
        pass  # served anyway; the next fetch asks Salesforce again
    return data


def _not_found():
    return jsonify(error="not found"), 404
