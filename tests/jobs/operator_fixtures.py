"""Fixtures for the operator-chat tests: the sandbox in-process (strict schema from sfdc_metadata),
a Runtime pointed at it, Redis database 15 (flushed per test), a signer that signs callouts
exactly like Apex `LineConnectorCallout`, and helpers that run jobs and drains in-process.

Import what you use: `from tests.jobs.operator_fixtures import *`.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid

import pytest

from connector.config import load_config
from tests import stack
from tests.conftest import TEST_REDIS_URL, fresh_redis
from tests.stack import CHANNEL

OP_REDIS_URL = os.environ.get("OPERATOR_TEST_REDIS_URL") or re.sub(r"/\d+$", "/15", TEST_REDIS_URL)
CHANNEL_SECRET = "chsecret"  # the sandbox channel's, which LINE signs webhooks with
CUSTOMER = "U" + "a" * 32
CUSTOMER2 = "U" + "b" * 32
CALLOUT_SECRET = "callout-secret-new"
OLD_CALLOUT_SECRET = "callout-secret-old"


@pytest.fixture(scope="module")
def op_sandbox():
    with stack.start_sandbox(channel_secret=CHANNEL_SECRET) as sb:  # stopped when the module's tests are done
        yield sb


@pytest.fixture
def sb(op_sandbox):
    op_sandbox.reset()
    op_sandbox.line.add_user(CHANNEL, CUSTOMER, "田中 花子")
    op_sandbox.line.add_user(CHANNEL, CUSTOMER2, "佐藤 次郎")
    return op_sandbox


@pytest.fixture
def op_redis():
    yield from fresh_redis(OP_REDIS_URL)


def op_config(
    sb, routing=None, secrets=f"{CALLOUT_SECRET},{OLD_CALLOUT_SECRET}", queue=None, salesforce=None, channel=None
):
    environ = stack.relay_environ(OP_REDIS_URL, CHANNEL_SECRET, CONNECTOR_CALLOUT_SECRETS=secrets)
    data = {
        "public_base_url": "https://relay.example.com",
        "queue": {"retry_intervals_seconds": [1], **(queue or {})},
        "line": stack.line_settings(sb, stack.channel_settings(**(channel or {})), timeout_seconds=3),
        "salesforce": stack.salesforce_settings(sb, **{"timeout_seconds": 5, **(salesforce or {})}),
        "routing": {"notice_min_interval_seconds": 60, **(routing or {})},
    }
    return load_config(data=data, environ=environ)


@pytest.fixture
def rt(sb, op_redis):
    yield from stack.installed_runtime(op_config(sb))


def operators(sb) -> list[str]:
    """Seeded sandbox users other than the integration user."""
    return [u["Id"] for u in sb.salesforce.records("User")][1:]


def sign_like_apex(
    secret: str, type_: str, subject: str, data: dict, *, ts: int | None = None, envelope_id: str | None = None
) -> tuple[bytes, dict]:
    """Body and headers exactly as LineConnectorCallout.send builds them."""
    now_ms = int(time.time() * 1000)
    env = {
        "type": type_,
        "id": envelope_id or f"{subject}:{type_}:{now_ms}:{uuid.uuid4().hex[:8]}",
        "sentAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now_ms / 1000)),
        "data": data,
    }
    body = json.dumps(env, separators=(",", ":"), ensure_ascii=False).encode()  # Apex JSON.serialize: raw UTF-8
    from connector.web.salesforce import sign

    timestamp = str(ts if ts is not None else now_ms // 1000)
    return body, {
        "Content-Type": "application/json",
        "X-Connector-Timestamp": timestamp,
        "X-Connector-Signature": sign(secret, timestamp, body),
    }


def run_jobs(rt, rounds: int = 3) -> None:
    """Run queued RQ jobs and ready drains in-process until nothing is left."""
    from rq import SimpleWorker

    from connector.jobs.inbound import Drainer

    for _ in range(rounds):
        SimpleWorker([rt.queue], connection=rt.redis).work(burst=True, with_scheduler=False, logging_level="WARNING")
        Drainer(rt).run()
        if not rt.queue.count and not rt.store.pending():
            return


def customer_writes(rt, text: str, user: str = CUSTOMER, event_id: str | None = None) -> dict:
    """A LINE text message event ingested as the webhook would, then drained."""
    from connector.domain import events as ev

    eid = event_id or ("01J" + uuid.uuid4().hex[:23].upper())
    event = {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "webhookEventId": eid,
        "deliveryContext": {"isRedelivery": False},
        "replyToken": None,
        "source": {"type": "user", "userId": user},
        "message": {"id": str(uuid.uuid4().int % 10**18), "type": "text", "text": text},
    }
    rt.store.ingest([(CHANNEL, eid, ev.conversation_id(CHANNEL, event), event)])
    run_jobs(rt)
    return event


def handoff(rt, user: str = CUSTOMER, priority: int = 0) -> str:
    """Hand the customer's current session to the queue through the ordered inbox; returns its key."""
    from connector.jobs import submit_internal

    submit_internal(
        rt,
        CHANNEL,
        {"type": "user", "userId": user},
        "session.handoff",
        {"priority": priority},
        idempotency_key=f"handoff:{user}:{uuid.uuid4().hex}",
    )
    run_jobs(rt)
    return session_key(rt, user)


def session_key(rt, user: str = CUSTOMER) -> str:
    state = rt.store.get_state(f"{CHANNEL}:{user}")
    return state["session"]["key"]


def conv_state(rt, user: str = CUSTOMER) -> dict:
    return rt.store.get_state(f"{CHANNEL}:{user}")
