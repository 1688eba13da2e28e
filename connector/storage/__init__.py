"""Redis, behind the only modules that know key names (keys.py) or Lua.

Each store owns its keys: store.Store the inbound pipeline (dedupe, inboxes, locks, state, dead
letters, markers, pauses, counters), routing.RoutingStore the routing state, knowledge.KnowledgeStore
the bot's index, blobs.Blobs sealed bytes, leases.Leases named leases, queue the RQ queue.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# What callers outside storage catch: Redis could not be reached or did not answer in time.
StorageError = redis.RedisError
StorageConnectionError = redis.ConnectionError


def ping(client: redis.Redis) -> None:
    """Raises StorageError unless Redis answers."""
    client.ping()


def redis_client(url: str, *, tls_verify: bool = True, timeout_s: float = 5.0) -> redis.Redis:
    """A client whose every command gives up after `timeout_s`.

    A broken connection (Redis restarted, an idle connection dropped by a proxy) is tried once
    more on a fresh one; a timeout is not retried: a hung Redis costs one timeout, not the ten
    retries with backoff redis-py does by default (which held webhooks for 10-20 s).
    """
    kwargs: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "health_check_interval": 30,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    }
    if url.startswith("rediss://") and not tls_verify:
        kwargs["ssl_cert_reqs"] = None  # Heroku Redis uses a self-signed certificate
    return redis.Redis.from_url(url, **kwargs)
