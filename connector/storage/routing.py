"""The routing state in Redis: one sealed value, changed under one lock, with an outbox of effects.

`route` compares every queued session with every operator (docs/routing.md), so the whole
`RoutingState` is one unit: a job takes the lock (SET NX PX + token), loads the state, runs the
pure operations, and SAVEs - only if its token still holds the lock - the new state, the effects to
apply and the queue notices it decided to send, in one Lua call. Nothing is half-saved.

Effects are applied *after* the lock is released, from the outbox (a Redis list of sealed JSON
entries), and removed one by one (LREM of the exact entry) once applied. Applying is idempotent
(upserts on external ids, LINE pushes with retry keys and markers, internal events deduped by
key), so an outbox entry applied twice - two workers, or a crash after applying and before the
removal - changes nothing; an entry never applied is retried by the worker's periodic tick. This
is what makes "routed but never written to Salesforce" impossible.

Keys (keys.Keys.routing, after the prefix): `routing:state` (sealed RoutingState.to_dict()), `routing:lock`,
`routing:outbox` (list), `routing:notices` (hash: session key -> last queue notice *committed*
for sending), `routing:sessions` (hash: session key -> sealed {case_key, ...} given at handoff).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable

import redis

from connector.domain.queue_position import QueueNotice
from connector.domain.routing import RoutingState
from connector.storage.keys import Keys
from connector.storage.vault import Vault

_SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
local i = 3
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do redis.call('RPUSH', KEYS[3], ARGV[i]); i = i + 1 end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]); i = i + 2 end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do redis.call('HDEL', KEYS[4], ARGV[i]); i = i + 1 end
return 1
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RoutingLockTimeout(RuntimeError):
    """Another worker held the routing lock for too long; the job retries."""


class RoutingLockLost(RuntimeError):
    """Our lock expired before we saved; nothing was saved (the job retries)."""


# fn(state, last_sent) -> (new_state, effects as dicts, notices to commit, session keys to forget)
Step = Callable[[RoutingState, dict], tuple[RoutingState, list[dict], list[QueueNotice], set]]


class RoutingStore:
    def __init__(
        self,
        client: redis.Redis,
        vault: Vault,
        *,
        keys: Keys | None = None,
        lock_ms: int = 15_000,
        wait_s: float = 10.0,
    ):
        self.r = client
        self.vault = vault
        self.keys = keys or Keys()
        self.lock_ms = lock_ms
        self.wait_s = wait_s
        self._save = client.register_script(_SAVE)
        self._unlock = client.register_script(_UNLOCK)

    # -- keys ----------------------------------------------------------------------------------
    @property
    def state_key(self) -> str:
        return self.keys.routing("state")

    @property
    def lock_key(self) -> str:
        return self.keys.routing("lock")

    @property
    def outbox_key(self) -> str:
        return self.keys.routing("outbox")

    @property
    def notices_key(self) -> str:
        return self.keys.routing("notices")

    @property
    def sessions_key(self) -> str:
        return self.keys.routing("sessions")

    # -- reads (no lock: a snapshot) -------------------------------------------------------------
    def load(self) -> RoutingState:
        raw = self.r.get(self.state_key)
        return RoutingState.from_dict(self.vault.open_json(raw)) if raw else RoutingState()

    def last_notices(self) -> dict[str, QueueNotice]:
        return {k.decode(): QueueNotice.from_dict(json.loads(v)) for k, v in self.r.hgetall(self.notices_key).items()}

    # -- the one way to change the state ---------------------------------------------------------
    def transact(self, step: Step) -> tuple[RoutingState, list[dict]]:
        """Run `step` on the current state under the lock and save its outcome atomically.

        Exceptions from `step` (e.g. RoutingError) propagate and nothing is saved."""
        token = self._acquire()
        try:
            state = self.load()
            new, effects, notices, forget = step(state, self.last_notices())
            args: list = [token, self.vault.seal_json(new.to_dict()), len(effects)]
            args += [self.vault.seal_json({"id": secrets.token_hex(8), "effect": e}) for e in effects]
            args.append(len(notices))
            for n in notices:
                args += [n.session_key, json.dumps(n.to_dict())]
            forget = [k for k in forget if k not in {n.session_key for n in notices}]
            args.append(len(forget))
            args += list(forget)
            if not self._save(keys=[self.lock_key, self.state_key, self.outbox_key, self.notices_key], args=args):
                raise RoutingLockLost("routing lock expired before the state was saved")
            return new, effects
        finally:
            self._unlock(keys=[self.lock_key], args=[token])

    def _acquire(self) -> str:
        token = secrets.token_hex(8)
        deadline = time.monotonic() + self.wait_s
        while not self.r.set(self.lock_key, token, nx=True, px=self.lock_ms):
            if time.monotonic() > deadline:
                raise RoutingLockTimeout("routing lock busy")
            time.sleep(0.01)
        return token

    # -- outbox ----------------------------------------------------------------------------------
    def outbox_pending(self) -> bool:
        return bool(self.r.llen(self.outbox_key))

    def outbox(self, limit: int = 500) -> list[tuple[bytes, dict]]:
        """Pending effects, oldest first: (raw entry, {"id", "effect"})."""
        return [(raw, self.vault.open_json(raw)) for raw in self.r.lrange(self.outbox_key, 0, limit - 1)]

    def done(self, raws: list[bytes]) -> None:
        if raws:
            pipe = self.r.pipeline(transaction=False)
            for raw in raws:
                pipe.lrem(self.outbox_key, 1, raw)
            pipe.execute()

    def try_lock(self, name: str, ttl_ms: int) -> str | None:
        token = secrets.token_hex(8)
        return token if self.r.set(self.keys.routing("lock:" + name), token, nx=True, px=ttl_ms) else None

    def unlock(self, name: str, token: str) -> None:
        self._unlock(keys=[self.keys.routing("lock:" + name)], args=[token])

    # -- per-session facts the effects need (the Case key of a reopened Case is not derivable) ----
    def set_session(self, session_key: str, info: dict) -> None:
        self.r.hset(self.sessions_key, session_key, self.vault.seal_json(info))

    def sessions(self, keys) -> dict[str, dict]:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        rows = self.r.hmget(self.sessions_key, keys)
        return {k: self.vault.open_json(v) for k, v in zip(keys, rows) if v}

    def drop_sessions(self, keys) -> None:
        keys = list(keys)
        if keys:
            self.r.hdel(self.sessions_key, *keys)
