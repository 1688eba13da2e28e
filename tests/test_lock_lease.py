"""A conversation's lock is a short lease, renewed by its holder while the batch is in flight.

The lease is short so that a killed worker's conversations are taken over within seconds
(issue 17, finding 4); renewing it must never take a lock back from the drainer that took the
conversation over after it expired.
"""

from __future__ import annotations

import time

import pytest
import redis as redis_lib

from connector.jobs.inbound import LockKeeper
from connector.storage.keys import Keys
from connector.storage.store import Outcome, Store
from connector.storage.vault import Vault, new_key


@pytest.fixture
def r(redis_url):
    return redis_lib.Redis.from_url(redis_url)


@pytest.fixture
def store(r):
    return Store(r, Vault([new_key()]))


def ev(n):
    return {"type": "message", "webhookEventId": f"E{n}"}


def test_the_holder_renews_its_lease(store, r):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    token, _ = store.claim(max_events=10, lock_ms=1_000)
    assert store.extend_locks(token, ["c:U1"], 60_000) == []
    assert r.pttl(Keys().lock("c:U1")) > 50_000


def test_renewing_an_expired_lease_never_takes_the_conversation_back_from_its_new_holder(store, r):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    old, _ = store.claim(max_events=10, lock_ms=100)
    time.sleep(0.2)
    new, claimed = store.claim(max_events=10, lock_ms=10_000)
    assert [c.conv for c in claimed] == ["c:U1"]
    assert store.extend_locks(old, ["c:U1"], 60_000) == ["c:U1"]
    assert r.get(Keys().lock("c:U1")).decode() == new
    assert store.commit(new, [Outcome("c:U1", 1, None)]) == []  # the new holder still commits


def test_a_batch_in_flight_keeps_its_conversations_past_the_lease(store, r):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    token, _ = store.claim(max_events=10, lock_ms=600)
    keeper = LockKeeper(store, 600)
    keeper.hold(token, ["c:U1"])
    try:
        time.sleep(1.5)  # 2.5 leases
        assert store.claim(max_events=10, lock_ms=600)[1] == []
        assert r.get(Keys().lock("c:U1")).decode() == token
    finally:
        keeper.close()


def test_a_released_batch_lets_its_lease_run_out(store, r):
    store.ingest([("c", "E1", "c:U1", ev(1))])
    token, _ = store.claim(max_events=10, lock_ms=600)
    keeper = LockKeeper(store, 600)
    keeper.hold(token, ["c:U1"])
    keeper.release(token)  # its drainer is gone (as if killed): nobody renews
    time.sleep(0.9)
    try:
        assert [c.conv for c in store.claim(max_events=10, lock_ms=600)[1]] == ["c:U1"]
    finally:
        keeper.close()
