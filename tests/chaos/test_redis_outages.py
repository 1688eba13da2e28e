"""Issue 17, findings 1 and 4, through the real processes (gunicorn, workers) on a private Redis.

* Finding 1: a worker exited for good when Redis was unreachable for more than about a second
  (RQ's worker was built outside the reconnect `try`; its CLIENT SETNAME raised).
* Finding 4: a hung Redis held webhooks 10-20 s; a worker killed with SIGKILL stalled its
  conversations until their 120 s lock expired.
"""

from __future__ import annotations

import signal
import time

import pytest
import redis as redis_lib

from connector.local.devstack import LocalStack
from connector.local.redis_server import RedisServer
from connector.storage.keys import Keys

pytestmark = pytest.mark.slow
KEYS = Keys()


def delivered_to_salesforce(stack, message_id: str) -> bool:
    return bool(stack.sandbox.salesforce.find("LINE_Chat_Message__c", Message_Key__c=message_id))


def send(stack, user: str, text: str, timeout_s: float = 20.0) -> dict:
    """A LINE message from `user`, redelivered (as LINE does) until the relay acknowledges it."""
    sb, channel = stack.sandbox, stack.channels[0].channel_id
    event = sb.line.send_user_message(channel, user, {"type": "text", "text": text}, deliver=False)
    deadline = time.monotonic() + timeout_s
    while sb.line._deliver(channel, [event]) != 200:
        assert time.monotonic() < deadline, "the relay never acknowledged the event"
        event = {**event, "deliveryContext": {"isRedelivery": True}}
        time.sleep(0.3)
    return event


def test_finding_1_a_worker_survives_a_redis_outage_and_its_sweeper_resumes_by_itself():
    with (
        RedisServer() as rds,
        LocalStack(redis_url=rds.url, workers=1, overrides={"queue": {"sweep_interval_seconds": 1}}) as stack,
    ):
        sb, worker = stack.sandbox, stack.worker_procs[0]
        first = send(stack, "U" + "1" * 32, "before")
        stack.wait_until(lambda: delivered_to_salesforce(stack, first["message"]["id"]), 20, what="the first message")
        # The worker is busy when Redis goes: a drain waits on a slow Salesforce write.
        sb.set_latency("salesforce", 3000)
        send(stack, "U" + "1" * 32, "in flight")
        stack.wait_until(lambda: rds.client().keys(KEYS.lock("*")), 20, what="a drain in flight")

        rds.shutdown()  # redis-cli shutdown nosave
        down_until = time.monotonic() + 8
        while time.monotonic() < down_until:
            assert worker.poll() is None, f"the worker exited ({worker.returncode}) while Redis was down"
            time.sleep(0.5)
        sb.set_latency("salesforce", 0)
        rds.start()  # same port, empty
        back = time.monotonic()

        # Hold the doorbell, so the webhook queues no drain job: only the sweeper can notice the
        # new conversation, and only a live RQ loop can run the drain it queues.
        rds.client().set(KEYS.doorbell, "1", px=600_000)
        after = send(stack, "U" + "2" * 32, "after")
        stack.wait_until(
            lambda: delivered_to_salesforce(stack, after["message"]["id"]),
            15,
            what="the message sent after the outage in Salesforce",
        )
        assert worker.poll() is None
        assert time.monotonic() - back < 12, "the worker took too long to reconnect"


def test_finding_4_a_hung_redis_makes_gunicorn_answer_webhooks_503_within_one_and_a_half_seconds():
    with RedisServer() as rds, LocalStack(redis_url=rds.url, workers=1) as stack:
        sb, channel = stack.sandbox, stack.channels[0].channel_id
        send(stack, "U" + "3" * 32, "warm up")
        rds.pause()
        try:
            answers = []
            for i in range(6):
                event = sb.line.send_user_message(
                    channel, "U" + f"{i:032d}", {"type": "text", "text": "?"}, deliver=False
                )
                t0 = time.monotonic()
                status = sb.line._deliver(channel, [event])
                answers.append((status, round(time.monotonic() - t0, 3)))
        finally:
            rds.resume()
        assert {status for status, _ in answers} == {503}, answers
        assert max(seconds for _, seconds in answers) <= 1.5, answers


def test_finding_4_a_killed_workers_conversations_resume_within_30_seconds():
    """A worker is SIGKILLed while Salesforce is slow, holding its conversations' locks; a second
    worker must take them over once the lease runs out (default `queue.lock_seconds`)."""
    with (
        RedisServer() as rds,
        LocalStack(redis_url=rds.url, workers=1, overrides={"queue": {"sweep_interval_seconds": 1}}) as stack,
    ):
        sb = stack.sandbox
        r = redis_lib.Redis.from_url(rds.url)
        victim = stack.worker_procs[0]
        sb.set_latency("salesforce", 60_000)  # the batch stays in flight, its conversations locked
        event = send(stack, "U" + "4" * 32, "in flight")
        stack.wait_until(lambda: r.keys(KEYS.lock("*")), 20, what="the conversation locked by the worker")
        time.sleep(1.0)
        stack.kill_worker(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        sb.set_latency("salesforce", 0)
        stack.start_worker()
        stack.wait_until(
            lambda: delivered_to_salesforce(stack, event["message"]["id"]),
            45,
            what="the killed worker's conversation resumed by the other worker",
        )
        resumed_s = time.monotonic() - killed_at
        assert resumed_s <= 30, f"resumed {resumed_s:.1f} s after the kill"


def test_a_worker_that_reconnects_still_stops_promptly_on_sigterm():
    with RedisServer() as rds, LocalStack(redis_url=rds.url, workers=1) as stack:
        worker = stack.worker_procs[0]
        time.sleep(2)  # idle, in RQ's blocking dequeue
        t0 = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(10)
        assert time.monotonic() - t0 < 5
