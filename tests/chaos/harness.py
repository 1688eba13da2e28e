"""Chaos run: many LINE users, redeliveries and duplicate deliveries, while workers are SIGKILLed,
Redis (a private instance with AOF, fsync always) is restarted, and the sandbox injects
Salesforce 5xx / timeouts / session expiry / REQUEST_LIMIT_EXCEEDED and LINE 429 / 5xx / timeouts.
Then an invariant checker compares what was acknowledged with what Salesforce and LINE received.
Redis faults of issue 17 (a 30 s outage, a hung Redis, a worker killed holding locks) and their
figures are in tests/chaos/redis_faults.py.

Used by `make chaos` (full: >= 5,000 events, >= 200 users), by `make bench` (same figures in the
table) and by tests/chaos/test_chaos.py (a short run inside `make test`).

How LINE is played: each user sends their messages one after the other. A webhook that does not
answer 200 (e.g. 503 while Redis is down) is redelivered (same webhookEventId, isRedelivery) until
it is acknowledged, before that user's next message - LINE delivers a user's events in order.
Some acknowledged events are delivered again (redelivery), some twice at the same time
(duplicate delivery). Only events answered 200 count as acknowledged.

Simulated clock: Salesforce REQUEST_LIMIT_EXCEEDED makes the connector pause Salesforce writes for
15 minutes (`ln:pause:salesforce`). The harness lets the pause stand for a few seconds, then moves
its probe time to now, standing in for the limit window passing (the probe then lifts it).

Salesforce outage (issue 17): with `sf_outage_s`, Salesforce is down (503s, some timeouts and
reset connections) for that long, from `sf_outage_at_s` after the start, longer than the relay's
whole retry schedule. Time is compressed through configuration: the relay retries after 1, 2, 2 s
(production: 5 s .. 1 h) and pauses 1 s first, at most 8 s (production: 5 s, 300 s), so a minute
here stands for hours there. The bot keeps answering; nothing may be dead-lettered.

Invariants (the `chaos.*` figures):
* lost: acknowledged message events with no LINE_Chat_Message__c (Message_Key__c = message id);
* duplicates: extra records for one Message_Key__c, plus records for message ids never sent;
* order_violations: per user, adjacent inbound records (by record Id, which increases
  monotonically in the sandbox) whose LINE timestamps go backwards;
* line_duplicates: the same messages delivered to the same user more than once (reply or push;
  a repeated push with the same X-Line-Retry-Key is answered 409 and not delivered again);
* line_missing (reported, not a target): users who never received their welcome reply;
* dead_letters_from_transient: dead letters whose error says Salesforce (or LINE) was only
  unavailable - 5xx, timeouts, connection errors, rate limits, session expiry. Must be 0.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from connector.local.redis_server import RedisServer
from tests.chaos import redis_faults


class PrivateRedis(RedisServer):
    """A redis-server of our own: AOF on, fsync on every write, in a temp dir, restartable."""

    def __init__(self):
        super().__init__(appendonly=True)


def add_faults(sb, p: float) -> None:
    """Probabilistic faults on the paths the connector uses (p ~ the rate of each kind)."""
    data = r"^/services/data/"
    sb.faults.add("salesforce", "status", status=503, path=data, probability=p)
    sb.faults.add("salesforce", "status", status=500, path=data, probability=p / 2)
    sb.faults.add("salesforce", "after_apply_status", status=500, path=data, probability=p)
    sb.faults.add("salesforce", "timeout", ms=2500, path=data, probability=p / 3)
    sb.faults.add("salesforce", "invalid_session", path=data, probability=p / 2)
    msg = r"^/v2/bot/"
    sb.faults.add("line", "rate_limit", retry_after=1, path=msg, probability=p)
    sb.faults.add("line", "status", status=500, path=msg, probability=p)
    sb.faults.add("line", "after_apply_status", status=500, path=r"^/v2/bot/message/", probability=p)
    sb.faults.add("line", "timeout", ms=2500, path=msg, probability=p / 3)


def schedule_salesforce_outage(sb, *, at_s: float, duration_s: float) -> list[str]:
    """Salesforce's data API down for `duration_s` seconds, `at_s` seconds from now (the sandbox's
    fault injection: mostly 503, one request in ten timing out, one in ten reset). Login works."""
    return sb.faults.outage("salesforce", duration_s=duration_s, starts_in_s=at_s, path=r"^/services/data/")


class OutageMonitor(threading.Thread):
    """Samples, every half second, whether writes are paused, how many conversations are held and
    Redis' memory, and notes when LINE answered while Salesforce was down."""

    def __init__(self, redis_url: str, sb):
        super().__init__(name="outage-monitor", daemon=True)
        self.redis_url, self.sb = redis_url, sb
        self.stopped = threading.Event()
        self.paused_s = 0.0
        self.peak = {"held_conversations": 0, "used_memory": 0}
        self.baseline_memory = None

    def run(self) -> None:
        import redis

        while not self.stopped.wait(0.5):
            try:
                r = redis.Redis.from_url(self.redis_url, socket_timeout=1)
                used = int(r.info("memory")["used_memory"])
                self.baseline_memory = self.baseline_memory or used
                self.peak["used_memory"] = max(self.peak["used_memory"], used)
                if int(r.hget("ln:pause:salesforce", "level") or 0) > 0:
                    self.paused_s += 0.5
                    self.peak["held_conversations"] = max(
                        self.peak["held_conversations"], r.scard("ln:held:salesforce")
                    )
            except redis.RedisError:
                pass

    def figures(self, window: tuple[float, float] | None) -> dict:
        answered = 0
        if window:
            answered = sum(1 for d in self.sb.line.delivered() if window[0] <= d["at"] <= window[1])
        return {
            "paused_s": round(self.paused_s, 1),
            "line_answers_during_outage": answered,
            "peak_held_conversations": self.peak["held_conversations"],
            "redis_memory_growth_bytes": self.peak["used_memory"] - (self.baseline_memory or 0),
        }


