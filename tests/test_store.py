"""Redis store: events survive until processed, one drainer per conversation, nothing trimmed twice."""

from __future__ import annotations

import json
import time

import pytest
import redis as redis_lib
from cryptography.fernet import Fernet

from connector.storage.store import Outcome, Store
from connector.storage.vault import Vault, new_key


@pytest.fixture
def store(redis_url):
    return Store(redis_lib.Redis.from_url(redis_url), Vault([new_key()]))


def ev(n):
    return {"type": "message", "webhookEventId": f"E{n}"}


def test_ingest_marks_a_conversation_ready_only_once(store):
    ready, dup = store.ingest([("c", "E1", "c:U1", ev(1)), ("c", "E2", "c:U1", ev(2))])
    assert ready == ["c:U1"] and dup == 0
    assert store.backlog() == {"conversations": 1, "events": 2, "held": 0}


def test_duplicate_event_ids_are_skipped(store):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    ready, dup = store.ingest([("c", "E1", "c:U1", ev(1))])
    assert ready == [] and dup == 1


def test_a_claimed_conversation_cannot_be_claimed_by_another_drainer(store):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    _, first = store.claim(max_events=10, lock_ms=10_000)
    _, second = store.claim(max_events=10, lock_ms=10_000)
    assert [c.conv for c in first] == ["c:U1"] and second == []


def test_a_held_conversation_leaves_the_others_scan_so_they_take_the_next_ones(store):
    store.ingest([("c", f"E{u}", f"c:U{u}", ev(u)) for u in range(3)])
    _, first = store.claim(max_events=10, lock_ms=10_000, scan=1)
    _, second = store.claim(max_events=10, lock_ms=10_000, scan=1)
    assert [c.conv for c in first] == ["c:U0"] and [c.conv for c in second] == ["c:U1"]
    assert store.pending() == 1


def test_a_conversation_whose_drainer_died_is_ready_again_when_its_lock_runs_out(store):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    store.claim(max_events=10, lock_ms=100)
    assert store.pending() == 0
    time.sleep(0.15)
    assert store.pending() == 1
    _, claimed = store.claim(max_events=10, lock_ms=10_000)
    assert [c.conv for c in claimed] == ["c:U1"]


def test_a_renewed_lock_keeps_its_conversation_out_of_the_scan(store):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    token, _ = store.claim(max_events=10, lock_ms=100)
    assert store.extend_locks(token, ["c:U1"], 10_000) == []
    time.sleep(0.15)
    assert store.pending() == 0


def test_a_conversation_committed_with_more_waiting_is_ready_at_once(store):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    token, _ = store.claim(max_events=10, lock_ms=10_000)
    store.ingest([("c", "E2", "c:U1", ev(2))])
    store.commit(token, [Outcome("c:U1", 1, {"s": 1})])
    assert store.pending() == 1


def test_claim_reads_events_in_arrival_order_without_removing_them(store):
    store.ingest([("c", f"E{i}", "c:U1", ev(i)) for i in range(5)])
    token, claimed = store.claim(max_events=10, lock_ms=10_000)
    assert [e["event"]["webhookEventId"] for e in claimed[0].entries] == [f"E{i}" for i in range(5)]
    assert store.backlog()["events"] == 5


def test_commit_trims_only_what_was_processed_and_keeps_later_arrivals(store):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    token, claimed = store.claim(max_events=10, lock_ms=10_000)
    store.ingest([("c", "E2", "c:U1", ev(2))])  # arrives while the drainer works
    assert store.commit(token, [Outcome("c:U1", 1, {"s": 1})]) == []
    _, again = store.claim(max_events=10, lock_ms=10_000)
    assert [e["event"]["webhookEventId"] for e in again[0].entries] == ["E2"]
    assert again[0].state == {"s": 1}


def test_a_drainer_whose_lock_expired_cannot_commit(store):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    token, _ = store.claim(max_events=10, lock_ms=1)
    time.sleep(0.01)
    token2, claimed2 = store.claim(max_events=10, lock_ms=10_000)
    assert store.commit(token, [Outcome("c:U1", 1, None)]) == ["c:U1"]
    assert store.backlog()["events"] == 1  # the late drainer trimmed nothing
    assert store.commit(token2, [Outcome("c:U1", 1, None)]) == []
    assert store.backlog() == {"conversations": 0, "events": 0, "held": 0}


def test_failed_batch_backs_off_and_counts_an_attempt(store):
    store.ingest([("c", "E1", "c:U1", ev(1))], now=100)
    token, _ = store.claim(max_events=10, lock_ms=10_000, now=100)
    store.commit(token, [Outcome("c:U1", 0, None, retry_at=200, failed=True)])
    assert store.claim(max_events=10, lock_ms=10_000, now=150)[1] == []
    _, claimed = store.claim(max_events=10, lock_ms=10_000, now=200)
    assert claimed[0].attempts == 1


