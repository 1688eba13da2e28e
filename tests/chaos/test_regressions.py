"""Focused repros of what the chaos run found (each a few seconds, real processes + sandbox).

* A reply that LINE applied but answered 5xx must not be pushed again (LINE duplicate).
* A worker must survive a Redis restart (it used to exit with status 1).
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.chaos.harness import PrivateRedis

pytestmark = pytest.mark.slow
needs_redis_server = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


@needs_redis_server
def test_a_reply_applied_but_answered_5xx_is_not_pushed_again():
    from connector.local.devstack import LocalStack

    rds = PrivateRedis().start()
    try:
        with LocalStack(
            redis_url=rds.url,
            workers=1,
            overrides={"queue": {"retry_intervals_seconds": [1, 1, 1], "sweep_interval_seconds": 1}},
        ) as stack:
            sb = stack.sandbox
            sb.faults.add("line", "after_apply_status", status=500, path="/v2/bot/message/reply", count=1)
            user = "U" + "d" * 32
            sb.line.send_user_message(stack.channels[0].channel_id, user, {"type": "text", "text": "hello"})
            stack.wait_until(lambda: sb.line.delivered(user_id=user), 20, what="the welcome reply")
            time.sleep(4)  # the push job (if any) runs within a second or two
            methods = [d["method"] for d in sb.line.delivered(user_id=user)]
            assert methods == ["reply"], f"delivered {len(methods)} times: {methods}"
    finally:
        rds.stop()


@needs_redis_server
def test_a_worker_survives_a_redis_restart():
    from connector.local.devstack import LocalStack

    rds = PrivateRedis().start()
    try:
        with LocalStack(redis_url=rds.url, workers=1, overrides={"queue": {"sweep_interval_seconds": 1}}) as stack:
            time.sleep(1.5)
            rds.restart(down_s=1.0)
            time.sleep(6)
            worker = stack.worker_procs[0]
            assert worker.poll() is None, f"the worker exited with status {worker.returncode} after a Redis restart"
            user = "U" + "e" * 32
            stack.sandbox.line.send_user_message(stack.channels[0].channel_id, user, {"type": "text", "text": "hi"})
            stack.wait_until(
                lambda: stack.sandbox.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound"),
                20,
                what="the message in Salesforce after the restart",
            )
    finally:
        rds.stop()
