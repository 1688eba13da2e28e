"""Pipeline: LINE webhook -> web -> Redis -> 2 workers -> Salesforce, and the reply back on LINE.

The sandbox adds 150 ms to every Salesforce call and 80 ms to every LINE call. Phases:

1. warm-up: 200 users write once (their Contact/Case/session are created; not measured).
2. measured: 20 messages/s for 30 s from those users, plus one new user per second. Latency
   webhook -> Salesforce is the message record's CreatedDate minus the time the webhook was
   sent; webhook -> LINE is the welcome reply's arrival at the LINE sandbox (only a session's
   first message gets a reply with the current bot). Peak RSS of the web and worker processes.
3. saturation: 2,000 messages (200 existing users, 10 each, in rounds) offered as fast as the
   sender can; messages/s = messages / (last Salesforce record - first webhook).
4. Salesforce API calls per message: one new user at a time; one message of an existing user at
   a time (quiet system); and a backlog: workers stopped, 2,000 messages queued, 2 workers started.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import BENCH_REDIS_URL, children, log, pct, peak_rss_mb, sf_time, user_id, wait_for

SF_MS, LINE_MS = 150, 80


class Driver:
    """Plays LINE users against the stack and remembers when each message was sent."""

    def __init__(self, stack):
        self.stack = stack
        self.sb = stack.sandbox
        self.channel = stack.channels[0].channel_id
        self.sent: dict[str, float] = {}  # message id -> time the webhook was sent
        self.first_of: dict[str, str] = {}  # user -> message id of their first message
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()

    def send(self, user: str, text: str) -> str:
        ev = self.sb.line.send_user_message(self.channel, user, {"type": "text", "text": text}, deliver=False)
        mid = ev["message"]["id"]
        t = time.time()
        status = self.sb.line._deliver(self.channel, [ev])
        with self.lock:
            self.sent[mid] = t
            self.first_of.setdefault(user, mid)
            self.statuses[status] = self.statuses.get(status, 0) + 1
        return mid

    def inbound(self) -> dict[str, dict]:
        return {r["Message_Key__c"]: r for r in self.sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound")}

    def wait_recorded(self, mids, timeout: float, what: str) -> dict[str, dict]:
        mids = set(mids)
        return wait_for(
            lambda: (lambda got: got if mids <= got.keys() else None)(self.inbound()), timeout, interval=0.25, what=what
        )

    def idle(self) -> bool:
        """No conversation waiting to be drained (the store's ready set is empty)."""
        import redis

        return redis.Redis.from_url(self.stack.redis_url).zcard("ln:ready") == 0


def paced(driver: Driver, schedule: list[tuple[float, str, str]], threads: int = 8) -> None:
    """schedule: (offset_s, user, text); sends each at its offset (open loop)."""
    t0 = time.time() + 0.1

    def one(item):
        off, user, text = item
        delay = t0 + off - time.time()
        if delay > 0:
            time.sleep(delay)
        driver.send(user, text)

    # keep one user's messages in order: they are >= 1 s apart in every schedule used here
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, schedule))


def procs_rss(stack) -> dict:
    web = [p for p in stack.procs if p not in stack.worker_procs]
    web_pids = [c for p in web for c in children(p.pid)]
    return {
        "web": max((peak_rss_mb(p) or 0) for p in web_pids) if web_pids else None,
        "web_master": max((peak_rss_mb(p.pid) or 0) for p in web) if web else None,
        "workers": [round(peak_rss_mb(p.pid) or 0, 1) for p in stack.worker_procs if p.poll() is None],
    }


