"""Redis faults of the chaos run (issue 17) and what they are measured by.

* A Redis outage of 30 s (killed, kept down, started again on the same port from its AOF):
  workers must outlive it (`chaos.worker_exits` 0) and nothing acknowledged may be lost.
* A hung Redis (SIGSTOP, then SIGCONT): every webhook overlapping the hang must be answered
  within 1.5 s (`chaos.hung_webhook_max_s`; LINE gives up after 2 s and redelivers a 503).
* A worker SIGKILLed while it holds conversations' locks (in the middle of a slow Salesforce
  write): `chaos.max_resume_s` is how long the slowest of them waited until another drainer
  worked on it again (at most 30 s). The run waits for that before its next fault, so no Redis
  fault of its own lengthens the figure.
"""

from __future__ import annotations

import signal
import threading
import time

import redis

PREFIX = "ln:"  # the relay's default key prefix (storage/keys.py)


class WebhookTimes:
    """When each webhook was sent, how long its answer took, and what it was."""

    def __init__(self):
        self._rows: list[tuple[float, float, int]] = []
        self._lock = threading.Lock()

    def record(self, started: float, seconds: float, status: int) -> None:
        with self._lock:
            self._rows.append((started, seconds, status))

    def overlapping(self, start: float, end: float) -> list[tuple[float, float, int]]:
        with self._lock:
            return [row for row in self._rows if row[0] < end and row[0] + row[1] > start]


def redis_outage(rds, seconds: float, log) -> tuple[float, float]:
    """Redis gone for `seconds` (killed; its AOF keeps every acknowledged write), then back."""
    log(f"chaos: redis down for {seconds:.0f} s")
    start = time.monotonic()
    rds.kill()
    time.sleep(seconds)
    rds.start()
    return start, time.monotonic()


def hung_redis(rds, seconds: float, log, probe=None) -> tuple[float, float]:
    """Redis frozen (SIGSTOP) for `seconds`: connections stay open, nothing is answered.

    `probe()`, called every 0.25 s from a thread of its own, sends a webhook (a redelivery), so the
    hang is measured even when the run's senders happen to be idle.
    """
    log(f"chaos: redis hung for {seconds:.0f} s")
    start = time.monotonic()
    probes = []
    rds.pause()
    try:
        while time.monotonic() - start < seconds:
            if probe is not None:
                probes.append(threading.Thread(target=probe, daemon=True))
                probes[-1].start()
            time.sleep(0.25)
    finally:
        rds.resume()
    end = time.monotonic()
    for t in probes:
        t.join(15)
    return start, end


