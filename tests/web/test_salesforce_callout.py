"""The Salesforce callout edge: signed like Apex, fresh, once; then only enqueued."""

from __future__ import annotations

import json
import time

import pytest

from connector.entrypoints.app import create_app
from connector.runtime import set_runtime
from tests.jobs.operator_fixtures import (  # noqa: F401
    CALLOUT_SECRET,
    OLD_CALLOUT_SECRET,
    op_config,
    op_redis,
    op_sandbox,
    sb,
    sign_like_apex,
)

SESSION = "1000000001:U" + "a" * 32 + ":01JABCDEF"
RECORD = {
    "id": "a0B000000000001AAA",
    "messageKey": "op:a0B000000000001AAA",
    "sessionKey": SESSION,
    "messageType": "text",
    "text": "お待たせしました",
    "stickerPackageId": None,
    "stickerId": None,
    "contentVersionId": None,
}


@pytest.fixture
def app(sb, op_redis):
    app = create_app(op_config(sb))
    yield app
    set_runtime(None)


@pytest.fixture
def client(app):
    return app.test_client()


def rt_of(app):
    return app.extensions["connector"]


def post(client, body, headers):
    return client.post("/salesforce/callout", data=body, headers=headers)


def test_good_signature_is_accepted_and_only_enqueued(app, client, sb):
    body, headers = sign_like_apex(CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [RECORD]})
    calls = sb.salesforce.api_calls
    resp = post(client, body, headers)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": True}
    rt = rt_of(app)
    assert rt.queue.count == 1
    job = rt.queue.jobs[0]
    assert job.func_name == "connector.jobs.outbound.deliver"
    assert "お待たせ".encode() not in job.data  # the operator's text is sealed in Redis
    assert rt.vault.open_json(job.args[0])["messageKey"] == RECORD["messageKey"]
    # nothing on the request path talks to Salesforce or LINE
    assert sb.salesforce.api_calls == calls
    assert sb.line.delivered() == []


def test_each_record_of_a_batch_gets_its_own_job(app, client):
    second = dict(RECORD, id="a0B000000000002AAA", messageKey="op:a0B000000000002AAA")
    body, headers = sign_like_apex(CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [RECORD, second]})
    assert post(client, body, headers).status_code == 202
    assert rt_of(app).queue.count == 2


def test_session_actions_go_to_one_routing_job(app, client):
    body, headers = sign_like_apex(
        CALLOUT_SECRET,
        "session.close",
        "a0A000000000001AAA",
        {"sessionKey": SESSION, "userId": "005000000000001AAA", "reason": "解決"},
    )
    assert post(client, body, headers).status_code == 202
    jobs = rt_of(app).queue.jobs
    assert [j.func_name for j in jobs] == ["connector.jobs.routing.callout"]


def test_bad_signature_is_rejected_and_nothing_enqueued(app, client):
    body, headers = sign_like_apex("not-the-secret", "message.send", RECORD["id"], {"records": [RECORD]})
    resp = post(client, body, headers)
    assert resp.status_code == 401
    assert rt_of(app).queue.count == 0


def test_signature_over_a_changed_body_is_rejected(app, client):
    body, headers = sign_like_apex(CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [RECORD]})
    tampered = body.replace("お待たせしました".encode(), "振込先はこちら".encode())
    assert post(client, tampered, headers).status_code == 401


@pytest.mark.parametrize("drop", ["X-Connector-Timestamp", "X-Connector-Signature"])
def test_missing_headers_are_rejected(app, client, drop):
    body, headers = sign_like_apex(
        CALLOUT_SECRET,
        "presence.update",
        "005000000000001AAA",
        {"userId": "005000000000001AAA", "status": "Available", "capacity": 3},
    )
    headers.pop(drop)
    assert post(client, body, headers).status_code == 401


def test_signature_without_version_prefix_is_rejected(app, client):
    body, headers = sign_like_apex(
        CALLOUT_SECRET,
        "presence.update",
        "005000000000001AAA",
        {"userId": "005000000000001AAA", "status": "Available", "capacity": 3},
    )
    headers["X-Connector-Signature"] = headers["X-Connector-Signature"][3:]
    assert post(client, body, headers).status_code == 401


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_or_future_timestamp_is_rejected(app, client, offset):
    body, headers = sign_like_apex(
        CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [RECORD]}, ts=int(time.time()) + offset
    )
    resp = post(client, body, headers)
    assert resp.status_code == 401 and resp.get_json()["error"] == "stale timestamp"
    assert rt_of(app).queue.count == 0


def test_timestamp_within_the_window_is_accepted(app, client):
    body, headers = sign_like_apex(
        CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [RECORD]}, ts=int(time.time()) - 250
    )
    assert post(client, body, headers).status_code == 202


def test_replay_is_answered_409_and_not_enqueued_again(app, client):
    body, headers = sign_like_apex(CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [RECORD]})
    assert post(client, body, headers).status_code == 202
    resp = post(client, body, headers)
    assert resp.status_code == 409
    assert rt_of(app).queue.count == 1


def test_same_envelope_id_resigned_later_is_still_a_replay(app, client):
    eid = "a0B000000000001AAA:message.send:1700000000000:abcdef12"
    body, headers = sign_like_apex(CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [RECORD]}, envelope_id=eid)
    assert post(client, body, headers).status_code == 202
    body2, headers2 = sign_like_apex(
        CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [RECORD]}, envelope_id=eid, ts=int(time.time()) + 1
    )
    assert post(client, body2, headers2).status_code == 409


def test_previous_secret_still_verifies_during_rotation(app, client):
    body, headers = sign_like_apex(
        OLD_CALLOUT_SECRET,
        "presence.update",
        "005000000000001AAA",
        {"userId": "005000000000001AAA", "status": "Available", "capacity": 3},
    )
    assert post(client, body, headers).status_code == 202


def test_no_secret_configured_rejects_everything(sb, op_redis):
    app = create_app(op_config(sb, secrets=""))
    try:
        body, headers = sign_like_apex(
            CALLOUT_SECRET,
            "presence.update",
            "005000000000001AAA",
            {"userId": "005000000000001AAA", "status": "Available"},
        )
        assert app.test_client().post("/salesforce/callout", data=body, headers=headers).status_code == 401
    finally:
        set_runtime(None)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"type": "message.delete", "id": "x", "data": {}}).encode(),
        json.dumps({"type": "message.send", "id": "", "data": {"records": [RECORD]}}).encode(),
        json.dumps({"type": "message.send", "id": "x", "data": {"records": []}}).encode(),
        json.dumps({"type": "message.send", "id": "x", "data": {"records": [dict(RECORD, messageKey="m1")]}}).encode(),
        json.dumps(
            {"type": "message.send", "id": "x", "data": {"records": [dict(RECORD, messageType="video")]}}
        ).encode(),
        json.dumps({"type": "session.close", "id": "x", "data": "close"}).encode(),
    ],
)
def test_signed_but_malformed_envelope_is_400(app, client, payload):
    from connector.web.salesforce import sign

    ts = str(int(time.time()))
    resp = post(
        client,
        payload,
        {
            "Content-Type": "application/json",
            "X-Connector-Timestamp": ts,
            "X-Connector-Signature": sign(CALLOUT_SECRET, ts, payload),
        },
    )
    assert resp.status_code == 400
    assert rt_of(app).queue.count == 0


def test_body_over_the_limit_is_413(sb, op_redis):
    app = create_app(op_config(sb, routing={"callout_max_body_bytes": 1000}))
    try:
        big = dict(RECORD, text="あ" * 1000)
        body, headers = sign_like_apex(CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [big]})
        assert app.test_client().post("/salesforce/callout", data=body, headers=headers).status_code == 413
    finally:
        set_runtime(None)


def test_redis_down_answers_503_so_the_record_stays_pending(sb, op_redis):
    cfg = op_config(sb)
    app = create_app(cfg)
    try:
        rt = app.extensions["connector"]
        import redis

        rt.__dict__["redis"] = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        body, headers = sign_like_apex(CALLOUT_SECRET, "message.send", RECORD["id"], {"records": [RECORD]})
        assert app.test_client().post("/salesforce/callout", data=body, headers=headers).status_code == 503
    finally:
        set_runtime(None)


# -- identity images (issue 21) --------------------------------------------------------------------
def test_an_operator_marking_an_image_as_an_id_document_is_enqueued_for_the_retention_job(app, client):
    data = {"messageKey": "in:1000000001:12345", "action": "mark", "userId": "005000000000001AAA"}
    body, headers = sign_like_apex(CALLOUT_SECRET, "media.identity", "a0B000000000002AAA", data)
    assert post(client, body, headers).status_code == 202
    [job] = rt_of(app).queue.jobs
    assert job.func_name == "connector.jobs.retention.callout"


@pytest.mark.parametrize(
    ("type_", "data"),
    [
        ("media.identity", {"messageKey": "in:1", "action": "shred"}),
        ("media.identity", {"action": "delete"}),
        ("identity.request", {}),
    ],
)
def test_a_malformed_identity_callout_is_400_and_nothing_is_queued(app, client, type_, data):
    body, headers = sign_like_apex(CALLOUT_SECRET, type_, "a0B000000000003AAA", data)
    assert post(client, body, headers).status_code == 400
    assert rt_of(app).queue.count == 0
