"""Routing on the relay: presence -> assignment -> Salesforce; queue notices; operator actions;
presence expiry. Real Redis (db 15), the sandbox in-process with the deployed schema."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from connector.jobs import knowledge, routing
from connector.local.sandbox.salesforce_store import format_datetime
from tests.jobs.operator_fixtures import (  # noqa: F401
    CHANNEL,
    CUSTOMER,
    CUSTOMER2,
    conv_state,
    customer_writes,
    handoff,
    op_redis,
    op_sandbox,
    operators,
    rt,
    run_jobs,
    sb,
)
from tests.jobs.test_knowledge_sync import seed_all


def callout(rt, type_: str, data: dict, envelope_id: str | None = None) -> str:
    """What the callout endpoint enqueues for a session/presence callout, run in-process."""
    env = {"type": type_, "id": envelope_id or f"x:{type_}:{time.time_ns()}", "sentAt": None, "data": data}
    out = routing.callout(rt.vault.seal_json(env))
    run_jobs(rt)
    return out


def presence(rt, user_id: str, status: str = "Available", capacity: int = 3) -> None:
    callout(rt, "presence.update", {"userId": user_id, "status": status, "capacity": capacity})


def texts(sb, user=CUSTOMER) -> list[str]:
    return [m.get("text") for d in sb.line.delivered(user_id=user) for m in d["messages"] if m["type"] == "text"]


def session_record(sb, key):
    return sb.salesforce.find("LINE_Chat_Session__c", Session_Key__c=key)[0]


def load_of(rt, op_id):
    return rt.routing_store.load().operators[op_id].load


def test_handoff_is_routed_to_the_least_loaded_operator_with_every_salesforce_effect(rt, sb):
    a, b = operators(sb)[:2]
    presence(rt, a)
    customer_writes(rt, "注文した商品が届きません")
    first = handoff(rt)
    assert session_record(sb, first)["Operator__c"] == a  # the only one Available
    presence(rt, b)
    customer_writes(rt, "返品したいです", user=CUSTOMER2)
    second = handoff(rt, user=CUSTOMER2)

    s = session_record(sb, second)
    assert (s["Status__c"], s["Operator__c"]) == ("Operator", b) and s["Assigned_At__c"]
    case = sb.salesforce.find("Case", LINE_Inquiry_Key__c=second)[0]
    assert case["OwnerId"] == b
    rec = [r for r in sb.salesforce.records("LINE_Routing__c") if r["Operator__c"] == b][0]
    assert rec["Routing_Key__c"].startswith(second + ":")
    assert rec["Reason__c"] == "least_load"  # b had 0 chats, a had 1
    assert rec["Operator_Load__c"] == 0 and rec["Operator_Capacity__c"] == 3
    assert rec["Eligible_Operators__c"] == 2 and rec["Wait_Seconds__c"] == 0
    assert rec["Chat_Session__c"] == s["Id"] and rec["Case__c"] == case["Id"]
    assert rec["Queued_At__c"] and rec["Assigned_At__c"]
    # the conversation knows: the bot stays quiet from now on
    assert conv_state(rt, CUSTOMER2)["session"]["status"] == "Operator"
    assert texts(sb, CUSTOMER2).count(rt.config.channel(CHANNEL).text("operator_assigned")) == 1
    assert len(sb.salesforce.records("LINE_Routing__c")) == 2
    assert rt.routing_store.outbox() == []


def test_effects_are_applied_in_one_salesforce_call(rt, sb):
    a = operators(sb)[0]
    customer_writes(rt, "質問です")
    customer_writes(rt, "質問です", user=CUSTOMER2)
    handoff(rt)
    handoff(rt, user=CUSTOMER2)
    before = sb.salesforce.api_calls
    presence(rt, a)  # both assigned at once
    assert {
        session_record(sb, k)["Operator__c"]
        for k in (conv_state(rt)["session"]["key"], conv_state(rt, CUSTOMER2)["session"]["key"])
    } == {a}
    # one composite call for 2 sessions + 2 Cases + 2 routing records + 2 system messages
    # (the drains of the internal "assigned" events write nothing)
    assert sb.salesforce.api_calls - before == 1


def test_queue_notice_is_sent_once_and_not_spammed(rt, sb):
    channel = rt.config.channel(CHANNEL)
    customer_writes(rt, "オペレーターと話したい")
    key = handoff(rt)
    first = channel.text("queue_no_operator", position=1)
    assert texts(sb).count(first) == 1
    t0 = time.time()
    for dt in (5, 30, 61, 120):  # nothing changed: no new message
        routing.tick(rt, now=t0 + dt)
        run_jobs(rt)
    assert texts(sb).count(first) == 1
    notes = sb.salesforce.find("LINE_Chat_Message__c", Direction__c="System")
    assert [n["Text__c"] for n in notes] == [first]  # recorded in the transcript
    assert session_record(sb, key)["Status__c"] == "Queued"
    # a second customer in the same queue is told position 2
    customer_writes(rt, "至急です", user=CUSTOMER2)
    handoff(rt, user=CUSTOMER2)
    assert channel.text("queue_no_operator", position=2) in texts(sb, CUSTOMER2)


def test_queue_notice_when_someone_becomes_available_but_full(rt, sb):
    a = operators(sb)[0]
    presence(rt, a, capacity=1)
    customer_writes(rt, "一件目")
    handoff(rt)  # a takes it (1/1)
    customer_writes(rt, "二件目", user=CUSTOMER2)
    handoff(rt, user=CUSTOMER2)
    channel = rt.config.channel(CHANNEL)
    aht_min = int(rt.settings.routing.avg_handle_time_seconds // 60)
    assert channel.text("queue_position", position=1, minutes=aht_min) in texts(sb, CUSTOMER2)


def test_decline_goes_to_another_operator(rt, sb):
    a, b = operators(sb)[:2]
    presence(rt, a)
    customer_writes(rt, "相談です")
    key = handoff(rt)
    assert session_record(sb, key)["Operator__c"] == a
    presence(rt, b)
    callout(rt, "session.decline", {"sessionKey": key, "userId": a})
    assert session_record(sb, key)["Operator__c"] == b
    assert load_of(rt, a) == 0 and load_of(rt, b) == 1
    recs = sorted(sb.salesforce.records("LINE_Routing__c"), key=lambda r: r["Assigned_At__c"])
    assert [r["Operator__c"] for r in recs] == [a, b]


def test_declined_by_everyone_waits_in_the_queue(rt, sb):
    a = operators(sb)[0]
    presence(rt, a)
    customer_writes(rt, "相談です")
    key = handoff(rt)
    callout(rt, "session.decline", {"sessionKey": key, "userId": a})
    s = session_record(sb, key)
    assert (s["Status__c"], s["Operator__c"]) == ("Queued", None)
    assert conv_state(rt)["session"]["status"] == "Queued"


def test_transfer_to_an_operator_and_back_to_the_queue(rt, sb):
    a, b, c = operators(sb)[:3]
    presence(rt, a)
    customer_writes(rt, "相談です")
    key = handoff(rt)
    presence(rt, b)
    callout(rt, "session.transfer", {"sessionKey": key, "fromUserId": a, "toUserId": b})
    assert session_record(sb, key)["Operator__c"] == b
    assert sb.salesforce.find("Case", LINE_Inquiry_Key__c=key)[0]["OwnerId"] == b
    rec = [r for r in sb.salesforce.records("LINE_Routing__c") if r["Reason__c"] == "transfer"][0]
    assert (rec["Operator__c"], rec["From_Operator__c"]) == (b, a)
    # back to the queue: b is excluded; a is Available and gets it
    callout(rt, "session.transfer", {"sessionKey": key, "fromUserId": b, "toUserId": None})
    assert session_record(sb, key)["Operator__c"] == a
    # a transfer to someone who cannot take it is refused, nothing changes
    assert callout(rt, "session.transfer", {"sessionKey": key, "fromUserId": a, "toUserId": c}) == "refused"
    assert session_record(sb, key)["Operator__c"] == a


def test_close_updates_session_and_case_and_the_next_message_starts_a_new_session(rt, sb):
    a = operators(sb)[0]
    presence(rt, a)
    customer_writes(rt, "相談です")
    key = handoff(rt)
    assert load_of(rt, a) == 1
    callout(rt, "session.close", {"sessionKey": key, "userId": a, "reason": "解決しました"}, envelope_id="s:close:1")
    s = session_record(sb, key)
    assert (s["Status__c"], s["Closed_By__c"], s["Close_Reason__c"]) == ("Closed", a, "解決しました")
    assert s["Closed_At__c"]
    assert sb.salesforce.find("Case", LINE_Inquiry_Key__c=key)[0]["Status"] == "Closed"
    assert load_of(rt, a) == 0
    closing = rt.config.channel(CHANNEL).text("session_closed")
    assert texts(sb).count(closing) == 1
    state = conv_state(rt)
    assert state["session"]["status"] == "Closed" and state["last_case"]["key"] == key
    # the same close again (a replayed job) changes nothing
    callout(rt, "session.close", {"sessionKey": key, "userId": a, "reason": "解決しました"}, envelope_id="s:close:1")
    assert texts(sb).count(closing) == 1
    # the customer's next message opens a new session with the bot first
    customer_writes(rt, "もう一つ質問があります")
    new = conv_state(rt)["session"]
    assert new["key"] != key and new["status"] == "Bot"
    assert session_record(sb, new["key"])["Status__c"] == "Bot"


def test_closing_a_session_turns_the_article_its_operator_sent_into_a_question_candidate(rt, sb):
    seed_all(sb)
    knowledge.run_sync(rt, "ja")  # the articles the relay knows (the learning loop ignores other ids)
    a = operators(sb)[0]
    presence(rt, a)
    customer_writes(rt, "ポイントの期限っていつまで？")
    key = handoff(rt)
    sb.salesforce.insert(
        "LINE_Chat_Message__c",
        {
            "Message_Key__c": "op:1",
            "Chat_Session__c": session_record(sb, key)["Id"],
            "Direction__c": "Operator",
            "Type__c": "text",
            "Text__c": "こちらの記事をご覧ください",
            "Knowledge_Article_Id__c": "kA0000000000003AAA",
            "Sent_At__c": format_datetime(datetime.now(UTC) + timedelta(minutes=1)),
        },
    )
    callout(rt, "session.close", {"sessionKey": key, "userId": a, "reason": "解決しました"})
    [example] = sb.salesforce.find("LINE_Question_Example__c", Source__c="Operator")
    assert example["Question__c"] == "ポイントの期限っていつまで？"
    assert (example["Article_Id__c"], example["Status__c"]) == ("kA0000000000003AAA", "Candidate")


def test_late_close_of_an_old_session_does_not_touch_the_new_one(rt, sb):
    customer_writes(rt, "相談です")
    key = handoff(rt)
    callout(rt, "session.close", {"sessionKey": key, "userId": None, "reason": "x"})
    customer_writes(rt, "また来ました")
    new = conv_state(rt)["session"]
    callout(rt, "session.close", {"sessionKey": key, "userId": None, "reason": "late"})
    assert conv_state(rt)["session"]["key"] == new["key"] and conv_state(rt)["session"]["status"] == "Bot"


def test_stale_presence_expires_and_its_chats_are_requeued(rt, sb):
    a, b = operators(sb)[:2]
    presence(rt, a)
    customer_writes(rt, "相談です")
    key = handoff(rt)
    assert session_record(sb, key)["Operator__c"] == a
    ttl = rt.settings.routing.presence_ttl_seconds
    routing.tick(rt, now=time.time() + ttl + 5)  # a's browser is gone, nobody else is there
    run_jobs(rt)
    s = session_record(sb, key)
    assert (s["Status__c"], s["Operator__c"]) == ("Queued", None)
    assert rt.routing_store.load().operators[a].status.value == "Offline"
    assert conv_state(rt)["session"]["status"] == "Queued"
    presence(rt, b)  # someone comes: it is routed at once
    assert session_record(sb, key)["Operator__c"] == b


def test_heartbeats_keep_an_operator_present(rt, sb):
    a = operators(sb)[0]
    presence(rt, a)
    presence(rt, a)  # the console's 60 s heartbeat is the same callout
    routing.tick(rt, now=time.time() + rt.settings.routing.presence_ttl_seconds - 5)
    assert rt.routing_store.load().operators[a].status.value == "Available"


def test_effects_survive_a_salesforce_outage(rt, sb):
    a = operators(sb)[0]
    customer_writes(rt, "相談です")
    key = handoff(rt)
    sb.faults.add("salesforce", "status", status=503, path="/services/data/v63.0/composite", count=1)
    presence(rt, a)  # routed; the write failed; the effect waits in the outbox
    assert sb.salesforce.find("LINE_Routing__c") == []
    assert rt.routing_store.outbox()
    routing.tick(rt)
    run_jobs(rt)
    assert session_record(sb, key)["Operator__c"] == a
    assert rt.routing_store.outbox() == []
    assert len(sb.salesforce.records("LINE_Routing__c")) == 1


def test_bot_queued_signal_is_routed(rt, sb):
    """The bot's handoff signal shape ({"kind": "queued", ...} + conv/channel from the drain)."""
    from connector.jobs import signals

    a = operators(sb)[0]
    presence(rt, a)
    customer_writes(rt, "相談です")
    key = conv_state(rt)["session"]["key"]
    signals.dispatch(
        rt,
        [
            {
                "kind": "queued",
                "session_key": key,
                "case_key": key,
                "priority": 0,
                "reason": "request",
                "conv": f"{CHANNEL}:{CUSTOMER}",
                "channel": CHANNEL,
            }
        ],
    )
    run_jobs(rt)
    assert session_record(sb, key)["Operator__c"] == a


