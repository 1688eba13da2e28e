"""Fuzzing fixtures: the real Flask app (create_app) on the test Redis, with a callout secret."""

from __future__ import annotations

import pytest

from connector.config import load_config
from connector.entrypoints.app import create_app
from tests.conftest import base_settings

CALLOUT_SECRET = "fuzz-callout-secret-0123456789abcdef"


@pytest.fixture
def fuzz_config(environ):
    env = dict(environ, CONNECTOR_CALLOUT_SECRETS=CALLOUT_SECRET)
    return load_config(data=base_settings(), environ=env)


@pytest.fixture
def app(fuzz_config):
    return create_app(fuzz_config)
