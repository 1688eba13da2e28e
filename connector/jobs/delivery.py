"""Sending to LINE exactly once, and recording how it went. Every message the relay sends to
LINE goes through here: the bot's and the welcome replies (`deliver_reply`), routing notices and
operator messages (`push_once`).

* A reply uses the free reply token while it is fresh; otherwise a push with an
  `X-Line-Retry-Key` derived from what it delivers (LINE answers a repeated key 409: delivered).
* A marker in Redis records each delivered reply; a retried batch finds it and sends nothing.
* A "try" marker is set just before a reply-token call and kept when the outcome is unknown
  (a 5xx or a read timeout may hide a reply LINE applied). A later attempt then replies again
  with the same token: "invalid reply token" proves the first one went out (tokens are single
  use). Once the token has expired an unconfirmed reply is marked Failed and never pushed, so a
  customer never gets the same answer twice. Errors that prove nothing was sent (429,
  connection refused) clear the marker, and the reply may still go out by push.
* Work LINE could not take now goes to a `finish` job with RQ retries.
* An internal record (a supervisor's whisper, key "int:...") is refused on every path, before any
  marker or LINE call (docs/supervision.md).
"""

from __future__ import annotations

import logging
import time

from connector.domain.operator import is_internal
from connector.domain.records import MESSAGE, SESSION, Upsert, ref, sf_datetime
from connector.gateways.errors import GatewayError, Permanent
from connector.gateways.line import InvalidReplyToken
from connector.jobs import FINISH_REPLY, enqueue, job_id
from connector.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)


class Unconfirmed(Permanent):
    """A reply may have been delivered, but its token expired before LINE confirmed it."""


def delivery_fields(result: dict, index: int = 0) -> dict:
    """A delivery result as the fields of the message record that stands for message `index`."""
    fields = {"Delivery_Status__c": result["status"]}
    ids = result.get("ids") or []
    if index < len(ids):
        fields["LINE_Message_Id__c"] = ids[index]
    if result.get("error"):
        fields["Delivery_Error__c"] = result["error"][:255]
    if result.get("at"):
        fields["Sent_At__c"] = sf_datetime(result["at"] * 1000)
    return fields


def record_upserts(result: dict, record_keys: list[str], eid: str | None = None) -> list[Upsert]:
    """The message records of one delivery (one per message sent), with its outcome."""
    return [Upsert(MESSAGE, k, delivery_fields(result, i), eid) for i, k in enumerate(record_keys)]


def notify_once(
    rt: Runtime, channel_id: str, to: str, text: str, *, key: str, session_key: str, record_key: str
) -> dict:
    """Push one relay text to a customer exactly once (`key`) and record it in the session as a
    System message with its delivery outcome (upsert on `record_key`: a retried job writes it again)."""
    result = push_once(rt, channel_id, to, [{"type": "text", "text": text}], key)
    fields = {
        "Chat_Session__r": ref(SESSION, session_key),
        "Direction__c": "System",
        "Type__c": "text",
        "Text__c": text,
        **delivery_fields(result),
    }
    rt.salesforce.upsert_many([Upsert(MESSAGE, record_key, fields)])
    return result


def push_once(rt: Runtime, channel_id: str, to: str, messages: list[dict], key: str) -> dict:
    """Push `messages` once for `key`: a marker remembers the outcome, the retry key makes LINE
    answer a repeat 409 (delivered). Returns the result; LINE unavailable raises (retry the job)."""
    if is_internal(key=key):
        return _refused(key)
    result = rt.store.marker(key)
    if result:
        return result
    try:
        return _sent(rt, key, rt.line.push(channel_id, to, messages, key=key))
    except Permanent as exc:  # 409 is not here: the gateway counts it as delivered
        return _failed(rt, key, exc)


def failed(rt: Runtime, key: str, reason: str) -> dict:
    """Record that what `key` stands for cannot be delivered at all (bad record, not a LINE error)."""
    return _failed(rt, key, reason)


