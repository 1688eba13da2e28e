"""A sandbox in-process and gateways pointed at it, as production code would be configured."""

from __future__ import annotations

import pytest

from connector.config import load_config
from tests import stack
from tests.conftest import base_settings
from tests.stack import CHANNEL

USER = "U" + "c" * 32


@pytest.fixture(scope="module")
def sandbox():
    with stack.start_sandbox(channel_secret="sec") as sb:  # stopped when the module's tests are done
        yield sb


@pytest.fixture
def sb(sandbox):
    sandbox.reset()
    sandbox.line.add_user(CHANNEL, USER, "テスト")
    return sandbox


def sandbox_config(sb, environ, timeout=2.0):
    data = base_settings(
        line=stack.line_settings(sb, stack.channel_settings(), timeout_seconds=timeout),
        salesforce=stack.salesforce_settings(sb, timeout_seconds=timeout),
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
