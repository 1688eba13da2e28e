"""The Redis half of the identity-image deletion schedule (the other half is `Retention_Until__c`
on the message record in Salesforce, which the daily sweep reads).

Keys (keys.Keys.retention, after the prefix):
- `retention:due`: a sorted set, message key -> when its file must be gone (unix seconds);
- `retention:item:<message key>`: a hash {channel, document, trigger, rule, by, attempt}: ids,
  the rule, the operator who asked for an early deletion and whether a purge started; never content;
- `retention:asked:<session key>`: when an operator asked this customer for an ID document
  (expires with the window);
- `retention:failures`: a hash, message key -> failed purge attempts so far (alerting).

An entry leaves only once the file is deleted and the audit record written (`done`), so a purge
that dies halfway is found again by the next check.
"""

from __future__ import annotations

import redis

from connector.storage.keys import Keys


class RetentionStore:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def _item(self, message_key: str) -> str:
        return self.keys.retention(f"item:{message_key}")

    def schedule(
        self, message_key: str, *, channel: str, due: float, trigger: str, rule: str, document: str = "", by: str = ""
    ) -> None:
        """Put (or move) a message's file on the schedule; an earlier due time wins over a later one."""
        fields = {"channel": channel, "trigger": trigger, "rule": rule}
        if document:
            fields["document"] = document
        if by:
            fields["by"] = by
        pipe = self.r.pipeline()
        pipe.hset(self._item(message_key), mapping=fields)
        pipe.zadd(self.keys.retention("due"), {message_key: float(due)}, lt=True)  # LT still adds a new one
        pipe.execute()

    def item(self, message_key: str) -> dict | None:
        raw = self.r.hgetall(self._item(message_key))
        if not raw:
            return None
        return {k.decode(): v.decode() for k, v in raw.items()}

    def note_attempt(self, message_key: str) -> None:
        """A purge of this file has started (a later "nothing left" means we deleted it)."""
        self.r.hsetnx(self._item(message_key), "attempt", "1")

    def due(self, now: float, limit: int = 200) -> list[str]:
        return [m.decode() for m in self.r.zrangebyscore(self.keys.retention("due"), "-inf", now, 0, limit)]

    def scheduled(self) -> int:
        return int(self.r.zcard(self.keys.retention("due")))

    def done(self, message_key: str) -> None:
        pipe = self.r.pipeline()
        pipe.zrem(self.keys.retention("due"), message_key)
        pipe.delete(self._item(message_key))
        pipe.hdel(self.keys.retention("failures"), message_key)
        pipe.execute()

    def failed(self, message_key: str) -> int:
        """Count one failed purge attempt; returns how many so far."""
        return int(self.r.hincrby(self.keys.retention("failures"), message_key, 1))

    # -- the window after an operator asked for an ID document -----------------------------------
    def asked(self, session_key: str, at: float, window_s: float) -> None:
        self.r.set(self.keys.retention(f"asked:{session_key}"), repr(float(at)), ex=max(1, int(window_s) + 1))

    def asked_at(self, session_key: str) -> float | None:
        raw = self.r.get(self.keys.retention(f"asked:{session_key}"))
        return None if raw is None else float(raw)
