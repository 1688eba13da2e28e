"""A sandbox in-process and gateways pointed at it, as production code would be configured."""

from __future__ import annotations

import pytest

from connector.config import load_config
from connector.local.devstack import METADATA_DIR
from connector.local.sandbox import Sandbox, SandboxChannel
from connector.local.sandbox.salesforce_store import SalesforceUser
from tests.conftest import base_settings

CHANNEL = "1000000001"
USER = "U" + "c" * 32


@pytest.fixture(scope="module")
def sandbox():
    sb = Sandbox(
        channels=[SandboxChannel(CHANNEL, "sec", "tok", "Ubot", None)],
        metadata_dir=str(METADATA_DIR),
        salesforce_users=[SalesforceUser("integration@example.com", "pw", "consumer")],
    ).start()
    yield sb
    sb.stop()


@pytest.fixture
def sb(sandbox):
    sandbox.reset()
    sandbox.line.add_user(CHANNEL, USER, "テスト")
    return sandbox


def sandbox_config(sb, environ, timeout=2.0):
    data = base_settings(
        line={
            "api_base_url": sb.urls["line_api"],
            "data_base_url": sb.urls["line_data"],
            "timeout_seconds": timeout,
            "channels": base_settings()["line"]["channels"],
        },
        salesforce={
            "auth": "password",
            "login_url": sb.urls["salesforce"],
            "ca_bundle": sb.ca_path,
            "timeout_seconds": timeout,
        },
        twilio={"enabled": True, "api_base_url": sb.urls["twilio"], "timeout_seconds": timeout},
    )
    environ.update(
        LINE_MAIN_TOKEN="tok", TWILIO_ACCOUNT_SID=sb.twilio.account_sid, TWILIO_AUTH_TOKEN=sb.twilio.auth_token
    )
    return load_config(data=data, environ=environ)


@pytest.fixture
def runtime(sb, environ):
    from connector.runtime import Runtime

    return Runtime(sandbox_config(sb, environ))
