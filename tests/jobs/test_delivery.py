"""A customer never gets the same reply twice, and a reply is not given up while it can be sent."""

from __future__ import annotations

import time

import pytest

from connector.domain.conversation import Reply
from connector.jobs import delivery
from tests.gateways.conftest import CHANNEL, USER, runtime, sandbox, sb  # noqa: F401 - fixtures

TEXT = [{"type": "text", "text": "お問い合わせありがとうございます"}]


def a_reply(sb, key="r:1", age_s=0.0):
    event = sb.line.send_user_message(CHANNEL, USER, {"type": "text", "text": "hi"}, deliver=False)
    return Reply(
        key=key,
        to=USER,
        reply_token=event["replyToken"],
        event_ms=int((time.time() - age_s) * 1000),
        messages=TEXT,
        record_keys=[],
    )


@pytest.fixture
def rt(runtime, redis_url):
    from connector.runtime import set_runtime

    runtime.redis.flushdb()
    set_runtime(runtime)  # RQ entry points (finish) take the process's runtime
    yield runtime
    set_runtime(None)


def test_a_fresh_reply_goes_out_by_reply_token(sb, rt):
    assert delivery.deliver_reply(rt, CHANNEL, a_reply(sb))["status"] == "Sent"
    assert [d["method"] for d in sb.line.delivered(user_id=USER)] == ["reply"]


def test_a_reply_already_delivered_is_not_sent_again(sb, rt):
    reply = a_reply(sb)
    delivery.deliver_reply(rt, CHANNEL, reply)
    assert delivery.deliver_reply(rt, CHANNEL, reply)["status"] == "Sent"
    assert len(sb.line.delivered(user_id=USER)) == 1


def test_an_old_reply_token_is_not_used_the_reply_is_pushed_with_a_retry_key(sb, rt):
    result = delivery.deliver_reply(rt, CHANNEL, a_reply(sb, age_s=120))
    [sent] = sb.line.delivered(user_id=USER)
    assert result["status"] == "Sent" and sent["method"] == "push" and sent["retry_key"]


def test_a_reply_line_applied_but_answered_5xx_is_confirmed_by_retrying_the_token_not_pushed(sb, rt):
    sb.faults.add("line_api", "after_apply_status", status=500, path="/v2/bot/message/reply", count=1)
    reply = a_reply(sb)
    assert delivery.deliver_reply(rt, CHANNEL, reply)["status"] == "Pending"
    delivery.finish(CHANNEL, reply.key, reply.to, reply.reply_token, reply.event_ms, reply.messages, [])
    assert rt.store.marker(reply.key)["status"] == "Sent"
    assert [d["method"] for d in sb.line.delivered(user_id=USER)] == ["reply"]


def test_an_unconfirmed_reply_whose_token_expired_is_failed_never_pushed(sb, rt):
    sb.faults.add("line_api", "after_apply_status", status=500, path="/v2/bot/message/reply", count=1)
    reply = a_reply(sb)
    delivery.deliver_reply(rt, CHANNEL, reply)
    expired = Reply(reply.key, reply.to, reply.reply_token, reply.event_ms - 120_000, reply.messages, [])
    delivery.finish(CHANNEL, expired.key, expired.to, expired.reply_token, expired.event_ms, expired.messages, [])
    assert rt.store.marker(reply.key)["status"] == "Failed"
    assert [d["method"] for d in sb.line.delivered(user_id=USER)] == ["reply"]


def test_a_rate_limited_reply_is_pushed_later_because_nothing_was_sent(sb, rt):
    sb.faults.add("line_api", "rate_limit", path="/v2/bot/message/reply", count=1)
    reply = a_reply(sb)
    assert delivery.deliver_reply(rt, CHANNEL, reply)["status"] == "Pending"
    late = Reply(reply.key, reply.to, reply.reply_token, reply.event_ms - 120_000, reply.messages, [])
    delivery.finish(CHANNEL, late.key, late.to, late.reply_token, late.event_ms, late.messages, [])
    assert [d["method"] for d in sb.line.delivered(user_id=USER)] == ["push"]


def test_a_reply_sent_later_whose_record_is_not_written_yet_is_left_to_the_drain(sb, rt):
    # Salesforce was down: the batch that answered waits, its message record does not exist yet.
    reply = a_reply(sb)
    reply.record_keys = ["bot:e1:0"]
    sb.faults.add("line_api", "status", status=500, path="/v2/bot/message/reply", count=1)
    assert delivery.deliver_reply(rt, CHANNEL, reply)["status"] == "Pending"
    finish = (CHANNEL, reply.key, reply.to, reply.reply_token, reply.event_ms, reply.messages, reply.record_keys)

    with pytest.raises(RuntimeError, match="REQUIRED_FIELD_MISSING"):  # a write in flight may not see it yet
        delivery.finish(*finish)
    marker = rt.store.marker(reply.key)
    rt.store.set_marker(reply.key, {**marker, "at": marker["at"] - 2 * rt.settings.salesforce.timeout_seconds - 1})
    delivery.finish(*finish)  # later: the drain will read the outcome from the marker

    assert rt.store.marker(reply.key)["status"] == "Sent"
    assert len(sb.line.delivered(user_id=USER)) == 1
