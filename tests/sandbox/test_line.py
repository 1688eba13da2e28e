"""LINE stand-in, driven through line-bot-sdk v3."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException
from linebot.v3.webhooks import FollowEvent, MessageEvent, TextMessageContent

from .conftest import BOT, CHANNEL_ID


def _say(sb, text="hello", user="U1"):
    return sb.line.send_user_message(CHANNEL_ID, user, {"type": "text", "text": text})


def test_user_message_reaches_webhook_with_valid_signature_and_real_shape(sb, receiver):
    sent = _say(sb, "こんにちは")
    assert sent["status"] == 200
    event = receiver.events[0]
    assert isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent)
    assert event.message.text == "こんにちは"
    assert event.source.user_id == "U1"
    assert event.delivery_context.is_redelivery is False
    assert len(event.webhook_event_id) == 26 and event.message.id.isdigit()
    body = json.loads(receiver.bodies[0])
    assert body["destination"] == BOT


def test_reply_with_issued_token_is_delivered(sb, line_api):
    token = _say(sb)["replyToken"]
    response = line_api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="hi there")]))
    assert response.sent_messages[0].id.isdigit()
    assert sb.line.delivered_texts("U1") == ["hi there"]
    assert sb.line.delivered("U1")[0]["method"] == "reply"


def test_recipients_names_everyone_something_was_delivered_to(sb, line_api):
    token = _say(sb)["replyToken"]
    line_api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="hi")]))
    assert sb.line.recipients() == {"U1"}


def test_reply_token_is_single_use(sb, line_api):
    token = _say(sb)["replyToken"]
    line_api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="one")]))
    with pytest.raises(ApiException) as err:
        line_api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="two")]))
    assert err.value.status == 400
    assert json.loads(err.value.body) == {"message": "Invalid reply token"}


def test_expired_reply_token_is_rejected(sb, line_api):
    sb.line.reply_token_ttl = 0.05
    try:
        token = _say(sb)["replyToken"]
        time.sleep(0.1)
        with pytest.raises(ApiException) as err:
            line_api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="late")]))
        assert err.value.status == 400
    finally:
        sb.line.reply_token_ttl = 60


def test_reply_with_retry_key_is_rejected(sb):
    token = _say(sb)["replyToken"]
    response = requests.post(
        sb.urls["line_api"] + "/v2/bot/message/reply",
        headers={"Authorization": "Bearer sandbox-access-token", "X-Line-Retry-Key": str(uuid.uuid4())},
        json={"replyToken": token, "messages": [{"type": "text", "text": "x"}]},
    )
    assert response.status_code == 400


def test_push_with_same_retry_key_answers_409_and_delivers_once(sb, line_api):
    _say(sb)
    key = str(uuid.uuid4())
    request = PushMessageRequest(to="U1", messages=[TextMessage(text="once")])
    first = line_api.push_message_with_http_info(request, x_line_retry_key=key)
    with pytest.raises(ApiException) as err:
        line_api.push_message(request, x_line_retry_key=key)
    assert err.value.status == 409
    body = json.loads(err.value.body)
    assert body["message"] == "The retry key is already accepted"
    assert body["sentMessages"][0]["id"] == first.data.sent_messages[0].id
    assert err.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert sb.line.delivered_texts("U1") == ["once"]


def test_push_to_unknown_user_is_rejected(sb, line_api):
    with pytest.raises(ApiException) as err:
        line_api.push_message(PushMessageRequest(to="Unobody", messages=[TextMessage(text="x")]))
    assert err.value.status == 400


def test_text_over_5000_utf16_units_is_rejected_with_details(sb):
    _say(sb)
    response = requests.post(
        sb.urls["line_api"] + "/v2/bot/message/push",
        headers={"Authorization": "Bearer sandbox-access-token"},
        json={"to": "U1", "messages": [{"type": "text", "text": "😀" * 2501}]},
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["property"] == "messages[0].text"


def test_unknown_access_token_gets_401(sb):
    with ApiClient(Configuration(host=sb.urls["line_api"], access_token="wrong")) as client:
        with pytest.raises(ApiException) as err:
            MessagingApi(client).get_bot_info()
    assert err.value.status == 401
    assert "Authentication failed" in json.loads(err.value.body)["message"]


def test_profile_of_known_user(sb, line_api):
    sb.line.send_user_message(CHANNEL_ID, "U1", {"type": "text", "text": "hi"}, display_name="Hanako")
    profile = line_api.get_profile("U1")
    assert profile.display_name == "Hanako" and profile.user_id == "U1"


def test_profile_of_unknown_user_is_404(sb, line_api):
    with pytest.raises(ApiException) as err:
        line_api.get_profile("Uunknown")
    assert err.value.status == 404


def test_image_content_is_downloadable_from_data_host(sb, line_blob):
    event = sb.line.send_user_message(CHANNEL_ID, "U1", {"type": "image"})
    data = line_blob.get_message_content(event["message"]["id"])
    assert bytes(data).startswith(b"\x89PNG\r\n\x1a\n")


def test_file_content_has_requested_size(sb, line_blob):
    event = sb.line.send_user_message(CHANNEL_ID, "U1", {"type": "file", "fileName": "a.pdf"}, content_size=300_000)
    assert event["message"]["fileSize"] == 300_000
    data = line_blob.get_message_content(event["message"]["id"])
    assert len(data) == 300_000


def test_loading_animation_is_recorded(sb, line_api):
    _say(sb)
    line_api.show_loading_animation(ShowLoadingAnimationRequest(chat_id="U1", loading_seconds=10))
    assert sb.line.loading[0]["chat_id"] == "U1"


def test_loading_seconds_must_be_a_multiple_of_5(sb):
    _say(sb)
    response = requests.post(
        sb.urls["line_api"] + "/v2/bot/chat/loading/start",
        headers={"Authorization": "Bearer sandbox-access-token"},
        json={"chatId": "U1", "loadingSeconds": 7},
    )
    assert response.status_code == 400


def test_mark_as_read_by_token_is_recorded(sb):
    event = _say(sb)
    response = requests.post(
        sb.urls["line_api"] + "/v2/bot/chat/markAsRead",
        headers={"Authorization": "Bearer sandbox-access-token"},
        json={"markAsReadToken": event["message"]["markAsReadToken"]},
    )
    assert response.status_code == 200
    assert sb.line.read_marks[0]["message_id"] == event["message"]["id"]


def test_quota_consumption_counts_pushes(sb, line_api):
    _say(sb)
    line_api.push_message(PushMessageRequest(to="U1", messages=[TextMessage(text="x")]))
    assert line_api.get_message_quota_consumption().total_usage == 1


def test_redelivery_keeps_webhook_event_id(sb, receiver):
    event = _say(sb)
    again = sb.line.redeliver(CHANNEL_ID, event)
    assert again["webhookEventId"] == event["webhookEventId"]
    assert receiver.events[1].delivery_context.is_redelivery is True


def test_follow_event_gets_reply_token_and_unfollow_does_not(sb, receiver):
    follow = sb.line.send_event(
        CHANNEL_ID, {"type": "follow", "source": {"type": "user", "userId": "U9"}, "follow": {"isUnblocked": False}}
    )
    unfollow = sb.line.send_event(CHANNEL_ID, {"type": "unfollow", "source": {"type": "user", "userId": "U9"}})
    assert "replyToken" in follow and "replyToken" not in unfollow
    assert isinstance(receiver.events[0], FollowEvent)


def test_batch_sends_several_events_in_one_body(sb, receiver):
    result = sb.line.send_batch(
        CHANNEL_ID,
        [
            {
                "type": "message",
                "source": {"type": "user", "userId": "U1"},
                "message": {"type": "text", "id": "1", "text": "a", "quoteToken": "q"},
            },
            {
                "type": "message",
                "source": {"type": "user", "userId": "U1"},
                "message": {"type": "text", "id": "2", "text": "b", "quoteToken": "q"},
            },
        ],
    )
    assert result["status"] == 200 and len(receiver.bodies) == 1 and len(receiver.events) == 2


def test_bad_signature_is_refused_by_receiver(sb):
    assert sb.line.post_raw(CHANNEL_ID, b'{"destination":"x","events":[]}', "bad") == 400
    assert sb.line.webhook_log[-1]["status"] == 400


def test_user_message_over_http_control_endpoint(sb, receiver):
    response = requests.post(
        sb.urls["line_api"] + "/__sandbox__/line/users/U5/messages",
        json={"channelId": CHANNEL_ID, "message": {"type": "text", "text": "via http"}},
    )
    assert response.status_code == 201 and response.json()["status"] == 200
    assert receiver.events[0].message.text == "via http"


def test_every_response_has_a_request_id(sb):
    response = requests.get(
        sb.urls["line_api"] + "/v2/bot/info", headers={"Authorization": "Bearer sandbox-access-token"}
    )
    assert response.json()["userId"] == BOT
    uuid.UUID(response.headers["x-line-request-id"])
