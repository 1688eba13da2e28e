"""A whisper (a supervisor's internal message to the operator) never becomes a LINE message.

Exhaustive over the relay's outbound entry points - the signed callout, the delivery job, the
sweep of Pending records, a push, a reply and the reply's retry job - and a property test over
records marked internal in any of their fields. Only connector/jobs/delivery.py calls LINE's
push and reply (checked here too), so these are all the ways out.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.domain.conversation import Reply
from connector.domain.operator import is_internal
from connector.jobs import delivery, outbound
from tests.jobs.operator_fixtures import *  # noqa: F403 - its fixtures: op_sandbox, op_redis, sb, rt
from tests.jobs.operator_fixtures import (
    CALLOUT_SECRET,
    CHANNEL,
    CUSTOMER,
    customer_writes,
    run_jobs,
    session_key,
    sign_like_apex,
)

WHISPER = "このお客様は先週も同じ件で問い合わせています。返金手順を案内してください。"
REPO = Path(__file__).resolve().parents[2]


def whisper(sb, key: str, **fields) -> dict:
    """A whisper as the supervisor view writes it: Direction Internal, key int:<Id>, in the transcript."""
    session = sb.salesforce.find("LINE_Chat_Session__c", Session_Key__c=key)[0]
    base = {
        "Chat_Session__c": session["Id"],
        "Direction__c": "Internal",
        "Type__c": "text",
        "Text__c": WHISPER,
        "Message_Key__c": f"int:{uuid.uuid4().hex[:15]}",
        **fields,
    }
    rid = sb.salesforce.insert("LINE_Chat_Message__c", base)
    rec = sb.salesforce.get("LINE_Chat_Message__c", rid)
    return {
        "id": rid,
        "messageKey": rec["Message_Key__c"],
        "direction": rec["Direction__c"],
        "sessionKey": key,
        "messageType": "text",
        "text": WHISPER,
    }


def line_saw_the_whisper(sb) -> bool:
    return any(WHISPER in str(d["messages"]) for d in sb.line.delivered(user_id=CUSTOMER))


def open_chat(rt) -> str:
    customer_writes(rt, "返金について教えてください")
    return session_key(rt)


def test_only_the_delivery_module_calls_line_push_or_reply():
    callers = {
        str(p.relative_to(REPO))
        for p in (REPO / "connector").rglob("*.py")
        if "local" not in p.parts and re.search(r"\.line\.(push|reply)\(", p.read_text(encoding="utf-8"))
    }
    assert callers == {"connector/jobs/delivery.py"}


def test_the_signed_callout_refuses_an_internal_record(rt, sb):
    from connector.entrypoints.app import create_app

    rec = whisper(sb, open_chat(rt))
    client = create_app(rt.config).test_client()
    # even dressed as an operator message (key op:...), the direction gives it away
    for record in (rec, {**rec, "messageKey": "op:" + rec["id"]}):
        body, headers = sign_like_apex(CALLOUT_SECRET, "message.send", rec["id"], {"records": [record]})
        assert client.post("/salesforce/callout", data=body, headers=headers).status_code == 400
    run_jobs(rt)
    assert not line_saw_the_whisper(sb)


def test_the_delivery_job_refuses_an_internal_record(rt, sb):
    rec = whisper(sb, open_chat(rt))
    assert outbound.deliver(rt.vault.seal_json({**rec, "messageKey": "op:" + rec["id"]})) == "refused"
    assert outbound.deliver(rt.vault.seal_json(rec)) == "refused"
    assert not line_saw_the_whisper(sb)
    assert sb.salesforce.get("LINE_Chat_Message__c", rec["id"]).get("Delivery_Status__c") is None


def test_the_sweep_never_picks_up_a_whisper_even_if_marked_pending(rt, sb):
    whisper(sb, open_chat(rt), Delivery_Status__c="Pending")
    assert outbound.sweep(rt, now=time.time() + 3600) == 0
    run_jobs(rt)
    assert not line_saw_the_whisper(sb)


def test_a_push_of_an_internal_key_is_refused(rt, sb):
    open_chat(rt)
    result = delivery.push_once(rt, CHANNEL, CUSTOMER, [{"type": "text", "text": WHISPER}], "int:a0B000000000001")
    assert result["status"] == "Failed" and "internal" in result["error"]
    assert not line_saw_the_whisper(sb)


def test_a_reply_standing_for_an_internal_record_is_refused(rt, sb):
    open_chat(rt)
    now = int(time.time() * 1000)
    for reply in (
        Reply("int:r1", CUSTOMER, None, now, [{"type": "text", "text": WHISPER}], []),
        Reply("r:x", CUSTOMER, None, now, [{"type": "text", "text": WHISPER}], ["int:a0B000000000002"]),
    ):
        assert delivery.deliver_reply(rt, CHANNEL, reply)["status"] == "Failed"
    delivery.finish(CHANNEL, "int:r2", CUSTOMER, None, now, [{"type": "text", "text": WHISPER}], [])
    assert not line_saw_the_whisper(sb)


def test_the_whisper_stays_in_the_transcript(rt, sb):
    rec = whisper(sb, open_chat(rt))
    assert sb.salesforce.get("LINE_Chat_Message__c", rec["id"])["Text__c"] == WHISPER


# --------------------------------------------------------------------------- property
_marks = st.sampled_from(["direction", "Direction__c", "internal", "messageKey", "Message_Key__c"])
_other = st.dictionaries(
    st.sampled_from(["text", "messageType", "sessionKey", "stickerId", "id", "Type__c"]),
    st.one_of(st.none(), st.text(max_size=20), st.integers()),
    max_size=4,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mark=_marks, other=_other, suffix=st.text(max_size=20))
def test_any_record_marked_internal_in_any_field_is_internal(mark, other, suffix):
    value = {"direction": "Internal", "Direction__c": "Internal", "internal": True}.get(mark, "int:" + suffix)
    assert is_internal({**other, mark: value})


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(mark=_marks, text=st.text(min_size=1, max_size=40).filter(str.strip), mtype=st.sampled_from(["text", "sticker"]))
def test_no_internal_record_reaches_line_through_the_delivery_job(rt, sb, mark, text, mtype):
    rid = "a0B" + uuid.uuid4().hex[:12]
    record = {
        "id": rid,
        "messageKey": "op:" + rid,
        "sessionKey": f"{CHANNEL}:{CUSTOMER}:EV1",
        "messageType": mtype,
        "text": text,
        "stickerPackageId": "446",
        "stickerId": "1988",
    }
    record[mark] = {"direction": "Internal", "Direction__c": "Internal", "internal": True}.get(mark, "int:" + rid)
    before = len(sb.line.delivered(user_id=CUSTOMER))
    assert outbound.deliver(rt.vault.seal_json(record)) == "refused"
    assert len(sb.line.delivered(user_id=CUSTOMER)) == before
