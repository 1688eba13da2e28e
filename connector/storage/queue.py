"""The RQ queue the relay's jobs go through (jobs/__init__.py owns how they are enqueued)."""

from __future__ import annotations

import redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.utils import current_timestamp


def make_queue(name: str, client: redis.Redis, *, timeout_s: int) -> Queue:
    return Queue(name, connection=client, default_timeout=timeout_s)


def move_due_jobs(queue: Queue) -> int:
    """Put retries and delayed jobs whose time has come on the queue; returns how many."""
    registry = ScheduledJobRegistry(queue=queue)
    job_ids = registry.get_jobs_to_schedule(current_timestamp())
    if not job_ids:
        return 0
    with queue.connection.pipeline() as pipe:
        for job in Job.fetch_many(job_ids, connection=queue.connection):
            if job is not None:
                queue._enqueue_job(job, pipeline=pipe, at_front=job.should_enqueue_at_front())
        for job_id in job_ids:
            registry.remove(job_id, pipeline=pipe)
        pipe.execute()
    return len(job_ids)


def worker_count(queue: Queue) -> int:
    """Workers registered on this queue (RQ keeps the set; a dead worker leaves it within its TTL)."""
    return Worker.count(queue=queue)
