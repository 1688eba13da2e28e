"""HTTP stand-ins for LINE's two hosts: api.line.me (``LineApiService``) and api-data.line.me
(``LineDataService``). Handlers validate, record into ``LineState`` and answer in LINE's format:
``{"message": ..., "details": [...]}`` errors and an ``x-line-request-id`` on every response.
"""

from __future__ import annotations

import time
import uuid

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import ids, line_control
from .line import LineState, SandboxChannel
from .line_messages import validate_messages
from .server import Service, json_response, read_json

AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."


def line_error(status: int, message: str, details: list | None = None, **extra) -> Response:
    body = {"message": message}
    if details:
        body["details"] = details
    body.update(extra)
    return json_response(body, status)


def _body_errors(details: list) -> Response:
    return line_error(400, f"The request body has {len(details)} error(s)", details)


class _LineService(Service):
    """Shared by both LINE hosts: authentication, routing, request id, fault bodies."""

    url_map: Map

    def __init__(self, state: LineState):
        self.state = state
        self._adapter = self.url_map.bind("sandbox")

    def dispatch(self, request: Request) -> Response:
        request.environ["sandbox.request_id"] = ids.request_id()
        try:
            endpoint, args = self._adapter.match(request.path, method=request.method)
        except HTTPException as exc:
            return line_error(exc.code or 404, "Not found")
        channel = self._authenticate(request)
        if channel is None:
            return line_error(401, AUTH_FAILED)
        try:
            return getattr(self, endpoint)(request, channel, **args)
        except ValueError:
            return line_error(400, "The request body could not be parsed as JSON")

    def _authenticate(self, request: Request) -> SandboxChannel | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return self.state.channel_for_token(header[7:].strip())

    def decorate(self, request: Request, response: Response) -> None:
        response.headers["x-line-request-id"] = request.environ.get("sandbox.request_id") or ids.request_id()

    def error_response(self, kind, status, fault=None) -> Response:
        if kind == "rate_limit":
            return line_error(status, "The API rate limit has been exceeded. Try again later.")
        if status == 504:
            return line_error(504, "Gateway timeout")
        if status >= 500:
            return line_error(status, "Internal server error")
        return line_error(
            status, {400: "Bad request", 401: AUTH_FAILED, 403: "Forbidden", 404: "Not found"}.get(status, "Error")
        )