def test_mark_as_read(rt, sb):
    customer_writes(rt, "相談です")
    key = conv_state(rt)["session"]["key"]
    callout(rt, "session.read", {"sessionKey": key, "userId": operators(sb)[0]})
    assert [(m["channel_id"], m["user_id"]) for m in sb.line.read_marks] == [(CHANNEL, CUSTOMER)]


def test_tick_sweeps_outbound_only_where_operators_work(rt, sb):
    routing.tick(rt)
    assert "outbound-sweep" not in rt.queue.job_ids  # no operator ever: no API call a minute on nothing
    presence(rt, operators(sb)[0])
    routing.tick(rt)
    assert "outbound-sweep" in rt.queue.job_ids


def test_an_identity_link_from_salesforce_moves_the_inquiry_to_the_verified_contact(rt, sb):
    customer_writes(rt, "会員サポートIDで確認をお願いします")
    key = conv_state(rt)["session"]["key"]
    contact_id = sb.salesforce.insert("Contact", {"LastName": "年間プラン 顧客"})
    assert (
        callout(
            rt, "identity.link", {"sessionKey": key, "contactId": contact_id, "entitled": True}, envelope_id="s:link:1"
        )
        == "linked"
    )
    run_jobs(rt)
    friend = sb.salesforce.records("LINE_Friend__c")[0]
    assert friend["Contact__c"] == contact_id and friend["Verified__c"] is True
    assert sb.salesforce.find("Case", LINE_Inquiry_Key__c=key)[0]["ContactId"] == contact_id
    assert conv_state(rt)["friend"]["entitled"] is True


def test_an_identity_link_that_is_not_a_contact_id_is_ignored(rt, sb):
    customer_writes(rt, "こんにちは")
    key = conv_state(rt)["session"]["key"]
    assert callout(rt, "identity.link", {"sessionKey": key, "contactId": "001000000000001AAA"}) == "ignored"
