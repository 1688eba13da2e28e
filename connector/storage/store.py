"""Redis state: dedupe keys, per-conversation inboxes, locks, conversation state, dead letters.

How ordering and "nothing lost, nothing twice" work:

* The webhook runs INGEST for every event: one Lua call sets the dedupe key (`webhookEventId`,
  kept >= 24 h), appends the sealed event to the conversation's inbox list and marks the
  conversation ready (a sorted set scored by "not before"). The calls of concurrent requests go
  out together in one pipelined write (group_commit.py). If the conversation *became* ready
  it rings the doorbell: only the first ring since the last drain job started asks the webhook
  to enqueue a drain (RQ's enqueue costs three round trips, too much for every event); that
  job drains every ready conversation, and clears the bell when it starts so that more work
  arriving meanwhile brings in another worker. The bell expires by itself, so a lost job is
  replaced by the next ring (and the workers' sweeper catches the rest).
* A drain job CLAIMs ready conversations: it takes each conversation's lock (token, TTL) and reads
  the head of its inbox, never removing anything. A conversation is only ever held by one
  drainer, so its events are applied in order whatever the number of workers.
* After the effects are written (idempotent upserts, LINE sends with retry keys) COMMIT trims
  the processed entries and saves the conversation state - only if the lock token still matches,
  so a drainer whose lock expired can never trim entries it did not process.
* A lock is a short lease that the drainer renews while it works on the conversation
  (`extend_locks`); a killed worker leaves its entries in the inbox, its lease runs out within
  `queue.lock_seconds`, and the sweeper re-drains.
* Failures BACKOFF: the conversation's "not before" moves into the future (nobody hammers
  Salesforce), the attempt count grows; past the last retry the head event goes to the dead
  letter registry, from where `connector failed replay` puts it back.

Every value holding personal data (events, state, dead letters) is sealed with the Vault.
Scripts touch keys derived from the conversation id; this assumes a single Redis, not a cluster.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis

from connector.storage.group_commit import GroupCommit, pack
from connector.storage.keys import ATTEMPTS, INBOX, LOCK, STATE, Keys
from connector.storage.vault import Vault

DOORBELL_MS = 5000

_INGEST = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  if redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[3]) == 1 then
    if redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[5]) then return 1 end
    return 2
  end
  return 0
end
return -1
"""

_CLAIM = """
local prefix = ARGV[5]
local convs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[6])
local out = {}
local budget = tonumber(ARGV[2])
for _, conv in ipairs(convs) do
  if budget <= 0 then break end
  local lock = prefix .. '%(LOCK)s' .. conv
  if redis.call('SET', lock, ARGV[4], 'NX', 'PX', ARGV[3]) then
    local entries = redis.call('LRANGE', prefix .. '%(INBOX)s' .. conv, 0, budget - 1)
    if #entries == 0 then
      redis.call('ZREM', KEYS[1], conv)
      redis.call('DEL', lock)
    else
      budget = budget - #entries
      local state = redis.call('GET', prefix .. '%(STATE)s' .. conv) or ''
      local attempts = redis.call('GET', prefix .. '%(ATTEMPTS)s' .. conv) or '0'
      table.insert(out, {conv, state, attempts, entries})
    end
  end
end
return out
""" % {"LOCK": LOCK, "INBOX": INBOX, "STATE": STATE, "ATTEMPTS": ATTEMPTS}

_COMMIT = """
local prefix, conv = ARGV[2], ARGV[3]
local lock = prefix .. '%(LOCK)s' .. conv
if redis.call('GET', lock) ~= ARGV[1] then return 0 end
if ARGV[5] ~= '' then redis.call('SET', prefix .. '%(STATE)s' .. conv, ARGV[5]) end
local n = tonumber(ARGV[4])
if n > 0 then
  redis.call('LTRIM', prefix .. '%(INBOX)s' .. conv, n, -1)
  redis.call('DEL', prefix .. '%(ATTEMPTS)s' .. conv)
end
if tonumber(ARGV[6]) >= 0 and redis.call('LLEN', prefix .. '%(INBOX)s' .. conv) > 0 then
  redis.call('ZADD', KEYS[1], ARGV[6], conv)
  if ARGV[7] == '1' then redis.call('INCR', prefix .. '%(ATTEMPTS)s' .. conv) end
elseif redis.call('LLEN', prefix .. '%(INBOX)s' .. conv) == 0 then
  redis.call('ZREM', KEYS[1], conv)
end
redis.call('DEL', lock)
return 1
""" % {"LOCK": LOCK, "INBOX": INBOX, "STATE": STATE, "ATTEMPTS": ATTEMPTS}

_EXTEND = """
local lost = {}
for i, lock in ipairs(KEYS) do
  if redis.call('GET', lock) == ARGV[1] then
    redis.call('PEXPIRE', lock, ARGV[2])
  else
    table.insert(lost, i)
  end
end
return lost
"""

