"""Fuzzing fixtures: the real Flask app (create_app) on the test Redis, with a callout secret."""

from __future__ import annotations

import pytest

from connector.config import load_config
from connector.entrypoints.app import create_app
from tests.conftest import base_settings

CALLOUT_SECRET = "fuzz-callout-secret-0123456789abcdef"


TWILIO_TOKEN = "fuzz-twilio-auth-token-0123456789"
PUBLIC_BASE_URL = "https://relay.example.com"


@pytest.fixture
def fuzz_config(environ):
    """Every endpoint on: LINE, callouts, Twilio (IVR, web call, console phone) on one voice channel."""
    env = dict(
        environ,
        CONNECTOR_CALLOUT_SECRETS=CALLOUT_SECRET,
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TWILIO_API_KEY_SID="SK" + "1" * 32,
        TWILIO_API_KEY_SECRET="fuzz-twilio-api-key-secret",
    )
    data = base_settings(
        public_base_url=PUBLIC_BASE_URL,
        twilio={"enabled": True, "web_call": True, "console_phone": True, "twiml_app_sid": "AP" + "2" * 32},
    )
    data["line"]["channels"][0]["voice"] = {"enabled": True, "support_number": "+815012345678"}
    return load_config(data=data, environ=env)


@pytest.fixture
def app(fuzz_config):
    return create_app(fuzz_config)
