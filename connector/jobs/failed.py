"""Replaying dead letters: events go back to their conversation, jobs back to their queue."""

from __future__ import annotations

from rq.exceptions import NoSuchJobError
from rq.job import Job

from connector.jobs import enqueue_drains
from connector.storage.store import dead_letter_entry


def replay(rt, dl_id: str) -> bool:
    """Replay one dead letter. Replaying the same id twice does nothing the second time."""
    record = rt.store.dead_letter_record(dl_id)
    if record is None:
        return False
    if record["kind"] == "event":
        if rt.store.replay(dl_id):
            enqueue_drains(rt, 1)
            return True
        return False
    try:
        job = Job.fetch(dead_letter_entry(record).decode(), connection=rt.redis)
    except NoSuchJobError:
        return False
    job.requeue()
    rt.store.forget_dead_letter(dl_id)
    return True
