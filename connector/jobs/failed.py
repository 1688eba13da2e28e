"""Replaying dead letters: events go back to their conversation, jobs back to their queue."""
from __future__ import annotations

from rq.exceptions import NoSuchJobError
from rq.job import Job

from connector.jobs import enqueue_drains
from connector.store import dead_letter_entry


def replay(rt, dl_id: str) -> bool:
    """Replay one dead letter. Replaying the same id twice does nothing the second time."""
    raw = rt.redis.hget(rt.store.p + "dlq", dl_id)
    if not raw:
        return False
    record = rt.vault.open_json(raw)
    if record["kind"] == "event":
        if rt.store.replay(dl_id):
            enqueue_drains(rt, 1)
            return True
        return False
    job_id = dead_letter_entry(record).decode()
    try:
        job = Job.fetch(job_id, connection=rt.redis)
    except NoSuchJobError:
        return False
    job.requeue()
    pipe = rt.redis.pipeline()
    pipe.hdel(rt.store.p + "dlq", dl_id)
    pipe.zrem(rt.store.p + "dlq:index", dl_id)
    pipe.execute()
    return True