class LineApiService(_LineService):
    name = "line_api"
    url_map = Map(
        [
            Rule("/v2/bot/message/reply", methods=["POST"], endpoint="reply"),
            Rule("/v2/bot/message/push", methods=["POST"], endpoint="push"),
            Rule("/v2/bot/message/quota", methods=["GET"], endpoint="quota"),
            Rule("/v2/bot/message/quota/consumption", methods=["GET"], endpoint="consumption"),
            Rule("/v2/bot/profile/<user_id>", methods=["GET"], endpoint="profile"),
            Rule("/v2/bot/info", methods=["GET"], endpoint="bot_info"),
            Rule("/v2/bot/chat/loading/start", methods=["POST"], endpoint="loading"),
            Rule("/v2/bot/message/markAsRead", methods=["POST"], endpoint="mark_read_by_chat"),
            Rule("/v2/bot/chat/markAsRead", methods=["POST"], endpoint="mark_read_by_token"),
            Rule("/bot/pnp/push", methods=["POST"], endpoint="pnp_push"),
            Rule("/v2/bot/user/<user_id>/linkToken", methods=["POST"], endpoint="link_token"),
        ]
    )

    def link_token(self, request, channel, user_id):
        token = self.state.issue_link_token(channel.channel_id, user_id)
        if token is None:
            return line_error(400, "The user hasn't added the LINE Official Account as a friend.")
        return json_response({"linkToken": token})

    def reply(self, request, channel):
        if request.headers.get("X-Line-Retry-Key"):
            return line_error(400, "X-Line-Retry-Key header cannot be used with this API")
        body = read_json(request) or {}
        details = validate_messages(body.get("messages"))
        if not isinstance(body.get("replyToken"), str):
            details.insert(0, {"message": "must be specified", "property": "replyToken"})
        if details:
            return _body_errors(details)
        token = self.state.use_reply_token(channel.channel_id, body["replyToken"])
        if token is None:
            return line_error(400, "Invalid reply token")
        source = token["source"]
        to = source.get("groupId") or source.get("roomId") or source.get("userId")
        sent = self.state.record_delivery(
            channel.channel_id,
            "reply",
            to,
            body["messages"],
            request.environ["sandbox.request_id"],
            extra={"reply_token": body["replyToken"], "notification_disabled": bool(body.get("notificationDisabled"))},
        )
        return json_response({"sentMessages": sent})

    def push(self, request, channel):
        retry_key = request.headers.get("X-Line-Retry-Key")
        if retry_key is not None:
            try:
                uuid.UUID(retry_key)
            except ValueError:
                return line_error(400, "The retry key is invalid")
            accepted = self.state.accepted_retry(channel.channel_id, retry_key)
            if accepted is not None:
                response = line_error(409, "The retry key is already accepted", sentMessages=accepted["sentMessages"])
                response.headers["x-line-accepted-request-id"] = accepted["request_id"]
                return response
        body = read_json(request) or {}
        details = validate_messages(body.get("messages"))
        if not isinstance(body.get("to"), str) or not body.get("to"):
            details.insert(0, {"message": "must be specified", "property": "to"})
        if details:
            return _body_errors(details)
        if not self.state.knows_recipient(channel.channel_id, body["to"]):
            return line_error(400, "The property, 'to', in the request body is invalid (line: -, column: -)")
        if self.state.push_count(channel.channel_id) >= self.state.quota:
            return line_error(429, "You have reached your monthly limit.")
        sent = self.state.record_delivery(
            channel.channel_id,
            "push",
            body["to"],
            body["messages"],
            request.environ["sandbox.request_id"],
            retry_key,
            extra={
                "notification_disabled": bool(body.get("notificationDisabled")),
                "custom_aggregation_units": body.get("customAggregationUnits"),
            },
        )
        return json_response({"sentMessages": sent})

    def quota(self, request, channel):
        return json_response({"type": "limited", "value": self.state.quota})

    def consumption(self, request, channel):
        return json_response({"totalUsage": self.state.push_count(channel.channel_id)})

    def profile(self, request, channel, user_id):
        profile = self.state.profile(channel.channel_id, user_id)
        if profile is None:
            return line_error(404, "Not found")
        return json_response(profile)

    def bot_info(self, request, channel):
        return json_response(
            {
                "userId": channel.bot_user_id,
                "basicId": f"@{channel.channel_id[-6:]}sbx",
                "displayName": channel.display_name,
                "chatMode": "chat",
                "markAsReadMode": "manual",
            }
        )

    def loading(self, request, channel):
        body = read_json(request) or {}
        chat_id, seconds = body.get("chatId"), body.get("loadingSeconds", 20)
        details = []
        if not isinstance(chat_id, str) or not self.state.knows_recipient(channel.channel_id, chat_id):
            details.append({"message": "invalid chatId", "property": "chatId"})
        if not isinstance(seconds, int) or not 5 <= seconds <= 60 or seconds % 5:
            details.append({"message": "must be a multiple of 5 between 5 and 60", "property": "loadingSeconds"})
        if details:
            return _body_errors(details)
        self.state.record_loading(
            {"channel_id": channel.channel_id, "chat_id": chat_id, "loading_seconds": seconds, "at": time.time()}
        )
        return json_response({}, 202)

    def mark_read_by_chat(self, request, channel):
        body = read_json(request) or {}
        user_id = (body.get("chat") or {}).get("userId")
        if not isinstance(user_id, str):
            return _body_errors([{"message": "must be specified", "property": "chat.userId"}])
        self.state.record_read({"channel_id": channel.channel_id, "user_id": user_id, "token": None, "at": time.time()})
        return json_response({})

    def mark_read_by_token(self, request, channel):
        body = read_json(request) or {}
        token = body.get("markAsReadToken")
        entry = self.state.use_read_token(channel.channel_id, token) if token else None
        if entry is None:
            return line_error(400, "Invalid markAsReadToken")
        self.state.record_read(
            {
                "channel_id": channel.channel_id,
                "user_id": entry["user_id"],
                "message_id": entry["message_id"],
                "token": token,
                "at": time.time(),
            }
        )
        return json_response({})

    def pnp_push(self, request, channel):
        tag = request.headers.get("X-Line-Delivery-Tag")
        body = read_json(request) or {}
        details = validate_messages(body.get("messages"))
        to = body.get("to")
        if not isinstance(to, str) or len(to) != 64:
            details.insert(0, {"message": "must be a SHA-256 hash of an E.164 phone number", "property": "to"})
        if tag is not None and not 16 <= len(tag) <= 100:
            details.append({"message": "Length must be between 16 and 100", "property": "X-Line-Delivery-Tag"})
        if details:
            return _body_errors(details)
        user = self.state.pnp_recipient(channel.channel_id, to)
        if user is None:  # nobody has the number, or it is not served
            return line_error(422, "Failed to send messages")
        self.state.record_delivery(
            channel.channel_id,
            "pnp",
            to,
            body["messages"],
            request.environ["sandbox.request_id"],
            extra={"delivery_tag": tag, "user_id": user},
        )
        self.state.pnp_accepted(channel.channel_id, user, tag)
        return json_response({})

    # -- control endpoints: /__sandbox__/line/... -----------------------------------------
    def control(self, request, subpath):
        return line_control.handle(self.state, request, subpath)


class LineDataService(_LineService):
    name = "line_data"
    url_map = Map(
        [
            Rule("/v2/bot/message/<message_id>/content", methods=["GET"], endpoint="content"),
            Rule("/v2/bot/message/<message_id>/content/preview", methods=["GET"], endpoint="preview"),
            Rule("/v2/bot/message/<message_id>/content/transcoding", methods=["GET"], endpoint="transcoding"),
        ]
    )

    def content(self, request, channel, message_id):
        found = self.state.content(channel.channel_id, message_id)
        if found is None:
            return line_error(404, "Not found")
        data, content_type = found
        return Response(data, 200, content_type=content_type)

    preview = content

    def transcoding(self, request, channel, message_id):
        if self.state.content(channel.channel_id, message_id) is None:
            return line_error(404, "Not found")
        return json_response({"status": "succeeded"})
