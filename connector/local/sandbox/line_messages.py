"""LINE message objects: validation of what bots send, and content the simulated users send.

Validation follows the Messaging API reference closely enough to catch real mistakes (empty
text, text over 5,000 UTF-16 code units, more than 5 messages, non-https media URLs, missing
altText...) without being an exhaustive schema check. Errors are LINE ``details`` entries.
"""

from __future__ import annotations

import hashlib
import mimetypes
import struct
import zlib

MAX_TEXT_UTF16 = 5000
MAX_ALT_TEXT = 1500
MEDIA_TYPES = ("image", "video", "audio", "file")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _is_media_url(value) -> bool:
    """LINE requires https; loopback http is accepted so local demos can serve media."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return False
    return value.startswith("https://") or value.startswith(("http://127.0.0.1", "http://localhost"))


def _required_str(msg: dict, key: str, prop: str, errors: list) -> None:
    value = msg.get(key)
    if not isinstance(value, str) or value == "":
        errors.append({"message": "must be specified", "property": f"{prop}.{key}"})


def _validate_one(msg, prop: str, errors: list) -> None:
    if not isinstance(msg, dict):
        errors.append({"message": "must be an object", "property": prop})
        return
    kind = msg.get("type")
    if kind == "text":
        text = msg.get("text")
        if not isinstance(text, str) or text == "":
            errors.append({"message": "must be specified", "property": f"{prop}.text"})
        elif utf16_len(text) > MAX_TEXT_UTF16:
            errors.append({"message": f"Length must be between 0 and {MAX_TEXT_UTF16}", "property": f"{prop}.text"})
        for i, emoji in enumerate(msg.get("emojis") or []):
            if not isinstance(emoji, dict) or not {"index", "productId", "emojiId"} <= emoji.keys():
                errors.append({"message": "must be specified", "property": f"{prop}.emojis[{i}]"})
    elif kind == "textV2":
        _required_str(msg, "text", prop, errors)
    elif kind == "sticker":
        _required_str(msg, "packageId", prop, errors)
        _required_str(msg, "stickerId", prop, errors)
    elif kind in ("image", "video"):
        for key in ("originalContentUrl", "previewImageUrl"):
            if not _is_media_url(msg.get(key)):
                errors.append({"message": "invalid uri", "property": f"{prop}.{key}"})
    elif kind == "audio":
        if not _is_media_url(msg.get("originalContentUrl")):
            errors.append({"message": "invalid uri", "property": f"{prop}.originalContentUrl"})
        if not isinstance(msg.get("duration"), int):
            errors.append({"message": "must be specified", "property": f"{prop}.duration"})
    elif kind == "location":
        _required_str(msg, "title", prop, errors)
        _required_str(msg, "address", prop, errors)
        for key in ("latitude", "longitude"):
            if not isinstance(msg.get(key), (int, float)):
                errors.append({"message": "must be specified", "property": f"{prop}.{key}"})
    elif kind in ("template", "flex"):
        alt = msg.get("altText")
        if not isinstance(alt, str) or alt == "":
            errors.append({"message": "must be specified", "property": f"{prop}.altText"})
        elif utf16_len(alt) > (400 if kind == "template" else MAX_ALT_TEXT):
            errors.append(
                {
                    "message": f"Length must be between 0 and {400 if kind == 'template' else MAX_ALT_TEXT}",
                    "property": f"{prop}.altText",
                }
            )
        body_key = "template" if kind == "template" else "contents"
        body = msg.get(body_key)
        if not isinstance(body, dict) or not body.get("type"):
            errors.append({"message": "must be specified", "property": f"{prop}.{body_key}"})
    elif kind == "imagemap":
        _required_str(msg, "baseUrl", prop, errors)
        _required_str(msg, "altText", prop, errors)
    else:
        errors.append({"message": "invalid message type" if kind else "must be specified", "property": f"{prop}.type"})
        return
    quick = msg.get("quickReply")
    if quick is not None:
        items = quick.get("items") if isinstance(quick, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= 13:
            errors.append({"message": "Size must be between 1 and 13", "property": f"{prop}.quickReply.items"})


def validate_messages(messages) -> list[dict]:
    """Return LINE error ``details`` for a ``messages`` array (empty list = valid)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return [{"message": "Size must be between 1 and 5", "property": "messages"}]
    errors: list[dict] = []
    for i, msg in enumerate(messages):
        _validate_one(msg, f"messages[{i}]", errors)
    return errors


# -- content of media messages sent by simulated users ------------------------------------


def _png(width: int = 1, height: int = 1) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _filler(seed: str, size: int) -> bytes:
    """Deterministic bytes of the given size."""
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def generate_content(
    kind: str, message_id: str, size: int | None = None, file_name: str | None = None
) -> tuple[bytes, str]:
    """Bytes and Content-Type for a user's image/video/audio/file message."""
    if kind == "image":
        head, ctype = _png(), "image/png"
    elif kind == "video":
        head, ctype = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"
    elif kind == "audio":
        head, ctype = b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom", "audio/x-m4a"
    else:
        ctype = mimetypes.guess_type(file_name or "")[0] or "application/octet-stream"
        head = f"sandbox file {file_name or message_id}\n".encode()
    if size is None or size <= len(head):
        return head, ctype
    return head + _filler(message_id, size - len(head)), ctype
