"""RQ entry points. Jobs are thin: load state, call the domain, call gateways."""
from __future__ import annotations

DRAIN = "connector.jobs.inbound.drain"


def enqueue_drains(rt, n: int = 1) -> None:
    """Ask for `n` drain jobs; each drains every ready conversation it can claim."""
    for _ in range(n):
        rt.queue.enqueue(DRAIN, result_ttl=0, failure_ttl=7 * 24 * 3600)


def job_id(kind: str, key: str) -> str:
    """A stable RQ job id for work about `key` (RQ allows only letters, digits, - and _)."""
    import hashlib
    return f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def submit_internal(rt, channel_id: str, source: dict, name: str, data: dict, *, idempotency_key: str,
                    timestamp_ms: int | None = None) -> bool:
    """Queue one of the relay's own events ("x-connector.<name>") into a conversation.

    It goes through the same ordered inbox as the customer's LINE events, so an operator action
    and a customer message are applied in the order they arrived. The idempotency key dedupes it
    like a webhookEventId: submitting the same action twice applies it once. Returns False for
    a duplicate. Raises redis.RedisError when Redis cannot take it.
    """
    import time

    from connector.domain import events as ev
    event = {"type": f"x-connector.{name}", "webhookEventId": "x" + job_id("i", idempotency_key)[2:],
             "timestamp": timestamp_ms or int(time.time() * 1000), "source": source, "mode": "active", "data": data}
    wake, duplicates = rt.store.ingest([(channel_id, event["webhookEventId"], ev.conversation_id(channel_id, event), event)])
    if wake:
        enqueue_drains(rt, 1)
    return not duplicates