class ResumeWatch:
    """How long the conversations a killed worker had locked wait until they are worked on again.

    A lock token starts with its holder's pid (storage/store.py `claim`), so the victim's locks
    are known. A conversation has resumed when someone else holds its lock, or its inbox head,
    not-before time or attempt count changed (another drainer committed it).
    """

    def __init__(self, url: str, timeout_s: float = 120.0):
        self.url = url
        self.timeout_s = timeout_s
        self.resume_s: list[float] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def locks_by_pid(self) -> dict[int, dict[str, str]]:
        r = self._client()
        keys = list(r.scan_iter(f"{PREFIX}lock:*", count=1000))
        out: dict[int, dict[str, str]] = {}
        for key, token in zip(keys, r.mget(keys) if keys else []):
            if token and b"-" in token:
                pid = token.split(b"-", 1)[0]
                if pid.isdigit():
                    out.setdefault(int(pid), {})[key.decode()[len(PREFIX + "lock:") :]] = token.decode()
        return out

    def _snapshot(self, r: redis.Redis, conv: str) -> tuple:
        pipe = r.pipeline(transaction=False)
        pipe.get(f"{PREFIX}lock:{conv}")
        pipe.lindex(f"{PREFIX}inbox:{conv}", 0)
        pipe.zscore(f"{PREFIX}ready", conv)
        pipe.get(f"{PREFIX}attempts:{conv}")
        return tuple(pipe.execute())

    def kill_and_watch(self, proc, locks: dict[str, str]) -> int:
        """SIGKILL `proc`; watch the conversations it still held locked. Returns how many."""
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = time.monotonic()
        r = self._client()
        held = {}
        for conv, token in locks.items():
            snap = self._snapshot(r, conv)
            if snap[0] is not None and snap[0].decode() == token:
                held[conv] = snap
        if held:
            t = threading.Thread(target=self._watch, args=(held, killed_at), daemon=True)
            t.start()
            self.threads.append(t)
        return len(held)

    def _watch(self, held: dict[str, tuple], killed_at: float) -> None:
        waiting = dict(held)
        while waiting and time.monotonic() - killed_at < self.timeout_s:
            time.sleep(0.1)
            try:
                r = self._client()
                for conv, before in list(waiting.items()):
                    now = self._snapshot(r, conv)
                    lock_taken = now[0] is not None and now[0] != before[0]
                    if lock_taken or now[1:] != before[1:]:
                        with self._lock:
                            self.resume_s.append(time.monotonic() - killed_at)
                        del waiting[conv]
            except redis.RedisError:
                continue  # Redis restarting: the clock keeps running
        with self._lock:
            self.resume_s.extend([self.timeout_s] * len(waiting))  # never resumed: counted as the timeout

    def settle(self) -> None:
        """Wait until every watched conversation has resumed (or timed out)."""
        for t in self.threads:
            t.join(self.timeout_s + 5)

    def max_resume_s(self) -> float | None:
        self.settle()
        with self._lock:
            return round(max(self.resume_s), 1) if self.resume_s else None


def kill_worker_holding_locks(stack, watch: ResumeWatch, sb, baseline_sf_ms: int, log, wait_s: float = 15.0) -> int:
    """Slow Salesforce down so batches stay in flight, SIGKILL a worker that holds locks, wait
    until its conversations resumed. Returns how many it held (0: no worker held any in time).
    The caller starts a replacement worker; the run's other worker takes over meanwhile."""
    sb.set_latency("salesforce", 1500)
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            live = {p.pid: p for p in stack.worker_procs if p.poll() is None}
            held = {pid: locks for pid, locks in watch.locks_by_pid().items() if pid in live}
            if held:
                pid = max(held, key=lambda p: len(held[p]))
                n = watch.kill_and_watch(live[pid], held[pid])
                if n:
                    log(f"chaos: killed worker {pid} holding {n} conversation lock(s)")
                    sb.set_latency("salesforce", baseline_sf_ms)
                    watch.settle()
                    log(f"chaos: its conversations resumed after at most {watch.max_resume_s()} s")
                    return n
            time.sleep(0.02)
        log("chaos: no worker held a lock in time; no locked kill")
        return 0
    finally:
        sb.set_latency("salesforce", baseline_sf_ms)


def unconfirmed_replies(sb) -> int:
    """Replies recorded Failed because their first try ended unknown (a 5xx, a timeout) and the
    token had expired before a retry could confirm them: by design never pushed (a customer must
    not get the same answer twice). Long Redis outages make the retry late; this explains
    `line_missing`."""
    return sum(
        1
        for m in sb.salesforce.find("LINE_Chat_Message__c", Delivery_Status__c="Failed")
        if "not confirmed" in (m.get("Delivery_Error__c") or "")
    )


def figures(webhooks: WebhookTimes, hangs: list[tuple[float, float]], watch: ResumeWatch) -> dict:
    during = [row for start, end in hangs for row in webhooks.overlapping(start, end)]
    statuses: dict[int, int] = {}
    for _, _, status in during:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "hung_webhooks": len(during),
        "hung_webhook_statuses": statuses,
        "hung_webhook_max_s": round(max((s for _, s, _ in during), default=0.0), 3),
        "max_resume_s": watch.max_resume_s(),
        "resumes_watched": len(watch.resume_s),
    }
