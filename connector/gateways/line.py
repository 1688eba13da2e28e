"""LINE Messaging API through line-bot-sdk v3, with a timeout on every call.

The sync SDK has no default timeout; every call here passes `_request_timeout`. Errors become
project errors (see errors.py). Each call's `x-line-request-id` is logged, as LINE asks.
"""

from __future__ import annotations

import logging
import uuid

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    ChatReference,
    Configuration,
    MarkMessagesAsReadRequest,
    MessagingApi,
    MessagingApiBlob,
    PnpMessagesRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)

from connector import metrics
from connector.gateways.errors import AuthError, GatewayError, Permanent, RateLimited, Retryable

log = logging.getLogger(__name__)
SERVICE = "line"
RETRY_KEY_NAMESPACE = uuid.UUID("5b0c6f43-8c1e-4d8e-9a57-6c1b2f5e0a11")


class InvalidReplyToken(Permanent):
    """The reply token was used already or has expired."""


class ContentTooLarge(Permanent):
    pass


def retry_key(seed: str) -> str:
    """A stable X-Line-Retry-Key (UUID) for what a push delivers: the same seed, the same key."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, seed))


class LineGateway:
    def __init__(self, channels, *, api_base_url: str, data_base_url: str, timeout_s: float):
        self.timeout = timeout_s
        self._clients: dict[str, tuple[MessagingApi, MessagingApiBlob]] = {}
        for ch in channels:
            api = ApiClient(_configuration(api_base_url, ch.access_token))
            data = ApiClient(_configuration(data_base_url, ch.access_token))
            self._clients[ch.id] = (MessagingApi(api), MessagingApiBlob(data))

    def _api(self, channel_id: str) -> MessagingApi:
        return self._clients[channel_id][0]

    def reply(self, channel_id: str, reply_token: str, messages: list[dict]) -> list[str]:
        req = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        resp = self._call(
            "reply", lambda: self._api(channel_id).reply_message_with_http_info(req, _request_timeout=self.timeout)
        )
        return [m.id for m in (resp.data.sent_messages or [])]

    def push(self, channel_id: str, to: str, messages: list[dict], *, key: str) -> list[str]:
        """Push with an idempotent retry key. A 409 (already accepted) counts as delivered."""
        req = PushMessageRequest.from_dict({"to": to, "messages": messages})
        try:
            resp = self._call(
                "push",
                lambda: self._api(channel_id).push_message_with_http_info(
                    req, x_line_retry_key=retry_key(key), _request_timeout=self.timeout
                ),
            )
        except Permanent as exc:
            if exc.status == 409:
                log.info("line push already accepted (retry key reused): key=%s", key)
                return []
            raise
        return [m.id for m in (resp.data.sent_messages or [])]

    def pnp_push(self, channel_id: str, phone_hash: str, messages: list[dict], *, delivery_tag: str) -> None:
        """A notification message by phone number (`to`: SHA-256 hex of the E.164 number). PNP has
        no retry key: callers keep their own marker. 422 (nobody has the number, or it is not
        served) is a Permanent error with status 422. A 200 is not a delivery: the `delivery`
        webhook event is."""
        req = PnpMessagesRequest.from_dict({"to": phone_hash, "messages": messages})
        self._call(
            "pnp_push",
            lambda: self._api(channel_id).push_messages_by_phone_with_http_info(
                req, x_line_delivery_tag=delivery_tag, _request_timeout=self.timeout
            ),
        )

    def profile(self, channel_id: str, user_id: str) -> dict | None:
        try:
            resp = self._call(
                "profile",
                lambda: self._api(channel_id).get_profile_with_http_info(user_id, _request_timeout=self.timeout),
            )
        except Permanent as exc:
            if exc.status == 404:
                return None
            raise
        p = resp.data
        return {"displayName": p.display_name, "userId": p.user_id, "pictureUrl": p.picture_url, "language": p.language}

    def content(self, channel_id: str, message_id: str, *, max_bytes: int) -> bytes:
        blob = self._clients[channel_id][1]
        resp = self._call(
            "content", lambda: blob.get_message_content_with_http_info(message_id, _request_timeout=self.timeout)
        )
        data = bytes(resp.data or b"")
        if len(data) > max_bytes:
            raise ContentTooLarge(SERVICE, f"content of {message_id} is {len(data)} bytes (limit {max_bytes})")
        return data

    def show_loading(self, channel_id: str, user_id: str, seconds: int = 20) -> None:
        seconds = max(5, min(60, seconds - seconds % 5))
        self._call(
            "loading",
            lambda: self._api(channel_id).show_loading_animation_with_http_info(
                ShowLoadingAnimationRequest(chat_id=user_id, loading_seconds=seconds), _request_timeout=self.timeout
            ),
        )

    def link_token(self, channel_id: str, user_id: str) -> str:
        """A link token for LINE account link (valid 10 minutes, once)."""
        resp = self._call(
            "link_token",
            lambda: self._api(channel_id).issue_link_token_with_http_info(user_id, _request_timeout=self.timeout),
        )
        return resp.data.link_token

    def mark_as_read(self, channel_id: str, user_id: str) -> None:
        """Mark the user's messages as read (an operator opened the chat)."""
        req = MarkMessagesAsReadRequest(chat=ChatReference(user_id=user_id))
        self._call(
            "mark_as_read",
            lambda: self._api(channel_id).mark_messages_as_read_with_http_info(req, _request_timeout=self.timeout),
        )

    def _call(self, what: str, fn):
        try:
            with metrics.timed_call("line") as call:
                resp = fn()
                call.status = metrics.status_of(None, getattr(resp, "status_code", None) or 200)
        except ApiException as exc:
            raise _translate(exc, what) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            never_sent = isinstance(
                reason,
                (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError, ConnectionRefusedError),
            )
            raise Retryable(SERVICE, f"{what}: {type(reason).__name__}", maybe_applied=not never_sent) from None
        headers = getattr(resp, "headers", None) or {}
        log.debug("line %s ok x-line-request-id=%s", what, headers.get("x-line-request-id"))
        return resp


def _configuration(host: str, token: str) -> Configuration:
    cfg = Configuration(host=host.rstrip("/"), access_token=str(token))
    cfg.retries = 0  # our own backoff decides; never let urllib3 repeat a POST
    cfg.connection_pool_maxsize = 32  # the drain overlaps up to 16 LINE calls per worker
    return cfg


def _translate(exc: ApiException, what: str) -> GatewayError:
    status = exc.status or 0
    body = exc.body or b""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    request_id = (exc.headers or {}).get("x-line-request-id") if exc.headers else None
    log.warning("line %s failed status=%s x-line-request-id=%s", what, status, request_id)
    if status == 429:
        after = (exc.headers or {}).get("Retry-After") if exc.headers else None
        return RateLimited(SERVICE, f"{what}: rate limited", status=status, retry_after=float(after) if after else None)
    if status >= 500:
        return Retryable(SERVICE, f"{what}: HTTP {status}", status=status)
    if status in (401, 403):
        return AuthError(SERVICE, f"{what}: HTTP {status} (check the channel access token)", status=status)
    if status == 400 and "reply token" in text.lower():
        return InvalidReplyToken(SERVICE, f"{what}: invalid reply token", status=status)
    return Permanent(SERVICE, f"{what}: HTTP {status} {text[:200]}", status=status)
