"""Burst: 10,000 messages from 2,000 new users arriving at once; how long until all is done.

The events are built first, then POSTed to the webhook as fast as possible in bodies of 20
events (LINE batches events per webhook), in five rounds so each user's messages keep their
order. Done = every message is in Salesforce and every new user has had their welcome reply.

The floor: the calls that must be made, at the sandbox's latency (Salesforce 150 ms, LINE
80 ms per call):
  * LINE: one profile lookup and one welcome reply per new user (2 x 2,000 calls x 80 ms);
  * Salesforce: the records to write (per new user Contact, LINE_Friend__c, Case, session,
    welcome message; per event the message record), at most 25 x 200 = 5,000 records per
    Composite call (150 ms each).
spread over the 2 workers, each making one Salesforce call at a time and up to
LINE_CONCURRENCY (16, the drain's LINE pool) LINE calls at a time:
  floor_s = LINE calls x 80 ms / (2 x 16) + ceil(records / 5,000) x 150 ms / 2.
`floor_serial_s` is the same with one call at a time per worker (no LINE concurrency), the
model the connector had before LINE calls of different conversations went parallel.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import BENCH_REDIS_URL, children, cpu_seconds, log, redis_cpu_seconds, user_id, wait_for
from bench.pipeline import LINE_MS, SF_MS

WORKERS = 2
LINE_CONCURRENCY = 16


def run(
    users: int = 2000, per_user: int = 5, body_events: int = 20, overrides: dict | None = None, workers: int = WORKERS
) -> dict:
    from connector.local.devstack import LocalStack

    stack = LocalStack(redis_url=BENCH_REDIS_URL, workers=workers, log_level="INFO", overrides=overrides)
    try:
        stack.start()
        stack.wait_workers()  # dynos already running when a campaign starts
        sb = stack.sandbox
        ch = stack.channels[0].channel_id
        sb.set_latency("salesforce", SF_MS)
        sb.set_latency("line", LINE_MS)
        ids = [user_id(i, "burst") for i in range(users)]
        log(f"burst: building {users * per_user} events")
        rounds = []
        for r in range(per_user):
            evs = [sb.line.send_user_message(ch, u, {"type": "text", "text": f"burst {r}"}, deliver=False) for u in ids]
            rounds.append([evs[i : i + body_events] for i in range(0, len(evs), body_events)])
        total = users * per_user
        calls0 = sb.salesforce.api_calls
        parts0 = _cpu_parts(stack)
        cpu0 = _cpu()
        log(f"burst: posting {total} events in {sum(len(x) for x in rounds)} webhooks")
        t0 = time.time()
        statuses: dict[int, int] = {}
        for bodies in rounds:
            with ThreadPoolExecutor(16) as pool:
                for st in pool.map(lambda evs: sb.line._deliver(ch, evs), bodies):
                    statuses[st] = statuses.get(st, 0) + 1
        ingest_s = time.time() - t0
        log(f"burst: ingested in {ingest_s:.1f}s; draining")
        # polled every 0.1 s without copying records: the instrument must not hold the sandbox's
        # lock or the CPU long (copying 20,000 records each second did both and read late by ~0.5 s)
        count = lambda: sb.salesforce.count("LINE_Chat_Message__c", Direction__c="Inbound")
        wait_for(lambda: count() >= total, 900, interval=0.1, what="all burst messages in Salesforce")
        t_sf = time.time() - t0
        replied = lambda: len(sb.line.recipients()) >= users
        wait_for(replied, 600, interval=0.1, what="a welcome reply for every user")
        drain_s = time.time() - t0
        cpu_s = _cpu() - cpu0
        cpu_by = {k: round(v - parts0[k], 1) for k, v in _cpu_parts(stack).items()}
        sf_calls = sb.salesforce.api_calls - calls0
        records = total + users * 5
        line_calls = 2 * users
        sf_min = math.ceil(records / 5000)
        floor = (line_calls * LINE_MS / LINE_CONCURRENCY + sf_min * SF_MS) / 1000 / workers
        floor_serial = (line_calls * LINE_MS + sf_min * SF_MS) / 1000 / workers
        # what the machine allows: the CPU the run used (relay, Redis, and this process, which
        # plays LINE and Salesforce and posts the webhooks) spread over every core
        cpu_floor = cpu_s / (os.cpu_count() or 1)
        line_log = sb.request_log("line_api")
        return {
            "events": total,
            "users": users,
            "webhook_statuses": statuses,
            "ingest_s": round(ingest_s, 1),
            "drain_s": round(drain_s, 1),
            "to_salesforce_s": round(t_sf, 1),
            "floor_s": round(floor, 1),
            "ratio": round(drain_s / floor, 2),
            "cpu_s": round(cpu_s, 1),
            "cpu_floor_s": round(cpu_floor, 1),
            "cpu_by": cpu_by,
            "ratio_machine": round(drain_s / max(floor, cpu_floor), 2),
            "floor_serial_s": round(floor_serial, 1),
            "ratio_serial": round(drain_s / floor_serial, 3),
            "sf_calls": sf_calls,
            "sf_calls_per_message": round(sf_calls / total, 4),
            "line_calls": len(line_log),
            "floor_model": f"({line_calls} LINE calls x {LINE_MS} ms / {LINE_CONCURRENCY} + ceil({records}/5000) SF calls"
            f" x {SF_MS} ms) / {workers} workers",
            "workers": workers,
        }
    finally:
        stack.stop()


def scale(sizes: tuple[int, ...] = (1, 2, 4), users: int = 2000) -> dict:
    """Scale-out: the same burst (smaller) with 1, 2 and 4 worker processes, each against its floor
    (the web runs 2 gunicorn processes behind one port in every run, as two dynos would)."""
    out = {}
    for n in sizes:
        log(f"scale: {n} worker(s)")
        r = run(users=users, workers=n)
        keys = (
            "events",
            "ingest_s",
            "drain_s",
            "floor_s",
            "ratio",
            "cpu_s",
            "cpu_floor_s",
            "ratio_machine",
            "cpu_by",
            "sf_calls",
        )
        out[f"workers_{n}"] = {k: r[k] for k in keys}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))


def _cpu() -> float:
    """CPU seconds so far of this process, every process it started (gunicorn's workers too) and Redis."""
    pids, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children(pid))
    return cpu_seconds(pids) + redis_cpu_seconds(BENCH_REDIS_URL)


def _cpu_parts(stack) -> dict:
    """CPU seconds so far by part: this process (the sandbox playing LINE and Salesforce, and the
    webhook poster), the web (gunicorn), the workers, Redis: where a run's CPU goes."""
    workers = [p.pid for p in stack.worker_procs]
    web_roots = [p.pid for p in stack.procs if p.pid not in workers]
    web = web_roots + [c for pid in web_roots for c in children(pid)]
    return {
        "harness": cpu_seconds([os.getpid()]),
        "web": cpu_seconds(web),
        "workers": cpu_seconds(workers),
        "redis": redis_cpu_seconds(BENCH_REDIS_URL),
    }
