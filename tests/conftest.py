"""Shared fixtures: a real Redis (a dedicated database, flushed per test) and a valid config."""

from __future__ import annotations

import os

import pytest
import redis as redis_lib

from connector.config import load_config
from connector.storage.vault import new_key

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
CHANNEL_SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
CHANNEL_TOKEN = "test-token"


def fresh_redis(url: str):
    """A client on an emptied Redis database, emptied again afterwards (use with `yield from`)."""
    client = redis_lib.Redis.from_url(url)
    try:
        client.ping()
    except redis_lib.ConnectionError:
        pytest.fail(f"tests need a Redis at {url} (make test starts one)")
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def redis_url():
    for _ in fresh_redis(TEST_REDIS_URL):
        yield TEST_REDIS_URL


@pytest.fixture
def environ(redis_url):
    return {
        "REDIS_URL": redis_url,
        "CONNECTOR_ENCRYPTION_KEYS": new_key(),
        "LINE_MAIN_SECRET": CHANNEL_SECRET,
        "LINE_MAIN_TOKEN": CHANNEL_TOKEN,
        "SF_USERNAME": "integration@example.com",
        "SF_CONSUMER_KEY": "consumer",
        "SF_PASSWORD": "pw",
        "SF_CONSUMER_SECRET": "cs",
    }


def base_settings(**overrides) -> dict:
    data = {
        "line": {
            "channels": [
                {
                    "id": "1000000001",
                    "name": "main",
                    "bot_user_id": "Ubot",
                    "secret_env": "LINE_MAIN_SECRET",
                    "access_token_env": "LINE_MAIN_TOKEN",
                }
            ]
        },
        "salesforce": {"auth": "password", "login_url": "https://login.example.com"},
    }
    for k, v in overrides.items():
        data[k] = v
    return data


@pytest.fixture
def config(environ):
    return load_config(data=base_settings(), environ=environ)
