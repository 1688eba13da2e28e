"""Shared helpers for the benchmarks: signed LINE bodies, percentiles, process memory, stacks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from connector.local.devstack import wait_for  # noqa: F401 - re-exported for the benchmarks

ROOT = Path(__file__).resolve().parent.parent


def _bench_redis_url() -> str:
    """BENCH_REDIS_URL, else the Redis of REDIS_URL (scripts/with-redis.sh starts a private one)
    with database 11, else a private redis-server. The stacks refuse a database that is not theirs."""
    if os.environ.get("BENCH_REDIS_URL"):
        return os.environ["BENCH_REDIS_URL"]
    from connector.local.redis_server import session_redis_url

    base = session_redis_url("REDIS_URL", 13)
    head, _, last = base.rpartition("/")
    return f"{head}/11" if last.isdigit() and head.count("/") >= 2 else base.rstrip("/") + "/11"


BENCH_REDIS_URL = _bench_redis_url()


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def user_id(i: int, salt: str = "") -> str:
    return "U" + hashlib.sha256(f"{salt}{i}".encode()).hexdigest()[:32]


def text_event(user: str, message_id: str, text: str, ts_ms: int | None = None) -> dict:
    ts_ms = ts_ms or int(time.time() * 1000)
    return {
        "type": "message",
        "mode": "active",
        "timestamp": ts_ms,
        "webhookEventId": "01" + secrets.token_hex(12).upper(),
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user},
        "replyToken": secrets.token_hex(16),
        "message": {"type": "text", "id": message_id, "text": text, "quoteToken": secrets.token_urlsafe(24)},
    }


def webhook_body(bot_user_id: str, events: list[dict]) -> bytes:
    return json.dumps(
        {"destination": bot_user_id, "events": events}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def pct(values, p: float) -> float | None:
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def sf_time(value: str) -> float:
    """Salesforce datetime (2026-11-21T08:00:00.000+0000) -> epoch seconds."""
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                for line in (p / "status").read_text().splitlines():
                    if line.startswith("PPid:") and int(line.split()[1]) == pid:
                        out.append(int(p.name))
                        break
            except OSError:
                continue
    return out


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def memory_split_mb(pid: int) -> dict | None:
    """Where a live process's resident memory is, in MiB: `rss`, `anon` (private heap: what the
    process alone costs), `file` (pages of mapped files: libraries, the model, dictionaries;
    shared with every process mapping the same file and reclaimable), `pss` (each shared page
    divided among its sharers) and `uss` (pages no other process maps)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0]) / 1024.0
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("Pss", "Private_Clean", "Private_Dirty"):
                out[k] = int(v.split()[0]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return {
        "rss": round(out["VmRSS"], 1),
        "anon": round(out["RssAnon"], 1),
        "file": round(out["RssFile"], 1),
        "pss": round(out["Pss"], 1),
        "uss": round(out["Private_Clean"] + out["Private_Dirty"], 1),
    }


def cpu_seconds(pids) -> float:
    """User + system CPU time of processes (and their reaped children), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def redis_cpu_seconds(url: str) -> float:
    import redis

    info = redis.Redis.from_url(url).info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_mb": mem,
        "python": sys.version.split()[0],
        "loadavg_start": os.getloadavg()[0],
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def start_gunicorn(stack, app: str = "connector.entrypoints.wsgi:app") -> subprocess.Popen:
    """Start the web process like LocalStack.start_web (gunicorn.conf.py, the Procfile's server), with any app."""
    from connector.local.devstack import _wait_http

    cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), app]
    env = {**stack.environ(), "PORT": str(stack.web_port), "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2")}
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=stack._log("web"), stderr=subprocess.STDOUT)
    stack.procs.append(proc)
    _wait_http(stack.web_url + "/healthz", timeout=30)
    return proc


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
