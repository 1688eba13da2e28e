"""Group commit: concurrent webhook writes share round trips, and each request gets its own replies."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import redis as redis_lib
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.storage.group_commit import GroupCommit, pack

SCRIPT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()


@pytest.fixture
def client(redis_url):
    return redis_lib.Redis.from_url(redis_url, socket_timeout=2)


def test_pack_is_the_redis_protocol_redis_py_would_send(client):
    conn = client.connection_pool.make_connection()
    args = ("EVALSHA", SHA, 1, "ln:key", b"\x00sealed\xff", 172800, 1732000000.123456, "田中")
    assert pack(*args) == b"".join(conn.pack_command(*args))


def test_each_caller_gets_its_own_replies_in_order(client):
    gc = GroupCommit(client)
    assert gc.write([pack("SET", "a", "1"), pack("INCR", "a"), pack("GET", "a")]) == [b"OK", 2, b"2"]  # raw replies


def test_a_group_of_commands_leaves_in_one_send(client):
    gc = GroupCommit(client)
    conn = gc._connection()
    conn.connect()  # the handshake (HELLO, CLIENT SETINFO) is not ours to count
    sends = []
    real_send = conn.send_packed_command
    conn.send_packed_command = lambda chunks, **kw: (sends.append(list(chunks)), real_send(chunks, **kw))
    commands = [pack("SET", "a", "1"), pack("INCR", "a"), pack("GET", "a")]
    assert gc.write(commands) == [b"OK", 2, b"2"]
    assert sends == [[b"".join(commands)]]  # redis-py sends a list of n chunks as n send() calls


def test_a_forked_worker_writes_on_its_own_connection(client):
    gc = GroupCommit(client)
    assert gc.write([pack("PING")]) == [b"PONG"]  # the parent (gunicorn's master) has a connection
    pid = os.fork()
    if pid == 0:  # a worker: had it kept the parent's socket, the two would read each other's replies
        ok = all(gc.write([pack("ECHO", f"child-{i}")]) == [f"child-{i}".encode()] for i in range(300))
        os._exit(0 if ok else 1)
    mine = all(gc.write([pack("ECHO", f"parent-{i}")]) == [f"parent-{i}".encode()] for i in range(300))
    _, status = os.waitpid(pid, 0)
    assert mine and os.waitstatus_to_exitcode(status) == 0


def test_callers_that_arrive_during_a_write_share_the_next_one(client):
    gc = GroupCommit(client)
    slow_send = gc._send

    def send(commands):  # the first write is slow, as if Redis were far away
        if gc.batches == 0:
            time.sleep(0.2)
        return slow_send(commands)

    gc._send = send
    results = {}

    def caller(i):
        results[i] = gc.write([pack("ECHO", f"caller-{i}"), pack("INCR", "calls")])

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(20)]
    threads[0].start()
    time.sleep(0.05)  # caller 0 leads the first write; the others queue behind it
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(5)
    assert {i: r[0] for i, r in results.items()} == {i: f"caller-{i}".encode() for i in range(20)}
    assert sorted(r[1] for r in results.values()) == list(range(1, 21))  # every INCR applied once
    assert gc.batches == 2 and gc.commands == 40


def test_an_error_reply_goes_to_its_caller_and_the_rest_succeed(client):
    gc = GroupCommit(client)
    client.rpush("a-list", "x")
    out = gc.write([pack("INCR", "a-list"), pack("INCR", "counter")])
    assert isinstance(out[0], redis_lib.ResponseError) and out[1] == 1


def test_a_flushed_script_cache_is_reloaded_and_the_command_sent_again(client):
    gc = GroupCommit(client, scripts={SHA: SCRIPT})
    client.script_flush()
    assert gc.write([pack("EVALSHA", SHA, 1, "n", 5)]) == [5]
    assert client.get("n") == b"5"  # applied once, not twice


def test_a_connection_killed_while_idle_is_replaced_on_the_next_write(client):
    gc = GroupCommit(client)
    gc.write([pack("CLIENT", "SETNAME", "group-commit-test")])
    client.client_kill_filter(_type="normal", skipme=True)  # e.g. Redis restarted, or a proxy timed out
    assert gc.write([pack("INCR", "after-kill")]) == [1]


def test_reconnecting_again_and_again_does_not_use_up_the_clients_connection_pool(redis_url):
    client = redis_lib.Redis.from_url(redis_url, max_connections=2)
    gc = GroupCommit(client)
    for _ in range(5):  # five Redis restarts, as far as this process can tell
        gc.write([pack("CLIENT", "SETNAME", "group-commit-test")])
        client.client_kill_filter(_type="normal", skipme=True)
    assert gc.write([pack("INCR", "still-writing")]) == [1]
    assert client.ping()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_when_redis_is_unreachable_every_waiting_caller_gets_the_error():
    gc = GroupCommit(redis_lib.Redis(port=_closed_port(), socket_timeout=0.5, socket_connect_timeout=0.5))
    errors = []

    def caller():
        try:
            gc.write([pack("PING")])
        except redis_lib.RedisError as exc:
            errors.append(type(exc))

    threads = [threading.Thread(target=caller) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [redis_lib.ConnectionError] * 5
    assert not gc._busy and not gc._queue  # nobody is left holding the leader's role


def test_a_follower_whose_leader_hangs_gives_up_with_a_timeout(client):
    gc = GroupCommit(client, wait_s=0.2)
    started = threading.Event()

    def hang(_commands):
        started.set()
        time.sleep(1)
        return [b"late"]

    gc._send = hang
    leader = threading.Thread(target=lambda: gc.write([pack("PING")]))
    leader.start()
    started.wait(2)
    with pytest.raises(redis_lib.TimeoutError):
        gc.write([pack("PING")])
    leader.join(3)
    assert not gc._queue


def test_under_gevent_concurrent_requests_are_batched(redis_url):
    """The web process runs gunicorn's gevent workers: greenlets queue behind the leader's yield."""
    code = textwrap.dedent(f"""
        from gevent import monkey; monkey.patch_all()
        import gevent, redis
        from connector.storage.group_commit import GroupCommit, pack
        gc = GroupCommit(redis.Redis.from_url({redis_url!r}))
        jobs = [gevent.spawn(gc.write, [pack("INCR", "greenlets")]) for _ in range(50)]
        gevent.joinall(jobs, timeout=10, raise_error=True)
        print(sorted(j.value[0] for j in jobs) == list(range(1, 51)), gc.batches)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    ok, batches = out.stdout.split()
    assert ok == "True", out.stderr
    assert int(batches) < 5  # 50 requests, a handful of round trips


