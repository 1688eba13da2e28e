"""Voice state in Redis: status callbacks, call links, one-time codes, outcomes, rate limits.

Everything a Twilio request needs to be answered is here, so TwiML is computed without a
Salesforce or LINE call. Values holding personal data (caller numbers, session keys, offers) are
sealed with the Vault. Keys (keys.Keys.voice, after the prefix `voice:`):

* `cb:{CallSid}:{SequenceNumber}`  a status callback seen (dedupe, `dedupe_ttl`)
* `events:{CallSid}`                hash: "{seq}:{status}" -> sealed event; `pending` zset: calls
                                    with events not yet written to Salesforce (score: first seen)
* `written:{CallSid}`               digest of the Task and transcript last written for the call
* `link:{CallSid}`                  sealed CallLink (what the call belongs to)
* `tries:{CallSid}`                 wrong codes keyed in this call
* `offer:{id}`, `code:{sha256(code)}`, `web:{sha256(token)}`, `used:{id}`   one-time codes
* `line:{CallSid}`                  the Call-to-LINE outcome the IVR reads back
* `c2l` zset, `c2l:{CallSid}`       Call-to-LINE requests not finished yet (the sweep retries them)
* `pnp` zset tag -> sent at; `pnp:{tag}` sealed record    notification messages awaiting delivery
* `reach`                           hash: operator id -> sealed {phone, client} from presence
* `rate:{sha256(name)}:{window}`    fixed-window counters (names may hold numbers or addresses)
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

import redis

from connector.storage.keys import Keys
from connector.storage.vault import Vault

EVENTS_TTL_S = 7 * 24 * 3600
LINK_TTL_S = 7 * 24 * 3600

_INGEST = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  redis.call('ZADD', KEYS[3], 'NX', ARGV[5], ARGV[4])
  return 1
end
return 0
"""

# Written only if no event arrived since the job read them (else the call stays pending).
_WRITTEN = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
if redis.call('HLEN', KEYS[2]) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[3], ARGV[4])
  return 1
