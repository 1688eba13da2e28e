"""Hold through the relay: the console's callout, what Salesforce and the customer see, the timeout."""

from __future__ import annotations

import time

import pytest

from connector.jobs import routing
from tests import stack
from tests.jobs.operator_fixtures import *  # noqa: F403 - its fixtures: op_sandbox, op_redis, sb, rt
from tests.jobs.operator_fixtures import CHANNEL, customer_writes, handoff, op_config, operators, run_jobs
from tests.jobs.test_routing_jobs import callout, presence, session_record, texts


@pytest.fixture
def rt(sb, op_redis):
    yield from stack.installed_runtime(
        op_config(sb, routing={"hold_timeout_minutes": 1, "hold_counts_against_capacity": False})
    )


def test_hold_tells_the_customer_records_the_memo_and_frees_the_slot_then_resume_takes_it_back(rt, sb):
    a = operators(sb)[0]
    presence(rt, a, capacity=1)
    customer_writes(rt, "請求書の再発行をお願いします")
    key = handoff(rt)
    assert callout(rt, "session.hold", {"sessionKey": key, "userId": a, "memo": "経理に確認中"}) == "held"
    s = session_record(sb, key)
    assert s["Hold_Memo__c"] == "経理に確認中" and s["Held_At__c"] and s["Hold_Until__c"]
    assert rt.config.channel(CHANNEL).text("session_on_hold") in texts(sb)
    assert "経理に確認中" not in " ".join(texts(sb))  # the memo is for colleagues only
    assert rt.routing_store.load().operators[a].load == 0
    assert callout(rt, "session.resume", {"sessionKey": key, "userId": a}) == "resumed"
    s = session_record(sb, key)
    assert (s["Held_At__c"], s["Hold_Until__c"], s["Operator__c"]) == (None, None, a)
    assert rt.routing_store.load().operators[a].load == 1


def test_a_hold_that_times_out_goes_back_to_the_queue(rt, sb):
    a = operators(sb)[0]
    presence(rt, a, capacity=1)
    customer_writes(rt, "請求書の再発行をお願いします")
    key = handoff(rt)
    callout(rt, "session.hold", {"sessionKey": key, "userId": a, "memo": "経理に確認中"})
    presence(rt, a, status="Busy", capacity=1)  # the operator stepped away: nobody can take it now
    routing.run(rt, None, now=time.time() + 61, expire=True)
    run_jobs(rt)
    s = session_record(sb, key)
    assert (s["Status__c"], s["Operator__c"], s["Held_At__c"]) == ("Queued", None, None)
    assert s["Hold_Memo__c"] == "経理に確認中"  # kept for whoever takes it next
    assert rt.routing_store.load().is_queued(key)
