"""Images an operator sends, served to LINE from short-lived signed URLs.

LINE fetches `originalContentUrl` / `previewImageUrl` itself, so an image from Salesforce must be
reachable on a public https URL. The outbound job fetches the file's bytes from Salesforce once,
keeps them sealed in Redis for `routing.media_url_ttl_seconds`, and puts a URL
`{public_base_url}/media/<token>` in the LINE message. The token names the ContentVersion and an
expiry and carries an HMAC over both, keyed from the encryption keys (any configured key verifies,
so a key rotation does not break URLs already sent). This endpoint reads Redis only.

200 image bytes · 404 bad, expired or unknown token (no detail about which).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import time

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("media", __name__)
_TOKEN = re.compile(r"^([A-Za-z0-9]{15,18})\.(\d{9,11})\.([0-9a-f]{32})$")


def _mac(key: str, version_id: str, exp: int) -> str:
    k = hashlib.sha256(b"connector-media-url:" + key.encode()).digest()
    return hmac.new(k, f"{version_id}.{exp}".encode(), hashlib.sha256).hexdigest()[:32]


def make_token(keys, version_id: str, exp: int) -> str:
    return f"{version_id}.{exp}.{_mac(keys[0], version_id, exp)}"


def open_token(keys, token: str, now: float | None = None) -> str | None:
    """The ContentVersion id a valid, unexpired token names, else None."""
    m = _TOKEN.match(token or "")
    if not m:
        return None
    version_id, exp, mac = m.group(1), int(m.group(2)), m.group(3)
    if exp < (time.time() if now is None else now):
        return None
    if not any(hmac.compare_digest(_mac(k, version_id, exp), mac) for k in keys):
        return None
    return version_id


def blob_key(prefix: str, version_id: str) -> str:
    return f"{prefix}media:{version_id}"


def image_type(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


@bp.get("/media/<token>")
def media(token: str):
    rt = current_app.extensions["connector"]
    version_id = open_token(rt.config.encryption_keys, token)
    raw = rt.redis.get(blob_key(rt.store.p, version_id)) if version_id else None
    if raw is None:
        return jsonify(error="not found"), 404
    data = rt.vault.open(raw)
    resp = Response(data, mimetype=image_type(data) or "application/octet-stream")
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp
