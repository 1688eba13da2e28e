"""The LINE webhook edge: verify, store durably, answer fast - and say clearly what was wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis as redis_lib

from connector.config import load_config
from connector.entrypoints.app import create_app
from connector.web.line import signature_of
from tests.conftest import CHANNEL_SECRET, base_settings

VECTORS = json.loads((Path(__file__).parents[2] / "tests/data/line-signature-vectors.json").read_text())["vectors"]


def text_event(event_id="01HZZZZZZZZZZZZZZZZZZZZZZ1", user="U" + "1" * 32, text="こんにちは", ts=1700000000000):
    return {
        "type": "message",
        "mode": "active",
        "timestamp": ts,
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
        "replyToken": "rt",
        "source": {"type": "user", "userId": user},
        "message": {"id": "468789577898262530", "type": "text", "text": text, "quoteToken": "q"},
    }


def body_of(*events, destination="Ubot") -> bytes:
    return json.dumps({"destination": destination, "events": list(events)}, ensure_ascii=False).encode()


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


def post(client, body: bytes, secret=CHANNEL_SECRET, path="/line/webhook", signature=None):
    headers = {"Content-Type": "application/json"}
    sig = signature if signature is not None else signature_of(secret, body)
    if sig:
        headers["x-line-signature"] = sig
    return client.post(path, data=body, headers=headers)


def stored(app):
    rt = app.extensions["connector"]
    backlog = rt.store.backlog()
    return {"conversations": backlog["conversations"], "events": backlog["events"]}


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["source"].split("@")[0])
def test_official_sdk_signature_vectors_pass_verification(environ, vector):
    environ["LINE_MAIN_SECRET"] = vector["channel_secret"]
    client = create_app(load_config(data=base_settings(), environ=environ)).test_client()
    resp = post(client, vector["body"].encode(), signature=vector["signature"])
    assert resp.status_code != 401  # verified; 200 for a webhook body, 400 for the vectors that are not one
    if "invalid_signature" in vector:
        assert post(client, vector["body"].encode(), signature=vector["invalid_signature"]).status_code == 401


def test_signed_event_is_stored_and_acknowledged(app, client):
    resp = post(client, body_of(text_event()))
    assert resp.status_code == 200
    assert stored(app) == {"conversations": 1, "events": 1}


def test_acknowledgement_is_an_empty_200(client):
    resp = post(client, body_of(text_event()))
    assert (resp.status_code, resp.data, resp.headers["Content-Length"]) == (200, b"", "0")


def test_bad_signature_is_rejected_and_nothing_is_stored(app, client):
    resp = post(client, body_of(text_event()), secret="not-the-secret")
    assert resp.status_code == 401
    assert stored(app) == {"conversations": 0, "events": 0}


def test_missing_signature_is_rejected(app, client):
    resp = post(client, body_of(text_event()), signature="")
    assert resp.status_code == 401


def test_signature_over_reserialised_json_is_rejected(app, client):
    body = body_of(text_event())
    reserialised = json.dumps(json.loads(body)).encode()  # \\u escapes: other bytes, same JSON
    resp = post(client, reserialised, signature=signature_of(CHANNEL_SECRET, body))
    assert resp.status_code == 401


def test_empty_events_is_lines_url_verification(app, client):
    resp = post(client, body_of())
    assert resp.status_code == 200
    assert stored(app)["events"] == 0


def test_duplicate_webhook_event_id_is_stored_once(app, client):
    event = text_event()
    assert post(client, body_of(event)).status_code == 200
    redelivered = dict(event, deliveryContext={"isRedelivery": True})
    assert post(client, body_of(redelivered)).status_code == 200
    assert stored(app) == {"conversations": 1, "events": 1}


def test_an_ordinary_webhook_writes_no_info_line_and_a_redelivery_does(client, caplog):
    caplog.set_level("INFO", logger="connector.web.line")
    event = text_event()
    assert post(client, body_of(event)).status_code == 200
    assert not caplog.records  # the production default level (INFO) stays quiet on the hot path
    assert post(client, body_of(dict(event, deliveryContext={"isRedelivery": True}))).status_code == 200
    assert [r.getMessage() for r in caplog.records] == ["line webhook channel=main events=1 duplicates=1"]


def test_signed_but_malformed_json_is_400(app, client):
    resp = post(client, b'{"events": [')
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "malformed webhook body"}


def test_signed_body_without_events_is_400(app, client):
    assert post(client, b'{"destination": "Ubot"}').status_code == 400


def test_body_over_the_limit_is_413(app, client):
    big = body_of(text_event(text="あ" * 400_000))
    assert len(big) > 1024 * 1024
    assert post(client, big).status_code == 413


def test_redis_down_answers_503_so_line_redelivers(environ):
    environ["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app = create_app(load_config(data=base_settings(redis={"socket_timeout_seconds": 0.5}), environ=environ))
    resp = post(app.test_client(), body_of(text_event()))
    assert resp.status_code == 503


def test_previous_secret_is_accepted_during_rotation(environ):
    data = base_settings()
    data["line"]["channels"][0]["previous_secret_env"] = "OLD"
    environ["OLD"] = "old-secret"
    app = create_app(load_config(data=data, environ=environ))
    assert post(app.test_client(), body_of(text_event()), secret="old-secret").status_code == 200


def test_each_channel_verifies_with_its_own_secret(environ):
    data = base_settings()
    data["line"]["channels"].append(
        {
            "id": "1000000002",
            "name": "second",
            "bot_user_id": "Ubot2",
            "secret_env": "SECOND_SECRET",
            "access_token_env": "LINE_MAIN_TOKEN",
        }
    )
    environ["SECOND_SECRET"] = "second-secret"
    app = create_app(load_config(data=data, environ=environ))
    client = app.test_client()
    assert post(client, body_of(text_event()), secret="second-secret").status_code == 200
    assert (
        post(
            client, body_of(text_event("01HZZZZZZZZZZZZZZZZZZZZZZ2")), secret="second-secret", path="/line/webhook/main"
        ).status_code
        == 401
    )
    assert (
        post(
            client,
            body_of(text_event("01HZZZZZZZZZZZZZZZZZZZZZZ3")),
            secret="second-secret",
            path="/line/webhook/second",
        ).status_code
        == 200
    )
    backlog = app.extensions["connector"].store.r.zrange("ln:ready", 0, -1)
    assert all(c.startswith(b"1000000002:") for c in backlog)


def test_unknown_channel_path_is_404(client):
    assert post(client, body_of(text_event()), path="/line/webhook/nope").status_code == 404


def test_card_number_is_masked_before_it_reaches_redis(app, client, redis_url):
    post(client, body_of(text_event(text="カード番号 4111 1111 1111 1111 です")))
    raw = b"".join(redis_lib.Redis.from_url(redis_url).lrange(f"ln:inbox:1000000001:U{'1' * 32}", 0, -1))
    entry = app.extensions["connector"].vault.open_json(raw)
    assert entry["event"]["message"]["text"] == "カード番号 4111 11** **** 1111 です"
    assert b"4111" not in raw  # sealed at rest


def test_events_of_different_users_become_different_conversations(app, client):
    post(client, body_of(text_event("E1", user="U" + "1" * 32), text_event("E2", user="U" + "2" * 32)))
    assert stored(app) == {"conversations": 2, "events": 2}
