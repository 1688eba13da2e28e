"""LINE platform state and the simulated users who talk to the bot.

``LineState`` holds what the LINE stand-in knows (channels, users, reply tokens, accepted retry
keys, message content) and what it received (deliveries, loading animations, read marks). It
also plays the users: ``send_user_message`` builds a webhook event with the real shape, signs it
with the channel secret and POSTs it to the channel's webhook URL. The HTTP side lives in
``line_api.py``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass

import requests

from . import ids
from .line_messages import MEDIA_TYPES, generate_content

# Event types that carry a replyToken (webhook.yml).
REPLYABLE_EVENTS = {
    "message",
    "follow",
    "join",
    "postback",
    "memberJoined",
    "beacon",
    "accountLink",
    "videoPlayComplete",
    "membership",
}
QUOTABLE_MESSAGES = {"text", "image", "video", "sticker"}


@dataclass
class SandboxChannel:
    """A LINE channel (Messaging API) the sandbox serves."""

    channel_id: str
    secret: str
    access_token: str
    bot_user_id: str
    webhook_url: str | None = None
    display_name: str = "Sandbox Bot"


def sign(secret: str, body: bytes) -> str:
    """x-line-signature: base64(HMAC-SHA256(channel secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _now_ms() -> int:
    return int(time.time() * 1000)


class LineState:
    def __init__(
        self,
        channels: list[SandboxChannel],
        reply_token_ttl: float = 60.0,
        webhook_timeout_s: float = 10.0,
        quota: int = 1_000_000,
    ):
        self._lock = threading.RLock()
        self.channels = {c.channel_id: c for c in channels}
        self.reply_token_ttl = reply_token_ttl
        self.webhook_timeout_s = webhook_timeout_s
        self.quota = quota
        self._message_ids = ids.Counter(600_000_000_000_000_001)
        self._http = threading.local()
        self.clear()

    # -- lifecycle ------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget users, tokens, content and everything received (channels are kept)."""
        with self._lock:
            self._users: dict[tuple[str, str], dict] = {}
            self._reply_tokens: dict[str, dict] = {}
            self._read_tokens: dict[str, dict] = {}
            self._retry_keys: dict[tuple[str, str], dict] = {}
            self._content: dict[tuple[str, str], tuple[bytes, str]] = {}
            self._deliveries: list[dict] = []
            self._loading: list[dict] = []
            self._read_marks: list[dict] = []
            self._webhook_log: list[dict] = []
            self._push_count: dict[str, int] = {}
            self._phones: dict[tuple[str, str], str] = {}  # (channel, sha256 of E.164) -> user id
            self._pnp_pending: list[dict] = []  # PNP messages accepted, their delivery event not sent yet
            self._link_tokens: dict[str, dict] = {}  # account link: token -> {channel_id, user_id, expires, used}
        self.pnp_auto_delivery_s: float | None = None  # send the `delivery` event this long after a PNP push

    def add_channel(self, channel: SandboxChannel) -> None:
        with self._lock:
            self.channels[channel.channel_id] = channel

    def channel_for_token(self, token: str) -> SandboxChannel | None:
        for channel in self.channels.values():
            if hmac.compare_digest(channel.access_token, token):
                return channel
        return None

    def _channel(self, channel_id: str) -> SandboxChannel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise ValueError(f"unknown channel {channel_id!r}") from None

    def new_message_id(self) -> str:
        return str(self._message_ids.next())

    # -- users ----------------------------------------------------------------------------
    def add_user(
        self,
        channel_id: str,
        user_id: str,
        display_name: str | None = None,
        language: str = "ja",
        picture_url: str | None = None,
        status_message: str = "",
    ) -> dict:
        """Register (or update) a user profile on a channel."""
        self._channel(channel_id)
        with self._lock:
            profile = self._users.get((channel_id, user_id))
            if profile is None:
                count = sum(1 for (ch, _) in self._users if ch == channel_id) + 1
                profile = {
                    "displayName": display_name or f"LINE User {count}",
                    "userId": user_id,
                    "language": language,
                    "pictureUrl": picture_url or f"https://profile.line-scdn.net/{user_id}",
                    "statusMessage": status_message,
                }
                self._users[(channel_id, user_id)] = profile
            elif display_name:
                profile["displayName"] = display_name
            return dict(profile)

    def profile(self, channel_id: str, user_id: str) -> dict | None:
        with self._lock:
            profile = self._users.get((channel_id, user_id))
            return dict(profile) if profile else None

    # -- LINE notification messages by phone number (PNP) -------------------------------------
    def register_phone(self, channel_id: str, user_id: str, e164: str) -> str:
        """A LINE user who verified `e164` and may receive PNP messages from the channel; returns its hash."""
        digest = hashlib.sha256(e164.encode()).hexdigest()
        self.add_user(channel_id, user_id)
        with self._lock:
            self._phones[(channel_id, digest)] = user_id
        return digest

    def pnp_recipient(self, channel_id: str, phone_hash: str) -> str | None:
        with self._lock:
            return self._phones.get((channel_id, phone_hash))

    def pnp_accepted(self, channel_id: str, user_id: str, tag: str | None) -> None:
        """A PNP push was accepted: its delivery event is pending (sent now, later, or never)."""
        entry = {"channel_id": channel_id, "user_id": user_id, "tag": tag}
        with self._lock:
            self._pnp_pending.append(entry)
        delay = self.pnp_auto_delivery_s
        if delay is not None:
            timer = threading.Timer(delay, self.send_pnp_deliveries, kwargs={"tag": tag})
            timer.daemon = True
            timer.start()

    def send_pnp_deliveries(self, tag: str | None = None) -> list[dict]:
        """Send the `delivery` webhook event of pending PNP messages (all, or the one with `tag`)."""
        with self._lock:
            due = [p for p in self._pnp_pending if tag is None or p["tag"] == tag]
            self._pnp_pending = [p for p in self._pnp_pending if p not in due]
        sent = []
        for p in due:
            event = {
                "type": "delivery",
                "source": {"type": "user", "userId": p["user_id"]},
                "delivery": {"data": p["tag"]} if p["tag"] else {},
            }
            channel = self.channels.get(p["channel_id"])
            sent.append(self.send_event(p["channel_id"], event, deliver=bool(channel and channel.webhook_url)))
        return sent

    def knows_recipient(self, channel_id: str, to: str) -> bool:
        with self._lock:
            return (channel_id, to) in self._users

    # -- simulated users ------------------------------------------------------------------
    def send_user_message(
        self,
        channel_id: str,
        user_id: str,
        message: dict,
        *,
        display_name: str | None = None,
        mode: str = "active",
        source: dict | None = None,
        quoted_message_id: str | None = None,
        content_size: int | None = None,
        deliver: bool = True,
    ) -> dict:
        """A user sends ``message`` (e.g. {"type": "text", "text": "hi"}) to the bot."""
        self.add_user(channel_id, user_id, display_name)
        msg = copy.deepcopy(message)
        kind = msg.get("type", "text")
        msg["type"] = kind
        msg.setdefault("id", self.new_message_id())
        if kind in QUOTABLE_MESSAGES:
            msg.setdefault("quoteToken", secrets.token_urlsafe(48))
        if quoted_message_id and kind in ("text", "sticker"):
            msg["quotedMessageId"] = quoted_message_id
        if kind == "sticker":
            msg.setdefault("stickerResourceType", "STATIC")
        if kind in ("video", "audio"):
            msg.setdefault("duration", 6000)
        if kind == "file":
            msg.setdefault("fileName", "document.pdf")
        if kind in MEDIA_TYPES:
            if kind != "file":
                msg.setdefault("contentProvider", {"type": "line"})
            data, ctype = generate_content(kind, msg["id"], content_size, msg.get("fileName"))
            if kind == "file":
                msg["fileSize"] = len(data)
            with self._lock:
                self._content[(channel_id, msg["id"])] = (data, ctype)
        token = secrets.token_urlsafe(32)
        msg.setdefault("markAsReadToken", token)
        with self._lock:
            self._read_tokens[msg["markAsReadToken"]] = {
                "channel_id": channel_id,
                "user_id": user_id,
                "message_id": msg["id"],
            }
        event = {
            "type": "message",
            "message": msg,
            "source": source or {"type": "user", "userId": user_id},
            "mode": mode,
        }
        event["source"].setdefault("userId", user_id)
        return self.send_event(channel_id, event, deliver=deliver)

    def send_event(self, channel_id: str, event: dict, *, deliver: bool = True) -> dict:
        """Send any webhook event; fills webhookEventId, timestamp, deliveryContext, replyToken."""
        event = self.complete_event(channel_id, event)
        if not deliver:
            return event
        status = self._deliver(channel_id, [event])
        return {**event, "status": status}

    def send_batch(self, channel_id: str, events: list[dict]) -> dict:
        """Several events in one webhook body; returns {"events": [...], "status": code}."""
        completed = [self.complete_event(channel_id, e) for e in events]
        return {"events": completed, "status": self._deliver(channel_id, completed)}

    def redeliver(self, channel_id: str, event: dict) -> dict:
        """Send an event again, as LINE's redelivery does: same webhookEventId, isRedelivery."""
        event = copy.deepcopy(event)
        event.pop("status", None)
        event["deliveryContext"] = {"isRedelivery": True}
        return {**event, "status": self._deliver(channel_id, [event])}

    def post_raw(self, channel_id: str, body: bytes, signature: str | None = None) -> int:
        """POST raw bytes to the webhook (signature defaults to a valid one)."""
        channel = self._channel(channel_id)
        if signature is None:
            signature = sign(channel.secret, body)
        return self._post(channel, body, signature, [])

    def complete_event(self, channel_id: str, event: dict) -> dict:
        channel = self._channel(channel_id)
        event = copy.deepcopy(event)
        event.setdefault("mode", "active")
        event.setdefault("timestamp", _now_ms())
        event.setdefault("webhookEventId", ids.ulid(event["timestamp"]))
        event.setdefault("deliveryContext", {"isRedelivery": False})
        source = event.get("source")
        if event.get("type") not in ("unfollow", "leave") and source is None:
            raise ValueError(f"event type {event.get('type')!r} needs a source")
        user_id = (source or {}).get("userId")
        if user_id and event.get("type") != "unfollow":
            self.add_user(channel.channel_id, user_id)
        if event.get("type") in REPLYABLE_EVENTS and event["mode"] == "active" and "replyToken" not in event:
            event["replyToken"] = self._issue_reply_token(channel_id, source or {})
        return event

    def _issue_reply_token(self, channel_id: str, source: dict) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self._reply_tokens[token] = {
                "channel_id": channel_id,
                "source": source,
                "expires_at": time.time() + self.reply_token_ttl,
            }
        return token

    def _deliver(self, channel_id: str, events: list[dict]) -> int:
        channel = self._channel(channel_id)
        body = json.dumps(
            {"destination": channel.bot_user_id, "events": events}, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        return self._post(channel, body, sign(channel.secret, body), events)

    def _session(self) -> requests.Session:
        session = getattr(self._http, "session", None)
        if session is None:
            session = self._http.session = requests.Session()
            session.trust_env = False
        return session

    def _post(self, channel: SandboxChannel, body: bytes, signature: str, events: list) -> int:
        if not channel.webhook_url:
            raise ValueError(f"channel {channel.channel_id} has no webhook_url")
        started = time.perf_counter()
        status, error = 0, None
        try:
            response = self._session().post(
                channel.webhook_url,
                data=body,
                timeout=self.webhook_timeout_s,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "x-line-signature": signature,
                    "User-Agent": "LineBotWebhook/2.0",
                },
            )
            status = response.status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        with self._lock:
            self._webhook_log.append(
                {
                    "channel_id": channel.channel_id,
                    "status": status,
                    "error": error,
                    "ms": round((time.perf_counter() - started) * 1000, 3),
                    "at": time.time(),
                    "webhook_event_ids": [e.get("webhookEventId") for e in events],
                    "events": events,
                }
            )
        return status

    # -- used by the API handlers -----------------------------------------------------------
    def use_reply_token(self, channel_id: str, token: str) -> dict | None:
        """Consume a reply token; None when unknown, used, expired or of another channel."""
        with self._lock:
            entry = self._reply_tokens.pop(token, None)
        if entry is None or entry["channel_id"] != channel_id or entry["expires_at"] < time.time():
            return None
        return entry

    def accepted_retry(self, channel_id: str, key: str) -> dict | None:
        with self._lock:
            return self._retry_keys.get((channel_id, key))

    def record_delivery(
        self,
        channel_id: str,
        method: str,
        to: str | None,
        messages: list,
        request_id: str,
        retry_key: str | None = None,
        extra: dict | None = None,
    ) -> list[dict]:
        sent = []
        for msg in messages:
            item = {"id": self.new_message_id()}
            if msg.get("type") in QUOTABLE_MESSAGES:
                item["quoteToken"] = secrets.token_urlsafe(48)
            sent.append(item)
        entry = {
            "channel_id": channel_id,
            "to": to,
            "method": method,
            "messages": copy.deepcopy(messages),
            "retry_key": retry_key,
            "request_id": request_id,
            "sent_messages": sent,
            "at": time.time(),
            **(extra or {}),
        }
        with self._lock:
            self._deliveries.append(entry)
            if method == "push":
                self._push_count[channel_id] = self._push_count.get(channel_id, 0) + 1
            if retry_key:
                self._retry_keys[(channel_id, retry_key)] = {"request_id": request_id, "sentMessages": sent}
        return sent

    # -- account link ---------------------------------------------------------------------
    LINK_TOKEN_TTL_S = 600  # LINE: a link token is valid for 10 minutes and can be used once

    def issue_link_token(self, channel_id: str, user_id: str) -> str | None:
        """`POST /v2/bot/user/{userId}/linkToken`: None for a user the channel does not know."""
        with self._lock:
            if (channel_id, user_id) not in self._users:
                return None
            token = secrets.token_urlsafe(24)
            self._link_tokens[token] = {
                "channel_id": channel_id,
                "user_id": user_id,
                "expires": time.time() + self.LINK_TOKEN_TTL_S,
                "used": False,
            }
            return token

    def complete_account_link(self, channel_id: str, link_token: str, nonce: str, *, deliver: bool = True) -> dict:
        """The user opened `https://access.line.me/dialog/bot/accountLink?linkToken=..&nonce=..` (the
        company's site redirected them there): LINE sends the `accountLink` event, result `ok` for a
        valid unused token of this channel, else `failed` (to the token's user, if known)."""
        with self._lock:
            entry = self._link_tokens.get(link_token)
            ok = (
                bool(entry)
                and entry["channel_id"] == channel_id
                and not entry["used"]
                and entry["expires"] > time.time()
            )
            if ok:
                entry["used"] = True
        if entry is None:
            raise ValueError("unknown link token: LINE would not know whose it is")
        event = {
            "type": "accountLink",
            "source": {"type": "user", "userId": entry["user_id"]},
            "mode": "active",
            "link": {"result": "ok" if ok else "failed", "nonce": nonce},
        }
        return self.send_event(channel_id, event, deliver=deliver)

    def push_count(self, channel_id: str) -> int:
        with self._lock:
            return self._push_count.get(channel_id, 0)

    def content(self, channel_id: str, message_id: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._content.get((channel_id, message_id))

    def use_read_token(self, channel_id: str, token: str) -> dict | None:
        with self._lock:
            entry = self._read_tokens.get(token)
        return entry if entry and entry["channel_id"] == channel_id else None

    def record_loading(self, entry: dict) -> None:
        with self._lock:
            self._loading.append(entry)

    def record_read(self, entry: dict) -> None:
        with self._lock:
            self._read_marks.append(entry)

    # -- inspection -----------------------------------------------------------------------
    def delivered(
        self, user_id: str | None = None, channel_id: str | None = None, method: str | None = None
    ) -> list[dict]:
        with self._lock:
            return [
                copy.deepcopy(d)
                for d in self._deliveries
                if (user_id is None or d["to"] == user_id)
                and (channel_id is None or d["channel_id"] == channel_id)
                and (method is None or d["method"] == method)
            ]

    def recipients(self) -> set[str]:
        """Everyone something was delivered to (cheap enough to poll)."""
        with self._lock:
            return {d["to"] for d in self._deliveries}

    def delivered_texts(self, user_id: str | None = None, channel_id: str | None = None) -> list[str]:
        """Convenience: the text of every text message delivered, in order."""
        return [
            m.get("text", "")
            for d in self.delivered(user_id, channel_id)
            for m in d["messages"]
            if m.get("type") == "text"
        ]

    @property
    def loading(self) -> list[dict]:
        with self._lock:
            return list(self._loading)

    @property
    def read_marks(self) -> list[dict]:
        with self._lock:
            return list(self._read_marks)

    @property
    def webhook_log(self) -> list[dict]:
        with self._lock:
            return list(self._webhook_log)

    def wait_for_delivery(self, count: int = 1, timeout: float = 5.0, **filters) -> list[dict]:
        """Poll until at least ``count`` deliveries match ``filters``; returns them."""
        deadline = time.time() + timeout
        while True:
            found = self.delivered(**filters)
            if len(found) >= count or time.time() > deadline:
                return found
            time.sleep(0.01)
