"""LINE webhook events: identity, conversation, and how each type is treated.

Works on the plain JSON dicts LINE sends (tolerant of older shapes and new fields), so the
webhook can route an event without the SDK's models and workers see exactly what arrived.
"""

from __future__ import annotations

import hashlib
import json

# How each webhook event type in the spec (webhook.yml) is treated.
#   message: recorded in the conversation (+ answered)   record: recorded in the conversation
#   friend: updates the LINE friend record               log: logged and acknowledged, nothing else
EVENT_TREATMENT = {
    "message": "message",
    "unsend": "message",
    "messageEdited": "message",
    "postback": "record",
    "follow": "friend",
    "unfollow": "friend",
    "accountLink": "record",
    "join": "record",
    "leave": "record",
    "memberJoined": "record",
    "memberLeft": "record",
    "videoPlayComplete": "record",
    "beacon": "record",
    "membership": "record",
    "things": "log",
    "module": "log",
    "activated": "log",
    "deactivated": "log",
    "botSuspended": "log",
    "botResumed": "log",
    "delivery": "log",
}

MESSAGE_TYPES = {"text", "image", "video", "audio", "file", "location", "sticker"}
MEDIA_TYPES = {"image", "video", "audio", "file"}
STICKER_PREVIEW = "https://stickershop.line-scdn.net/stickershop/v1/sticker/{id}/android/sticker.png"


def treatment(event: dict) -> str:
    etype = event.get("type")
    return EVENT_TREATMENT.get(etype, "log") if isinstance(etype, str) else "log"


def event_id(event: dict) -> str:
    """LINE's webhookEventId; older payloads lack it, so fall back to a digest of the event."""
    eid = event.get("webhookEventId")
    if isinstance(eid, str) and eid:
        return eid
    canonical = json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "h" + hashlib.sha256(canonical.encode()).hexdigest()[:25]


def _source(event: dict) -> dict:
    src = event.get("source")
    return src if isinstance(src, dict) else {}


def source_key(event: dict) -> str:
    """Who the conversation is with: a user, a group or a room; '-' for channel-level events."""
    src = _source(event)
    kind = src.get("type")
    for key, prefix in (("groupId", "g:"), ("roomId", "r:"), ("userId", "")):
        value = src.get(key)
        if isinstance(value, str) and value and (key == "userId" or kind == key[:-2]):
            return prefix + value
    return "-"


def conversation_id(channel_id: str, event: dict) -> str:
    return f"{channel_id}:{source_key(event)}"


def user_id(event: dict) -> str | None:
    uid = _source(event).get("userId")
    return uid if isinstance(uid, str) else None


def render_text(message: dict) -> str:
    """Text with LINE emoji replaced by `(emoji:product/id)` placeholders.

    LINE gives emoji positions as UTF-16 code unit offsets into the text.
    """
    text = message.get("text") or ""
    emojis = message.get("emojis") or []
    if not emojis:
        return text
    units = text.encode("utf-16-le")
    out, pos = [], 0
    for e in sorted(emojis, key=lambda e: e.get("index", 0)):
        start, length = int(e.get("index", 0)) * 2, int(e.get("length", 0)) * 2
        if start < pos or start + length > len(units):
            continue  # malformed position: keep the text as sent
        out.append(units[pos:start].decode("utf-16-le", errors="replace"))
        out.append(f"(emoji:{e.get('productId', '?')}/{e.get('emojiId', '?')})")
        pos = start + length
    out.append(units[pos:].decode("utf-16-le", errors="replace"))
    return "".join(out)


def redacted(event: dict, redact) -> dict:
    """A copy of the event with free text masked (card numbers, security codes, admin rules).

    Runs at the edge, so nothing sensitive reaches Redis, logs or Salesforce. Built-in masks keep
    the text's length, so LINE emoji positions stay valid.
    """
    msg = event.get("message")
    pb = event.get("postback")
    if not (isinstance(msg, dict) and isinstance(msg.get("text"), str)) and not (
        isinstance(pb, dict) and isinstance(pb.get("data"), str)
    ):
        return event
    out = dict(event)
    if isinstance(msg, dict) and isinstance(msg.get("text"), str):
        out["message"] = {**msg, "text": redact(msg["text"])}
    if isinstance(pb, dict) and isinstance(pb.get("data"), str):
        out["postback"] = {**pb, "data": redact(pb["data"])}
    return out


# The shape of every field the domain reads from a LINE event: a signed event that breaks it (LINE
# never sends one) is ignored with a log line instead of failing the conversation. None counts as
# absent, except for the event's type. Fields not listed are never read, so any value passes.
_NUMBER = (int, float)
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "timestamp": int,
    "replyToken": str,
    "source": dict,
    "source.type": str,
    "source.userId": str,
    "source.groupId": str,
    "source.roomId": str,
    "message": dict,
    "message.type": str,
    "message.id": (str, int),
    "message.text": str,
    "message.emojis": list,
    "message.keywords": list,
    "message.title": str,
    "message.address": str,
    "message.latitude": _NUMBER,
    "message.longitude": _NUMBER,
    "message.contentProvider": dict,
    "message.contentProvider.type": str,
    "message.contentProvider.previewImageUrl": str,
    "message.contentProvider.originalContentUrl": str,
    "message.fileName": str,
    "message.fileSize": _NUMBER,
    "message.duration": _NUMBER,
    "postback": dict,
    "postback.data": str,
    "postback.params": dict,
    "unsend": dict,
    "beacon": dict,
    "videoPlayComplete": dict,
    "joined": dict,
    "joined.members": list,
    "left": dict,
    "left.members": list,
    "link": dict,
    "membership": dict,
}
_ITEMS: dict[str, dict[str, type | tuple[type, ...]] | type] = {
    "message.emojis": {"index": int, "length": int},
    "message.keywords": str,
    "joined.members": {"userId": str},
    "left.members": {"userId": str},
}
_MAX_TIMESTAMP_MS = 253402300799999  # 9999-12-31T23:59:59.999Z, the last instant a datetime holds


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), "a number")


def _wrong(value, expected) -> bool:
    return isinstance(value, bool) or not isinstance(value, expected)


def malformed(event: dict) -> str | None:
    """What is wrong with the shape of a LINE event (e.g. "type is null"), or None if nothing is."""
    etype = event.get("type")
    if not isinstance(etype, str):
        return f"type is {_kind(etype)}"
    for path, expected in _FIELDS.items():
        parent, _, name = path.rpartition(".")
        holder = event
        for part in parent.split(".") if parent else ():
            holder = holder.get(part) if isinstance(holder, dict) else None
        if not isinstance(holder, dict):
            continue  # the parent is absent (or already reported)
        value = holder.get(name)
        if value is not None and _wrong(value, expected):
            return f"{path} is {_kind(value)}"
        item_shape = _ITEMS.get(path)
        for i, item in enumerate(value or ()) if item_shape else ():
            if isinstance(item_shape, dict):
                if not isinstance(item, dict):
                    return f"{path}[{i}] is {_kind(item)}"
                for key, kind in item_shape.items():
                    if item.get(key) is not None and _wrong(item[key], kind):
                        return f"{path}[{i}].{key} is {_kind(item[key])}"
            elif _wrong(item, item_shape):
                return f"{path}[{i}] is {_kind(item)}"
    ts = event.get("timestamp")
    if ts is not None and not 0 <= ts <= _MAX_TIMESTAMP_MS:
        return "timestamp is out of range"
    return None
