"""Short chaos run (the full one is `make chaos`): nothing acknowledged is lost, nothing twice,
order kept, no LINE message delivered twice - through worker SIGKILLs, a Redis restart, a Redis
outage, a hung Redis, a worker killed holding conversations' locks and injected Salesforce/LINE
faults. Needs `redis-server` (a private instance with AOF is started)."""

from __future__ import annotations

import shutil

import pytest

from tests.chaos.harness import run_chaos

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server (apt-get install redis-server)")
def test_short_chaos_run_keeps_the_invariants():
    result = run_chaos(
        events=600,
        users=40,
        senders=8,
        worker_kills=2,
        redis_restarts=1,
        redis_outage_s=5,
        redis_hang_s=3,
        locked_kills=1,
        fault_p=0.08,
        rate=60,
        drain_timeout_s=40,
        seed=7,
        log=lambda *_: None,
    )
    summary = {
        k: result[k]
        for k in ("events", "lost", "duplicates", "order_violations", "line_duplicates", "dead_letters", "stats")
        + ("worker_exits", "hung_webhook_max_s", "max_resume_s")
    }
    assert result["events"] == 600, summary
    assert result["lost"] == 0, summary
    assert result["duplicates"] == 0, summary
    assert result["order_violations"] == 0, summary
    assert result["line_duplicates"] == 0, summary
    # issue 17: a Redis outage, a hung Redis and a worker killed holding locks
    assert result["worker_exits"] == 0, summary
    assert result["hung_webhook_max_s"] <= 1.5, summary
    assert result["max_resume_s"] is not None and result["max_resume_s"] <= 30, summary
    assert result["dead_letters_from_transient"] == 0, summary


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server (apt-get install redis-server)")
def test_a_salesforce_outage_longer_than_the_retry_schedule_dead_letters_nothing_and_keeps_order():
    result = run_chaos(
        events=300,
        users=30,
        senders=6,
        worker_kills=1,
        redis_restarts=0,
        redis_outage_s=0,  # this test is about Salesforce: Redis stays up
        redis_hang_s=0,
        locked_kills=0,
        fault_p=0.04,
        rate=40,
        sf_outage_s=15,  # the relay gives a record up after 1 + 2 + 2 s without the pause
        sf_outage_at_s=2,
        retry_intervals=(1, 2, 2),
        drain_timeout_s=60,
        seed=11,
        log=lambda *_: None,
    )
    summary = {
        k: result[k]
        for k in ("events", "lost", "duplicates", "order_violations", "line_duplicates", "dead_letters", "sf_outage")
    }
    assert result["events"] == 300, summary
    assert result["lost"] == result["duplicates"] == result["order_violations"] == 0, summary
    assert result["line_duplicates"] == 0, summary
    assert result["dead_letters"] == result["dead_letters_from_transient"] == 0, summary
    assert result["sf_outage"]["line_answers_during_outage"] > 0, summary  # welcomes went out while it was down
