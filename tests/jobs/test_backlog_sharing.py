"""A backlog is shared among the workers: each claim takes its share of what is ready, and a
drain that leaves enough behind brings in another worker instead of draining it all alone.

(Burst benchmark, 4 workers: one claim of 1,000 new friends kept one worker on LINE for 13 s
while the three others had nothing to claim; docs/benchmarks.md.)
"""

from __future__ import annotations

import pytest

from connector.jobs import inbound
from connector.jobs.inbound import SHARE_MIN, Drainer
from connector.runtime import Runtime
from tests import stack
from tests.jobs.operator_fixtures import CHANNEL, op_config, op_redis, op_sandbox  # noqa: F401 - fixtures

READY = 2 * SHARE_MIN + 20


@pytest.fixture
def sb(op_sandbox):
    op_sandbox.reset()
    return op_sandbox


@pytest.fixture
def rt(sb, op_redis):
    return Runtime(op_config(sb))


def backlog(rt, sb, conversations: int) -> None:
    for i in range(conversations):
        event = sb.line.send_user_message(CHANNEL, f"U{i:032x}", {"type": "text", "text": f"#{i}"}, deliver=False)
        stack.store_event(rt, event)


def workers(monkeypatch, n: int) -> None:
    monkeypatch.setattr(inbound, "worker_count", lambda queue: n)


def test_with_four_workers_a_claim_takes_a_quarter_of_the_backlog_and_calls_another_worker(rt, sb, monkeypatch):
    workers(monkeypatch, 4)
    backlog(rt, sb, READY)
    jobs_before = rt.queue.count

    applied = Drainer(rt).run(max_batches=1)

    assert applied == SHARE_MIN  # a quarter of 220 is 55, below the smallest share
    assert rt.store.pending() == READY - SHARE_MIN
    assert rt.queue.count == jobs_before + 1  # a drain job for another worker


def test_help_is_asked_once_while_a_drain_job_waits(rt, sb, monkeypatch):
    workers(monkeypatch, 4)
    backlog(rt, sb, READY)
    jobs_before = rt.queue.count

    Drainer(rt).run(max_batches=2)  # two claims, each leaving a backlog behind

    assert rt.queue.count == jobs_before + 1


def test_a_lone_worker_drains_the_backlog_itself(rt, sb, monkeypatch):
    workers(monkeypatch, 1)
    backlog(rt, sb, READY)
    jobs_before = rt.queue.count

    applied = Drainer(rt).run(max_batches=1)

    assert applied == READY
    assert rt.queue.count == jobs_before
