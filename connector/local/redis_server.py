"""A redis-server of our own, for the demo, the dev stack, the tests and the chaos run.

Development tools never use a Redis they did not start or create: `make demo`, `connector dev`
and the tests would otherwise flush whatever `$REDIS_URL` points at. `RedisServer` starts a
private redis-server on 127.0.0.1 (a free port, a temporary directory removed on stop); it can be
shut down and started again on the same port, or frozen (SIGSTOP) to play a hung Redis.

`claim_database` is the other way to be safe: a database may be used (and flushed) only when it
is empty or carries the marker this module left in it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import redis

# The key that says "a development tool created this database and may flush it".
OWNER_KEY = "connector:dev-tool-owned"


class NotOurDatabase(RuntimeError):
    """The database holds data that no development tool of ours created."""


def claim_database(client: redis.Redis, url: str = "") -> None:
    """Flush the database if it is ours (empty, or marked by an earlier run), then mark it.

    Raises NotOurDatabase when it holds anything else: an integrator's REDIS_URL must never be
    emptied by a demo or a test run.
    """
    if client.dbsize() and not client.exists(OWNER_KEY):
        where = url or "this Redis database"
        raise NotOurDatabase(
            f"{where} holds data that no connector development tool created; refusing to flush it. "
            "Point the tool at an empty database or let it start its own redis-server (unset the URL)."
        )
    client.flushdb()
    client.set(OWNER_KEY, str(os.getpid()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """The server gets SIGTERM when the process that started it dies (Linux), so an interrupted
    run never leaves a redis-server behind. The kernel ties this to the forking *thread*: only
    used when starting from the main thread (a chaos thread that restarts Redis ends early)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class RedisServer:
    """`with RedisServer() as rds:` a private redis-server at `rds.url`; nothing is left afterwards.

    `appendonly=True` keeps every acknowledged write across a kill (AOF, fsync on every write),
    as the chaos run needs; without it the server keeps nothing on disk.
    """

    def __init__(self, *, port: int | None = None, appendonly: bool = False, db: int = 0):
        if not shutil.which("redis-server"):
            raise RuntimeError(
                "redis-server is not installed: sudo apt-get install redis-server (Debian/Ubuntu) "
                "or brew install redis (macOS)"
            )
        self.port = port or free_port()
        self.appendonly = appendonly
        self.db = db
        self.dir: str | None = None  # made at start, removed at stop
        self.proc: subprocess.Popen | None = None
        self.paused = False
        self.restarts = 0

    @property
    def url(self) -> str:
        return self.url_for(self.db)

    def url_for(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, timeout_s: float = 1.0) -> redis.Redis:
        return redis.Redis(port=self.port, db=self.db, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> "RedisServer":
        self.dir = self.dir or tempfile.mkdtemp(prefix="connector-redis-")
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence]
            + ["--dir", self.dir, "--logfile", "redis.log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread() else None,
        )
        self.paused = False
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                self.client(0.5).ping()
                return self
            except redis.RedisError:
                time.sleep(0.05)
        self._end(signal.SIGKILL)
        raise RuntimeError(f"redis-server did not start on 127.0.0.1:{self.port} (log: {self.dir}/redis.log)")

    def shutdown(self) -> None:
        """`redis-cli shutdown nosave`: Redis goes away, clients see their connections closed."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.resume()
        try:
            self.client().shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the reply to SHUTDOWN is the connection closing
        self.proc.wait(10)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self._end(sig)

    def restart(self, down_s: float = 1.0) -> None:
        """Kill Redis, keep it down for `down_s`, start it again on the same port."""
        self.kill()
        time.sleep(down_s)
        self.start()
        self.restarts += 1

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and the kernel still accepts new
        ones, but nothing is answered, as with a hung or swapping Redis."""
        if self.proc and self.proc.poll() is None and not self.paused:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.proc and self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False

    def stop(self) -> None:
        self._end(signal.SIGTERM)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def _end(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.resume()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> "RedisServer":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


_session_server: RedisServer | None = None


def session_redis_url(env_var: str, db: int) -> str:
    """$`env_var` if it is set, else a database of a private redis-server started on first use
    and stopped when this process exits (tests and benchmarks run without any system Redis)."""
    global _session_server
    if os.environ.get(env_var):
        return os.environ[env_var]
    if _session_server is None:
        import atexit

        _session_server = RedisServer().start()
        atexit.register(_session_server.stop)
    return _session_server.url_for(db)
