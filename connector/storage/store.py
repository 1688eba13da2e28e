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
  drainer, so its events are applied in order whatever the number of workers. While held, its
  "not before" is when its lock would run out, so the other drainers' scans pass it by (and take
  the next ones) and a dead drainer's conversations come back by themselves.
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
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis

from connector.storage.group_commit import GroupCommit, pack
from connector.storage.keys import ATTEMPTS, DECIDED, INBOX, LOCK, PSTATE, STATE, Keys
from connector.storage.vault import Vault

DOORBELL_MS = 5000
WRITES = "salesforce"  # the service whose outage pauses writing records (and holds conversations)

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
local prefix, answer_only = ARGV[5], ARGV[7] == '1'
local convs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[6])
local paused = tonumber(redis.call('HGET', KEYS[3], 'level') or '0') > 0
local out = {}
local budget = tonumber(ARGV[2])
for _, conv in ipairs(convs) do
  if budget <= 0 then break end
  local lock = prefix .. '%(LOCK)s' .. conv
  if redis.call('SET', lock, ARGV[4], 'NX', 'PX', ARGV[3]) then
    local decided = prefix .. '%(DECIDED)s' .. conv
    local d = redis.call('LLEN', decided)
    local first = 0
    if answer_only then first = d end
    local entries = redis.call('LRANGE', prefix .. '%(INBOX)s' .. conv, first, first + budget - 1)
    if #entries == 0 then
      if first == 0 then
        redis.call('ZREM', KEYS[1], conv)
      elseif paused then
        redis.call('ZREM', KEYS[1], conv)
        redis.call('SADD', KEYS[2], conv)
      end
      redis.call('DEL', lock)
    else
      budget = budget - #entries
      -- out of the other drainers' scans while it is held (they would skip it anyway, but only
      -- after spending their scan on it); ready again when the lock would run out
      redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[3]) / 1000, conv)
      local state = redis.call('GET', prefix .. '%(STATE)s' .. conv) or ''
      local attempts = redis.call('GET', prefix .. '%(ATTEMPTS)s' .. conv) or '0'
      local pstate, decisions = '', {}
      if d > 0 then
        pstate = redis.call('GET', prefix .. '%(PSTATE)s' .. conv) or ''
        if not answer_only then decisions = redis.call('LRANGE', decided, 0, #entries - 1) end
      end
      table.insert(out, {conv, state, attempts, entries, decisions, pstate, first, d})
    end
  end
end
return out
""" % {"LOCK": LOCK, "INBOX": INBOX, "STATE": STATE, "ATTEMPTS": ATTEMPTS, "DECIDED": DECIDED, "PSTATE": PSTATE}

_COMMIT = """
local prefix, conv = ARGV[2], ARGV[3]
local lock = prefix .. '%(LOCK)s' .. conv
if redis.call('GET', lock) ~= ARGV[1] then return 0 end
local inbox, decided = prefix .. '%(INBOX)s' .. conv, prefix .. '%(DECIDED)s' .. conv
local pstate, attempts = prefix .. '%(PSTATE)s' .. conv, prefix .. '%(ATTEMPTS)s' .. conv
if ARGV[5] ~= '' then redis.call('SET', prefix .. '%(STATE)s' .. conv, ARGV[5]) end
local n = tonumber(ARGV[4])
if n > 0 then
  redis.call('LTRIM', inbox, n, -1)
  redis.call('LTRIM', decided, n, -1)
  redis.call('DEL', attempts)
end
for i = 12, #ARGV, 500 do
  redis.call('RPUSH', decided, unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
if redis.call('LLEN', decided) == 0 then
  redis.call('DEL', pstate)
elseif ARGV[10] ~= '' then
  redis.call('SET', pstate, ARGV[10])
end
local left = redis.call('LLEN', inbox)
if left == 0 then
  redis.call('ZREM', KEYS[1], conv)
  redis.call('SREM', KEYS[2], conv)
  redis.call('DEL', decided, pstate)
elseif ARGV[8] == '1' then
  local paused = tonumber(redis.call('HGET', KEYS[3], 'level') or '0') > 0
  if paused and left <= tonumber(ARGV[9]) - n then
    redis.call('ZREM', KEYS[1], conv)
    redis.call('SADD', KEYS[2], conv)
  else
    redis.call('ZADD', KEYS[1], ARGV[11], conv)
  end
elseif tonumber(ARGV[6]) >= 0 then
  redis.call('ZADD', KEYS[1], ARGV[6], conv)
  if ARGV[7] == '1' then redis.call('INCR', attempts) end
else
  redis.call('ZADD', KEYS[1], ARGV[11], conv)
end
redis.call('DEL', lock)
return 1
""" % {"LOCK": LOCK, "INBOX": INBOX, "STATE": STATE, "ATTEMPTS": ATTEMPTS, "DECIDED": DECIDED, "PSTATE": PSTATE}

# Salesforce writes pause (a hash: failures in a row, and while paused its level, since, until, code).
_FAILED = """
local h = KEYS[1]
local level = tonumber(redis.call('HGET', h, 'level') or '0')
if level > 0 then return {tostring(level), redis.call('HGET', h, 'until')} end
local n = redis.call('HINCRBY', h, 'failures', 1)
local now, min_s = tonumber(ARGV[1]), tonumber(ARGV[4])
if n < tonumber(ARGV[2]) and min_s <= 0 then
  redis.call('EXPIRE', h, 600)
  return {'0', '0'}
end
local until_ = now + math.max(tonumber(ARGV[3]), min_s)
redis.call('HSET', h, 'level', 1, 'since', ARGV[1], 'until', tostring(until_), 'code', ARGV[5])
redis.call('PERSIST', h)
return {'1', tostring(until_)}
"""

_PROBE_FAILED = """
local h = KEYS[1]
local level = tonumber(redis.call('HGET', h, 'level') or '0')
if level == 0 then return '0' end
level = level + 1
local backoff = math.min(tonumber(ARGV[2]) * 2 ^ (level - 1), tonumber(ARGV[3]))
local until_ = tonumber(ARGV[1]) + math.max(backoff, tonumber(ARGV[4]))
redis.call('HSET', h, 'level', level, 'until', tostring(until_), 'code', ARGV[5])
return tostring(until_)
"""

_SUCCEEDED = """
if tonumber(redis.call('HGET', KEYS[1], 'level') or '0') == 0 then redis.call('DEL', KEYS[1]) end
return 0
"""

_LIFT = """
local convs = redis.call('SMEMBERS', KEYS[2])
for _, conv in ipairs(convs) do redis.call('ZADD', KEYS[1], 'LT', ARGV[1], conv) end
redis.call('DEL', KEYS[2], KEYS[3])
return #convs
"""

_EXTEND = """
local lost = {}
local until_ = tonumber(ARGV[3]) + tonumber(ARGV[2]) / 1000
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    redis.call('ZADD', KEYS[1], 'XX', until_, ARGV[i + 2])
  else
    table.insert(lost, i - 1)
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
    state: dict | None  # the committed state (the state before `entries[0]` unless `decisions` say otherwise)
    attempts: int
    entries: list[dict]  # opened entries: {"channel", "conv", "event", "received_at"}
    raw: list[bytes] = field(repr=False, default_factory=list)
    # What was decided (and answered on LINE) earlier for the head entries, not written yet; one per
    # entry from the first, possibly fewer than the entries. `pstate` is the state after the last
    # decided entry of the inbox (which may lie beyond `entries`).
    decisions: list[dict] = field(repr=False, default_factory=list)
    pstate: dict | None = field(repr=False, default=None)
    offset: int = 0  # answer-only claims: how many decided entries precede `entries` in the inbox
    decided: int = 0  # how many head entries of the inbox were decided (and answered) already


@dataclass
class Outcome:
    """What to do with one claimed conversation after its batch ran."""

    conv: str
    done: int  # entries from the head that are finished (trimmed)
    state: dict | None  # state after those entries (None: unchanged)
    retry_at: float | None = None  # when the rest may be retried (None: as soon as possible)
    failed: bool = False  # the rest failed: counts as an attempt
    # Salesforce writes are paused: the rest waits out of `ready` (held) once every entry is answered.
    hold: bool = False
    answered: int = 0  # entries from the head (before trimming) decided and answered on LINE
    decisions: list[dict] = field(default_factory=list)  # to append: entries max(cached, done)..answered-1
    pstate: dict | None = None  # the state after the last decided entry, when `decisions` is not empty


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
        self._failed = client.register_script(_FAILED)
        self._probe_failed = client.register_script(_PROBE_FAILED)
        self._succeeded = client.register_script(_SUCCEEDED)
        self._lift = client.register_script(_LIFT)

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
        self,
        *,
        max_events: int,
        lock_ms: int,
        now: float | None = None,
        scan: int = 1000,
        answer_only: bool = False,
    ) -> tuple[str, list[Claimed]]:
        """Lock ready conversations and read the head of their inboxes (up to `max_events` in all).

        `answer_only` (Salesforce writes are paused): read the entries after those already decided,
        starting from the state after them; a conversation with nothing new to answer moves from
        `ready` to the held set, where it waits for `lift`.
        """
        now = time.time() if now is None else now
        token = f"{os.getpid()}-{secrets.token_hex(8)}"  # whose lock it is, for people reading Redis
        rows = self._claim(
            keys=[self.ready_key, self.keys.held(WRITES), self.keys.pause(WRITES)],
            args=[now, max_events, lock_ms, token, self.keys.prefix, scan, "1" if answer_only else "0"],
        )
        claimed = []
        for conv, state, attempts, entries, decisions, pstate, offset, decided in rows:
            conv = conv.decode() if isinstance(conv, bytes) else conv
            claimed.append(
                Claimed(
                    conv=conv,
                    state=self.vault.open_json(state) if state else None,
                    attempts=int(attempts),
                    entries=[self.vault.open_json(e) for e in entries],
                    raw=list(entries),
                    decisions=[self._open_packed(d) for d in decisions],
                    pstate=self._open_packed(pstate) if pstate else None,
                    offset=int(offset),
                    decided=int(decided),
                )
            )
        return token, claimed

    def extend_locks(self, token: str, convs: Iterable[str], lock_ms: int) -> list[str]:
        """Renew the locks still held with `token` for `lock_ms`; returns the conversations whose
        lock was lost (expired, perhaps taken by another drainer: never taken back from it)."""
        convs = list(convs)
        if not convs:
            return []
        lost = self._extend(
            keys=[self.ready_key, *(self.keys.lock(c) for c in convs)], args=[token, lock_ms, time.time(), *convs]
        )
        return [convs[int(i) - 1] for i in lost]

    def commit(self, token: str, outcomes: Iterable[Outcome], now: float | None = None) -> list[str]:
        """Apply outcomes; returns the conversations whose lock had been lost (nothing applied)."""
        now = time.time() if now is None else now
        outcomes = list(outcomes)
        pipe = self.r.pipeline(transaction=False)
        for o in outcomes:
            state = self.vault.seal_json(o.state) if o.state is not None else b""
            pstate = self._seal_packed(o.pstate) if o.pstate is not None and o.decisions else b""
            retry_at = -1 if o.retry_at is None and not o.failed else (o.retry_at or now)
            self._commit(
                keys=[self.ready_key, self.keys.held(WRITES), self.keys.pause(WRITES)],
                args=[
                    token,
                    self.keys.prefix,
                    o.conv,
                    o.done,
                    state,
                    retry_at,
                    "1" if o.failed else "0",
                    "1" if o.hold else "0",
                    o.answered,
                    pstate,
                    now,
                    *(self._seal_packed(d) for d in o.decisions),
                ],
                client=pipe,
            )
        results = pipe.execute()
        return [o.conv for o, ok in zip(outcomes, results) if not ok]

    def _seal_packed(self, obj) -> bytes:
        """Decisions wait in Redis for as long as Salesforce is down: compressed (about half), then sealed."""
        return self.vault.seal(zlib.compress(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()))

    def _open_packed(self, token: bytes):
        return json.loads(zlib.decompress(self.vault.open(token)))

    def pending(self, now: float | None = None) -> int:
        """Conversations ready to drain now."""
        now = time.time() if now is None else now
        return self.r.zcount(self.ready_key, "-inf", now)

    def backlog(self) -> dict[str, int]:
        """Conversations with events waiting (ready, backing off or held for Salesforce) and their events."""
        held = set(self.r.smembers(self.keys.held(WRITES)))
        convs = list(set(self.r.zrange(self.ready_key, 0, -1)) | held)
        pipe = self.r.pipeline(transaction=False)
        for c in convs:
            pipe.llen(self.inbox_key(c.decode()))
        lens = pipe.execute() if convs else []
        return {"conversations": len(convs), "events": sum(lens), "held": len(held)}

    # -- dead letters ---------------------------------------------------------------------------
    def dead_letter(
        self,
        entry_raw: bytes,
        *,
        conv: str,
        kind: str,
        error: str,
        attempts: int,
        decision: dict | None = None,
        now: float | None = None,
    ) -> str:
        """Keep what failed for good. `error` is listed to operators: codes and field names only.
        `decision` (an event's records as first decided) is what a replay writes."""
        now = time.time() if now is None else now
        dl_id = f"{int(now * 1000)}-{secrets.token_hex(4)}"
        data = {
            "id": dl_id,
            "conv": conv,
            "kind": kind,
            "error": error[:500],
            "attempts": attempts,
            "at": now,
            "entry_b64": base64.b64encode(entry_raw).decode(),
        }
        if decision is not None:
            data["decision"] = decision
        record = self.vault.seal_json(data)
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
                rec.pop("decision", None)
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
        """Put a dead-lettered event back at the end of its conversation's inbox, once.

        An event whose records were decided carries that decision along (`entry["replay"]`): the
        drain writes those records as they were decided (their session, their LINE timestamps)
        instead of applying the event again to a conversation that has moved on.
        """
        now = time.time() if now is None else now
        raw = self.r.hget(self.keys.dead_letters, dl_id)
        if not raw:
            return False
        rec = self.vault.open_json(raw)
        if rec["kind"] != "event":
            raise ValueError(f"dead letter {dl_id} is a {rec['kind']!r}, replay it with its own job")
        entry = dead_letter_entry(rec)
        if rec.get("decision") is not None:
            entry = self.vault.seal_json({**self.vault.open_json(entry), "replay": rec["decision"]})
        return bool(
            self._replay(
                keys=[self.keys.dead_letters, self.keys.dead_letter_index, self.ready_key],
                args=[dl_id, rec["conv"], self.keys.prefix, entry, now],
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

    # -- Salesforce writes paused ----------------------------------------------------------------
    def write_failed(
        self, *, now: float, after: int, pause_s: float, min_pause_s: float = 0.0, code: str = ""
    ) -> float:
        """Count a transient failure of a Salesforce write. Once `after` calls in a row failed (or
        at once when `min_pause_s` > 0, e.g. REQUEST_LIMIT_EXCEEDED), writes are paused for every
        worker until a probe succeeds. Returns when the probe is due (0: not paused)."""
        level, until = self._failed(keys=[self.keys.pause(WRITES)], args=[now, after, pause_s, min_pause_s, code[:60]])
        return float(until) if int(level) > 0 else 0.0

    def write_succeeded(self) -> None:
        """A Salesforce call succeeded: failures are no longer in a row (a pause stays until `lift`)."""
        self._succeeded(keys=[self.keys.pause(WRITES)])

    def probe_failed(self, *, now: float, pause_s: float, max_pause_s: float, min_pause_s: float = 0.0, code: str = ""):
        """The probe failed: the pause doubles (up to `max_pause_s`). Returns the next probe time."""
        until = self._probe_failed(
            keys=[self.keys.pause(WRITES)], args=[now, pause_s, max_pause_s, min_pause_s, code[:60]]
        )
        return float(until)

    def outage(self) -> dict | None:
        """The pause in force: {"level", "since", "until", "code", "held"}, or None."""
        raw = {k.decode(): v.decode() for k, v in self.r.hgetall(self.keys.pause(WRITES)).items()}
        if int(raw.get("level") or 0) <= 0:
            return None
        return {
            "level": int(raw["level"]),
            "since": float(raw.get("since") or 0),
            "until": float(raw.get("until") or 0),
            "code": raw.get("code") or "",
            "held": self.r.scard(self.keys.held(WRITES)),
        }

    def lift(self, now: float | None = None) -> int:
        """Salesforce is back: end the pause and make every held conversation ready. Returns how many."""
        now = time.time() if now is None else now
        return int(self._lift(keys=[self.ready_key, self.keys.held(WRITES), self.keys.pause(WRITES)], args=[now]))

    def paused_until(self, service: str = WRITES) -> float:
        """When the next probe of a paused service is due (0: not paused)."""
        outage = self.outage() if service == WRITES else None
        return outage["until"] if outage else 0.0

    def memory(self) -> dict[str, int]:
        """Redis memory in bytes: {"used", "max"} (max 0: no limit configured)."""
        info = self.r.info("memory")
        return {"used": int(info.get("used_memory", 0)), "max": int(info.get("maxmemory", 0))}

    def get_state(self, conv: str) -> dict | None:
        raw = self.r.get(self.keys.state(conv))
        return self.vault.open_json(raw) if raw else None

    def note_claimed(self, events: int, now: float) -> None:
        """Count events claimed by any drain, per second (kept 10 s)."""
        key = self.keys.claimed(int(now))
        pipe = self.r.pipeline(transaction=False)
        pipe.incrby(key, events)
        pipe.expire(key, 10)
        pipe.execute()

    def claim_rate(self, now: float, span_s: int = 3) -> float:
        """Events/s claimed by all drains over the last `span_s` whole seconds."""
        second = int(now)
        counts = self.r.mget([self.keys.claimed(second - i) for i in range(1, span_s + 1)])
        return sum(int(c) for c in counts if c) / span_s

    def note_api_usage(self, used: int, limit: int, now: float) -> None:
        """What Salesforce last said of the org's daily API usage (for every process and /metrics)."""
        self.r.hset(self.keys.api_usage, mapping={"used": used, "limit": limit, "at": now})

    def api_usage(self) -> dict | None:
        raw = {k.decode(): v.decode() for k, v in self.r.hgetall(self.keys.api_usage).items()}
        if not raw.get("limit"):
            return None
        return {"used": int(raw["used"]), "limit": int(raw["limit"]), "at": float(raw["at"])}

    def count(self, name: str, n: int = 1) -> None:
        self.r.hincrby(self.keys.metrics, name, n)

    def metrics(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(self.keys.metrics).items()}

    def put_metrics_snapshot(self, process: str, text: str, now: float) -> None:
        """A worker's counters for /metrics (one field per worker, replaced at each sweep)."""
        self.r.hset(self.keys.metrics_snapshots, process, json.dumps({"at": now, "text": text}))

    def metrics_snapshots(self, now: float, max_age_s: float) -> list[str]:
        """The snapshots of workers seen within `max_age_s`; older ones (stopped workers) are dropped."""
        live, stale = [], []
        for process, raw in self.r.hgetall(self.keys.metrics_snapshots).items():
            snap = json.loads(raw)
            if now - snap["at"] <= max_age_s:
                live.append(snap["text"])
            else:
                stale.append(process)
        if stale:
            self.r.hdel(self.keys.metrics_snapshots, *stale)
        return live

    # -- settings synced from Salesforce (jobs/settings_sync.py) ---------------------------------
    def save_synced_settings(self, overrides: dict, digest: str) -> None:
        """The last good overrides; every process picks them up by their digest."""
        self.r.hset(
            self.keys.synced_settings,
            mapping={"overrides": json.dumps(overrides, ensure_ascii=False, sort_keys=True), "digest": digest},
        )

    def synced_settings_digest(self) -> str | None:
        raw = self.r.hget(self.keys.synced_settings, "digest")
        return raw.decode() if raw else None

    def synced_settings(self) -> tuple[str | None, dict]:
        digest, raw = self.r.hmget(self.keys.synced_settings, ["digest", "overrides"])
        return (digest.decode() if digest else None), (json.loads(raw) if raw else {})

    def note_settings_status(self, status: dict) -> None:
        self.r.hset(self.keys.synced_settings, "status", json.dumps(status, ensure_ascii=False))

    def settings_status(self) -> dict | None:
        raw = self.r.hget(self.keys.synced_settings, "status")
        return json.loads(raw) if raw else None


def dead_letter_entry(record: dict) -> bytes:
    """What was dead-lettered: the sealed inbox entry of an event, or a job's id."""
    if "entry_b64" in record:
        return base64.b64decode(record["entry_b64"])
    return record["entry"].encode()  # written before sealed values were binary (Fernet text)
