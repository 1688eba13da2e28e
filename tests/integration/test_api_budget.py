"""Salesforce API calls are a budget: <= 1 per message in steady state, <= 3 for a new user,
and a backlog is written in batches (<= 0.05 per message)."""

from __future__ import annotations

from tests.integration.conftest import drained, inbound


def calls(stack):
    return stack.sandbox.salesforce.api_calls


def test_a_new_users_first_message_costs_at_most_3_calls(make_stack):
    stack = make_stack()
    stack.sandbox.salesforce.insert("Contact", {"LastName": "warm-up"})
    before = calls(stack)
    stack.sandbox.line.send_user_message(
        stack.channels[0].channel_id, "U" + "1" * 32, {"type": "text", "text": "はじめまして"}
    )
    drained(stack)
    assert len(inbound(stack.sandbox.salesforce)) == 1
    assert calls(stack) - before <= 3


def writes(stack) -> int:
    """Calls that write records; the workers' periodic sweeps (a query now and then: the daily
    retention sweep, the outbound sweep) cost calls per day, not per message."""
    log = stack.sandbox.request_log("salesforce")
    return sum(1 for e in log if e["method"] != "GET" and e["path"].startswith("/services/data/"))


def test_steady_state_costs_at_most_one_call_per_message(make_stack):
    stack = make_stack()
    line, ch, uid = stack.sandbox.line, stack.channels[0].channel_id, "U" + "2" * 32
    line.send_user_message(ch, uid, {"type": "text", "text": "最初"})
    drained(stack)
    before = writes(stack)
    for i in range(10):
        line.send_user_message(ch, uid, {"type": "text", "text": f"続き{i}"})
        drained(stack)  # one at a time: no batching helps here
    assert (writes(stack) - before) / 10 <= 1.0


def test_a_backlog_is_written_in_batches(make_stack):
    stack = make_stack(workers=0)  # events pile up while no worker runs
    line, ch = stack.sandbox.line, stack.channels[0].channel_id
    users = [f"U{i:032x}" for i in range(100)]
    for round_ in range(10):
        line.send_batch(
            ch,
            [
                {
                    "type": "message",
                    "source": {"type": "user", "userId": u},
                    "message": {"type": "text", "id": f"{round_}{i:05d}", "text": f"#{round_}"},
                }
                for i, u in enumerate(users)
            ],
        )
    before = calls(stack)
    stack.start_worker()
    drained(stack, timeout=120)
    assert len(inbound(stack.sandbox.salesforce)) == 1000
    assert (calls(stack) - before) / 1000 <= 0.05
