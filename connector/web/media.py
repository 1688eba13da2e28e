"""Images an operator sends, served to LINE from short-lived signed URLs.

LINE fetches `originalContentUrl` / `previewImageUrl` itself, so an image from Salesforce must be
reachable on a public https URL. The outbound job fetches the file's bytes from Salesforce once,
keeps them sealed in Redis for `routing.media_url_ttl_seconds`, and puts a URL
`{public_base_url}/media/<token>` in the LINE message. The token names the ContentVersion and an
expiry and carries an HMAC over both, keyed from the encryption keys (any configured key verifies,
so a key rotation does not break URLs already sent). This endpoint reads Redis only.

200 image bytes · 404 bad, expired or unknown token (no detail about which), or bytes sealed with
a key no longer configured · 503 Redis unavailable (LINE fetches the image again later).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, jsonify

from connector.domain.media import image_type, open_token
from connector.storage import StorageError
from connector.storage.blobs import MEDIA

log = logging.getLogger(__name__)
bp = Blueprint("media", __name__)


@bp.get("/media/<token>")
def media(token: str):
    rt = current_app.extensions["connector"]
    version_id = open_token(rt.config.encryption_keys, token, time.time())
    try:
        data = rt.blobs.get(MEDIA, version_id) if version_id else None
    except StorageError as exc:
        log.error("media: redis unavailable (%s); answering 503", type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503
    except ValueError:  # sealed with a key that is no longer configured: as good as gone
        data = None
    if data is None:
        return jsonify(error="not found"), 404
    resp = Response(data, mimetype=image_type(data) or "application/octet-stream")
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp
