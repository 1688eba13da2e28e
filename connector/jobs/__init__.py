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