@settings(max_examples=40, deadline=None)
@given(
    callers=st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=12),
    failures=st.lists(st.booleans(), min_size=1, max_size=12),
    seed=st.integers(0, 2**16),
)
def test_whatever_the_interleaving_and_failures_each_caller_gets_its_own_outcome(callers, failures, seed):
    """Commands echo back as replies; some writes fail. Each caller hears only about its own commands:
    its replies in order, or an error - never another caller's replies, and nobody waits forever."""
    gc = GroupCommit(redis_lib.Redis(), wait_s=60)  # a lost wake-up shows as a thread still waiting below
    rng = random.Random(seed)
    attempts = iter(failures * 10)

    def send(commands):
        time.sleep(rng.random() * 0.003)  # others queue up meanwhile
        if next(attempts, False):
            raise redis_lib.ConnectionError("injected")
        return list(commands)

    gc._send = send
    outcomes: dict[int, object] = {}

    def caller(i, n):
        time.sleep(rng.random() * 0.002)
        mine = [f"{i}:{k}".encode() for k in range(n)]
        try:
            outcomes[i] = gc.write(mine) == mine
        except redis_lib.RedisError:
            outcomes[i] = "error"

    threads = [threading.Thread(target=caller, args=(i, n)) for i, n in enumerate(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert all(not t.is_alive() for t in threads)
    assert set(outcomes) == set(range(len(callers))) and all(v in (True, "error") for v in outcomes.values())
    assert not gc._busy and not gc._queue


class _Interrupted(BaseException):
    """What killing a request's greenlet raises where it waits (GreenletExit is a BaseException)."""


def test_a_waiting_request_that_is_killed_does_not_leave_the_others_waiting(client):
    gc = GroupCommit(client, wait_s=60)
    real_send = gc._send
    started = threading.Event()

    def slow_send(commands):
        started.set()
        time.sleep(0.2)
        return real_send(commands)

    gc._send = slow_send
    results = {}
    leader = threading.Thread(target=lambda: results.setdefault("a", gc.write([pack("INCR", "a")])))
    leader.start()
    started.wait(2)

    class Doomed(threading.Event):  # B waits behind A and is killed there
        def wait(self, timeout=None):
            raise _Interrupted()

    real_event = threading.Event
    threading.Event = Doomed
    try:
        with pytest.raises(_Interrupted):
            gc.write([pack("INCR", "b")])
    finally:
        threading.Event = real_event
    c = threading.Thread(target=lambda: results.setdefault("c", gc.write([pack("INCR", "c")])))
    c.start()
    leader.join(5)
    c.join(5)
    assert results == {"a": [1], "c": [1]} and not gc._busy and not gc._queue


def test_under_gevent_a_leader_killed_before_it_writes_hands_its_role_on(redis_url):
    code = textwrap.dedent(f"""
        from gevent import monkey; monkey.patch_all()
        import gevent, redis
        from connector.storage.group_commit import GroupCommit, pack
        gc = GroupCommit(redis.Redis.from_url({redis_url!r}))
        leader = gevent.spawn(gc.write, [pack("INCR", "killed")])
        follower = gevent.spawn(gc.write, [pack("INCR", "follower")])
        gevent.sleep(0)            # the leader yields to let others join, or is already writing
        leader.kill()
        follower.join(5)           # its write was cut off with the leader's: an error, never a hang
        late = gevent.spawn(gc.write, [pack("INCR", "late")])
        late.join(5)
        print(follower.ready(), type(follower.exception).__name__, late.value, gc._busy, len(gc._queue))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    ready, error, late, busy, queued = out.stdout.split()
    assert ready == "True" and error in ("NoneType", "ConnectionError"), out.stderr
    assert (late, busy, queued) == ("[1]", "False", "0"), out.stderr
