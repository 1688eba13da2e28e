"""The supervisor view asks the relay for the operators' presence: signed like Apex, once, Redis only."""

from __future__ import annotations

import json
import time

import pytest

from connector.domain.routing import Presence, enqueue, put_on_hold, route, set_presence
from connector.entrypoints.app import create_app
from connector.runtime import set_runtime
from tests.jobs.operator_fixtures import (  # noqa: F401
    CALLOUT_SECRET,
    op_config,
    op_redis,
    op_sandbox,
    sb,
    sign_like_apex,
)

URL = "/salesforce/presence"


@pytest.fixture
def app(sb, op_redis):
    app = create_app(op_config(sb))
    yield app
    set_runtime(None)


def seed_routing(rt) -> None:
    """Aiko: Available, 2 chats (one on hold, counted); Ken: Busy; one chat waiting."""

    def step(state, last_sent):
        now = time.time()
        state, _ = set_presence(state, "005AIKO00000001", Presence.AVAILABLE, now, capacity=3)
        state, _ = set_presence(state, "005KEN000000001", Presence.BUSY, now, capacity=2)
        for key in ("s1", "s2"):
            state, _ = enqueue(state, key, "1000000001", now)
        state, _ = route(state, now)
        state, _ = put_on_hold(state, "s1", "005AIKO00000001", now, now + 600, counts=True)
        state, _ = enqueue(state, "s3", "1000000001", now)
        state, _ = set_presence(state, "005AIKO00000001", Presence.BUSY, now, capacity=3)
        return state, [], [], set()

    rt.routing_store.transact(step)


def test_a_supervisor_sees_each_operators_status_capacity_load_and_holds(app, sb):
    seed_routing(app.extensions["connector"])
    body, headers = sign_like_apex(CALLOUT_SECRET, "presence.snapshot", "005SUPERVISOR01", {})
    calls = sb.salesforce.api_calls
    resp = app.test_client().post(URL, data=body, headers=headers)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert resp.get_json() == {
        "operators": [
            {"userId": "005AIKO00000001", "status": "Busy", "capacity": 3, "load": 2, "onHold": 1},
            {"userId": "005KEN000000001", "status": "Busy", "capacity": 2, "load": 0, "onHold": 0},
        ],
        "queued": 1,
    }
    assert sb.salesforce.api_calls == calls  # Redis only


def test_the_same_request_again_is_a_replay(app):
    body, headers = sign_like_apex(CALLOUT_SECRET, "presence.snapshot", "005SUPERVISOR01", {})
    client = app.test_client()
    assert client.post(URL, data=body, headers=headers).status_code == 200
    assert client.post(URL, data=body, headers=headers).status_code == 409


@pytest.mark.parametrize(
    "envelope",
    [
        {"type": "presence.update", "id": "x", "data": {}},
        {"type": "presence.snapshot", "id": "", "data": {}},
        {"type": "presence.snapshot", "id": 7, "data": {}},
        ["presence.snapshot"],
    ],
)
def test_a_signed_body_that_is_not_a_snapshot_request_is_400(app, envelope):
    from connector.web.salesforce import sign

    body = json.dumps(envelope).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Connector-Timestamp": ts,
        "X-Connector-Signature": sign(CALLOUT_SECRET, ts, body),
    }
    assert app.test_client().post(URL, data=body, headers=headers).status_code == 400


def test_an_unsigned_request_is_401(app):
    body, headers = sign_like_apex("not-the-secret", "presence.snapshot", "005SUPERVISOR01", {})
    assert app.test_client().post(URL, data=body, headers=headers).status_code == 401
