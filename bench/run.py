"""`make bench`: every benchmark on loopback against the sandbox; a table; bench/results/latest.json.

    python -m bench.run [ingress pipeline bot burst scale budget voice chaos]     (default: all, in that order)

Figures that can be are ratios against a baseline measured in the same run (ingress: a bare
endpoint on the same server; burst: the floor the sandbox's latency model allows).
"""

from __future__ import annotations

import json
import shutil
import sys
import time

from bench.common import ROOT, log, machine

RESULTS = ROOT / "bench" / "results" / "latest.json"

# key -> (target, "<=" | ">=") ; None: reported, no target
TARGETS = {
    "ingress.relay_rps": None,
    "ingress.bare_rps": None,
    "ingress.ratio": (0.6, ">="),
    "ingress.p50_ms_at_200rps": None,
    "ingress.p99_ms_at_200rps": (25, "<="),
    "pipeline.messages_per_s": None,
    "pipeline.achieved_messages_per_s": None,
    "pipeline.p50_ms_to_salesforce": None,
    "pipeline.p95_ms_to_salesforce": (1000, "<="),
    "pipeline.p50_ms_to_line": None,
    "pipeline.p95_ms_to_line": None,
    "pipeline.p50_ms_to_salesforce_at_1rps": None,
    "pipeline.p95_ms_to_salesforce_at_1rps": (600, "<="),
    "sf_calls_per_message.steady": (0.25, "<="),
    "sf_calls_per_message.steady_at_1rps": None,
    "sf_calls_per_message.isolated": (1.0, "<="),
    "sf_calls_per_message.new_user": (3, "<="),
    "sf_calls_per_message.backlog": (0.05, "<="),
    "bot.p50_ms_to_line": None,
    "bot.p95_ms_to_line": None,
    "bot.sf_calls_per_message": None,
    "bot.worker_rss_mb": (200, "<="),
    "bot.worker_memory_mb.anon": None,
    "bot.worker_memory_mb.file": None,
    "bot.worker_memory_mb.uss": None,
    "bot.p50_ms_per_message_2000_articles": None,
    "bot.p95_ms_per_message_2000_articles": (20, "<="),
    "burst.drain_s": None,
    "burst.floor_s": None,
    "burst.ratio": (1.5, "<="),
    "burst.floor_serial_s": None,
    "budget.limit_exceeded": (0, "<="),
    "budget.peak_usage_share": None,
    "budget.reserve_pauses": None,
    "budget.lost": (0, "<="),
    "budget.tight.limit_exceeded": (0, "<="),
    "budget.tight.peak_usage_share": None,
    "budget.tight.reserve_pauses": None,
    "budget.tight.lost": (0, "<="),
    "scale.workers_1.ratio": (1.5, "<="),
    "scale.workers_2.ratio": (1.5, "<="),
    "scale.workers_4.ratio": (1.5, "<="),
    "voice.twiml_p50_ms": None,
    "voice.twiml_p99_ms": (50, "<="),
    "voice.call_to_line_p50_ms": None,
    "voice.call_to_line_p95_ms": None,
    "memory.web_rss_mb": None,
    "memory.worker_rss_mb": (200, "<="),
    "chaos.events": (5000, ">="),
    "chaos.lost": (0, "<="),
    "chaos.duplicates": (0, "<="),
    "chaos.order_violations": (0, "<="),
    "chaos.line_duplicates": (0, "<="),
    "chaos.line_missing": None,
    "chaos.dead_letters": None,
    "chaos.dead_letters_from_transient": (0, "<="),
    "chaos.voice.voice_callbacks": None,
    "chaos.voice.voice_tasks_missing": (0, "<="),
    "chaos.voice.voice_tasks_duplicated": (0, "<="),
    "chaos.voice.voice_tasks_wrong": (0, "<="),
    "chaos.voice.voice_line_duplicates": (0, "<="),
    "chaos.voice.voice_line_missing": (0, "<="),
}


def load() -> dict:
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}


def save_section(name: str, data: dict, results: dict | None = None) -> dict:
    results = results if results is not None else load()
    results[name] = data
    results.setdefault("machine", machine())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
    return results


def get(results: dict, dotted: str):
    cur = results
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def table(results: dict) -> str:
    rows = [("figure", "value", "target", "")]
    for key, target in TARGETS.items():
        v = get(results, key)
        if target is None:
            rows.append((key, _fmt(v), "", ""))
        else:
            t, op = target
            ok = v is not None and (v <= t if op == "<=" else v >= t)
            rows.append((key, _fmt(v), f"{op} {t}", "ok" if ok else ("MISS" if v is not None else "-")))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def main(argv: list[str]) -> int:
    which = argv or ["ingress", "pipeline", "bot", "burst", "scale", "budget", "voice", "chaos"]
    if "ingress" in which and not shutil.which("wrk"):
        print(
            "wrk is needed for the ingress benchmark: sudo apt-get install -y wrk  (or: brew install wrk)",
            file=sys.stderr,
        )
        return 2
    results = load() if argv else {}
    results["machine"] = machine()
    t0 = time.time()
    for name in which:
        log(f"=== {name}")
        if name == "ingress":
            from bench import ingress

            data = ingress.run()
        elif name == "pipeline":
            from bench import pipeline

            data = pipeline.run()
            results["sf_calls_per_message"] = data.pop("sf_calls_per_message")
            results["memory"] = data.pop("memory")
        elif name == "bot":
            from bench import bot_pipeline

            data = bot_pipeline.run()
            from bench import bot_latency

            data.update(bot_latency.run())
        elif name == "burst":
            from bench import burst

            data = burst.run()
        elif name == "budget":
            from bench import budget

            data = budget.both()
        elif name == "scale":
            from bench import burst

            data = burst.scale()
        elif name == "voice":
            from bench import voice

            data = voice.run()
        elif name == "chaos":
            from bench import chaos

            data = chaos.run()
        else:
            print(f"unknown benchmark {name!r}", file=sys.stderr)
            return 2
        save_section(name, data, results)
    results["machine"]["loadavg_end"] = __import__("os").getloadavg()[0]
    results["machine"]["bench_s"] = round(time.time() - t0)
    save_section("machine", results["machine"], results)
    print(table(results))
    print(
        f"\n(written to {RESULTS.relative_to(ROOT)}; machine: {results['machine']['cpu']}, "
        f"{results['machine']['cores']} cores, load {results['machine']['loadavg_start']:.1f} -> "
        f"{results['machine']['loadavg_end']:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
