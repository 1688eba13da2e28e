"""Group commit: the Redis writes of concurrent webhook requests go out together.

Every webhook must be stored in Redis before it is acknowledged, so each request waits for one
round trip. Paying that round trip (two syscalls, a reply to parse, a wake-up) once per request
was a large part of what the relay cost. Instead, the requests of one web process take turns as
*leader*: the leader lets the requests already in flight queue their commands (one yield),
sends everything queued as one pipelined write on the process's own connection, reads the
replies and hands each request its own. Requests that arrive meanwhile queue up for the next
leader, which is the first of them. Nobody is acknowledged before its own replies are read, so
nothing is acknowledged that Redis has not taken; a request that dies while it waits or leads
hands the leader's role on, so the queue never stalls.

It uses only `threading`: with gunicorn's gevent workers (monkey-patched) the requests are
greenlets, and the leader yields once before it writes so that those ready to run can join; with
OS threads (no yield: it would cost a timer sleep) batches form while the leader waits on Redis.

Commands are packed here (RESP arrays of bytes) because redis-py's general path (pool checkout,
retry wrapper, per-argument encoding) cost more CPU than the write itself in the ingress
benchmark (docs/benchmarks.md).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence

import redis
from redis.exceptions import NoScriptError, ResponseError

Arg = bytes | str | int | float


def pack(*args: Arg) -> bytes:
    """One command in the Redis protocol (RESP array of bulk strings), as redis-py encodes it."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, (int, float)):  # repr: the shortest text that reads back as the same float
            a = repr(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


_forks = 0  # how many times this process has been forked into: a child must not use its parent's socket


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)  # not os.getpid() per write: a system call, and not cheap here


def _greenlet_yield():
    """gevent's sleep(0) when this process runs on gevent's monkey-patched threads, else None."""
    monkey = sys.modules.get("gevent.monkey")  # never imported: not patched (workers stay gevent-free)
    if monkey is None or not monkey.is_module_patched("threading"):
        return None
    from gevent import sleep

    return sleep


class _Waiter:
    __slots__ = ("commands", "replies", "error", "event", "lead")

    def __init__(self, commands: Sequence[bytes]):
        self.commands = commands
        self.replies: list | None = None
        self.error: BaseException | None = None
        self.event = threading.Event()
        self.lead = False


class GroupCommit:
    """Pipelined writes shared by the concurrent callers of one process.

    `write(commands)` sends packed commands and returns their replies in order; a reply that is
    a Redis error comes back as the exception object, except NOSCRIPT, which is handled here
    (the script is loaded and its commands sent again, see `scripts`). Raises
    redis.ConnectionError / redis.TimeoutError when Redis cannot be reached: then none of the
    caller's commands may be assumed applied, nor assumed not applied.
    """

    def __init__(self, client: redis.Redis, *, scripts: dict[str, str] | None = None, wait_s: float | None = None):
        self._pool = client.connection_pool
        self._scripts = dict(scripts or {})  # sha1 -> source, loaded again on NOSCRIPT
        timeout = self._pool.connection_kwargs.get("socket_timeout") or 5.0
        # A follower waits for at most its leader's write (connect, or send + read, each bounded
        # by the socket timeout) and then its own; past that something is wrong and it gives up.
        self._wait_s = wait_s if wait_s is not None else 2 * timeout + 1
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._busy = False
        self._conn = None
        self._forks = _forks
        self._yield = _greenlet_yield()
        self.batches = 0  # writes sent and commands sent, for tests and debugging
        self.commands = 0

    def write(self, commands: Sequence[bytes]) -> list:
        w = _Waiter(commands)
        with self._lock:
            self._queue.append(w)
            follower = self._busy
            self._busy = True
            w.lead = not follower
        if follower:
            try:
                woken = w.event.wait(self._wait_s)
            except BaseException:  # e.g. the request's greenlet killed: it must not keep the queue
                self._leave(w)
                raise
            if not woken:
                with self._lock:
                    if not w.lead and w.replies is None and w.error is None:
                        if w in self._queue:
                            self._queue.remove(w)
                        raise redis.TimeoutError("the Redis write of this request's group did not finish in time")
                # it became the leader, or finished, just as it gave up
            if not w.lead:
                return self._outcome(w)
        self._lead(w)
        return self._outcome(w)

    @staticmethod
    def _outcome(w: _Waiter) -> list:
        if w.error is not None:
            raise w.error
        return w.replies  # type: ignore[return-value]

    def _lead(self, w: _Waiter) -> None:
        batch: list[_Waiter] = []
        try:
            if self._yield is not None:
                self._yield()  # let requests already being handled join this write
            with self._lock:
                batch, self._queue = self._queue, []
            self._flush(batch)
        except BaseException as exc:
            if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                # Redis is down or hung: those who queued while this write waited would wait as
                # long again behind the next leader. They fail now, so every webhook answers 503
                # within about one socket timeout (LINE gives up after 2 s and redelivers).
                with self._lock:
                    waiting = [x for x in self._queue if x is not w]
                    self._queue = [x for x in self._queue if x is w]
                batch = batch + waiting
            for x in batch:
                if x.replies is None and x.error is None:
                    x.error = (
                        exc
                        if isinstance(exc, redis.RedisError)
                        else redis.ConnectionError(f"write interrupted: {type(exc).__name__}")
                    )
            if not isinstance(exc, Exception):
                raise
        finally:
            self._leave(w)
            for x in batch:
                x.event.set()

    def _leave(self, w: _Waiter) -> None:
        """`w` is done with the queue; if it held the leader's role, the next waiter takes it."""
        with self._lock:
            if w in self._queue:  # interrupted before its commands were taken
                self._queue.remove(w)
            if not w.lead:
                return
            w.lead = False
            if self._queue:
                nxt = self._queue[0]
                nxt.lead = True
                nxt.event.set()
            else:
                self._busy = False

    def _connection(self):
        if self._conn is None or self._forks != _forks:
            # The pool's settings (TLS, auth, timeouts), but not one of its connections: the pool
            # counts what it makes against max_connections and never hears of this one again.
            self._conn = self._pool.connection_class(**self._pool.connection_kwargs)
            self._forks = _forks
        return self._conn

    def _flush(self, batch: list[_Waiter]) -> None:
        commands = [c for x in batch for c in x.commands]
        try:
            replies = self._send(commands)
        except redis.ConnectionError:
            # A connection that broke while idle (Redis restarted, a proxy timed it out) fails on
            # first use: one fresh connection, once. Sending again is safe for writes that are
            # idempotent (INGEST is: the dedupe key makes a second run a no-op). A timeout is not
            # retried: Redis is hung, and a second wait would only double the first.
            self._drop()
            replies = self._send(commands)
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing and self._scripts:  # Redis restarted empty or SCRIPT FLUSH: load, send those again
            self._send([pack("SCRIPT", "LOAD", src) for src in self._scripts.values()])
            for i, r in zip(missing, self._send([commands[i] for i in missing])):
                replies[i] = r
        i = 0
        for x in batch:
            x.replies = replies[i : i + len(x.commands)]
            i += len(x.commands)
        self.batches += 1
        self.commands += len(commands)

    def _send(self, commands: list[bytes]) -> list:
        conn = self._connection()
        try:
            conn.send_packed_command([b"".join(commands)])  # one send() (a list of n is n sends)
            replies = []
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except ResponseError as exc:  # an error reply: the connection is fine
                    replies.append(exc)
            return replies
        except BaseException:
            self._drop()  # a half-read pipeline leaves replies on the socket: never reuse it
            raise

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.disconnect()
            self._conn = None
