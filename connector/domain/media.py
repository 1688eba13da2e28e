"""Signed media links: which image a token names, until when, and whether the relay signed it.

A token names a ContentVersion and an expiry and carries an HMAC over both, keyed from the
encryption keys (any configured key verifies, so a key rotation does not break links already
sent to LINE).
"""

from __future__ import annotations

import hashlib
import hmac
import re

_TOKEN = re.compile(r"^([A-Za-z0-9]{15,18})\.(\d{9,11})\.([0-9a-f]{32})$")


def _mac(key: str, version_id: str, exp: int) -> str:
    k = hashlib.sha256(b"connector-media-url:" + key.encode()).digest()
    return hmac.new(k, f"{version_id}.{exp}".encode(), hashlib.sha256).hexdigest()[:32]


def make_token(keys, version_id: str, exp: int) -> str:
    return f"{version_id}.{exp}.{_mac(keys[0], version_id, exp)}"


def open_token(keys, token: str, now: float) -> str | None:
    """The ContentVersion id a valid, unexpired token names, else None."""
    m = _TOKEN.match(token or "")
    if not m:
        return None
    version_id, exp, mac = m.group(1), int(m.group(2)), m.group(3)
    if exp < now:
        return None
    if not any(hmac.compare_digest(_mac(k, version_id, exp), mac) for k in keys):
        return None
    return version_id


def image_type(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None
