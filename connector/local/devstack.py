"""The whole system on one machine: sandbox + web (gunicorn) + workers, on loopback.

Used by `connector dev`, `connector demo`, the integration tests and the benchmarks. The web and
worker processes are the production ones (same commands as the Procfile); only the base URLs
in their configuration point at the sandbox. Secrets are generated per run and passed through
the environment, as in production.
"""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis
import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.local.redis_server import RedisServer, claim_database
from connector.storage.vault import new_key

ROOT = Path(__file__).resolve().parents[2]
METADATA_DIR = ROOT / "sfdc_metadata" / "force-app" / "main" / "default"
SF_USER = "integration@connector.local.sandbox"
SF_CONSUMER_KEY = "connector-sandbox-app"


def _die_with_parent() -> None:
    """Child processes get SIGTERM when the process that started them dies (Linux), so an
    interrupted test run never leaves workers behind consuming another run's queue.
    The kernel ties this to the forking *thread*, so it is only used from the main thread."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _guard():
    return _die_with_parent if threading.current_thread() is threading.main_thread() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalStack:
    """Start with `with LocalStack(...) as stack:`; everything started is stopped on exit."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        channels: int = 1,
        workers: int = 1,
        web_port: int | None = None,
        overrides: dict | None = None,
        log_level: str = "WARNING",
        workdir: str | None = None,
    ):
        from connector.local.sandbox import Sandbox, SandboxChannel
        from connector.local.sandbox.salesforce_store import SalesforceUser

        # Never a Redis this stack did not create: without a URL it runs a redis-server of its own
        # ($REDIS_URL may be an integrator's production database); a URL it is given must be an
        # empty database or one marked by an earlier run (claim_database), and only then is flushed.
        self._redis_server = None if redis_url else RedisServer()
        self.redis_url = redis_url or self._redis_server.url
        self.workers = workers
        self.web_port = web_port or free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="connector-")
        self.workdir = Path(workdir or self._tmp.name)
        self.procs: list[subprocess.Popen] = []
        self.worker_procs: list[subprocess.Popen] = []

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self.channels = []
        self.twilio_account_sid = "AC" + secrets.token_hex(16)
        env = {
            "CONNECTOR_ENCRYPTION_KEYS": new_key(),
            "REDIS_URL": self.redis_url,
            "SF_USERNAME": SF_USER,
            "SF_CONSUMER_KEY": SF_CONSUMER_KEY,
            "SF_PRIVATE_KEY": private_pem,
            "CONNECTOR_CALLOUT_SECRETS": secrets.token_hex(32),
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        }
        channel_cfg = []
        for i in range(channels):
            cid, name = f"20000000{i + 1:02d}", f"ch{i + 1}"
            secret, token = secrets.token_hex(16), secrets.token_urlsafe(32)
            env[f"LINE_{name.upper()}_SECRET"] = secret
            env[f"LINE_{name.upper()}_TOKEN"] = token
            bot = f"Ubot{i + 1:028d}"
            self.channels.append(SandboxChannel(cid, secret, token, bot, f"{self.web_url}/line/webhook"))
            channel_cfg.append(
                {
                    "id": cid,
                    "name": name,
                    "bot_user_id": bot,
                    "secret_env": f"LINE_{name.upper()}_SECRET",
                    "access_token_env": f"LINE_{name.upper()}_TOKEN",
                }
            )
        self.sandbox = Sandbox(
            channels=self.channels,
            metadata_dir=str(METADATA_DIR) if METADATA_DIR.is_dir() else None,
            salesforce_users=[SalesforceUser(SF_USER, "unused", SF_CONSUMER_KEY, public_pem)],
            ca_out=str(self.workdir / "sandbox-ca.pem"),
            twilio_account_sid=self.twilio_account_sid,
            twilio_auth_token=env["TWILIO_AUTH_TOKEN"],
        )
        self.env = env
        self.channel_cfg = channel_cfg
        self.overrides = overrides or {}
        self.log_level = log_level
        self.config_path = self.workdir / "config.yaml"

    # -- configuration -------------------------------------------------------------------------
    def config_data(self) -> dict:
        urls = self.sandbox.urls
        data = {
            "public_base_url": self.web_url,
            "log_level": self.log_level,
            "queue": {"name": "connector", "retry_intervals_seconds": [1, 2, 4, 8], "sweep_interval_seconds": 1},
            "line": {
                "api_base_url": urls["line_api"],
                "data_base_url": urls["line_data"],
                "timeout_seconds": 5,
                "channels": self.channel_cfg,
            },
            "salesforce": {
                "login_url": urls["salesforce"],
                "auth": "jwt",
                "timeout_seconds": 10,
                "ca_bundle": self.sandbox.ca_path,
                "outage": {"pause_seconds": 1, "max_pause_seconds": 8},  # compressed like the retries
            },
            "twilio": {"api_base_url": urls["twilio"], "enabled": False},
        }
        return _deep_merge(data, self.overrides)

    def environ(self) -> dict:
        return {**os.environ, **self.env, "CONNECTOR_CONFIG": str(self.config_path), "PYTHONUNBUFFERED": "1"}

    def load_config(self):
        from connector.config import load_config

        return load_config(self.config_path, environ=self.environ())

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, *, web: bool = True) -> "LocalStack":
        if self._redis_server is not None:
            self._redis_server.start()
        with redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2) as r:
            claim_database(r, self.redis_url)
        self.sandbox.start()
        self.config_path.write_text(yaml.safe_dump(self.config_data(), allow_unicode=True))
        if web:
            self.start_web()
        for _ in range(self.workers):
            self.start_worker()
        return self

    def start_web(self) -> None:
        cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
        # The production settings, but on loopback only: nothing else on the network reaches it.
        cmd += ["--bind", f"127.0.0.1:{self.web_port}", "connector.entrypoints.wsgi:app"]
        env = {**self.environ(), "PORT": str(self.web_port), "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2")}
        self.procs.append(
            subprocess.Popen(
                cmd, env=env, cwd=ROOT, stdout=self._log("web"), stderr=subprocess.STDOUT, preexec_fn=_guard()
            )
        )
        _wait_http(self.web_url + "/healthz", timeout=60)  # a loaded CI host boots gunicorn slowly

    def start_worker(self) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "connector.entrypoints.cli", "worker"]
        proc = subprocess.Popen(
            cmd,
            env=self.environ(),
            cwd=ROOT,
            stdout=self._log(f"worker{len(self.worker_procs) + 1}"),
            stderr=subprocess.STDOUT,
            preexec_fn=_guard(),
            start_new_session=True,
        )
        self.procs.append(proc)
        self.worker_procs.append(proc)
        return proc

    def kill_worker(self, proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
        """Kill a worker and its children (RQ's scheduler runs in a child process)."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(10)

    def _log(self, name: str):
        return open(self.workdir / f"{name}.log", "ab")

    def stop(self) -> None:
        """Stop everything started and remove every file written (keys, certificates, logs),
        whatever fails on the way."""
        try:
            for p in self.procs:
                if p.poll() is None:
                    p.terminate()
            for p in self.worker_procs:  # their own process groups: take the scheduler child too
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for p in self.procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
            self.procs.clear()
        finally:
            try:
                self.sandbox.stop()
            finally:
                if self._redis_server is not None:
                    self._redis_server.stop()
                if self._tmp:
                    self._tmp.cleanup()

    def __enter__(self) -> "LocalStack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- waiting ---------------------------------------------------------------------------------
    def wait_until(self, predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
        return wait_for(predicate, timeout, interval, f"{what}; logs in {self.workdir}")

    def wait_workers(self, timeout: float = 60.0) -> None:
        """Until every worker started has registered with RQ (it does so once warm): what a
        benchmark waits for, so that it measures the relay and not the workers' start-up."""
        from rq import Worker

        with redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2) as r:
            self.wait_until(lambda: Worker.count(connection=r) >= len(self.worker_procs), timeout, 0.1, "workers ready")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.workdir.glob("*.log"))
        )


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy and return its value; TimeoutError naming `what` otherwise."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up within {timeout:.0f}s")


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