def run(rate: float = 20.0, duration_s: float = 30.0, users: int = 200) -> dict:
    from connector.local.devstack import LocalStack

    res: dict = {"sandbox_latency_ms": {"salesforce": SF_MS, "line": LINE_MS}, "workers": 2}
    stack = LocalStack(redis_url=BENCH_REDIS_URL, workers=2, log_level="INFO")
    try:
        stack.start()
        stack.wait_workers()  # dynos already running when customers write
        sb, d = stack.sandbox, Driver(stack)
        sb.set_latency("salesforce", SF_MS)
        sb.set_latency("line", LINE_MS)
        ids = [user_id(i, "pipe") for i in range(users)]

        log(f"pipeline: warm-up, {users} users write once")
        paced(d, [(i * 0.02, u, "warm-up") for i, u in enumerate(ids)])
        d.wait_recorded(list(d.sent), 180, "warm-up messages in Salesforce")
        wait_for(d.idle, 60, what="idle after warm-up")

        log(f"pipeline: measured phase, {rate:.0f} msg/s for {duration_s:.0f}s + 1 new user/s")
        d.sent.clear()
        d.statuses.clear()
        n = int(rate * duration_s)
        schedule = [(i / rate, ids[i % users], f"message {i}") for i in range(n)]
        new_users = [user_id(i, "pipe-new") for i in range(int(duration_s))]
        schedule += [(i + 0.5 / rate, u, "hello, first message") for i, u in enumerate(new_users)]
        schedule.sort()
        calls_before = sb.salesforce.api_calls
        t_start = time.time()
        paced(d, schedule)
        got = d.wait_recorded(list(d.sent), 180, "measured messages in Salesforce")
        wait_for(d.idle, 60, what="idle after the measured phase")
        steady_calls = (sb.salesforce.api_calls - calls_before) / len(d.sent)
        t_end = max(sf_time(got[m]["CreatedDate"]) for m in d.sent)
        to_sf = [(sf_time(got[m]["CreatedDate"]) - d.sent[m]) * 1000 for m in d.sent]
        wait_for(lambda: all(sb.line.delivered(user_id=u) for u in new_users), 60, what="welcome replies")
        to_line = [
            (min(x["at"] for x in sb.line.delivered(user_id=u)) - d.sent[d.first_of[u]]) * 1000 for u in new_users
        ]
        mem = procs_rss(stack)
        res.update(
            {
                "offered_messages_per_s": round(len(schedule) / duration_s, 1),
                "achieved_messages_per_s": round(len(d.sent) / (t_end - t_start), 1),
                "p50_ms_to_salesforce": round(pct(to_sf, 50)),
                "p95_ms_to_salesforce": round(pct(to_sf, 95)),
                "max_ms_to_salesforce": round(max(to_sf)),
                "p50_ms_to_line": round(pct(to_line, 50)),
                "p95_ms_to_line": round(pct(to_line, 95)),
                "line_samples": len(to_line),
                "webhook_statuses": dict(d.statuses),
                "memory": mem,
            }
        )

        log("pipeline: 1 msg/s for 30 s (adaptive batching must not add latency when it is quiet)")
        d.sent.clear()
        slow = [(float(i), ids[i % users], f"slow {i}") for i in range(30)]
        calls_before = sb.salesforce.api_calls
        paced(d, slow)
        got = d.wait_recorded(list(d.sent), 60, "1 msg/s messages in Salesforce")
        wait_for(d.idle, 60, what="idle after 1 msg/s")
        slow_to_sf = [(sf_time(got[m]["CreatedDate"]) - d.sent[m]) * 1000 for m in d.sent]
        res["p50_ms_to_salesforce_at_1rps"] = round(pct(slow_to_sf, 50))
        res["p95_ms_to_salesforce_at_1rps"] = round(pct(slow_to_sf, 95))
        steady_at_1rps = (sb.salesforce.api_calls - calls_before) / len(d.sent)

        log("pipeline: saturation, 2,000 messages as fast as they can be sent")
        d.sent.clear()
        sat = [(0.0, ids[i % users], f"burst {i}") for i in range(2000)]
        t0 = time.time()
        for r in range(10):  # rounds keep each user's messages in order
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda it: d.send(it[1], it[2]), sat[r * users : (r + 1) * users]))
        t_sent = time.time() - t0
        got = d.wait_recorded(list(d.sent), 300, "saturation messages in Salesforce")
        t_last = max(sf_time(got[m]["CreatedDate"]) for m in d.sent)
        res["messages_per_s"] = round(len(d.sent) / (t_last - t0), 1)
        res["saturation_send_s"] = round(t_sent, 1)
        mem2 = procs_rss(stack)
        wait_for(d.idle, 60, what="idle after saturation")

        log("pipeline: Salesforce API calls per message")
        calls = {}
        before = sb.salesforce.api_calls
        for i in range(10):
            u = user_id(i, "pipe-calls-new")
            mid = d.send(u, "first message of a new user")
            d.wait_recorded([mid], 30, "new user's message")
            wait_for(lambda u=u: sb.line.delivered(user_id=u), 30, what="welcome")
            wait_for(d.idle, 30, what="idle")
            time.sleep(0.3)
        calls["new_user"] = (sb.salesforce.api_calls - before) / 10
        before = sb.salesforce.api_calls
        for i in range(10):
            mid = d.send(ids[i], "one more message")
            d.wait_recorded([mid], 30, "existing user's message")
            wait_for(d.idle, 30, what="idle")
            time.sleep(0.3)
        calls["isolated"] = (sb.salesforce.api_calls - before) / 10  # one message, then quiet
        calls["steady"] = round(steady_calls, 3)  # 20 msg/s + 1 new friend/s (the measured phase)
        calls["steady_at_1rps"] = round(steady_at_1rps, 3)
        for p in list(stack.worker_procs):
            stack.kill_worker(p)
            stack.worker_procs.remove(p)
        d.sent.clear()
        for r in range(10):
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda u, r=r: d.send(u, f"backlog {r}"), ids))
        before = sb.salesforce.api_calls
        t0 = time.time()
        stack.start_worker()
        stack.start_worker()
        d.wait_recorded(list(d.sent), 300, "backlog in Salesforce")
        wait_for(d.idle, 60, what="idle after backlog")
        time.sleep(0.5)
        calls["backlog"] = (sb.salesforce.api_calls - before) / len(d.sent)
        res["backlog_drain_s"] = round(time.time() - t0, 1)
        mem3 = procs_rss(stack)
        res["sf_calls_per_message"] = calls
        res["memory"] = {
            "web_rss_mb": round(max(x["web"] or 0 for x in (mem, mem2, mem3)), 1),
            "worker_rss_mb": round(max(max(x["workers"] or [0]) for x in (mem, mem2, mem3)), 1),
            "web_master_rss_mb": round(mem["web_master"] or 0, 1),
            "phases": {"measured": mem, "saturation": mem2, "backlog": mem3},
        }
    finally:
        stack.stop()
    return res


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
