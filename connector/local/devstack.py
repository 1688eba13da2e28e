"""The whole system on one machine: sandbox + web (gunicorn) + workers, on loopback.

Used by `connector dev`, `connector demo`, the integration tests and the benchmarks. The web and
worker processes are the production ones (same commands as the Procfile); only the base URLs
in their configuration point at the sandbox. Secrets are generated per run and passed through
the environment, as in production.
"""

from __future__ import annotations

import os
import secrets
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
        flush_redis: bool = True,
    ):
        from connector.local.sandbox import Sandbox, SandboxChannel
        from connector.local.sandbox.salesforce_store import SalesforceUser

        self.redis_url = redis_url or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13"
        self.flush_redis = flush_redis
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
        env = {
            "CONNECTOR_ENCRYPTION_KEYS": new_key(),
            "REDIS_URL": self.redis_url,
            "SF_USERNAME": SF_USER,
            "SF_CONSUMER_KEY": SF_CONSUMER_KEY,
            "SF_PRIVATE_KEY": private_pem,
            "CONNECTOR_CALLOUT_SECRETS": secrets.token_hex(32),
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
        r = redis.Redis.from_url(self.redis_url, socket_timeout=2)
        r.ping()
        if self.flush_redis:
            r.flushdb()
        self.sandbox.start()
        self.config_path.write_text(yaml.safe_dump(self.config_data(), allow_unicode=True))
        if web:
            self.start_web()
        for _ in range(self.workers):
            self.start_worker()
        return self

    def start_web(self) -> None:
        cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "connector.entrypoints.wsgi:app"]
        env = {**self.environ(), "PORT": str(self.web_port), "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2")}
        self.procs.append(
            subprocess.Popen(
                cmd, env=env, cwd=ROOT, stdout=self._log("web"), stderr=subprocess.STDOUT, preexec_fn=_guard()
            )
        )
        _wait_http(self.web_url + "/healthz", timeout=20)

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
        self.procs.clear()
        self.sandbox.stop()
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


def dev() -> int:
    """Run everything in the foreground until Ctrl-C, printing where to poke it."""
    with LocalStack(log_level="INFO", flush_redis=False) as stack:
        print("connector dev stack is up:")
        print(f"  web (LINE webhook)   {stack.web_url}/line/webhook")
        for name, url in stack.sandbox.urls.items():
            print(f"  sandbox {name:<12} {url}")
        print(f"  config               {stack.config_path}")
        print(f"  logs                 {stack.workdir}/*.log")
        print("Send a LINE message as a user:")
        print(
            f"  curl -s -XPOST {stack.sandbox.urls['line_api']}/__sandbox__/line/users/U1/messages "
            f'-H \'content-type: application/json\' -d \'{{"channelId": "{stack.channels[0].channel_id}", '
            f'"message": {{"type": "text", "text": "こんにちは"}}}}\''
        )
        print("See what LINE delivered, and what Salesforce holds:")
        print(f"  curl -s {stack.sandbox.urls['line_api']}/__sandbox__/line/delivered?userId=U1")
        print(f"  curl -sk {stack.sandbox.urls['salesforce']}/__sandbox__/salesforce/records/LINE_Chat_Message__c")
        print("Ctrl-C stops everything.")
        try:
            while all(p.poll() is None for p in stack.procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


def demo() -> int:
    from connector.local.demo import run

    return run()
