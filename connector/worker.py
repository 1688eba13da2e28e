"""The worker process: an RQ worker with the scheduler, plus a sweeper.

Jobs run in-process (RQ's SimpleWorker, no fork per job) so the Salesforce session and HTTP
connection pools are reused across jobs; every job is idempotent, so a worker killed mid-job
costs a retry, never a loss. The sweeper re-drains conversations whose drainer died or whose
backoff has passed, so no event waits for the next webhook to be noticed.
"""
from __future__ import annotations

import logging
import threading
import time

import redis

from rq import SimpleWorker

from connector.jobs import enqueue_drains
from connector.runtime import Runtime

log = logging.getLogger(__name__)


class Sweeper(threading.Thread):
    def __init__(self, rt: Runtime):
        super().__init__(name="sweeper", daemon=True)
        self.rt = rt
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = self.rt.settings.queue.sweep_interval_seconds
        while not self.stopped.wait(interval):
            try:
                self.sweep_once()
            except Exception as exc:  # noqa: BLE001 - keep sweeping through Redis hiccups
                log.warning("sweeper: %s", type(exc).__name__)

    def sweep_once(self) -> bool:
        store = self.rt.store
        # issue 4: Knowledge sync every knowledge.sync_interval_seconds (a Redis key elects one worker)
        try:
            from connector.jobs.knowledge import maybe_schedule
            maybe_schedule(self.rt)
        except Exception as exc:  # noqa: BLE001 - never stop the drain sweep for it
            log.warning("sweeper: knowledge sync not scheduled: %s", type(exc).__name__)
        try:  # issue 5: presence expiry, routing, queue notices, pending operator messages
            from connector.jobs.routing import tick
            tick(self.rt)
        except Exception as exc:  # noqa: BLE001 - never stop the drain sweep for it
            log.warning("sweeper: routing tick failed: %s", type(exc).__name__)
        if store.pending() and self.rt.queue.count < 2:
            enqueue_drains(self.rt, 1)
            return True
        return False


def run_worker(rt: Runtime, *, burst: bool = False) -> bool:
    sweeper = Sweeper(rt)
    if not burst:
        sweeper.start()
    try:
        delay = 1.0
        while True:
            worker = SimpleWorker([rt.queue], connection=rt.redis)
            try:
                return worker.work(with_scheduler=True, burst=burst, logging_level=rt.settings.log_level)
            except redis.ConnectionError as exc:
                # Redis restarted or failed over: what was in flight is still in the inboxes
                # (or abandoned in RQ's registries); reconnect instead of exiting.
                log.warning("worker lost Redis (%s); reconnecting in %.0f s", type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
    finally:
        sweeper.stopped.set()
