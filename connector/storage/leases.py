"""Named leases in Redis: "only one worker does this now" and "at most once per interval".

A lease is a key set with NX and an expiry. `acquire` hands back a token that `release` must
present, so a holder whose lease expired can never release someone else's; `once` is a lease
nobody releases: the first caller in each interval wins.
"""

from __future__ import annotations

import secrets

import redis

from connector.storage.keys import Keys

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Leases:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys
        self._release = client.register_script(_RELEASE)

    def acquire(self, name: str, ttl_ms: int) -> str | None:
        """A token if the lease `name` was free (now held for `ttl_ms`), else None."""
        token = secrets.token_hex(8)
        return token if self.r.set(self.keys.lease(name), token, nx=True, px=max(1, int(ttl_ms))) else None

    def release(self, name: str, token: str) -> bool:
        return bool(self._release(keys=[self.keys.lease(name)], args=[token]))

    def held(self, name: str) -> bool:
        """Whether someone holds the lease `name` now."""
        return bool(self.r.exists(self.keys.lease(name)))

    def once(self, name: str, interval_s: float) -> bool:
        """True for the first caller in each `interval_s`, across all processes."""
        return bool(self.r.set(self.keys.lease(name), "1", nx=True, px=max(1, int(interval_s * 1000))))

    def forget(self, name: str) -> None:
        """Give up a `once` claim (the work it guarded was not done: let the next caller do it)."""
        self.r.delete(self.keys.lease(name))
