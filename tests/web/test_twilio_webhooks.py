"""The Twilio edge: signatures against the public URL, TwiML from Redis alone, durable status callbacks."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from twilio.request_validator import RequestValidator

from connector.config import load_config
from connector.entrypoints.app import create_app
from connector.i18n import DEFAULT_TEXTS
from tests.conftest import base_settings

PUBLIC = "https://relay.example.com"
TOKEN = "twilio-auth-token-for-tests"
SUPPORT = "+815012345678"
SID = "CA" + "a" * 32


def voice_settings(**channel_voice):
    data = base_settings(public_base_url=PUBLIC, twilio={"enabled": True})
    data["line"]["channels"][0]["voice"] = {"enabled": True, "support_number": SUPPORT, **channel_voice}
    return data


@pytest.fixture
def voice_environ(environ):
    return {**environ, "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN}


@pytest.fixture
def app(voice_environ):
    return create_app(load_config(data=voice_settings(), environ=voice_environ))


@pytest.fixture
def client(app):
    return app.test_client()


def signed_post(client, path: str, params: dict, *, url: str | None = None, headers: dict | None = None, **kw):
    """POST as Twilio does: form-encoded, signed by the twilio library for the public URL."""
    signature = RequestValidator(TOKEN).compute_signature(url or PUBLIC + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})}, **kw)


def call_params(**extra) -> dict:
    return {
        "CallSid": SID,
        "AccountSid": "AC" + "0" * 32,
        "From": "+819012345678",
        "To": SUPPORT,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def status_params(status: str, seq: int, **extra) -> dict:
    params = call_params(CallStatus=status, SequenceNumber=str(seq), Timestamp="Mon, 16 Nov 2026 10:00:00 +0000")
    params.update(extra)
    return params


def twiml(resp) -> ET.Element:
    assert resp.status_code == 200 and resp.mimetype == "text/xml", resp.get_data(as_text=True)
    return ET.fromstring(resp.get_data())


def queued(app) -> int:
    """Jobs waiting: on the queue, or delayed (a non-final call status waits before its write)."""
    queue = app.extensions["connector"].queue
    return queue.count + queue.scheduled_job_registry.count


# --------------------------------------------------------------------------- signatures


def test_a_request_signed_for_the_public_url_behind_a_proxy_is_accepted(client):
    """Heroku's router: the app sees http:// and an internal host; Twilio signed the public https URL."""
    resp = signed_post(
        client,
        "/twilio/voice",
        call_params(),
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "54.1.1.1"},
        base_url="http://10.0.0.5:31000",
    )
    assert twiml(resp).find("Gather") is not None


def test_a_signature_over_the_internal_url_is_refused(client, app):
    resp = signed_post(client, "/twilio/status", status_params("completed", 3), url="http://localhost/twilio/status")
    assert resp.status_code == 403
    assert queued(app) == 0 and app.extensions["connector"].voice_store.pending(1e12) == []


def test_the_query_string_is_signed_as_sent(client):
    params = call_params(Digits="2")
    ok = signed_post(client, "/twilio/gather?step=menu", params)
    assert twiml(ok).find("Gather").get("numDigits") == "6"
    rebuilt = signed_post(client, "/twilio/gather?step=menu", params, url=PUBLIC + "/twilio/gather")
    assert rebuilt.status_code == 403


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/gather?step=menu", "/twilio/status", "/twilio/fallback"])
def test_every_endpoint_refuses_an_unsigned_or_tampered_request(client, app, path):
    assert client.post(path, data=call_params()).status_code == 403
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, call_params())
    tampered = client.post(path, data=call_params(From="+819099999999"), headers={"X-Twilio-Signature": signature})
    assert tampered.status_code == 403
    assert queued(app) == 0


def test_twilio_endpoints_are_404_while_twilio_is_disabled(environ):
    client = create_app(load_config(data=base_settings(), environ=environ)).test_client()
    assert client.post("/twilio/voice", data=call_params()).status_code == 404


# --------------------------------------------------------------------------- TwiML