end
return 0
"""

_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class VoiceStore:
    def __init__(self, client: redis.Redis, vault: Vault, keys: Keys, *, dedupe_ttl_s: int = 48 * 3600):
        self.r = client
        self.vault = vault
        self.keys = keys
        self.dedupe_ttl_s = dedupe_ttl_s
        self._ingest = client.register_script(_INGEST)
        self._written = client.register_script(_WRITTEN)
        self._hit = client.register_script(_HIT)

    def _k(self, name: str) -> str:
        return self.keys.voice(name)

    # -- status callbacks ----------------------------------------------------------------------
    def ingest(self, event: dict, now: float | None = None) -> bool:
        """Store one status event durably; False for a repeat (same CallSid, SequenceNumber and
        status). Raises StorageError when Redis cannot take it (answer 5xx: Twilio may retry)."""
        now = time.time() if now is None else now
        sid, field = event["sid"], f"{event['seq']}:{event['status']}"
        return bool(
            self._ingest(
                keys=[self._k(f"cb:{sid}:{field}"), self._k(f"events:{sid}"), self._k("pending")],
                args=[self.dedupe_ttl_s, field, self.vault.seal_json(event), sid, now, EVENTS_TTL_S],
            )
        )

    def start_call(self, sid: str, link: dict, event: dict, now: float | None = None) -> None:
        """A call came in: what it belongs to and its first event, in one round trip."""
        now = time.time() if now is None else now
        field = f"{event['seq']}:{event['status']}"
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self._k(f"link:{sid}"), self.vault.seal_json(link), ex=LINK_TTL_S)
        self._ingest(
            keys=[self._k(f"cb:{sid}:{field}"), self._k(f"events:{sid}"), self._k("pending")],
            args=[self.dedupe_ttl_s, field, self.vault.seal_json(event), sid, now, EVENTS_TTL_S],
            client=pipe,
        )
        pipe.execute()

    def events(self, sid: str) -> list[dict]:
        return [self.vault.open_json(v) for v in self.r.hvals(self._k(f"events:{sid}"))]

    def written(self, sid: str) -> str | None:
        raw = self.r.get(self._k(f"written:{sid}"))
        return raw.decode() if raw else None

    def mark_written(self, sid: str, digest: str, n_events: int) -> bool:
        """Remember what was written; the call leaves `pending` unless more events arrived."""
        return bool(
            self._written(
                keys=[self._k(f"written:{sid}"), self._k(f"events:{sid}"), self._k("pending")],
                args=[digest, n_events, EVENTS_TTL_S, sid],
            )
        )

    def pending(self, older_than: float, limit: int = 200) -> list[str]:
        """Calls with events not yet written, first seen before `older_than`."""
        return [s.decode() for s in self.r.zrangebyscore(self._k("pending"), "-inf", older_than, start=0, num=limit)]

    # -- what a call belongs to ----------------------------------------------------------------
    def set_link(self, sid: str, link: dict) -> None:
        self.r.set(self._k(f"link:{sid}"), self.vault.seal_json(link), ex=LINK_TTL_S)

    def link(self, sid: str) -> dict | None:
        raw = self.r.get(self._k(f"link:{sid}"))
        return self.vault.open_json(raw) if raw else None

    def code_tries(self, sid: str) -> int:
        key = self._k(f"tries:{sid}")
        pipe = self.r.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 3600)
        return int(pipe.execute()[0])

    # -- one-time codes ------------------------------------------------------------------------
    def create_offer(self, offer: dict, *, digits: int, ttl_s: int) -> tuple[str, str, str]:
        """Store an offer under a fresh numeric code and a web token; returns (id, code, token)."""
        offer_id = secrets.token_hex(12)
        for _ in range(20):
            code = "".join(str(secrets.randbelow(10)) for _ in range(digits))
            if self.r.set(self._k(f"code:{_digest(code)}"), offer_id, nx=True, ex=ttl_s):
                break
        else:
            raise RuntimeError("no free one-time code (too many offers open at once)")
        token = secrets.token_urlsafe(24)
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self._k(f"offer:{offer_id}"), self.vault.seal_json({**offer, "id": offer_id, "code": code}), ex=ttl_s)
        pipe.set(self._k(f"web:{_digest(token)}"), offer_id, ex=ttl_s)
        pipe.execute()
        return offer_id, code, token

    def offer_by_code(self, code: str) -> dict | None:
        offer_id = self.r.get(self._k(f"code:{_digest(code)}"))
        return self.offer(offer_id.decode()) if offer_id else None

    def offer_by_token(self, token: str) -> dict | None:
        offer_id = self.r.get(self._k(f"web:{_digest(token)}"))
        return self.offer(offer_id.decode()) if offer_id else None

    def offer(self, offer_id: str) -> dict | None:
        pipe = self.r.pipeline(transaction=False)
        pipe.get(self._k(f"offer:{offer_id}"))
        pipe.get(self._k(f"used:{offer_id}"))
        raw, used = pipe.execute()
        if not raw:
            return None
        offer = self.vault.open_json(raw)
        if used:
            offer["used_at"] = float(used)
        return offer

    def use_offer(self, offer_id: str, now: float, ttl_s: int) -> bool:
        """Mark an offer used; True only for the first caller (single use across processes)."""
        return bool(self.r.set(self._k(f"used:{offer_id}"), now, nx=True, ex=max(1, int(ttl_s))))

    # -- Call to LINE --------------------------------------------------------------------------
    def line_requested(self, sid: str, sealed_request: bytes, now: float) -> None:
        """A caller pressed 1: remembered until the job says it is done (a killed worker's job is
        queued again by the sweep)."""
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self._k(f"c2l:{sid}"), sealed_request, ex=3600)
        pipe.zadd(self._k("c2l"), {sid: now}, nx=True)
        pipe.execute()

    def line_due(self, requested_before: float, limit: int = 100) -> list[tuple[str, bytes | None]]:
        sids = [s.decode() for s in self.r.zrangebyscore(self._k("c2l"), "-inf", requested_before, start=0, num=limit)]
        if not sids:
            return []
        return list(zip(sids, self.r.mget([self._k(f"c2l:{sid}") for sid in sids])))

    def line_done(self, sid: str) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.zrem(self._k("c2l"), sid)
        pipe.delete(self._k(f"c2l:{sid}"))
        pipe.execute()

    def set_line_outcome(self, sid: str, outcome: dict) -> None:
        self.r.set(self._k(f"line:{sid}"), json.dumps(outcome), ex=3600)

    def line_outcome(self, sid: str) -> dict | None:
        raw = self.r.get(self._k(f"line:{sid}"))
        return json.loads(raw) if raw else None

    def pnp_sent(self, tag: str, record: dict, now: float) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self._k(f"pnp:{tag}"), self.vault.seal_json(record), ex=EVENTS_TTL_S)
        pipe.zadd(self._k("pnp"), {tag: now}, nx=True)
        pipe.execute()

    def pnp_record(self, tag: str) -> dict | None:
        raw = self.r.get(self._k(f"pnp:{tag}"))
        return self.vault.open_json(raw) if raw else None

    def pnp_done(self, tag: str) -> None:
        """The notification's outcome is recorded: no sweep for it any more."""
        self.r.zrem(self._k("pnp"), tag)

    def pnp_due(self, sent_before: float, limit: int = 200) -> list[str]:
        return [t.decode() for t in self.r.zrangebyscore(self._k("pnp"), "-inf", sent_before, start=0, num=limit)]

    # -- operators -----------------------------------------------------------------------------
    def set_reach(self, operator_id: str, reach: dict) -> None:
        self.r.hset(self._k("reach"), operator_id, self.vault.seal_json(reach))

    def reach(self, operator_id: str) -> dict | None:
        raw = self.r.hget(self._k("reach"), operator_id)
        return self.vault.open_json(raw) if raw else None

    # -- rate limits ---------------------------------------------------------------------------
    def hit(self, name: str, window_s: int, limit: int, now: float | None = None) -> bool:
        """Count one use of `name` in the current window; True while within `limit`."""
        now = time.time() if now is None else now
        window = int(now // window_s)
        return int(self._hit(keys=[self._rate_key(name, window)], args=[window_s + 1])) <= limit

    def count(self, name: str, window_s: int, now: float | None = None) -> int:
        now = time.time() if now is None else now
        raw = self.r.get(self._rate_key(name, int(now // window_s)))
        return int(raw) if raw else 0

    def _rate_key(self, name: str, window: int) -> str:
        # names may hold a caller's number or IP address: only their digest goes into a key name
        return self._k(f"rate:{_digest(name)[:32]}:{window}")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
