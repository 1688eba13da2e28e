"""Redis, behind the only modules that know key names (keys.py) or Lua.

Each store owns its keys: store.Store the inbound pipeline (dedupe, inboxes, locks, state, dead
letters, markers, pauses, counters), routing.RoutingStore the routing state, knowledge.KnowledgeStore
the bot's index, blobs.Blobs sealed bytes, leases.Leases named leases, queue the RQ queue.
"""

from __future__ import annotations

from typing import Any

import redis

# What callers outside storage catch: Redis could not be reached or did not answer in time.
StorageError = redis.RedisError
StorageConnectionError = redis.ConnectionError


def ping(client: redis.Redis) -> None:
    """Raises StorageError unless Redis answers."""
    client.ping()


def redis_client(url: str, *, tls_verify: bool = True, timeout_s: float = 5.0) -> redis.Redis:
    kwargs: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "health_check_interval": 30,
    }
    if url.startswith("rediss://") and not tls_verify:
        kwargs["ssl_cert_reqs"] = None  # Heroku Redis uses a self-signed certificate
    return redis.Redis.from_url(url, **kwargs)
