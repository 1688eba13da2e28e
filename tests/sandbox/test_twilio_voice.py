"""The Twilio sandbox plays calls as Twilio does: signed webhooks (checked here with the twilio
library's RequestValidator), TwiML followed verb by verb, Dial legs, status callbacks."""

from __future__ import annotations

import threading

import pytest
from flask import Flask, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse
from werkzeug.serving import make_server

from connector.local.sandbox.twilio import DEFAULT_AUTH_TOKEN
from connector.local.sandbox.twilio_voice import Answer

NUMBER = "+815012345678"


class TwimlApp:
    """A voice app written with the twilio library; records every request it verified."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self.refused = 0
        self.fail_voice = False
        app = Flask("twiml")
        validator = RequestValidator(DEFAULT_AUTH_TOKEN)

        def checked():
            if not validator.validate(request.url, request.form, request.headers.get("X-Twilio-Signature", "")):
                self.refused += 1
                return False
            self.requests.append((request.full_path.rstrip("?"), dict(request.form)))
            return True

        @app.post("/voice")
        def voice():
            if not checked():
                return "", 403
            if self.fail_voice:
                return "", 500
            r = VoiceResponse()
            g = Gather(action="/menu", num_digits=1)
            g.say("ようこそ", language="ja-JP")
            r.append(g)
            r.say("入力がありません")
            r.hangup()
            return str(r), 200, {"Content-Type": "text/xml"}

        @app.post("/menu")
        def menu():
            if not checked():
                return "", 403
            r = VoiceResponse()
            if request.form.get("Digits") == "9":
                r.pause(length=1)
                r.redirect("/redirected")
                return str(r)
            d = Dial(action="/dialed", timeout=10)
            d.number(
                "+819011112222",
                status_callback=self.base + "/status",
                status_callback_event="initiated ringing answered completed",
            )
            r.append(d)
            return str(r)

        @app.post("/redirected")
        def redirected():
            if not checked():
                return "", 403
            r = VoiceResponse()
            r.say("転送されました")
            return str(r)

        @app.post("/dialed")
        def dialed():
            if not checked():
                return "", 403
            r = VoiceResponse()
            r.say(f"dial {request.form['DialCallStatus']}")
            return str(r)

        @app.post("/status")
        def status():
            if not checked():
                return "", 403
            return ""

        @app.post("/fallback")
        def fallback():
            if not checked():
                return "", 403
            r = VoiceResponse()
            r.say("fallback")
            return str(r)

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]

    def statuses(self, sid: str | None = None) -> list[tuple[str, str]]:
        return [
            (f["CallStatus"], f["SequenceNumber"])
            for p, f in self.requests
            if p == "/status" and (sid is None or f["CallSid"] == sid)
        ]


@pytest.fixture
def app():
    a = TwimlApp()
    yield a
    a.server.shutdown()


@pytest.fixture
def voice(sb, app):
    sim = sb.twilio.voice
    sim.pause_scale = 0
    sim.configure_number(
        NUMBER, voice_url=app.base + "/voice", status_callback=app.base + "/status", fallback_url=app.base + "/fallback"
    )
    return sim


def test_every_request_is_signed_like_twilio(voice, app):
    voice.incoming_call("+819012345678", NUMBER, digits=["1"])
    assert app.refused == 0 and len(app.requests) >= 4


def test_gather_dial_and_the_dial_action_are_followed(voice, app):
    call = voice.incoming_call("+819012345678", NUMBER, digits=["1"], answers={"+819011112222": Answer(True, 42)})
    assert app.paths()[:2] == ["/voice", "/menu"] and "/dialed" in app.paths()
    menu = app.requests[1][1]
    assert menu["Digits"] == "1" and menu["CallSid"] == call.sid and menu["From"] == "+819012345678"
    assert call.heard == ["ようこそ", "dial completed"]
    (leg,) = call.legs
    assert leg["to"] == "+819011112222" and leg["duration"] == 42
    assert app.statuses(leg["sid"]) == [("initiated", "0"), ("ringing", "1"), ("in-progress", "2"), ("completed", "3")]
    leg_completed = [f for p, f in app.requests if p == "/status" and f["CallSid"] == leg["sid"]][-1]
    assert leg_completed["ParentCallSid"] == call.sid and leg_completed["CallDuration"] == "42"


def test_no_input_falls_through_to_the_next_verb(voice, app):
    call = voice.incoming_call("+819012345678", NUMBER)
    assert call.heard == ["ようこそ", "入力がありません"] and call.steps[-1]["verb"] == "Hangup"


def test_an_unanswered_dial_reports_no_answer(voice, app):
    call = voice.incoming_call("+819012345678", NUMBER, digits=["1"], answers={"+819011112222": Answer(False)})
    assert call.heard[-1] == "dial no-answer"
    assert app.statuses(call.legs[0]["sid"])[-1] == ("no-answer", "2")


def test_redirect_is_fetched(voice, app):
    call = voice.incoming_call("+819012345678", NUMBER, digits=["9"])
    assert "/redirected" in app.paths() and call.heard[-1] == "転送されました"


def test_the_call_status_callbacks_come_in_order_with_the_duration(voice, app):
    call = voice.incoming_call("+819012345678", NUMBER)
    assert app.statuses(call.sid) == [("initiated", "0"), ("ringing", "1"), ("in-progress", "2"), ("completed", "3")]
    completed = [f for p, f in app.requests if p == "/status" and f["CallSid"] == call.sid][-1]
    assert int(completed["CallDuration"]) == call.duration > 0


def test_shuffled_and_duplicated_callbacks_are_the_same_set(voice, app):
    call = voice.incoming_call("+819012345678", NUMBER, digits=["1"], shuffle=True, duplicate=True, seed=3)
    received = app.statuses()
    assert len(received) > 8 and set(received) == {(s, q) for s, q in received}
    assert len(received) > len(set(received))  # some came twice
    assert [c["response"] for c in call.callbacks] == [200] * len(call.callbacks)


def test_a_failing_voice_url_falls_back_with_error_11200(voice, app):
    app.fail_voice = True
    call = voice.incoming_call("+819012345678", NUMBER)
    fallback = [f for p, f in app.requests if p == "/fallback"][0]
    assert fallback["ErrorCode"] == "11200" and call.heard == ["fallback"]


def test_a_browser_call_comes_from_a_client_identity(voice, app):
    voice.incoming_call("client:web-abc", "", voice_url=app.base + "/voice")
    assert app.requests[0][1]["From"] == "client:web-abc"
