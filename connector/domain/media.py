"""Signed media links for the images operators send, and the preview LINE shows first.

LINE's app loads an image message's `originalContentUrl` when the customer opens the chat, which
can be the next morning or next week, not when it is sent (chatwoot/chatwoot#13923): a link must
keep working as long as the image is kept. A token names a ContentVersion, an expiry (days
ahead: `routing.operator_image_link_days`) and what to serve - the original (`o`) or its preview
(`p`) - and carries an HMAC over all three, keyed from the encryption keys (any configured key
verifies, so a key rotation does not break links already sent). Tokens of the first format
(`<version>.<exp>.<mac>`, the original, one hour) still open.

Pure: bytes in, bytes out (Pillow decodes and resizes in memory).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re

ORIGINAL, PREVIEW = "o", "p"
_TOKEN = re.compile(r"^([A-Za-z0-9]{15,18})\.(\d{9,11})(?:\.([op]))?\.([0-9a-f]{32})$")

# LINE's rules: the original JPEG or PNG at most 10 MB; the preview at most 1 MB. A preview of
# 480 px on its long side is sharp in the chat bubble and a few tens of kB.
MAX_ORIGINAL_BYTES = 10 * 1024 * 1024
MAX_PREVIEW_BYTES = 1024 * 1024
PREVIEW_EDGE_PX = 480
# A decompression bomb (a small file of enormous dimensions) is refused before it is decoded.
MAX_PIXELS = 60_000_000


def _mac(key: str, version_id: str, exp: int, variant: str | None) -> str:
    k = hashlib.sha256(b"connector-media-url:" + key.encode()).digest()
    msg = f"{version_id}.{exp}" if variant is None else f"{version_id}.{exp}.{variant}"
    return hmac.new(k, msg.encode(), hashlib.sha256).hexdigest()[:32]


def make_token(keys, version_id: str, exp: int, variant: str = ORIGINAL) -> str:
    return f"{version_id}.{exp}.{variant}.{_mac(keys[0], version_id, exp, variant)}"


def open_token(keys, token: str, now: float) -> tuple[str, str] | None:
    """(ContentVersion id, ORIGINAL or PREVIEW) of a valid, unexpired token, else None."""
    m = _TOKEN.match(token or "")
    if not m:
        return None
    version_id, exp, variant, mac = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    if exp < now:
        return None
    if not any(hmac.compare_digest(_mac(k, version_id, exp, variant), mac) for k in keys):
        return None
    return version_id, variant or ORIGINAL


def image_type(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


class NotAnImage(ValueError):
    """The bytes are not a JPEG or PNG that can be decoded."""


def preview(data: bytes) -> bytes:
    """A preview LINE accepts: JPEG (PNG when the image has transparency), at most
    PREVIEW_EDGE_PX on its long side and MAX_PREVIEW_BYTES. An image already within both is
    returned as it is. Raises NotAnImage."""
    from PIL import Image, UnidentifiedImageError

    if image_type(data) is None:
        raise NotAnImage("not JPEG or PNG")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise NotAnImage("too many pixels")
            if max(img.size) <= PREVIEW_EDGE_PX and len(data) <= MAX_PREVIEW_BYTES:
                return data
            img.draft("RGB", (PREVIEW_EDGE_PX, PREVIEW_EDGE_PX))  # JPEG: decode at a fraction of the size
            img.thumbnail((PREVIEW_EDGE_PX, PREVIEW_EDGE_PX))
            out = io.BytesIO()
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                img.convert("RGBA").save(out, "PNG", optimize=True)
            else:
                img.convert("RGB").save(out, "JPEG", quality=80, optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise NotAnImage(type(exc).__name__) from None
    return out.getvalue()
