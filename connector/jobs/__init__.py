"""RQ entry points, and the one policy for putting work on the queue.

Jobs are thin: load state (storage), decide (domain), act (gateways), save (storage). Every job
is idempotent, so RQ may run one twice. `enqueue` is the only place that decides how a job is
retried, how long its traces are kept and where it goes after its last failure; job names are
the constants below (RQ stores the dotted path of the function with each job).
"""

from __future__ import annotations

import hashlib
import random
import time
import traceback
from datetime import timedelta
from pathlib import PurePath

from rq import Callback, Retry

from connector.gateways.errors import GatewayError

DRAIN = "connector.jobs.inbound.drain"
FETCH_CONTENT = "connector.jobs.content.fetch"
FINISH_REPLY = "connector.jobs.delivery.finish"
DELIVER_OPERATOR_MESSAGE = "connector.jobs.outbound.deliver"
OUTBOUND_SWEEP = "connector.jobs.outbound.sweep_job"
ROUTING_QUEUED = "connector.jobs.routing.queued"
ROUTING_CALLOUT = "connector.jobs.routing.callout"
ROUTING_FLUSH = "connector.jobs.routing.flush"
KNOWLEDGE_SYNC = "connector.jobs.knowledge.sync"
LEARN_FROM_CASE = "connector.jobs.knowledge.learn_from_case"
RECORD_CALL = "connector.jobs.voice.record_call"
RECORD_CALLS = "connector.jobs.voice.record_calls"
CALL_TO_LINE = "connector.jobs.voice.call_to_line"
VOICE_CALLOUT = "connector.jobs.voice.callout"
RETENTION_CALLOUT = "connector.jobs.retention.callout"
RETENTION_PURGE = "connector.jobs.retention.purge"
RETENTION_SWEEP = "connector.jobs.retention.sweep"
VERIFY_SUPPORT_ID = "connector.jobs.support_id.verify"
ACCOUNT_LINK = "connector.jobs.account_link.run"
SETTINGS_SYNC = "connector.jobs.settings_sync.run"

WEEK_S = 7 * 24 * 3600


def job_id(kind: str, key: str) -> str:
    """A stable RQ job id for work about `key` (RQ allows only letters, digits, - and _)."""
    return f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def retry_policy(rt) -> Retry:
    q = rt.settings.queue
    intervals = [
        max(1, int(i * (1 + random.uniform(-q.retry_jitter, q.retry_jitter)))) for i in q.retry_intervals_seconds
    ]
    return Retry(max=len(intervals), interval=intervals)


def describe_error(exc: BaseException) -> str:
    """An error as dead letters and logs show it: the kind, the service's code (or where it was
    raised), field names at most - never a value, which may be a customer's text."""
    if isinstance(exc, GatewayError):
        code = exc.code or (f"HTTP_{exc.status}" if exc.status else "")
        return " ".join(x for x in (type(exc).__name__, exc.service, code) if x)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {PurePath(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


def _to_dead_letter(job, connection, exc_type, exc_value, tb) -> None:
    """RQ on_failure: after the last retry, keep the job in the dead-letter registry - unless
    Salesforce was only unavailable: such a job waits (retried at the longest pause) instead."""
    from connector.runtime import get_runtime

    rt = get_runtime()
    transient = isinstance(exc_value, GatewayError) and exc_value.retryable and exc_value.service == "salesforce"
    if transient:
        from connector.jobs import outage

        outage.write_failed(rt, exc_value)
    if job.retries_left:
        return
    if transient:
        job.retry_intervals = [max(1, int(rt.settings.salesforce.outage.max_pause_seconds))]
        job.retries_left = 1
        return
    rt.store.dead_letter(
        job.id.encode(),
        conv="-",
        kind="job",
        error=describe_error(exc_value)[:500],
        attempts=(job.retry_intervals and len(job.retry_intervals) + 1) or 1,
    )


to_dead_letter = Callback(_to_dead_letter)


def enqueue(
    rt,
    name: str,
    *args,
    key: str | None = None,
    retry: bool = True,
    delay_s: float | None = None,
    failure_ttl_s: int = WEEK_S,
    at_front: bool = False,
):
    """Queue job `name`(*args).

    `key` names the work (its RQ job id: the same work queued twice while the first is waiting is
    one job). With `retry` (the default) a failing job is retried on the configured schedule with
    jitter, then dead-lettered (`connector failed list|replay`); without it, a failure stays in RQ's
    failed registry for `failure_ttl_s` and the periodic task that queued it queues it again.
    `at_front` puts it before the jobs waiting (someone is holding the line for it).
    Results are never kept: jobs record their effects themselves.
    """
    options = {"result_ttl": 0, "failure_ttl": failure_ttl_s}
    if key is not None:
        options["job_id"] = key
    if retry:
        options.update(retry=retry_policy(rt), on_failure=to_dead_letter)
    if delay_s:
        return rt.queue.enqueue_in(timedelta(seconds=delay_s), name, *args, **options)
    if at_front:
        options["at_front"] = True
    return rt.queue.enqueue(name, *args, **options)


def enqueue_drains(rt, n: int = 1) -> None:
    """Ask for `n` drain jobs; each drains every ready conversation it can claim."""
    for _ in range(n):
        enqueue(rt, DRAIN, retry=False)


def submit_internal(
    rt, channel_id: str, source: dict, name: str, data: dict, *, idempotency_key: str, timestamp_ms: int | None = None
) -> bool:
    """Queue one of the relay's own events ("x-connector.<name>") into a conversation.

    It goes through the same ordered inbox as the customer's LINE events, so an operator action
    and a customer message are applied in the order they arrived. The idempotency key dedupes it
    like a webhookEventId: submitting the same action twice applies it once. Returns False for
    a duplicate. Raises redis.RedisError when Redis cannot take it.
    """
    from connector.domain import events as ev

    event = {
        "type": f"x-connector.{name}",
        "webhookEventId": "x" + job_id("i", idempotency_key)[2:],
        "timestamp": timestamp_ms or int(time.time() * 1000),
        "source": source,
        "mode": "active",
        "data": data,
    }
    wake, duplicates = rt.store.ingest(
        [(channel_id, event["webhookEventId"], ev.conversation_id(channel_id, event), event)]
    )
    if wake:
        enqueue_drains(rt, 1)
    return not duplicates
