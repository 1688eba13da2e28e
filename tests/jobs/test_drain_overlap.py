"""In a backlog, one batch's Salesforce write overlaps the next batch's LINE calls.

The drain runs in-process against the sandbox (real HTTP, real Redis); what overlapped with what
is read from the sandbox's request log (each request's start and end).
"""

from __future__ import annotations

import re

import pytest

from connector.jobs.inbound import Drainer
from connector.runtime import Runtime
from tests import stack
from tests.jobs.operator_fixtures import CHANNEL, op_config, op_redis, op_sandbox  # noqa: F401 - fixtures

USERS = ["U" + c * 32 for c in "cdef"]
PER_USER = 2


@pytest.fixture
def sb(op_sandbox):
    op_sandbox.reset()
    return op_sandbox


@pytest.fixture
def rt(sb, op_redis):
    return Runtime(op_config(sb, queue={"batch_max_events": PER_USER}))  # one new friend's messages per batch


def backlog(rt, sb) -> None:
    """Four new friends write twice each before the drain starts."""
    for user in USERS:
        for i in range(PER_USER):
            event = sb.line.send_user_message(
                CHANNEL, user, {"type": "text", "text": f"{user[-4:]} #{i}"}, deliver=False
            )
            stack.store_event(rt, event)


def spans(sb, service: str, pattern: str) -> list[tuple[float, float]]:
    """(start, end) of the service's requests whose path matches, in the order they ended."""
    return [(e["at"] - e["ms"] / 1000, e["at"]) for e in sb.request_log(service) if re.search(pattern, e["path"])]


def test_the_next_batch_is_answered_on_line_while_the_previous_one_is_written(rt, sb):
    backlog(rt, sb)
    sb.set_latency("salesforce", 400)
    sb.set_latency("line", 20)

    assert Drainer(rt).run() == len(USERS) * PER_USER

    writes = spans(sb, "salesforce", r"/composite$")
    line = spans(sb, "line_api", r"^/v2/bot/(profile|message/reply)")
    assert len(writes) == len(USERS) and len(line) == 2 * len(USERS)  # per batch: a write, a profile, a reply
    # Batches 3 and 4 go to LINE while the batch before them is written (batch 2 may do so during
    # the login that precedes the first write). Drained one batch after another, none would.
    assert sum(any(w0 < start < w1 for w0, w1 in writes) for start, _ in line) >= 2
    slack = 0.005  # the log's clock reads start and end separately
    assert all(later[0] >= earlier[1] - slack for earlier, later in zip(writes, writes[1:]))  # one write at a time


def test_overlapping_batches_keep_each_friends_messages_once_and_in_order(rt, sb):
    backlog(rt, sb)
    sb.set_latency("salesforce", 100)

    assert Drainer(rt).run() == len(USERS) * PER_USER

    messages = sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound")
    assert len(messages) == len(USERS) * PER_USER == len({m["Message_Key__c"] for m in messages})
    for user in USERS:
        mine = sorted(
            (m for m in messages if m["Text__c"].startswith(user[-4:])), key=lambda m: (m["CreatedDate"], m["Id"])
        )
        assert [m["Text__c"] for m in mine] == [f"{user[-4:]} #{i}" for i in range(PER_USER)]
        assert len(sb.line.delivered(user_id=user)) == 1  # one welcome reply
    assert rt.store.pending() == 0


def test_a_batch_delivered_while_the_api_limit_was_hit_is_not_written_until_the_pause_ends(rt, sb):
    backlog(rt, sb)
    sb.set_latency("salesforce", 200)
    sb.faults.add("salesforce", "limit_exceeded", path=r"/composite$", count=1)  # the first batch's write

    Drainer(rt).run()

    assert len(spans(sb, "salesforce", r"/composite$")) == 1  # the batch on LINE meanwhile waits too
    assert rt.store.paused_until("salesforce") > 0
    assert sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound") == []
    assert rt.store.backlog() == {"conversations": len(USERS), "events": len(USERS) * PER_USER, "held": len(USERS)}
    assert rt.store.dead_letters() == []
    assert all(len(sb.line.delivered(user_id=user)) == 1 for user in USERS)  # every welcome went out meanwhile