TRANSIENT_MARKS = ("Retryable", "RateLimited", "AuthError", "SERVER_UNAVAILABLE", "HTTP_5", "no result")


def transient_dead_letters(stack) -> int:
    """Dead letters whose error is a service being unavailable, not the data being wrong."""
    from connector.runtime import Runtime

    rows = Runtime(stack.load_config()).store.dead_letters()
    return sum(1 for row in rows if any(mark in row["error"] for mark in TRANSIENT_MARKS))


def run_chaos(
    *,
    events: int = 5000,
    users: int = 200,
    senders: int = 16,
    worker_kills: int = 6,
    redis_restarts: int = 2,
    redis_outage_s: float = 30.0,
    redis_hang_s: float = 8.0,
    locked_kills: int = 1,
    fault_p: float = 0.08,
    redelivery_p: float = 0.05,
    duplicate_p: float = 0.03,
    sf_latency_ms: int = 20,
    line_latency_ms: int = 10,
    rate: float = 250.0,
    drain_timeout_s: float = 300,
    settle_timeout_s: float = 30,
    seed: int | None = None,
    sf_outage_s: float = 0,
    sf_outage_at_s: float = 3,
    retry_intervals: tuple[float, ...] = (1, 2, 4, 8, 8, 8),
    log=print,
) -> dict:
    from connector.local.devstack import LocalStack

    rng = random.Random(seed)
    rds = PrivateRedis().start()
    overrides = {
        "salesforce": {"timeout_seconds": 2},
        "line": {"timeout_seconds": 2},
        "queue": {"retry_intervals_seconds": list(retry_intervals), "sweep_interval_seconds": 1, "lock_seconds": 10},
    }
    overrides["salesforce"]["outage"] = {"pause_seconds": 1, "max_pause_seconds": 8}
    stack = LocalStack(redis_url=rds.url, workers=2, overrides=overrides, log_level="WARNING")
    sb = None
    stats = Counter()
    try:
        stack.start()
        sb = stack.sandbox
        ch = stack.channels[0].channel_id
        sb.set_latency("salesforce", sf_latency_ms)
        sb.set_latency("line", line_latency_ms)
        add_faults(sb, fault_p)
        outage_faults, outage_window = [], None
        if sf_outage_s:
            outage_faults = schedule_salesforce_outage(sb, at_s=sf_outage_at_s, duration_s=sf_outage_s)
            outage_window = (time.time() + sf_outage_at_s, time.time() + sf_outage_at_s + sf_outage_s)
        monitor = OutageMonitor(rds.url, sb)
        monitor.start()

        ids = [f"U{i:032x}" for i in range(1, users + 1)]
        per_user = defaultdict(list)
        for i in range(events):
            per_user[ids[i % users]].append(i)
        acked: dict[str, dict] = {}  # message id -> {"user", "ts", "eid"}
        lock = threading.Lock()
        sending = threading.Event()
        sending.set()

        def deliver(events_):
            started = time.monotonic()
            try:
                status = sb.line._deliver(ch, events_)
            except Exception:  # noqa: BLE001 - a broken connection is a non-200 to LINE
                status = 0
            webhooks.record(started, time.monotonic() - started, status)
            return status

        per_sender_interval = senders / rate  # open-loop pacing: `rate` events/s over all senders

        def play(my_users: list[str]) -> None:
            r = random.Random(rng.random())
            queues = {u: list(per_user[u]) for u in my_users}
            next_at = time.time()
            while any(queues.values()):
                for u in my_users:
                    if not queues[u]:
                        continue
                    next_at += per_sender_interval
                    delay = next_at - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    n = queues[u].pop(0)
                    ev = sb.line.send_user_message(ch, u, {"type": "text", "text": f"chaos message {n}"}, deliver=False)
                    status = deliver([ev])
                    tries = 1
                    while status != 200:
                        stats[f"webhook_{status}"] += 1
                        time.sleep(r.uniform(0.2, 0.6))
                        ev = {**ev, "deliveryContext": {"isRedelivery": True}}
                        status = deliver([ev])
                        tries += 1
                        if tries > 300:
                            raise RuntimeError("an event was never acknowledged")
                    with lock:
                        acked[ev["message"]["id"]] = {"user": u, "ts": ev["timestamp"], "eid": ev["webhookEventId"]}
                    stats["acked"] += 1
                    x = r.random()
                    if x < redelivery_p:
                        stats["redelivered"] += 1
                        deliver([{**ev, "deliveryContext": {"isRedelivery": True}}])
                    elif x < redelivery_p + duplicate_p:
                        stats["duplicate_delivered"] += 1
                        t = threading.Thread(target=deliver, args=([ev],))
                        t.start()
                        deliver([ev])
                        t.join()

        def redeliver_one() -> None:
            """LINE redelivers an acknowledged event (a duplicate: stored once, whatever happens)."""
            with lock:
                if not acked:
                    return
                mid, a = next(reversed(acked.items()))
            event = {
                "type": "message",
                "mode": "active",
                "timestamp": a["ts"],
                "webhookEventId": a["eid"],
                "deliveryContext": {"isRedelivery": True},
                "source": {"type": "user", "userId": a["user"]},
                "message": {"id": mid, "type": "text", "text": "(redelivered)"},
            }
            stats["redelivered"] += 1
            deliver([event])

        def ensure_workers() -> None:
            for p in list(stack.worker_procs):
                if p.poll() is not None:
                    stack.worker_procs.remove(p)
                    if p.returncode != -signal.SIGKILL:
                        stats["worker_exits"] += 1
                        exit_codes[p.returncode] = exit_codes.get(p.returncode, 0) + 1
                    stack.start_worker()

        def chaos() -> None:
            plan = ["kill"] * worker_kills + ["redis"] * redis_restarts + ["expire"] * 2 + ["limit"]
            plan += ["outage"] * bool(redis_outage_s) + ["hang"] * bool(redis_hang_s)
            rng.shuffle(plan)
            plan = ["locked_kill"] * locked_kills + plan  # first: while batches are surely in flight
            expected_s = events / rate  # the sending phase; the drain runs alongside it
            gap = expected_s / (len(plan) + 1)
            for action in plan:
                time.sleep(rng.uniform(0.6, 1.4) * gap)
                ensure_workers()
                if action == "kill":
                    live = [p for p in stack.worker_procs if p.poll() is None]
                    if live:
                        victim = rng.choice(live)
                        victim.send_signal(signal.SIGKILL)
                        victim.wait(10)
                        stats["worker_kills"] += 1
                        time.sleep(0.3)
                        ensure_workers()
                elif action == "redis":
                    log("chaos: restarting redis")
                    rds.restart(down_s=rng.uniform(0.5, 1.5))
                    stats["redis_restarts"] += 1
                elif action == "expire":
                    sb.salesforce.expire_sessions()
                    stats["session_expiries"] += 1
                elif action == "limit":
                    sb.faults.add("salesforce", "limit_exceeded", path=r"^/services/data/", count=1)
                    stats["limit_exceeded_injected"] += 1
                elif action == "outage":
                    redis_faults.redis_outage(rds, redis_outage_s, log)
                    stats["redis_outages"] += 1
                elif action == "hang":
                    hangs.append(redis_faults.hung_redis(rds, redis_hang_s, log, probe=redeliver_one))
                    stats["redis_hangs"] += 1
                elif action == "locked_kill":
                    if redis_faults.kill_worker_holding_locks(stack, watch, sb, sf_latency_ms, log):
                        stats["locked_kills"] += 1
                    time.sleep(0.3)
                    ensure_workers()

        def fast_forward() -> None:
            import redis

            seen = None
            while not stop_ff.wait(0.5):
                ensure_workers()
                try:
                    r = redis.Redis.from_url(rds.url, socket_timeout=1)
                    if r.hget("ln:pause:salesforce", "code") == b"REQUEST_LIMIT_EXCEEDED":
                        seen = seen or time.time()
                        if time.time() - seen > 3:
                            # the limit window "passes": the probe is due now (it lifts the pause)
                            r.hset("ln:pause:salesforce", "until", 0)
                            stats["pause_fast_forwarded"] += 1
                            seen = None
                except redis.RedisError:
                    pass

        exit_codes: dict = {}
        webhooks = redis_faults.WebhookTimes()
        hangs: list[tuple[float, float]] = []
        watch = redis_faults.ResumeWatch(rds.url)
        stop_ff = threading.Event()
        ff = threading.Thread(target=fast_forward, daemon=True)
        ff.start()
        log(
            f"chaos: {events} events from {users} users; {worker_kills} worker kills, {redis_restarts} redis restarts,"
            f" a {redis_outage_s:.0f} s redis outage, a {redis_hang_s:.0f} s hung redis, {locked_kills} locked kill(s)"
        )
        t0 = time.time()
        groups = [ids[k::senders] for k in range(senders)]
        players = [threading.Thread(target=play, args=(g,)) for g in groups if g]
        chaos_t = threading.Thread(target=chaos)
        chaos_t.start()
        for t in players:
            t.start()
        for t in players:
            t.join()
        sending.clear()
        send_s = time.time() - t0
        chaos_t.join()
        log(f"chaos: sent in {send_s:.1f}s; clearing faults and waiting for the drain")
        for fault in sb.faults.list():  # a scheduled Salesforce outage runs its course
            if fault["id"] not in outage_faults:
                sb.faults.remove(fault["id"])

        import redis

        def drained() -> bool:
            try:
                r = redis.Redis.from_url(rds.url, socket_timeout=1)
                have = {m["Message_Key__c"] for m in sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound")}
                return r.zcard("ln:ready") == 0 and set(acked) <= have
            except redis.RedisError:
                return False

        deadline = time.time() + drain_timeout_s
        while time.time() < deadline and not drained():
            time.sleep(0.5)
        drain_s = time.time() - t0 - send_s
        from rq import Queue

        q = Queue(stack.load_config().settings.queue.name, connection=redis.Redis.from_url(rds.url))

        def jobs_settled() -> bool:  # pushes and status updates waiting for a retry
            try:
                # (jobs a SIGKILLed worker was running stay in the started registry until RQ finds
                # them abandoned, after their timeout: they are reported, not waited for)
                return q.count == 0 and q.scheduled_job_registry.count == 0
            except redis.RedisError:
                return False

        settle_deadline = time.time() + settle_timeout_s
        log("chaos: drained; waiting for queued LINE sends and status updates to settle")
        while time.time() < settle_deadline and not jobs_settled():
            time.sleep(0.5)
        time.sleep(1.0)
        stop_ff.set()
        monitor.stopped.set()
        result = check(sb, acked, users=ids)
        result["line_unconfirmed"] = redis_faults.unconfirmed_replies(sb)
        result["dead_letters_from_transient"] = transient_dead_letters(stack)
        if sf_outage_s:
            result["sf_outage"] = {"duration_s": sf_outage_s, **monitor.figures(outage_window)}
        r = redis.Redis.from_url(rds.url, socket_timeout=1)
        dead = r.zcard("ln:dlq:index")
        result["rq"] = {
            "queued": q.count,
            "scheduled": q.scheduled_job_registry.count,
            "started": q.started_job_registry.count,
            "failed": q.failed_job_registry.count,
        }
        result.update(
            {
                "events": len(acked),
                "users": users,
                "send_s": round(send_s, 1),
                "drain_s": round(drain_s, 1),
                "dead_letters": dead,
                "worker_exits": stats["worker_exits"],
                "redis_outage_s": redis_outage_s,
                "redis_hang_s": redis_hang_s,
                **redis_faults.figures(webhooks, hangs, watch),
                "stats": dict(stats),
                "worker_exit_codes": exit_codes,
                "worker_errors": _errors(stack.workdir),
                "faults_fired": dict(
                    Counter(
                        f"{e['fault']}"
                        for svc in ("salesforce", "line_api", "line_data")
                        for e in sb.request_log(svc)
                        if e.get("fault")
                    )
                ),
            }
        )
        return result
    finally:
        try:
            stack.stop()
        finally:
            rds.stop()


def _errors(workdir) -> dict:
    """Last line of each traceback in the worker logs, counted (why a worker exited or a job failed)."""
    out: Counter = Counter()
    for f in Path(workdir).glob("worker*.log"):
        lines = f.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Traceback"):
                j = i + 1
                while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                    j += 1
                if j < len(lines):
                    out[lines[j][:160]] += 1
    return dict(out.most_common(8))


def check(sb, acked: dict[str, dict], users: list[str]) -> dict:
    inbound = sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound")
    keys = Counter(m["Message_Key__c"] for m in inbound)
    lost = [k for k in acked if k not in keys]
    duplicates = sum(c - 1 for c in keys.values() if c > 1) + sum(c for k, c in keys.items() if k not in acked)
    by_user = defaultdict(list)
    for m in sorted(inbound, key=lambda m: m["Id"]):
        a = acked.get(m["Message_Key__c"])
        if a:
            by_user[a["user"]].append(a["ts"])
    order = sum(1 for ts in by_user.values() for x, y in zip(ts, ts[1:]) if y < x)
    deliveries = sb.line.delivered()
    seen = Counter((d["to"], json.dumps(d["messages"], sort_keys=True, ensure_ascii=False)) for d in deliveries)
    line_dups = sum(c - 1 for c in seen.values() if c > 1)
    keyed = Counter(d["retry_key"] for d in deliveries if d.get("retry_key"))
    line_dups = max(line_dups, sum(c - 1 for c in keyed.values() if c > 1))
    dup_keys = {k for k, c in seen.items() if c > 1}
    dup_sample = [
        [
            (d["method"], d.get("retry_key"), round(d["at"], 2))
            for d in deliveries
            if (d["to"], json.dumps(d["messages"], sort_keys=True, ensure_ascii=False)) == k
        ]
        for k in list(dup_keys)[:3]
    ]
    replied = {d["to"] for d in deliveries}
    return {
        "lost": len(lost),
        "duplicates": duplicates,
        "order_violations": order,
        "line_duplicates": line_dups,
        "line_deliveries": len(deliveries),
        "line_missing": sum(1 for u in users if u not in replied),
        "lost_sample": lost[:5],
        "line_duplicate_sample": dup_sample,
    }
