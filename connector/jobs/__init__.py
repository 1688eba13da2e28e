"""RQ entry points. Jobs are thin: load state, call the domain, call gateways."""
from __future__ import annotations

DRAIN = "connector.jobs.inbound.drain"


def enqueue_drains(rt, n: int = 1) -> None:
    """Ask for `n` drain jobs; each drains every ready conversation it can claim."""
    for _ in range(n):
        rt.queue.enqueue(DRAIN, result_ttl=0, failure_ttl=7 * 24 * 3600)
