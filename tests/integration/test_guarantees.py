"""Nothing acknowledged is lost, nothing is done twice, each conversation stays in order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import drained, inbound


def users(n):
    return [f"U{i:032x}" for i in range(n)]


def send_interleaved(stack, user_ids, per_user, threads=16):
    """Every user sends `per_user` numbered messages in order; users write at the same time."""
    line, ch = stack.sandbox.line, stack.channels[0].channel_id

    def one_user(uid):
        statuses = []
        for i in range(per_user):
            statuses.append(line.send_user_message(ch, uid, {"type": "text", "text": f"{uid[-4:]} #{i:04d}"})["status"])
        return statuses

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one_user, user_ids))
    assert all(s == 200 for r in results for s in r)


def assert_in_order_once(sf, user_ids, per_user):
    messages = inbound(sf)
    assert len(messages) == len(user_ids) * per_user
    assert len({m["Message_Key__c"] for m in messages}) == len(messages)
    for uid in user_ids:
        mine = [m for m in messages if m["Text__c"].startswith(uid[-4:] + " #")]
        in_creation_order = [m["Text__c"] for m in sorted(mine, key=lambda m: (m["CreatedDate"], m["Id"]))]
        assert in_creation_order == [f"{uid[-4:]} #{i:04d}" for i in range(per_user)], uid


@pytest.mark.slow
def test_four_workers_keep_every_users_messages_in_order(make_stack):
    stack = make_stack(workers=4)
    ids = users(50)
    send_interleaved(stack, ids, per_user=20)  # 1,000 messages
    drained(stack, timeout=180)
    assert_in_order_once(stack.sandbox.salesforce, ids, 20)


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_nothing_and_repeats_nothing(make_stack):
    import threading

    import redis

    stack = make_stack(workers=1, overrides={"queue": {"lock_seconds": 5}})
    stack.sandbox.set_latency("salesforce", 3000)  # every batch waits 3 s on Salesforce
    ids = users(10)
    sender = threading.Thread(target=send_interleaved, args=(stack, ids, 10, 10))
    sender.start()
    r = redis.Redis.from_url(stack.redis_url)
    stack.wait_until(lambda: r.keys("ln:lock:*"), timeout=30, interval=0.01, what="a batch in flight")
    stack.kill_worker(stack.worker_procs[0])  # SIGKILL while it holds conversations
    stack.start_worker()
    sender.join(120)
    stack.sandbox.set_latency("salesforce", 0)
    drained(stack, timeout=120)
    assert_in_order_once(stack.sandbox.salesforce, ids, 10)
    welcomes = stack.sandbox.line.delivered()
    assert sorted(d["to"] for d in welcomes) == sorted(ids)  # one reply per new inquiry, none twice


def test_salesforce_down_for_a_while_delays_but_loses_nothing(make_stack):
    stack = make_stack()
    stack.sandbox.faults.add("salesforce", "status", status=503, path="/services/data/", duration_s=4)
    ids = users(5)
    send_interleaved(stack, ids, per_user=4, threads=5)
    drained(stack, timeout=90)
    assert_in_order_once(stack.sandbox.salesforce, ids, 4)
    assert len(stack.sandbox.line.delivered()) == 5  # the bot answered in time; Salesforce caught up


def test_a_permanently_rejected_event_goes_to_the_dead_letters_and_can_be_replayed(make_stack):
    import subprocess
    import sys

    stack = make_stack()
    fault = stack.sandbox.faults.add("salesforce", "status", status=400, path="/services/data/.*/composite")
    stack.sandbox.line.send_user_message(stack.channels[0].channel_id, users(1)[0], {"type": "text", "text": "x"})
    drained(stack, timeout=60)
    env = stack.environ()
    listing = subprocess.run(
        [sys.executable, "-m", "connector.entrypoints.cli", "failed", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listing.returncode == 0 and "1 dead letter(s)" in listing.stderr
    stack.sandbox.faults.remove(fault) if hasattr(stack.sandbox.faults, "remove") else stack.sandbox.faults.clear()
    replay = subprocess.run(
        [sys.executable, "-m", "connector.entrypoints.cli", "failed", "replay", "--all"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.stdout.strip() == "replayed 1 of 1"
    drained(stack, timeout=60)
    assert len(inbound(stack.sandbox.salesforce)) == 1
    again = subprocess.run(
        [sys.executable, "-m", "connector.entrypoints.cli", "failed", "replay", "--all"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.stdout.strip() == "replayed 0 of 0"