DEV_ENV = Path(".dev") / "env"


def dev_env(stack: LocalStack) -> dict[str, str]:
    """What a person (or a script) needs to drive every side of a running dev stack by hand.

    Development-only values of this run: they die with it.
    """
    urls = stack.sandbox.urls
    return {
        "RELAY_URL": stack.web_url,  # the public base URL the relay signs links and checks Twilio against
        "LINE_API_URL": urls["line_api"],
        "SF_INSTANCE_URL": urls["salesforce"],
        "SF_ACCESS_TOKEN": stack.sandbox.salesforce.issue_session(SF_USER),
        "SF_CA_BUNDLE": stack.sandbox.ca_path or "",
        "TWILIO_API_URL": urls["twilio"],
        "TWILIO_ACCOUNT_SID": stack.env["TWILIO_ACCOUNT_SID"],
        "TWILIO_AUTH_TOKEN": stack.env["TWILIO_AUTH_TOKEN"],
        "LINE_CHANNEL_ID": stack.channels[0].channel_id,
        "LINE_CHANNEL_SECRET": stack.channels[0].secret,
        "CALLOUT_SECRET": stack.env["CONNECTOR_CALLOUT_SECRETS"].split(",")[0],
    }


def write_dev_env(values: dict[str, str], path: Path = DEV_ENV) -> Path:
    """Shell-style KEY=value lines (`set -a; . .dev/env; set +a`), readable by this user only."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# connector dev: values of the running dev stack, removed when it stops\n")
        for key, value in values.items():
            fh.write(f"{key}={shlex.quote(value)}\n")
    return path


def remove_dev_env(path: Path = DEV_ENV) -> None:
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # only if nothing else was put there
    except OSError:
        pass


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds through the `with` blocks: everything stopped and removed


def dev() -> int:
    """Run everything in the foreground until Ctrl-C (or SIGTERM), printing where to poke it."""
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python then never
    # turns it into KeyboardInterrupt.
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LocalStack(log_level="INFO") as stack:
            try:
                env_file = write_dev_env(dev_env(stack))
                _banner(stack, env_file)
                while all(p.poll() is None for p in stack.procs):
                    time.sleep(0.5)
                print("a process of the dev stack exited; stopping (logs below)", file=sys.stderr)
                print(stack.logs(), file=sys.stderr)
                return 1
            finally:
                remove_dev_env()
    except KeyboardInterrupt:
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _banner(stack: LocalStack, env_file: Path) -> None:
    print("connector dev stack is up (on 127.0.0.1 only):")
    print(f"  web (LINE webhook)   {stack.web_url}/line/webhook")
    for name, url in stack.sandbox.urls.items():
        print(f"  sandbox {name:<12} {url}")
    print(f"  redis (its own)      {stack.redis_url}")
    print(f"  config               {stack.config_path}")
    print(f"  logs                 {stack.workdir}/*.log")
    print(f"  endpoints and secrets of this run: {env_file} (docs/sandbox.md; removed on exit)")
    print("Send a LINE message as a user:")
    print(
        f"  curl -s -XPOST {stack.sandbox.urls['line_api']}/__sandbox__/line/users/U1/messages "
        f'-H \'content-type: application/json\' -d \'{{"channelId": "{stack.channels[0].channel_id}", '
        f'"message": {{"type": "text", "text": "こんにちは"}}}}\''
    )
    print("See what LINE delivered, and what Salesforce holds:")
    print(f"  curl -s {stack.sandbox.urls['line_api']}/__sandbox__/line/delivered?userId=U1")
    print(f"  curl -sk {stack.sandbox.urls['salesforce']}/__sandbox__/salesforce/records/LINE_Chat_Message__c")
    print("Ctrl-C stops everything and removes its files.", flush=True)


def demo() -> int:
    from connector.local.demo import run

    return run()
