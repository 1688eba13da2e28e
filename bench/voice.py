"""Voice: TwiML latency at 50 requests/s, and Call to LINE from key press to LINE push.

The stack is the demo's (connector/local/demo_voice.py: channel 1 with voice), two workers, and the
sandbox latencies of the pipeline run (Salesforce 150 ms, LINE 80 ms per call).

1. twiml: 50 Twilio-signed requests/s for 20 s (open loop), half `/twilio/voice` (a new call: its
   link and start event stored, its Task job queued), half `/twilio/gather?step=menu` with
   Digits=2 (the code prompt); latency at the client. Twilio waits 15 s; the target is p99 <= 50 ms.
   Those calls never get a status callback: the worker's sweep writes their 500 Tasks (200 per
   Salesforce call; not measured) before:
2. call_to_line: 40 callers whose numbers are on verified LINE friends call the support number
   (the Twilio sandbox plays them, one every 0.5 s) and press 1; the time from the key press (the
   Gather POST) to the LINE push arriving at the LINE sandbox: one SOQL query, one push.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.common import BENCH_REDIS_URL, log, pct, wait_for

SF_MS, LINE_MS = 150, 80
RATE, DURATION_S = 50.0, 20.0
CALLERS = 40


def run(rate: float = RATE, duration_s: float = DURATION_S, callers: int = CALLERS) -> dict:
    from connector.local import demo_voice
    from connector.local.devstack import LocalStack

    stack = demo_voice.configure(LocalStack(redis_url=BENCH_REDIS_URL, workers=2, log_level="WARNING"))
    res: dict = {"sandbox_latency_ms": {"salesforce": SF_MS, "line": LINE_MS}}
    try:
        stack.start()
        stack.wait_workers()  # dynos already running when customers write
        demo_voice.console_settings(stack)
        stack.sandbox.set_latency("salesforce", SF_MS)
        stack.sandbox.set_latency("line", LINE_MS)
        log(f"voice: TwiML at {rate:.0f} requests/s for {duration_s:.0f} s")
        res.update(twiml_latency(stack, rate, duration_s))
        log("voice: waiting for the worker to write those calls' Tasks")
        from connector.runtime import Runtime

        rt = Runtime(stack.load_config())
        wait_for(
            lambda: rt.queue.count == 0 and not rt.voice_store.pending(time.time() + 60),
            600,
            interval=1,
            what="the Tasks of the TwiML phase",
        )
        log(f"voice: Call to LINE, {callers} callers pressing 1")
        res.update(call_to_line(stack, callers))
    finally:
        stack.stop()
    return res


def twiml_latency(stack, rate: float, duration_s: float) -> dict:
    from connector.local.demo_voice import SUPPORT
    from connector.local.sandbox.twilio import twilio_signature

    base = stack.web_url
    local = threading.local()
    n = int(rate * duration_s)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    t0 = time.time() + 0.2

    def one(i: int) -> None:
        nonlocal t0
        session = getattr(local, "s", None) or requests.Session()
        local.s = session
        sid = "CA" + uuid.uuid4().hex
        params = {
            "CallSid": sid,
            "AccountSid": stack.env["TWILIO_ACCOUNT_SID"],
            "From": f"+81901{abs(i):07d}",
            "To": SUPPORT,
            "CallStatus": "ringing" if i % 2 == 0 else "in-progress",
            "Direction": "inbound",
        }
        url = base + ("/twilio/voice" if i % 2 == 0 else "/twilio/gather?step=menu")
        if i % 2:
            params["Digits"] = "2"
        headers = {"X-Twilio-Signature": twilio_signature(stack.env["TWILIO_AUTH_TOKEN"], url, params)}
        scheduled = t0 + max(0, i) / rate
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        try:
            resp = session.post(url, data=params, headers=headers, timeout=15)
            ok = resp.status_code == 200 and resp.content.startswith(b"<?xml")
            key = None if ok else f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            key = type(exc).__name__
        ms = (time.time() - scheduled) * 1000  # from the scheduled time: no coordinated omission
        with lock:
            latencies.append(ms)
            if key:
                errors[key] = errors.get(key, 0) + 1

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(one, range(-40, 0)))  # warm-up: both gunicorn workers' first requests
        with lock:
            latencies.clear()
            errors.clear()
        t0 = time.time() + 0.2
        list(pool.map(one, range(n)))
    achieved = n / max(1e-9, time.time() - t0)
    return {
        "twiml_requests": n,
        "twiml_offered_rps": rate,
        "twiml_achieved_rps": round(achieved, 1),
        "twiml_p50_ms": round(pct(latencies, 50), 2),
        "twiml_p99_ms": round(pct(latencies, 99), 2),
        "twiml_max_ms": round(max(latencies), 2),
        "twiml_errors": errors,
    }


def call_to_line(stack, callers: int) -> dict:
    from connector.local.demo_voice import SUPPORT

    sb = stack.sandbox
    channel = stack.channels[0].channel_id
    people = []
    for i in range(callers):
        user = "U" + uuid.uuid5(uuid.NAMESPACE_URL, f"voice-bench-{i}").hex
        mobile = f"+8180{i:08d}"
        sb.line.add_user(channel, user, f"発信者 {i}")
        contact = sb.salesforce.insert("Contact", {"LastName": f"発信者{i}", "MobilePhone": "0" + mobile[3:]})
        sb.salesforce.insert(
            "LINE_Friend__c",
            {
                "Name": f"発信者 {i}",
                "Friend_Key__c": f"{channel}:{user}",
                "LINE_User_Id__c": user,
                "Channel_Id__c": channel,
                "Contact__c": contact,
                "Verified__c": True,
                "Status__c": "Following",
            },
        )
        people.append((user, mobile))
    records: list = [None] * callers

    def one(i: int) -> None:
        time.sleep(i * 0.5)
        user, mobile = people[i]
        records[i] = sb.twilio.voice.incoming_call(mobile, SUPPORT, digits=["1"])

    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(one, range(callers)))
    wait_for(lambda: all(sb.line.delivered(user_id=u) for u, _ in people), 120, what="the LINE pushes")
    latencies, heard_sent = [], 0
    for (user, _), record in zip(people, records):
        pressed = next(s["at"] for s in record.steps if s["verb"] == "Fetch" and "step=menu" in s["url"])
        pushed = min(d["at"] for d in sb.line.delivered(user_id=user))
        latencies.append((pushed - pressed) * 1000)
        heard_sent += any("LINEにメッセージをお送りしました" in t for t in record.heard)
    return {
        "call_to_line_callers": callers,
        "call_to_line_p50_ms": round(pct(latencies, 50), 1),
        "call_to_line_p95_ms": round(pct(latencies, 95), 1),
        "call_to_line_heard_sent": heard_sent,
    }


def chaos(calls: int = 60, seed: int | None = None, kills: int = 2, log_fn=log) -> dict:
    """Status callbacks under chaos: every call's callbacks shuffled and repeated, Salesforce and
    LINE failing part of the time (some writes applied and then answered 500), workers killed
    with SIGKILL and restarted. Every call must end as exactly one Task with its final status and
    duration, and every caller who pressed 1 must get exactly one LINE message."""
    import random
    import signal

    from connector.local import demo_voice
    from connector.local.devstack import LocalStack

    rng = random.Random(seed)
    stack = demo_voice.configure(LocalStack(redis_url=BENCH_REDIS_URL, workers=2, log_level="WARNING"))
    try:
        stack.start()
        stack.wait_workers()  # dynos already running when customers write
        demo_voice.console_settings(stack)
        sb = stack.sandbox
        sb.twilio.voice.pause_scale = 0.2  # the callers' holds, shortened
        channel = stack.channels[0].channel_id
        plans = []
        for i in range(calls):
            kind = ("line", "none", "withheld")[i % 3]
            caller = "anonymous" if kind == "withheld" else f"+8170{1000 + i:04d}{5000 + i:04d}"
            user = None
            if kind == "line":
                user = "U" + uuid.uuid5(uuid.NAMESPACE_URL, f"voice-chaos-{i}").hex
                sb.line.add_user(channel, user)
                contact = sb.salesforce.insert("Contact", {"LastName": f"chaos{i}", "MobilePhone": "0" + caller[3:]})
                sb.salesforce.insert(
                    "LINE_Friend__c",
                    {
                        "Name": f"chaos {i}",
                        "Friend_Key__c": f"{channel}:{user}",
                        "LINE_User_Id__c": user,
                        "Channel_Id__c": channel,
                        "Contact__c": contact,
                        "Verified__c": True,
                        "Status__c": "Following",
                    },
                )
            plans.append((kind, caller, user))
        faults = [
            sb.faults.add("salesforce", "status", status=503, probability=0.15),
            sb.faults.add("salesforce", "after_apply_status", status=500, probability=0.05),
            sb.faults.add("line", "status", status=500, probability=0.1),
        ]
        records: list = [None] * calls

        def one(i: int) -> None:
            kind, caller, _ = plans[i]
            digits = ["1"] if kind in ("line", "withheld") else [None]
            records[i] = sb.twilio.voice.incoming_call(
                caller, demo_voice.SUPPORT, digits=digits, shuffle=True, duplicate=True, seed=rng.randrange(1 << 30)
            )

        log_fn(f"voice chaos: {calls} calls, faults on, {kills} worker kills")
        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(one, i) for i in range(calls)]
            for k in range(kills):
                time.sleep(3)
                victim = stack.worker_procs[k % len(stack.worker_procs)]
                stack.kill_worker(victim, signal.SIGKILL)
                stack.worker_procs.remove(victim)
                stack.procs.remove(victim)
                stack.start_worker()
            for f in futures:
                f.result()
        for fid in faults:
            sb.faults.remove(fid)
        sf = sb.salesforce

        line_users = [u for kind, _, u in plans if kind == "line"]

        def settled() -> bool:
            if not all(sb.line.delivered(user_id=u, method="push") for u in line_users):
                return False
            for record in records:
                tasks = sf.find("Task", LINE_Call_Sid__c=record.sid)
                if len(tasks) != 1 or tasks[0].get("CallDisposition") != "completed":
                    return False
            return True

        try:
            wait_for(settled, 240, interval=1, what="every call's Task")
        except TimeoutError:
            pass
        missing = duplicated = wrong = 0
        for record in records:
            tasks = sf.find("Task", LINE_Call_Sid__c=record.sid)
            missing += not tasks
            duplicated += len(tasks) > 1
            wrong += bool(tasks) and (
                tasks[0].get("CallDisposition") != "completed"
                or tasks[0].get("CallDurationInSeconds") != record.duration
            )
        pushes = {u: len(sb.line.delivered(user_id=u, method="push")) for u in line_users}
        return {
            "voice_calls": calls,
            "voice_callbacks": sum(len(r.callbacks) for r in records),
            "voice_tasks_missing": missing,
            "voice_tasks_duplicated": duplicated,
            "voice_tasks_wrong": wrong,
            "voice_line_duplicates": sum(1 for n in pushes.values() if n > 1),
            "voice_line_missing": sum(1 for n in pushes.values() if n == 0),
            "voice_worker_kills": kills,
        }
    finally:
        stack.stop()


def main() -> int:
    import json

    from bench.run import save_section

    res = run()
    save_section("voice", res)
    print(json.dumps(res, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