def test_claim_respects_the_event_budget_across_conversations(store):
    store.ingest([("c", f"E{u}{i}", f"c:U{u}", ev(i)) for u in range(3) for i in range(4)])
    _, claimed = store.claim(max_events=6, lock_ms=10_000)
    assert sum(len(c.entries) for c in claimed) == 6


def test_dead_letter_replays_once_and_returns_to_its_conversation(store):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    token, claimed = store.claim(max_events=10, lock_ms=10_000)
    dl = store.dead_letter(claimed[0].raw[0], conv="c:U1", kind="event", error="boom", attempts=3)
    store.commit(token, [Outcome("c:U1", 1, None)])
    assert [d["id"] for d in store.dead_letters()] == [dl]
    assert store.replay(dl) is True
    assert store.replay(dl) is False
    _, again = store.claim(max_events=10, lock_ms=10_000)
    assert again[0].entries[0]["event"]["webhookEventId"] == "E1"
    assert store.dead_letters() == []


def test_a_dead_letter_written_by_the_fernet_version_still_replays(store, redis_url):
    key = new_key()
    old = Store(redis_lib.Redis.from_url(redis_url), Vault([key]))
    legacy_entry = Fernet(key.encode()).encrypt(
        json.dumps({"channel": "c", "conv": "c:U1", "event": ev(1), "received_at": 1.0}).encode()
    )
    record = Fernet(key.encode()).encrypt(
        json.dumps(
            {
                "id": "1-ab",
                "conv": "c:U1",
                "kind": "event",
                "error": "boom",
                "attempts": 3,
                "at": 1.0,
                "entry": legacy_entry.decode(),
            }
        ).encode()
    )
    old.r.hset("ln:dlq", "1-ab", record)
    old.r.zadd("ln:dlq:index", {"1-ab": 1.0})
    assert old.replay("1-ab") is True
    _, claimed = old.claim(max_events=10, lock_ms=10_000)
    assert claimed[0].entries[0]["event"]["webhookEventId"] == "E1"


def test_events_are_sealed_at_rest(store, redis_url):
    store.ingest([("c", "E1", "c:U1", {"message": {"text": "田中です"}})])
    raw = redis_lib.Redis.from_url(redis_url).lindex("ln:inbox:c:U1", 0)
    assert "田中".encode() not in raw


def test_only_the_first_newly_ready_conversation_rings_for_a_drain_until_one_starts(store):
    wake, _ = store.ingest([("c", "E1", "c:U1", ev(1)), ("c", "E2", "c:U2", ev(2))])
    assert wake == ["c:U1"]  # one drain job will take both
    assert store.ingest([("c", "E3", "c:U3", ev(3))])[0] == []
    store.drain_started()
    assert store.ingest([("c", "E4", "c:U4", ev(4))])[0] == ["c:U4"]  # more work: another worker


def test_a_worker_moves_due_retries_onto_the_queue_without_rqs_scheduler(redis_url):
    from datetime import timedelta

    from connector.config import load_config
    from connector.entrypoints.worker import enqueue_due_jobs
    from connector.runtime import Runtime
    from tests.conftest import base_settings

    env = {
        "REDIS_URL": redis_url,
        "CONNECTOR_ENCRYPTION_KEYS": new_key(),
        "LINE_MAIN_SECRET": "s",
        "LINE_MAIN_TOKEN": "t",
        "SF_USERNAME": "u",
        "SF_CONSUMER_KEY": "c",
        "SF_PASSWORD": "p",
        "SF_CONSUMER_SECRET": "x",
    }
    rt = Runtime(load_config(data=base_settings(), environ=env))
    rt.queue.enqueue_in(timedelta(milliseconds=10), "os.getcwd")
    assert rt.queue.count == 0
    import time

    time.sleep(1.1)  # RQ schedules with a resolution of one second
    assert enqueue_due_jobs(rt) == 1 and rt.queue.count == 1
    assert enqueue_due_jobs(rt) == 0  # another worker within the same tick finds nothing (lock)


def test_the_claim_rate_is_what_all_drains_claimed_over_the_last_whole_seconds(store):
    now = 1_800_000_000.5
    store.note_claimed(30, now - 3)
    store.note_claimed(20, now - 2)
    store.note_claimed(10, now - 1)
    store.note_claimed(99, now)  # this second is not over: not counted yet
    store.note_claimed(99, now - 4)  # older than the span
    assert store.claim_rate(now) == (30 + 20 + 10) / 3


def test_the_api_usage_noted_is_read_back(store):
    assert store.api_usage() is None
    store.note_api_usage(18, 5000, 1.5)
    assert store.api_usage() == {"used": 18, "limit": 5000, "at": 1.5}
