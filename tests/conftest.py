"""Shared fixtures: a real Redis (a dedicated database, flushed per test) and a valid config.

The tests use $TEST_REDIS_URL (`make test` starts a private redis-server for it), else a private
redis-server of their own. A database is flushed only when it is empty or carries the marker an
earlier test run left (connector/local/redis_server.py `claim_database`): never someone's data.
"""

from __future__ import annotations

import os

import pytest
import redis as redis_lib

from connector.config import load_config
from connector.local.redis_server import claim_database, session_redis_url
from tests import stack

TEST_REDIS_URL = session_redis_url("TEST_REDIS_URL", 12)
os.environ["TEST_REDIS_URL"] = TEST_REDIS_URL  # the same for subprocesses and modules that read it
CHANNEL_SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
CHANNEL_TOKEN = "test-token"
_claimed: set[str] = set()  # databases this run has verified as its own


def fresh_redis(url: str):
    """A client on an emptied Redis database, emptied again afterwards (use with `yield from`)."""
    client = redis_lib.Redis.from_url(url)
    try:
        client.ping()
    except redis_lib.ConnectionError:
        pytest.fail(f"tests need a Redis at {url} (make test starts one)")
    _empty(client, url)
    yield client
    _empty(client, url)


def _empty(client, url: str) -> None:
    if url not in _claimed:
        claim_database(client, url)  # refuses a database that holds anything else
        _claimed.add(url)
    else:  # ours: a test may have flushed the marker away with everything else
        client.flushdb()
        claim_database(client, url)


@pytest.fixture
def redis_url():
    for _ in fresh_redis(TEST_REDIS_URL):
        yield TEST_REDIS_URL


@pytest.fixture
def environ(redis_url):
    return stack.relay_environ(redis_url, CHANNEL_SECRET, CHANNEL_TOKEN)


def base_settings(**overrides) -> dict:
    data = {
        "line": {"channels": [stack.channel_settings()]},
        "salesforce": {"auth": "password", "login_url": "https://login.example.com"},
    }
    for k, v in overrides.items():
        data[k] = v
    return data


@pytest.fixture
def config(environ):
    return load_config(data=base_settings(), environ=environ)
