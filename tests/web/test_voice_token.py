"""The console phone's token (POST /salesforce/voice-token): signed like a callout, answered at once,
good for receiving the calls the IVR dials to that operator and for nothing else."""

from __future__ import annotations

import time

import jwt
import pytest

from connector.config import load_config
from connector.domain import voice as V
from connector.entrypoints.app import create_app
from tests.conftest import base_settings
from tests.jobs.operator_fixtures import sign_like_apex

SECRET = "voice-token-callout-secret-0123456789"
API_SECRET = "twilio-api-key-secret-for-tests-0123"
OPERATOR = "005000000000001AAA"


def settings(**twilio):
    return base_settings(public_base_url="https://relay.example.com", twilio={"enabled": True, **twilio})


@pytest.fixture
def voice_environ(environ):
    return {
        **environ,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "twilio-auth-token",
        "TWILIO_API_KEY_SID": "SK" + "1" * 32,
        "TWILIO_API_KEY_SECRET": API_SECRET,
        "CONNECTOR_CALLOUT_SECRETS": SECRET,
    }


@pytest.fixture
def client(voice_environ):
    return create_app(load_config(data=settings(console_phone=True), environ=voice_environ)).test_client()


def ask(client, data=None, type_="voice.device", secret=SECRET, **kw):
    body, headers = sign_like_apex(secret, type_, OPERATOR, {"userId": OPERATOR} if data is None else data, **kw)
    return client.post("/salesforce/voice-token", data=body, headers=headers)


def test_the_operator_gets_a_token_to_receive_the_calls_the_ivr_dials_to_them(client):
    resp = ask(client)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    answer = resp.get_json()
    claims = jwt.decode(answer["token"], API_SECRET, algorithms=["HS256"])
    voice = claims["grants"]["voice"]
    assert claims["grants"]["identity"] == answer["identity"] == f"operator-{OPERATOR}"
    assert voice["incoming"] == {"allow": True}
    assert answer["ttl"] == 3600 and abs(claims["exp"] - time.time() - 3600) < 60


def test_after_the_token_the_ivr_dials_the_browser_not_the_phone_from_presence(client):
    rt = client.application.extensions["connector"]
    rt.voice_store.set_reach(OPERATOR, {"phone": "+819011112222"})
    identity = ask(client).get_json()["identity"]
    assert V.operator_target(rt.voice_store.reach(OPERATOR), OPERATOR) == V.DialTarget("client", identity)


def test_an_unsigned_or_wrongly_signed_request_gets_no_token(client):
    assert client.post("/salesforce/voice-token", json={"type": "voice.device"}).status_code == 401
    assert ask(client, secret="not-the-secret").status_code == 401


def test_a_stale_request_gets_no_token(client):
    assert ask(client, ts=int(time.time()) - 3600).status_code == 401


def test_the_same_signed_request_twice_gets_one_token(client):
    first = ask(client, envelope_id="005000000000001AAA:voice.device:1:ab")
    again = ask(client, envelope_id="005000000000001AAA:voice.device:1:ab")
    assert (first.status_code, again.status_code) == (200, 409)


@pytest.mark.parametrize(
    "data,type_",
    [
        ({"userId": "003000000000001AAA"}, "voice.device"),  # a Contact id is not an operator
        ({"userId": "operator-005000000000001AAA"}, "voice.device"),
        ({}, "voice.device"),
        ({"userId": OPERATOR}, "call.offer"),
    ],
)
def test_a_signed_body_that_names_no_operator_is_refused(client, data, type_):
    resp = ask(client, data=data, type_=type_)
    assert resp.status_code == 400 and resp.get_json() == {"error": "malformed envelope"}


def test_no_token_while_the_console_phone_is_off(voice_environ):
    off = create_app(load_config(data=settings(), environ=voice_environ)).test_client()
    assert ask(off).status_code == 404


def test_the_console_phone_needs_the_api_key(environ):
    from connector.config import ConfigError

    env = {**environ, "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t"}
    with pytest.raises(ConfigError, match="twilio.api_key_sid_env"):
        load_config(data=settings(console_phone=True), environ=env)


def test_a_customers_web_call_token_cannot_receive_calls(voice_environ):
    from connector.gateways.twilio import voice_access_token

    token = voice_access_token(
        account_sid="AC" + "0" * 32,
        api_key_sid="SK" + "1" * 32,
        api_key_secret=API_SECRET,
        identity="web-o1",
        application_sid="AP" + "2" * 32,
        ttl_s=300,
    )
    assert jwt.decode(token, API_SECRET, algorithms=["HS256"])["grants"]["voice"].get("incoming", {}) != {"allow": True}
