"""The worker process: an RQ worker plus a sweeper thread that also schedules.

Jobs run in-process (RQ's SimpleWorker, no fork per job) so the Salesforce session and HTTP
connection pools are reused across jobs; every job is idempotent, so a worker killed mid-job
costs a retry, never a loss. The sweeper re-drains conversations whose drainer died or whose
backoff has passed, so no event waits for the next webhook to be noticed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from rq import SimpleWorker
from rq.exceptions import StopRequested

from connector.jobs import enqueue_drains
from connector.runtime import Runtime
from connector.storage import StorageError
from connector.storage.queue import move_due_jobs

log = logging.getLogger(__name__)


def enqueue_due_jobs(rt: Runtime) -> int:
    """Move retries and delayed jobs whose time has come onto the queue (what RQ's scheduler does).

    Done here, by whichever worker holds a short lease, instead of by RQ's scheduler process:
    that process dies with a Redis restart and its lock is only taken back every 10 minutes,
    leaving retries waiting that long.
    """
    if not rt.leases.once("scheduler", rt.settings.queue.sweep_interval_seconds * 2):
        return 0
    return move_due_jobs(rt.queue)


def enqueue_drain_if_ready(rt: Runtime) -> bool:
    """Conversations whose drainer died or whose backoff has passed get a drain job."""
    if rt.store.pending() and rt.queue.count < 2:
        enqueue_drains(rt, 1)
        return True
    return False


def _knowledge_sync(rt: Runtime) -> None:
    if not rt.config.bot_languages:
        return  # no bot, no index: and no reason to load the knowledge code (numpy) into the worker
    from connector.jobs.knowledge import maybe_schedule  # a lease elects one worker

    maybe_schedule(rt)


def _routing(rt: Runtime) -> None:
    from connector.jobs.routing import tick  # presence expiry, routing, queue notices, sweep

    tick(rt)


def _salesforce_probe(rt: Runtime) -> None:
    from connector.jobs.outage import probe_if_due  # lifts a Salesforce pause once it answers

    probe_if_due(rt)


def _redis_memory(rt: Runtime) -> None:
    from connector.jobs.outage import check_memory  # events wait in Redis while Salesforce is down

    check_memory(rt)


def _voice(rt: Runtime) -> None:
    if not rt.settings.twilio.enabled:
        return
    from connector.jobs.voice import tick  # unwritten call records, PNP delivery window

    tick(rt)


def _retention(rt: Runtime) -> None:
    from connector.jobs.retention import tick  # identity images due for deletion; the daily sweep

    tick(rt)


def _settings_sync(rt: Runtime) -> None:
    if not rt.base_config.settings.settings_sync.enabled:
        return
    from connector.jobs.settings_sync import maybe_schedule  # a lease elects one worker

    maybe_schedule(rt)


def _metrics_snapshot(rt: Runtime) -> None:
    """This worker's counters for the web process's /metrics (workers are not scraped themselves)."""
    from connector.metrics import snapshot

    rt.store.put_metrics_snapshot(WORKER_ID, snapshot(), time.time())


WORKER_ID = f"{os.environ.get('DYNO') or socket.gethostname()}:{os.getpid()}"
PERIODIC = [
    ("scheduled jobs", enqueue_due_jobs),
    ("salesforce probe", _salesforce_probe),
    ("redis memory", _redis_memory),
    ("knowledge sync", _knowledge_sync),
    ("routing", _routing),
    ("voice", _voice),
    ("retention", _retention),
    ("drains", enqueue_drain_if_ready),
    ("metrics", _metrics_snapshot),
    ("settings sync", _settings_sync),
]


class Sweeper(threading.Thread):
    """Runs the periodic tasks every `queue.sweep_interval_seconds`; one failing never stops the others."""

    def __init__(self, rt: Runtime):
        super().__init__(name="sweeper", daemon=True)
        self.rt = rt
        self.stopped = threading.Event()
        self.failing: set[str] = set()  # tasks whose last run failed: said once, not every tick

    def run(self) -> None:
        interval = self.rt.settings.queue.sweep_interval_seconds
        while not self.stopped.wait(interval):
            self.sweep_once()

    def sweep_once(self) -> None:
        for name, task in PERIODIC:
            try:
                task(self.rt)
            except Exception as exc:  # noqa: BLE001 - keep sweeping through Redis outages
                if name not in self.failing:
                    log.warning("sweeper: %s failed: %s (retried every tick)", name, type(exc).__name__)
                    self.failing.add(name)
            else:
                if name in self.failing:
                    log.warning("sweeper: %s works again", name)
                    self.failing.discard(name)


def _import_jobs() -> None:
    """Import every job module (and so line-bot-sdk's models, about 3 s of CPU) before taking
    jobs: lazily, the first drain of a new worker waited for it behind the import lock."""
    import importlib
    import pkgutil

    import connector.jobs

    for module in pkgutil.iter_modules(connector.jobs.__path__):
        importlib.import_module(f"connector.jobs.{module.name}")


def _warm_bot(rt: Runtime) -> None:
    try:
        from connector.jobs.bot import warm

        warm(rt)
    except Exception as exc:  # noqa: BLE001 - the first answer then loads it, a little later
        log.warning("bot warm-up failed: %s", type(exc).__name__)


class RelayWorker(SimpleWorker):
    # RQ's own wait between reconnect attempts while dequeuing grows to this at most (RQ: 60 s),
    # so a worker is back within seconds of Redis.
    max_connection_wait_time = 5.0
    stopping = False  # SIGTERM/SIGINT came: RQ's loop ends for good (RQ only says so when busy)

    def request_stop(self, signum, frame):
        self.stopping = True
        super().request_stop(signum, frame)


RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.5, 5.0
WORKER_TTL_S = 60  # RQ's blocking dequeue waits 45 s, so a hung Redis is noticed within a minute


def run_worker(rt: Runtime, *, burst: bool = False) -> bool:
    _import_jobs()
    sweeper = Sweeper(rt)
    if not burst:
        sweeper.start()
        if rt.config.bot_languages:
            # before it registers with RQ: a worker takes jobs once its first answer is as fast
            # as the others' (a cold one made the first drains of a burst wait for the model)
            _warm_bot(rt)
    try:
        return _work(rt, burst=burst)
    finally:
        sweeper.stopped.set()


def _work(rt: Runtime, *, burst: bool) -> bool:
    """RQ's work loop, started again for as long as Redis is away, however long that is.

    RQ leaves its loop (or raises) when Redis is unreachable or hung at the wrong moment: while
    it registers, between jobs, while it records a job's end. Each time, what was in flight is
    still in the inboxes (or abandoned in RQ's registries, where the sweeper's drains make it
    irrelevant), so a new RQ worker is built once Redis answers again. Only a stop request
    (SIGTERM, SIGINT) or the end of a burst ends this.
    """
    delay = RECONNECT_FIRST_S
    while True:
        worker = None
        started = time.monotonic()
        try:
            worker = RelayWorker([rt.queue], connection=rt.worker_redis, worker_ttl=WORKER_TTL_S)
            worked = worker.work(with_scheduler=False, burst=burst, logging_level=rt.settings.log_level)
            if burst or worker.stopping:
                return worked
            reason = "RQ's loop ended"
        except StopRequested:
            return False
        except StorageError as exc:
            reason = type(exc).__name__
        finally:
            _forget(worker)
        if time.monotonic() - started > 60:
            delay = RECONNECT_FIRST_S  # it had worked for a while: this is a new outage
        log.warning("worker lost Redis (%s); starting again in %.1f s", reason, delay)
        try:
            time.sleep(delay)
        except StopRequested:  # SIGTERM while waiting (RQ's handler, still installed)
            return False
        delay = min(delay * 2, RECONNECT_MAX_S)


def _forget(worker: RelayWorker | None) -> None:
    """Stop the pubsub thread of a worker that could not tear down (Redis gone): one per outage
    would otherwise stay behind, reconnecting for ever."""
    thread = getattr(worker, "pubsub_thread", None)
    if thread is not None and thread.is_alive():
        thread.stop()
