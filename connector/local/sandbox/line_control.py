"""``/__sandbox__/line/...``: drive simulated LINE users and inspect what the bot sent, over HTTP.

| method | path | body / query | does |
|---|---|---|---|
| POST | line/users | {channelId, userId, displayName?, language?} | register a user profile |
| POST | line/users/{userId}/messages | {channelId, message, displayName?, mode?, source?, quotedMessageId?, contentSize?, deliver?} | user sends a message |
| POST | line/events | {channelId, event} or {channelId, events: [...]} | send any event(s) |
| POST | line/redeliver | {channelId, event} | resend with isRedelivery=true |
| POST | line/raw | {channelId, body, signature?} | POST raw text to the webhook |
| GET | line/delivered | ?userId=&channelId=&method= | replies/pushes received |
| GET | line/loading, line/read_marks, line/webhook_log | | inspection |
| POST | line/settings | {replyTokenTtl?, webhookTimeout?, quota?} | change behaviour |
| POST | line/clear | | forget users and everything received |
| POST | line/phones | {channelId, userId, phone} | a user who may receive PNP messages at that E.164 number |
| POST | line/pnp/deliver | {tag?} | send the `delivery` event of pending PNP messages (all, or one tag) |
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from .line import LineState
from .server import json_response, read_json


def handle(state: LineState, request: Request, subpath: str) -> Response | None:
    if not subpath.startswith("line/"):
        return None
    parts = subpath.split("/")[1:]
    method = request.method
    body = (read_json(request) or {}) if method in ("POST", "PUT") else {}
    if method == "POST" and parts == ["users"]:
        return json_response(
            state.add_user(body["channelId"], body["userId"], body.get("displayName"), body.get("language", "ja")), 201
        )
    if method == "POST" and len(parts) == 3 and parts[0] == "users" and parts[2] == "messages":
        event = state.send_user_message(
            body["channelId"],
            parts[1],
            body["message"],
            display_name=body.get("displayName"),
            mode=body.get("mode", "active"),
            source=body.get("source"),
            quoted_message_id=body.get("quotedMessageId"),
            content_size=body.get("contentSize"),
            deliver=body.get("deliver", True),
        )
        return json_response(event, 201)
    if method == "POST" and parts == ["events"]:
        if "events" in body:
            return json_response(state.send_batch(body["channelId"], body["events"]), 201)
        return json_response(state.send_event(body["channelId"], body["event"], deliver=body.get("deliver", True)), 201)
    if method == "POST" and parts == ["redeliver"]:
        return json_response(state.redeliver(body["channelId"], body["event"]), 201)
    if method == "POST" and parts == ["raw"]:
        status = state.post_raw(body["channelId"], body["body"].encode("utf-8"), body.get("signature"))
        return json_response({"status": status}, 201)
    if method == "GET" and parts == ["delivered"]:
        return json_response(
            state.delivered(request.args.get("userId"), request.args.get("channelId"), request.args.get("method"))
        )
    if method == "GET" and parts == ["loading"]:
        return json_response(state.loading)
    if method == "GET" and parts == ["read_marks"]:
        return json_response(state.read_marks)
    if method == "GET" and parts == ["webhook_log"]:
        return json_response(state.webhook_log)
    if method == "POST" and parts == ["settings"]:
        if "replyTokenTtl" in body:
            state.reply_token_ttl = float(body["replyTokenTtl"])
        if "webhookTimeout" in body:
            state.webhook_timeout_s = float(body["webhookTimeout"])
        if "quota" in body:
            state.quota = int(body["quota"])
        return json_response(
            {"replyTokenTtl": state.reply_token_ttl, "webhookTimeout": state.webhook_timeout_s, "quota": state.quota}
        )
    if method == "POST" and parts == ["phones"]:
        return json_response({"hash": state.register_phone(body["channelId"], body["userId"], body["phone"])}, 201)
    if method == "POST" and parts == ["pnp", "deliver"]:
        return json_response(state.send_pnp_deliveries(body.get("tag")), 201)
    if method == "POST" and parts == ["clear"]:
        state.clear()
        return json_response({"cleared": True})
    return None
