"""Adaptive batching: while messages keep arriving, one Salesforce write carries many
conversations; LINE replies never wait for it, and it never waits longer than its maximum.

The drain runs in-process against the sandbox (real HTTP, real Redis); when things happened is
read from the sandbox's request log.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from connector.jobs.inbound import Drainer
from connector.runtime import Runtime
from tests import stack
from tests.jobs.operator_fixtures import CHANNEL, op_config, op_redis, op_sandbox  # noqa: F401 - fixtures

USERS = ["U" + f"{i:x}" * 32 for i in range(8)]
WINDOW_MS = 500


@pytest.fixture
def sb(op_sandbox):
    op_sandbox.reset()
    return op_sandbox


@pytest.fixture
def make_rt(sb, op_redis):
    return lambda queue: Runtime(op_config(sb, queue=queue))


def write(rt, sb, user: str, text: str) -> None:
    event = sb.line.send_user_message(CHANNEL, user, {"type": "text", "text": text}, deliver=False)
    stack.store_event(rt, event)


def spans(sb, service: str, pattern: str) -> list[tuple[float, float]]:
    return [(e["at"] - e["ms"] / 1000, e["at"]) for e in sb.request_log(service) if re.search(pattern, e["path"])]


def test_messages_arriving_during_the_window_share_one_write_and_are_answered_first(make_rt, sb):
    # the window always at its maximum, so the test does not depend on this machine's speed
    rt = make_rt({"batch_window_max_ms": WINDOW_MS, "batch_window_min_rate": 0, "batch_window_target_events": 1000})
    rt.salesforce.query("SELECT Id FROM User LIMIT 1")  # logged in: the write's span is the write
    sb.set_latency("salesforce", 50)
    started = threading.Event()

    def customers():  # eight new friends, one every 40 ms
        for i, user in enumerate(USERS):
            write(rt, sb, user, f"hello {i}")
            started.set()
            time.sleep(0.04)

    feeder = threading.Thread(target=customers)
    feeder.start()
    started.wait(5)
    applied = Drainer(rt).run()
    feeder.join()
    applied += Drainer(rt).run()  # any straggler the window closed on

    assert applied == len(USERS)
    writes = spans(sb, "salesforce", r"/composite$")
    replies = spans(sb, "line_api", r"^/v2/bot/message/reply")
    assert len(replies) == len(USERS)
    assert len(writes) <= 2 < len(USERS)  # one write, or two if the last friend came after the window
    first_write = writes[0]
    answered_in_it = [end for start, end in replies if end < first_write[0]]
    assert len(answered_in_it) >= len(USERS) - 1  # each was answered on LINE before the write began
    # the first reply's batch waited for its write no longer than the window (plus a little)
    assert first_write[0] - min(start for start, _ in replies) < WINDOW_MS / 1000 + 0.3


def test_a_lone_message_is_written_at_once(make_rt, sb):
    rt = make_rt({})  # the defaults: nothing waits below 2 events/s per worker
    write(rt, sb, USERS[0], "just one")
    t0 = time.time()
    assert Drainer(rt).run() == 1
    writes = spans(sb, "salesforce", r"/composite$")
    replies = spans(sb, "line_api", r"^/v2/bot/message/reply")
    assert len(writes) == 1 and len(replies) == 1
    assert writes[0][0] - replies[0][1] < 0.2  # no window: the write follows the reply
    assert time.time() - t0 < 3
