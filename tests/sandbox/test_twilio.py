"""Twilio stand-in, driven through the official twilio Client."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from connector.local.sandbox.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN


class SandboxHttpClient(TwilioHttpClient):
    """Sends every https://api.twilio.com request to the sandbox."""

    def __init__(self, base_url: str):
        super().__init__(timeout=5)
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        return super().request(method, url.replace("https://api.twilio.com", self.base_url), *args, **kwargs)


@pytest.fixture
def twilio(sb):
    return Client(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, http_client=SandboxHttpClient(sb.urls["twilio"]))


def test_call_create_returns_queued_call_resource(sb, twilio):
    call = twilio.calls.create(
        to="+81312345678",
        from_="+815012345678",
        twiml="<Response><Say>hi</Say></Response>",
        status_callback="http://127.0.0.1:9/status",
    )
    assert call.sid.startswith("CA") and len(call.sid) == 34 and call.status == "queued"
    assert sb.twilio.calls[0]["request"]["StatusCallback"] == "http://127.0.0.1:9/status"


def test_call_can_be_completed_by_update(sb, twilio):
    call = twilio.calls.create(to="+1", from_="+2", url="http://127.0.0.1:9/twiml")
    sb.twilio.advance_call(call.sid, "in-progress", send_callback=False)
    updated = twilio.calls(call.sid).update(status="completed")
    assert updated.status == "completed" and twilio.calls(call.sid).fetch().end_time


def test_message_create_and_fetch(sb, twilio):
    message = twilio.messages.create(to="+81901234567", from_="+815012345678", body="code 1234")
    assert twilio.messages(message.sid).fetch().body == "code 1234"
    assert sb.twilio.messages[0]["to"] == "+81901234567"


def test_bad_credentials_are_401_with_twilio_error_code(sb):
    client = Client(DEFAULT_ACCOUNT_SID, "wrong", http_client=SandboxHttpClient(sb.urls["twilio"]))
    with pytest.raises(TwilioRestException) as err:
        client.calls.create(to="+1", from_="+2", url="http://x")
    assert err.value.status == 401 and err.value.code == 20003
