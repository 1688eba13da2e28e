"""Sending to LINE exactly once.

* A reply uses the free reply token while it is fresh; otherwise (or if it was rejected as
  expired) a push with an `X-Line-Retry-Key` derived from what it delivers, so a repeated push
  is answered 409 by LINE and counted as delivered.
* A marker in Redis records each delivered reply; a retried job finds it and sends nothing.
  A second marker is set just before a reply-token call: if a crash hides whether it went
  out, a later "invalid reply token" means it did (the token is single use), and we never
  push on top of a reply that may have been delivered.
* When LINE is unavailable, the reply is handed to a `push` job with RQ retries.
"""
from __future__ import annotations

import logging
import random
import time

from rq import Retry

from connector.domain.records import MESSAGE, Upsert, sf_datetime
from connector.gateways.errors import GatewayError, Permanent
from connector.gateways.line import InvalidReplyToken
from connector.jobs import job_id
from connector.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)


def retry_policy(rt: Runtime) -> Retry:
    q = rt.settings.queue
    intervals = [max(1, int(i * (1 + random.uniform(-q.retry_jitter, q.retry_jitter)))) for i in q.retry_intervals_seconds]
    return Retry(max=len(intervals), interval=intervals)


def deliver_reply(rt: Runtime, channel_id: str, reply) -> dict:
    """Send one Reply. Returns {"status": "Sent"|"Pending"|"Failed", "ids", "error", "at"}."""
    store = rt.store
    done = store.marker(reply.key)
    if done:
        return done
    tried_reply = store.marker(reply.key + ":try")
    now = time.time()
    fresh = bool(reply.reply_token) and (now * 1000 - reply.event_ms) < rt.settings.line.reply_token_max_age_seconds * 1000
    try:
        if fresh or tried_reply:
            store.set_marker(reply.key + ":try", {"at": now}, ttl_s=24 * 3600)
            try:
                ids = rt.line.reply(channel_id, reply.reply_token, reply.messages)
            except InvalidReplyToken:
                if tried_reply:
                    log.info("reply %s: token already used by an earlier attempt; counted as delivered", reply.key)
                    ids = []
                else:
                    ids = rt.line.push(channel_id, reply.to, reply.messages, key=reply.key)
        else:
            ids = rt.line.push(channel_id, reply.to, reply.messages, key=reply.key)
    except Permanent as exc:
        result = {"status": "Failed", "error": str(exc), "at": now}
        store.set_marker(reply.key, result)
        log.error("reply %s failed permanently: %s", reply.key, exc)
        return result
    except GatewayError as exc:
        log.warning("reply %s not delivered yet (%s); handing to a push job", reply.key, exc)
        rt.queue.enqueue(push, channel_id, reply.key, reply.to, reply.messages, reply.record_keys,
                         retry=retry_policy(rt), result_ttl=0, job_id=job_id("push", reply.key),
                         on_failure=to_dead_letter)
        return {"status": "Pending", "error": str(exc)[:255], "at": None}
    result = {"status": "Sent", "ids": ids, "at": now}
    store.set_marker(reply.key, result)
    return result


def push(channel_id: str, key: str, to: str, messages: list[dict], record_keys: list[str]) -> None:
    """RQ job: push a reply that could not be sent in time; then record its delivery status."""
    rt = get_runtime()
    if not rt.store.marker(key):
        try:
            ids = rt.line.push(channel_id, to, messages, key=key)
            result = {"status": "Sent", "ids": ids, "at": time.time()}
        except Permanent as exc:
            result = {"status": "Failed", "error": str(exc)[:255], "at": time.time()}
        rt.store.set_marker(key, result)
    result = rt.store.marker(key)
    fields = {"Delivery_Status__c": result["status"]}
    if result.get("error"):
        fields["Delivery_Error__c"] = result["error"][:255]
    if result.get("at"):
        fields["Sent_At__c"] = sf_datetime(result["at"] * 1000)
    upserts = [Upsert(MESSAGE, k, dict(fields, **({"LINE_Message_Id__c": result["ids"][i]}
                                                   if i < len(result.get("ids") or []) else {})))
               for i, k in enumerate(record_keys)]
    if upserts:
        results = rt.salesforce.upsert_many(upserts)
        bad = [r for r in results.values() if not r.ok]
        if bad:
            raise RuntimeError(f"delivery status not recorded: {bad[0].code}")


def to_dead_letter(job, connection, exc_type, exc_value, tb) -> None:
    """RQ on_failure: after the last retry, keep the job in the dead-letter registry."""
    if job.retries_left:
        return
    rt = get_runtime()
    rt.store.dead_letter(job.id.encode(), conv="-", kind="job", error=f"{exc_type.__name__}: {exc_value}"[:500],
                         attempts=(job.retry_intervals and len(job.retry_intervals) + 1) or 1)
