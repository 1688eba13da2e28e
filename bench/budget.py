"""Budget: a day compressed into minutes, with a campaign spike, against a scaled-down daily limit.

The sandbox counts the org's API requests over a rolling window of DAY_S seconds (Salesforce's
24 hours, compressed) and refuses calls past LIMIT with REQUEST_LIMIT_EXCEEDED, as Salesforce
does. The connector leaves `salesforce.api_reserve_share` (20 %) of it to the org's other
integrations. Traffic: 300 known customers write 4 messages/s for the whole run, and 25/s during
a 20-second campaign spike. Reported: `limit_exceeded` (refusals Salesforce had to make: must be
0), `peak_usage_share` (the highest share of the limit in use, sampled every 0.2 s), the reserve
pauses, and that every message reached Salesforce in the end (`lost`). Run twice: at LIMIT,
and at TIGHT_LIMIT where writes must pause at the line (each look at the usage while paused costs
one call: at this compression, a visible share of the day).
"""

from __future__ import annotations

import threading
import time

from bench.common import BENCH_REDIS_URL, log, pct, sf_time, user_id, wait_for
from bench.pipeline import LINE_MS, SF_MS, Driver, paced

DAY_S = 60.0  # the rolling window that stands for 24 hours
LIMIT = 200  # the org's daily API requests, scaled to the compressed day
TIGHT_LIMIT = 60  # so low that gathering writes is not enough: the reserve pause must hold the line
RESERVE = 0.2
BASE_RATE, SPIKE_RATE = 4.0, 25.0
RUN_S, SPIKE = 120.0, (40.0, 60.0)
USERS = 300


def schedule(users: list[str]) -> list[tuple[float, str, str]]:
    """(offset, user, text), every user's messages at least a second apart."""
    out, t, i = [], 0.0, 0
    while t < RUN_S:
        rate = SPIKE_RATE if SPIKE[0] <= t < SPIKE[1] else BASE_RATE
        out.append((t, users[i % len(users)], f"budget {i}"))
        i += 1
        t += 1.0 / rate
    return out


def run(limit: int = LIMIT) -> dict:
    from connector.local.devstack import LocalStack

    overrides = {"salesforce": {"api_reserve_share": RESERVE, "api_reserve_pause_seconds": 2.0}}
    stack = LocalStack(redis_url=BENCH_REDIS_URL, workers=2, log_level="INFO", overrides=overrides)
    try:
        stack.start()
        stack.wait_workers()  # dynos already running when customers write
        sb, d = stack.sandbox, Driver(stack)
        sb.set_latency("salesforce", SF_MS)
        sb.set_latency("line", LINE_MS)
        ids = [user_id(i, "budget") for i in range(USERS)]
        log(f"budget: warm-up, {USERS} customers write once")
        paced(d, [(i * 0.02, u, "warm-up") for i, u in enumerate(ids)])
        d.wait_recorded(list(d.sent), 180, "warm-up messages in Salesforce")
        wait_for(d.idle, 60, what="idle after warm-up")

        sb.salesforce.set_api_usage(0, limit)
        sb.salesforce.api_window_s = DAY_S
        d.sent.clear()
        plan = schedule(ids)
        log(
            f"budget: {len(plan)} messages over {RUN_S:.0f} s ({BASE_RATE:.0f}/s, {SPIKE_RATE:.0f}/s from "
            f"{SPIKE[0]:.0f} to {SPIKE[1]:.0f} s); daily limit {limit} per {DAY_S:.0f} s, reserve {RESERVE:.0%}"
        )
        samples: list[float] = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(sb.salesforce.api_used / limit)
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        log_start = len(sb.request_log("salesforce"))
        t0 = time.time()
        paced(d, plan)
        try:
            got = d.wait_recorded(list(d.sent), 600, "every message in Salesforce")
        except TimeoutError:
            got = d.inbound()
        stop.set()
        sampler.join()
        entries = sb.request_log("salesforce")[log_start:]
        refused = sum(1 for e in entries if e.get("status") == 403)
        to_sf = [(sf_time(got[m]["CreatedDate"]) - d.sent[m]) * 1000 for m in d.sent if m in got]
        import redis

        metrics = {k.decode(): int(v) for k, v in redis.Redis.from_url(stack.redis_url).hgetall("ln:metrics").items()}
        return {
            "limit": limit,
            "day_s": DAY_S,
            "reserve_share": RESERVE,
            "messages": len(plan),
            "lost": len(d.sent) - sum(1 for m in d.sent if m in got),
            "limit_exceeded": refused,
            "peak_usage_share": round(max(samples), 3) if samples else None,
            "reserve_pauses": metrics.get("salesforce_reserve_pauses", 0),
            "budget_warnings": metrics.get("salesforce_budget_warnings", 0),
            "sf_calls": len(entries),
            "p50_ms_to_salesforce": round(pct(to_sf, 50)),
            "p95_ms_to_salesforce": round(pct(to_sf, 95)),
            "max_ms_to_salesforce": round(max(to_sf)),
            "run_s": round(time.time() - t0, 1),
        }
    finally:
        stack.stop()


def both() -> dict:
    """The day at LIMIT (batching alone keeps the connector under its line), then a limit so tight
    that writes must pause at the line (`tight`)."""
    out = run(LIMIT)
    out["tight"] = run(TIGHT_LIMIT)
    return out


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(*(int(a) for a in sys.argv[1:2])), indent=2))
