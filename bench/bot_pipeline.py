"""Bot pipeline: customers' questions answered by the bot, end to end, with its memory cost.

The same stack and sandbox latency as the pipeline benchmark (Salesforce 150 ms, LINE 80 ms per
call), with the first channel's bot enabled (open around the clock) and the 47 articles of
`bench/bot/kb.json` published as Knowledge (title and summary: the sandbox's Knowledge object has
no question or body field) and synced by `connector knowledge sync`, semantic channel on.

100 new users each send one question of the dev set, 5 per second. Measured:
* webhook -> the bot's first message delivered to the user at the LINE sandbox (p50/p95);
* Salesforce API calls per question (answering from the index costs none: what remains is the
  drain's record write);
* peak RSS of the worker processes, which now hold the index, the Janome dictionary and the
  embedding model (`memory.worker_rss_mb` of the pipeline benchmark is a worker without them),
  and at the end how it splits: private heap (`anon`) and mapped file pages (`file`: the model,
  libraries; shared by the workers), PSS and USS (docs/benchmarks.md, "Where a bot worker's
  memory goes");
* the answer engine's time per message with 2,000 articles (bench/bot_latency.py).
Accuracy is not measured here: `connector bot eval` does that (docs/bot.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.common import BENCH_REDIS_URL, ROOT, log, memory_split_mb, pct, user_id, wait_for
from bench.pipeline import LINE_MS, SF_MS, Driver, paced, procs_rss
from connector.local.demo_bot import ALL_DAYS

QUESTIONS = ROOT / "bench" / "bot" / "questions_dev.jsonl"
KB = ROOT / "bench" / "bot" / "kb.json"


def run(users: int = 100, rate: float = 5.0) -> dict:
    from connector.local.devstack import LocalStack

    stack = LocalStack(redis_url=BENCH_REDIS_URL, workers=2, log_level="INFO")
    stack.channel_cfg[0]["bot"] = {
        "enabled": True,
        "business_hours": {"weekly": {d: ["00:00-24:00"] for d in ALL_DAYS}, "japanese_holidays": False},
    }
    stack.overrides.setdefault("knowledge", {})["sync_interval_seconds"] = 0
    try:
        stack.start()
        stack.wait_workers()  # dynos already running when customers write
        sb, d = stack.sandbox, Driver(stack)
        kb = json.loads(KB.read_text(encoding="utf-8"))
        for i, a in enumerate(kb):
            sb.salesforce.insert(
                "Knowledge__kav",
                {
                    "Title": a["title"],
                    "UrlName": f"bench-{i}",
                    "Summary": a["answer"][:1000],
                    "Language": "ja",
                    "PublishStatus": "Online",
                },
            )
        t0 = time.time()
        sync = subprocess.run(
            [sys.executable, "-m", "connector.entrypoints.cli", "knowledge", "sync"],
            env=stack.environ(),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        if sync.returncode != 0:
            raise RuntimeError(f"connector knowledge sync failed: {sync.stderr[-500:]}")
        sync_s = time.time() - t0
        sb.set_latency("salesforce", SF_MS)
        sb.set_latency("line", LINE_MS)
        texts = [json.loads(x)["text"] for x in QUESTIONS.read_text(encoding="utf-8").splitlines() if x.strip()]
        ids = [user_id(i, "bot") for i in range(users)]
        log(f"bot pipeline: {users} new users ask one question each, {rate:.0f}/s")
        before = sb.salesforce.api_calls
        paced(d, [(i / rate, u, texts[i % len(texts)]) for i, u in enumerate(ids)])
        wait_for(lambda: all(sb.line.delivered(user_id=u) for u in ids), 120, what="the bot's answers")
        wait_for(d.idle, 60, what="idle")
        calls = sb.salesforce.api_calls - before
        to_line = [(min(x["at"] for x in sb.line.delivered(user_id=u)) - d.sent[d.first_of[u]]) * 1000 for u in ids]
        mem = procs_rss(stack)
        split = [memory_split_mb(p.pid) for p in stack.worker_procs if p.poll() is None]
        split = [m for m in split if m]
        log(f"bot pipeline: slowest {sorted(round(x) for x in to_line)[-8:]} ms")
        return {
            "questions": users,
            "p50_ms_to_line": round(pct(to_line, 50)),
            "p95_ms_to_line": round(pct(to_line, 95)),
            "sf_calls_per_message": round(calls / users, 2),
            "worker_rss_mb": max(mem["workers"]),
            "workers_rss_mb": mem["workers"],
            # at the end, the worker with the most private memory; keys as memory_split_mb's
            "worker_memory_mb": max(split, key=lambda m: m["anon"]) if split else None,
            "kb_articles": len(kb),
            "sync_s": round(sync_s, 1),
        }
    finally:
        stack.stop()


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