_REPLAY = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('RPUSH', ARGV[3] .. '%(INBOX)s' .. ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[3], 'NX', ARGV[5], ARGV[2])
return 1
""" % {
    "INBOX": INBOX,
}


@dataclass
class Claimed:
    conv: str
    state: dict | None
    attempts: int
    entries: list[dict]  # opened entries: {"channel", "conv", "event", "received_at"}
    raw: list[bytes] = field(repr=False, default_factory=list)


@dataclass
class Outcome:
    """What to do with one claimed conversation after its batch ran."""

    conv: str
    done: int  # entries from the head that are finished (trimmed)
    state: dict | None  # state after those entries (None: unchanged)
    retry_at: float | None = None  # when the rest may be retried (None: as soon as possible)
    failed: bool = False  # the rest failed: counts as an attempt


class Store:
    def __init__(self, client: redis.Redis, vault: Vault, *, dedupe_ttl_s: int = 48 * 3600, keys: Keys | None = None):
        self.r = client
        self.vault = vault
        self.dedupe_ttl_s = dedupe_ttl_s
        self.keys = keys or Keys()
        self._ingest_sha = hashlib.sha1(_INGEST.encode()).hexdigest()
        self._writes = GroupCommit(client, scripts={self._ingest_sha: _INGEST})
        self._claim = client.register_script(_CLAIM)
        self._commit = client.register_script(_COMMIT)
        self._extend = client.register_script(_EXTEND)
        self._replay = client.register_script(_REPLAY)

    # -- keys -----------------------------------------------------------------------------------
    @property
    def ready_key(self) -> str:
        return self.keys.ready

    @property
    def doorbell_key(self) -> str:
        return self.keys.doorbell

    def drain_started(self) -> None:
        """A drain job is running: the next conversation that becomes ready rings for another."""
        self.r.delete(self.doorbell_key)

    def inbox_key(self, conv: str) -> str:
        return self.keys.inbox(conv)

    # -- webhook side ---------------------------------------------------------------------------
    def ingest(self, items: Iterable[tuple[str, str, str, dict]], now: float | None = None) -> tuple[list[str], int]:
        """Store events durably. items: (channel_id, event_id, conv, event).

        Returns (conversations that rang the doorbell: enqueue a drain job if any, number of
        duplicates skipped). Raises redis.RedisError when Redis cannot take them: the caller
        must answer 5xx so LINE redelivers.
        """
        now = time.time() if now is None else now
        items = list(items)
        if not items:
            return [], 0
        ttl, ready_key, doorbell = self.dedupe_ttl_s, self.ready_key, self.doorbell_key
        commands = [
            pack(
                "EVALSHA",
                self._ingest_sha,
                4,
                self.keys.dedupe(channel_id, event_id),
                self.inbox_key(conv),
                ready_key,
                doorbell,
                ttl,
                self.vault.seal_json({"channel": channel_id, "conv": conv, "event": event, "received_at": now}),
                conv,
                now,
                DOORBELL_MS,
            )
            for channel_id, event_id, conv, event in items
        ]
        results = self._writes.write(commands)  # with the other requests' writes: one round trip
        for res in results:
            if isinstance(res, Exception):
                raise res
        ready = [conv for (_, _, conv, _), res in zip(items, results) if res == 1]
        duplicates = sum(1 for res in results if res == -1)
        return ready, duplicates

    # -- worker side ----------------------------------------------------------------------------
    def claim(
        self, *, max_events: int, lock_ms: int, now: float | None = None, scan: int = 1000
    ) -> tuple[str, list[Claimed]]:
        now = time.time() if now is None else now
        token = f"{os.getpid()}-{secrets.token_hex(8)}"  # whose lock it is, for people reading Redis
        rows = self._claim(keys=[self.ready_key], args=[now, max_events, lock_ms, token, self.keys.prefix, scan])
        claimed = []
        for conv, state, attempts, entries in rows:
            conv = conv.decode() if isinstance(conv, bytes) else conv
            claimed.append(
                Claimed(
                    conv=conv,
                    state=self.vault.open_json(state) if state else None,
                    attempts=int(attempts),
                    entries=[self.vault.open_json(e) for e in entries],
                    raw=list(entries),
                )
            )
        return token, claimed

    def extend_locks(self, token: str, convs: Iterable[str], lock_ms: int) -> list[str]:
        """Renew the locks still held with `token` for `lock_ms`; returns the conversations whose
        lock was lost (expired, perhaps taken by another drainer: never taken back from it)."""
        convs = list(convs)
        if not convs:
            return []
        lost = self._extend(keys=[self.keys.lock(c) for c in convs], args=[token, lock_ms])
        return [convs[int(i) - 1] for i in lost]

    def commit(self, token: str, outcomes: Iterable[Outcome]) -> list[str]:
        """Apply outcomes; returns the conversations whose lock had been lost (nothing applied)."""
        outcomes = list(outcomes)
        pipe = self.r.pipeline(transaction=False)
        for o in outcomes:
            state = self.vault.seal_json(o.state) if o.state is not None else b""
            retry_at = -1 if o.retry_at is None and not o.failed else (o.retry_at or time.time())
            self._commit(
                keys=[self.ready_key],
                args=[token, self.keys.prefix, o.conv, o.done, state, retry_at, "1" if o.failed else "0"],
                client=pipe,
            )
        results = pipe.execute()
        return [o.conv for o, ok in zip(outcomes, results) if not ok]

    def pending(self, now: float | None = None) -> int:
        """Conversations ready to drain now."""
        now = time.time() if now is None else now
        return self.r.zcount(self.ready_key, "-inf", now)

    def backlog(self) -> dict[str, int]:
        convs = self.r.zrange(self.ready_key, 0, -1)
        pipe = self.r.pipeline(transaction=False)
        for c in convs:
            pipe.llen(self.inbox_key(c.decode()))
        lens = pipe.execute() if convs else []
        return {"conversations": len(convs), "events": sum(lens)}

    # -- dead letters ---------------------------------------------------------------------------
    def dead_letter(
        self, entry_raw: bytes, *, conv: str, kind: str, error: str, attempts: int, now: float | None = None
    ) -> str:
        now = time.time() if now is None else now
        dl_id = f"{int(now * 1000)}-{secrets.token_hex(4)}"
        record = self.vault.seal_json(
            {
                "id": dl_id,
                "conv": conv,
                "kind": kind,
                "error": error[:500],
                "attempts": attempts,
                "at": now,
                "entry_b64": base64.b64encode(entry_raw).decode(),
            }
        )
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.keys.dead_letters, dl_id, record)
        pipe.zadd(self.keys.dead_letter_index, {dl_id: now})
        pipe.execute()
        return dl_id

    def dead_letters(self) -> list[dict]:
        ids = [i.decode() for i in self.r.zrange(self.keys.dead_letter_index, 0, -1)]
        if not ids:
            return []
        rows = self.r.hmget(self.keys.dead_letters, ids)
        out = []
        for raw in rows:
            if raw:
                rec = self.vault.open_json(raw)
                rec.pop("entry", None)
                rec.pop("entry_b64", None)
                out.append(rec)
        return out

    def dead_letter_record(self, dl_id: str) -> dict | None:
        """The whole record of one dead letter (with its sealed entry), or None."""
        raw = self.r.hget(self.keys.dead_letters, dl_id)
        return self.vault.open_json(raw) if raw else None

    def forget_dead_letter(self, dl_id: str) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hdel(self.keys.dead_letters, dl_id)
        pipe.zrem(self.keys.dead_letter_index, dl_id)
        pipe.execute()

    def replay(self, dl_id: str, now: float | None = None) -> bool:
        """Put a dead-lettered event back at the end of its conversation's inbox, once."""
        now = time.time() if now is None else now
        raw = self.r.hget(self.keys.dead_letters, dl_id)
        if not raw:
            return False
        rec = self.vault.open_json(raw)
        if rec["kind"] != "event":
            raise ValueError(f"dead letter {dl_id} is a {rec['kind']!r}, replay it with its own job")
        return bool(
            self._replay(
                keys=[self.keys.dead_letters, self.keys.dead_letter_index, self.ready_key],
                args=[dl_id, rec["conv"], self.keys.prefix, dead_letter_entry(rec), now],
            )
        )

    # -- small shared keys ----------------------------------------------------------------------
    def marker(self, key: str) -> dict | None:
        raw = self.r.get(self.keys.marker(key))
        return json.loads(raw) if raw else None

    def set_marker(self, key: str, value: dict, ttl_s: int = 7 * 24 * 3600) -> None:
        self.r.set(self.keys.marker(key), json.dumps(value), ex=ttl_s)

    def clear_marker(self, key: str) -> None:
        self.r.delete(self.keys.marker(key))

    def pause(self, service: str, until: float) -> None:
        self.r.set(self.keys.pause(service), until, ex=max(1, int(until - time.time()) + 1))

    def paused_until(self, service: str) -> float:
        raw = self.r.get(self.keys.pause(service))
        return float(raw) if raw else 0.0

    def get_state(self, conv: str) -> dict | None:
        raw = self.r.get(self.keys.state(conv))
        return self.vault.open_json(raw) if raw else None

    def count(self, name: str, n: int = 1) -> None:
        self.r.hincrby(self.keys.metrics, name, n)

    def metrics(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(self.keys.metrics).items()}


def dead_letter_entry(record: dict) -> bytes:
    """What was dead-lettered: the sealed inbox entry of an event, or a job's id."""
    if "entry_b64" in record:
        return base64.b64decode(record["entry_b64"])
    return record["entry"].encode()  # written before sealed values were binary (Fernet text)