def deliver_reply(rt: Runtime, channel_id: str, reply) -> dict:
    """Send one Reply now if LINE takes it. Returns {"status": "Sent"|"Pending"|"Failed", "ids", "error", "at"}."""
    if is_internal(key=reply.key) or any(is_internal(key=k) for k in reply.record_keys):
        return _refused(reply.key)
    done = rt.store.marker(reply.key)
    if done:
        return done
    try:
        return _sent(
            rt, reply.key, _send(rt, channel_id, reply.key, reply.to, reply.reply_token, reply.event_ms, reply.messages)
        )
    except Permanent as exc:
        return _failed(rt, reply.key, exc)
    except GatewayError as exc:
        log.warning("reply %s not delivered yet (%s); handing to a job", reply.key, exc)
        # A few seconds later, so the batch's own write of this record (status Pending) lands first.
        enqueue(
            rt,
            FINISH_REPLY,
            channel_id,
            reply.key,
            reply.to,
            reply.reply_token,
            reply.event_ms,
            reply.messages,
            reply.record_keys,
            key=job_id("reply", reply.key),
            delay_s=3,
        )
        return {"status": "Pending", "error": str(exc)[:255], "at": None}


def _send(
    rt: Runtime, channel_id: str, key: str, to: str, token: str | None, event_ms: int, messages: list[dict]
) -> list[str]:
    """One delivery attempt (see the module doc). Returns LINE's message ids."""
    if is_internal(key=key):
        raise InternalRefused("line", "internal message: never sent to LINE")
    store, try_key = rt.store, key + ":try"
    tried = store.marker(try_key)
    now = time.time()
    fresh = bool(token) and (now * 1000 - event_ms) < rt.settings.line.reply_token_max_age_seconds * 1000
    if fresh:
        store.set_marker(try_key, {"at": now}, ttl_s=24 * 3600)
        try:
            return rt.line.reply(channel_id, token, messages)
        except InvalidReplyToken:
            if tried:
                log.info("reply %s: token already used by an earlier attempt; counted as delivered", key)
                return []
            store.clear_marker(try_key)  # rejected on first use: nothing was delivered
        except GatewayError as exc:
            if not exc.maybe_applied and not tried:
                store.clear_marker(try_key)
            raise
    elif tried:
        raise Unconfirmed("line", "reply not confirmed before its token expired; not pushed, to avoid a duplicate")
    return rt.line.push(channel_id, to, messages, key=key)


class InternalRefused(Permanent):
    """An internal record (a supervisor's whisper) asked to go to LINE: refused, always."""


def _refused(key: str) -> dict:
    log.error("delivery %s refused: internal message, never sent to LINE", key)
    return {"status": "Failed", "error": "internal message: never sent to LINE", "at": time.time()}


def _sent(rt: Runtime, key: str, ids: list[str]) -> dict:
    result = {"status": "Sent", "ids": ids, "at": time.time()}
    rt.store.set_marker(key, result)
    return result


def _failed(rt: Runtime, key: str, exc: Exception | str) -> dict:
    result = {"status": "Failed", "error": str(exc)[:255], "at": time.time()}
    rt.store.set_marker(key, result)
    log.error(
        "delivery %s failed: %s",
        key,
        exc.code
        if isinstance(exc, GatewayError) and exc.code
        else type(exc).__name__
        if isinstance(exc, Exception)
        else "undeliverable",
    )
    return result


def finish(
    channel_id: str, key: str, to: str, token: str | None, event_ms: int, messages: list[dict], record_keys: list[str]
) -> None:
    """RQ job: deliver a reply LINE could not take in the batch; then record its delivery status."""
    rt = get_runtime()
    result = rt.store.marker(key)
    if not result:
        try:
            result = _sent(rt, key, _send(rt, channel_id, key, to, token, event_ms, messages))
        except Permanent as exc:
            result = _failed(rt, key, exc)
    upserts = record_upserts(result, record_keys)
    if upserts:
        results = rt.salesforce.upsert_many(upserts)
        bad = [r for r in results.values() if not r.ok]
        if bad and all(r.code == "REQUIRED_FIELD_MISSING" for r in bad) and _drain_reads_it(rt, result):
            # The message record is not written yet (its batch waits, e.g. for Salesforce to come
            # back): the drain writes it with this outcome, read from the marker set above.
            log.info("reply %s: its record is not written yet; the drain records this outcome", key)
            return
        if bad:
            raise RuntimeError(f"delivery status not recorded: {bad[0].summary}")


def _drain_reads_it(rt, result: dict) -> bool:
    """Whether a drain that has not written the record yet must see this outcome: a write that
    read the marker before it was set has ended by now (a Salesforce call lasts at most its timeout)."""
    return time.time() - float(result.get("at") or 0) > 2 * rt.settings.salesforce.timeout_seconds