def test_an_incoming_call_gets_the_japanese_menu_and_its_start_is_stored(client, app):
    root = twiml(signed_post(client, "/twilio/voice", call_params()))
    say = root.find("Gather/Say")
    assert say.get("language") == "ja-JP" and say.text == DEFAULT_TEXTS["ja"]["voice_menu"]
    rt = app.extensions["connector"]
    assert [e["status"] for e in rt.voice_store.events(SID)] == ["ringing"]
    assert rt.voice_store.pending(1e12) == [SID]  # written with its callbacks, or by the sweep
    assert queued(app) == 0  # the TwiML answer queues nothing


def test_a_withheld_caller_hears_the_code_only_menu(client):
    root = twiml(signed_post(client, "/twilio/voice", call_params(From="+266696687")))
    assert root.find("Gather/Say").text == DEFAULT_TEXTS["ja"]["voice_menu_code_only"]


def test_texts_are_configurable_per_channel(voice_environ):
    data = voice_settings(say_language="en-US")
    data["line"]["channels"][0]["texts"] = {"voice_menu": "Press 1 for LINE."}
    client = create_app(load_config(data=data, environ=voice_environ)).test_client()
    say = twiml(signed_post(client, "/twilio/voice", call_params())).find("Gather/Say")
    assert (say.text, say.get("language")) == ("Press 1 for LINE.", "en-US")


def test_pressing_1_queues_the_call_to_line_job_and_waits_for_its_outcome(client, app):
    signed_post(client, "/twilio/voice", call_params())
    before = queued(app)
    root = twiml(signed_post(client, "/twilio/gather?step=menu", call_params(Digits="1")))
    assert root.find("Redirect") is not None and queued(app) == before + 1
    rt = app.extensions["connector"]
    rt.voice_store.set_line_outcome(SID, {"route": "line", "status": "Sent"})
    root = twiml(signed_post(client, "/twilio/gather?step=line-result&try=1", call_params()))
    assert DEFAULT_TEXTS["ja"]["voice_line_sent"] in [s.text for s in root.iter("Say")]


def test_the_fallback_url_apologises(client):
    root = twiml(signed_post(client, "/twilio/fallback", call_params(ErrorCode="11200")))
    assert root.find("Say").text == DEFAULT_TEXTS["ja"]["voice_error"] and root[-1].tag == "Hangup"


# --------------------------------------------------------------------------- status callbacks


def test_status_callbacks_are_stored_once_per_sequence_number(client, app):
    rt = app.extensions["connector"]
    for status, seq in [("initiated", 0), ("ringing", 1), ("ringing", 1), ("completed", 2), ("completed", 2)]:
        assert signed_post(client, "/twilio/status", status_params(status, seq, CallDuration="42")).status_code == 200
    events = rt.voice_store.events(SID)
    assert sorted((e["seq"], e["status"]) for e in events) == [(0, "initiated"), (1, "ringing"), (2, "completed")]
    assert queued(app) == 3
    assert [e for e in events if e["status"] == "completed"][0]["duration"] == 42


def test_a_status_callback_replayed_after_a_relay_restart_is_not_stored_twice(voice_environ):
    first = create_app(load_config(data=voice_settings(), environ=voice_environ))
    assert signed_post(first.test_client(), "/twilio/status", status_params("completed", 3)).status_code == 200
    restarted = create_app(load_config(data=voice_settings(), environ=voice_environ))
    assert restarted.extensions["connector"] is not first.extensions["connector"]
    assert signed_post(restarted.test_client(), "/twilio/status", status_params("completed", 3)).status_code == 200
    rt = restarted.extensions["connector"]
    assert len(rt.voice_store.events(SID)) == 1 and rt.queue.count == 1


def test_a_signed_request_that_is_not_a_status_callback_is_400(client, app):
    resp = signed_post(client, "/twilio/status", {"CallSid": SID, "CallStatus": "exploded"})
    assert resp.status_code == 400 and queued(app) == 0


def test_status_callbacks_answer_503_when_redis_is_down(voice_environ):
    environ = {**voice_environ, "REDIS_URL": "redis://127.0.0.1:1/0"}
    client = create_app(load_config(data=voice_settings(), environ=environ)).test_client()
    assert signed_post(client, "/twilio/status", status_params("completed", 3)).status_code == 503
    # and a call still hears something rather than silence
    root = twiml(signed_post(client, "/twilio/voice", call_params()))
    assert root.find("Say").text == DEFAULT_TEXTS["ja"]["voice_error"]
