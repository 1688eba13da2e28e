"""Ingress: the LINE webhook under gunicorn (gunicorn.conf.py, as in the Procfile) vs a bare endpoint.

* Throughput: wrk with pre-signed bodies, every request a distinct event of a distinct user
  (the worst case for the relay: every request makes a new conversation ready), against
  `/line/webhook` and against `/bench/bare` on the same server. No workers run, so nothing
  else competes for the CPU; Redis is the shared one (db 11), flushed first. Bare and relay
  runs alternate, `pairs` times, each relay run with bodies never sent before; the figures are
  those of the median pair (by ratio), because on a shared machine one pair can be 0.03 off
  either way (docs/benchmarks.md).
* Latency at a fixed rate: an open-loop generator sends 200 requests/s on a schedule; latency is
  counted from each request's *scheduled* send time, so a stalled server cannot hide queueing
  (no coordinated omission). The same generator against the bare endpoint gives its floor.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.common import (
    BENCH_REDIS_URL,
    ROOT,
    children,
    cpu_seconds,
    log,
    pct,
    redis_cpu_seconds,
    sign,
    start_gunicorn,
    text_event,
    user_id,
    webhook_body,
)


def _server() -> str:
    """The web server as gunicorn.conf.py configures it from this environment."""
    wc = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
    per = (
        f"threads {os.environ.get('GUNICORN_THREADS', '8')}"
        if wc == "gthread"
        else f"worker_connections {os.environ.get('GUNICORN_WORKER_CONNECTIONS', '1000')}"
    )
    return f"gunicorn {wc}, WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}, {per}"


def make_bodies(channel, n: int, salt: str) -> list[tuple[str, bytes]]:
    out = []
    base = int(time.time() * 1000)
    for i in range(n):
        ev = text_event(user_id(i, salt), f"{base}{i:07d}", f"benchmark message {i}", base + i)
        body = webhook_body(channel.bot_user_id, [ev])
        out.append((sign(channel.secret, body), body))
    return out


def run_wrk(url: str, bodies_file: Path, *, threads: int, connections: int, duration_s: int) -> dict:
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{duration_s}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(ROOT / "bench" / "wrk_bodies.lua"),
        url,
        "--",
        str(bodies_file),
        str(threads),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    lat = {}
    for p in ("50", "99"):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if m:
            v = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
            lat[p] = round(v, 2)
    return {
        "rps": rps,
        "requests": total,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
        "p50_ms": lat.get("50"),
        "p99_ms": lat.get("99"),
    }


def fixed_rate(
    host: str,
    port: int,
    path: str,
    bodies: list[tuple[str, bytes]],
    *,
    rate: float,
    duration_s: float,
    senders: int = 16,
) -> dict:
    """Open-loop: request i is due at t0 + i/rate; latency = completion - due time."""
    n = int(rate * duration_s)
    bodies = bodies[:n]
    lat, statuses, lock = [], {}, threading.Lock()
    idx = iter(range(len(bodies)))
    t0 = time.perf_counter() + 0.2

    def sender():
        conn = http.client.HTTPConnection(host, port, timeout=10)
        while True:
            with lock:
                i = next(idx, None)
            if i is None:
                break
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sig, body = bodies[i]
            try:
                conn.request(
                    "POST", path, body=body, headers={"Content-Type": "application/json", "x-line-signature": sig}
                )
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                status = 0
            done = time.perf_counter()
            with lock:
                lat.append((done - due) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    achieved = len(lat) / (time.perf_counter() - t0)
    return {
        "rate": rate,
        "requests": len(lat),
        "achieved_rps": round(achieved, 1),
        "statuses": statuses,
        "p50_ms": round(pct(lat, 50), 2),
        "p99_ms": round(pct(lat, 99), 2),
        "max_ms": round(max(lat), 2),
    }


def run(duration_s: int = 6, n_bodies: int = 90_000, rate: float = 200.0, rate_s: float = 10.0, pairs: int = 5) -> dict:
    from connector.local.devstack import LocalStack

    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu) or brew install wrk")
    res: dict = {}
    stack = LocalStack(redis_url=BENCH_REDIS_URL, workers=0, log_level="INFO")
    try:
        stack.start(web=False)
        web = start_gunicorn(stack, "bench.ingress_app:app")
        ch = stack.channels[0]
        host, port = "127.0.0.1", stack.web_port
        log(f"ingress: signing {pairs + 1} x {n_bodies} distinct bodies")
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for i in range(pairs + 1):  # one set for the bare runs, one per relay run
                f = Path(tmp) / f"bodies{i}.tsv"
                f.write_bytes(
                    b"".join(s.encode() + b"\t" + b + b"\n" for s, b in make_bodies(ch, n_bodies, salt=f"wrk{i}"))
                )
                files.append(f)
            threads, conns = 2, 16
            # warm-up: a short run on each endpoint (first requests build the runtime, open pools)
            warm = make_bodies(ch, 2000, salt="warm")
            fw = Path(tmp) / "warm.tsv"
            fw.write_bytes(b"".join(s.encode() + b"\t" + b + b"\n" for s, b in warm))
            run_wrk(f"http://{host}:{port}/line/webhook", fw, threads=threads, connections=conns, duration_s=2)
            run_wrk(f"http://{host}:{port}/bench/bare", fw, threads=threads, connections=conns, duration_s=2)
            log(f"ingress: wrk {duration_s}s on /bench/bare and /line/webhook, {pairs} pairs")
            pids = [web.pid] + children(web.pid)

            def measured(path, f):
                c0, r0 = cpu_seconds(pids), redis_cpu_seconds(BENCH_REDIS_URL)
                out = run_wrk(
                    f"http://{host}:{port}{path}", f, threads=threads, connections=conns, duration_s=duration_s
                )
                c1, r1 = cpu_seconds(pids), redis_cpu_seconds(BENCH_REDIS_URL)
                out["web_cpu_ms_per_request"] = round((c1 - c0) * 1000 / max(1, out["requests"]), 3)
                out["redis_cpu_ms_per_request"] = round((r1 - r0) * 1000 / max(1, out["requests"]), 3)
                if out["requests"] >= n_bodies - 2 * conns:
                    raise RuntimeError(
                        f"wrk used up all {n_bodies} bodies on {path}: its req/s is capped; "
                        "raise n_bodies or lower duration_s"
                    )
                return out

            runs = []
            for i in range(pairs):
                b = measured("/bench/bare", files[0])
                r = measured("/line/webhook", files[i + 1])
                runs.append((r["rps"] / b["rps"], b, r))
            ratio, bare, relay = sorted(runs, key=lambda x: x[0])[len(runs) // 2]
        log(f"ingress: open-loop {rate:.0f} req/s for {rate_s:.0f}s on each endpoint")
        fixed = make_bodies(ch, int(rate * rate_s), salt="fixed")
        fixed_bare = fixed_rate(host, port, "/bench/bare", fixed, rate=rate, duration_s=rate_s)
        fixed_relay = fixed_rate(host, port, "/line/webhook", fixed, rate=rate, duration_s=rate_s)
        res = {
            "relay_rps": round(relay["rps"], 1),
            "bare_rps": round(bare["rps"], 1),
            "ratio": round(ratio, 3),
            "ratio_per_pair": [round(x[0], 3) for x in runs],
            "p50_ms_at_200rps": fixed_relay["p50_ms"],
            "p99_ms_at_200rps": fixed_relay["p99_ms"],
            "bare_p50_ms_at_200rps": fixed_bare["p50_ms"],
            "bare_p99_ms_at_200rps": fixed_bare["p99_ms"],
            "web_cpu_ms_per_request": relay["web_cpu_ms_per_request"],
            "bare_web_cpu_ms_per_request": bare["web_cpu_ms_per_request"],
            "cpu_ratio": round(bare["web_cpu_ms_per_request"] / relay["web_cpu_ms_per_request"], 3)
            if relay["web_cpu_ms_per_request"]
            else None,
            "wrk_relay": relay,
            "wrk_bare": bare,
            "fixed_relay": fixed_relay,
            "fixed_bare": fixed_bare,
            "server": _server(),
            "load": f"wrk -t{threads} -c{conns} -d{duration_s}s, one distinct signed event per request; "
            f"{pairs} bare/relay pairs, the median pair reported",
        }
        bad = sum(r["non_2xx"] for _, _, r in runs) + fixed_relay["statuses"].get(0, 0)
        if bad:
            res["errors"] = bad
    finally:
        stack.stop()
    return res


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
