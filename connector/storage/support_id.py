"""Attempt counters for support IDs, and the claim that makes a single-use ID usable once.

Keys (keys.Keys.support_id, after the prefix): `support-id:user:<channel>:<user>` and
`support-id:id:<hash>` (attempts in a window, expiring with it), `support-id:claimed:<hash>` (a
single-use ID taken by one LINE user). Hashes only: never an ID.
"""

from __future__ import annotations

import redis

from connector.storage.keys import Keys

_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class SupportIdStore:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys
        self._count = client.register_script(_COUNT)

    def attempt(self, channel: str, user: str, hash_: str, user_window_s: float, id_window_s: float) -> tuple[int, int]:
        """Count one attempt; returns (attempts by this user, attempts at this ID) in their windows."""
        by_user = int(self._count(keys=[self.keys.support_id(f"user:{channel}:{user}")], args=[int(user_window_s)]))
        by_id = int(self._count(keys=[self.keys.support_id(f"id:{hash_}")], args=[int(id_window_s)]))
        return by_user, by_id

    def forgive(self, channel: str, user: str) -> None:
        """A verified customer starts again from zero."""
        self.r.delete(self.keys.support_id(f"user:{channel}:{user}"))

    def claimed_by(self, hash_: str) -> str | None:
        current = self.r.get(self.keys.support_id(f"claimed:{hash_}"))
        return None if current is None else current.decode()

    def claim(self, hash_: str, owner: str) -> bool:
        """Take a single-use ID for `owner`; True if it is theirs (again), False if someone else has it."""
        key = self.keys.support_id(f"claimed:{hash_}")
        if self.r.set(key, owner, nx=True, ex=90 * 24 * 3600):
            return True
        current = self.r.get(key)
        return current is not None and current.decode() == owner
