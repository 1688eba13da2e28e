"""The whole system on loopback: sandbox + gunicorn web + real worker processes + real Redis."""

from __future__ import annotations

import os
import re

import pytest

from connector.local.devstack import LocalStack
from tests.conftest import TEST_REDIS_URL

# A database of its own, so the demo and other suites can run beside these tests.
STACK_REDIS_URL = os.environ.get("STACK_REDIS_URL") or re.sub(r"/\d+$", "/10", TEST_REDIS_URL)


@pytest.fixture
def make_stack():
    stacks = []

    def make(**kw) -> LocalStack:
        kw.setdefault("redis_url", STACK_REDIS_URL)
        stack = LocalStack(**kw).start()
        stacks.append(stack)
        return stack

    yield make
    for s in stacks:
        s.stop()


def inbound(sf, **match):
    return sf.find("LINE_Chat_Message__c", Direction__c="Inbound", **match)


def drained(stack, timeout=60.0):
    """Wait until every event is applied and nothing is left to retry."""
    import redis

    r = redis.Redis.from_url(stack.redis_url)
    # conversations answered while Salesforce was paused wait in the held set, not in `ready`
    stack.wait_until(
        lambda: r.zcard("ln:ready") == 0 and r.scard("ln:held:salesforce") == 0,
        timeout=timeout,
        interval=0.1,
        what="the backlog to drain",
    )
