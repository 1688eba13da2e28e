"""Where a bot worker's memory goes: what it loads, step by step, and what each step costs.

    PYTHONPATH=. .venv/bin/python bench/bot/worker_memory.py [--kb bench/bot/kb.json]

Loads what a worker that answers with the bot loads, in its order (the worker module, every job
module, the knowledge code, Janome, the embedding model, the index restored from a synced state
with its vectors, then the dev questions answered), and after each step prints from /proc/self:
RSS, its private heap (RssAnon) and mapped file pages (RssFile: libraries, the model, dictionaries;
shared with every process mapping the same files, and reclaimable), PSS and USS
(smaps_rollup: Private_Clean + Private_Dirty), and the peak RSS (VmHWM). Then the largest mappings.
The state (articles embedded as the sync does) is made by a child process first, so that the
embedding batches' scratch memory is not counted here: a worker restores the state the sync stored.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _status() -> dict[str, float]:
    out: dict[str, float] = {}
    for path, keys in (
        ("/proc/self/status", ("VmRSS", "VmHWM", "RssAnon", "RssFile")),
        ("/proc/self/smaps_rollup", ("Pss", "Private_Clean", "Private_Dirty")),
    ):
        for line in Path(path).read_text().splitlines():
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0]) / 1024.0
    out["USS"] = out.pop("Private_Clean") + out.pop("Private_Dirty")
    return out


def _mappings(top: int = 12) -> list[tuple[float, str]]:
    rss: collections.Counter = collections.Counter()
    name = "[anon]"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].endswith(":") and "-" in parts[0]:
            name = parts[5] if len(parts) > 5 else "[anon]"
        elif parts and parts[0] == "Rss:":
            rss[name] += int(parts[1]) / 1024.0
    return [(mb, n) for n, mb in rss.most_common(top)]


def make_state(kb: Path, out: Path) -> None:
    from connector.domain.knowledge import Article, KnowledgeIndex
    from connector.gateways.embedder import get_encoder

    arts = [Article.from_dict(d) for d in json.loads(kb.read_text(encoding="utf-8"))]
    out.write_text(json.dumps(KnowledgeIndex.build(arts, encoder=get_encoder()).to_state(), ensure_ascii=False))


def measure(state_path: Path, questions: Path) -> None:
    rows: list[tuple[str, dict[str, float]]] = [("python", _status())]

    def step(name: str) -> None:
        rows.append((name, _status()))

    import connector.entrypoints.worker as worker

    step("worker module (rq, redis, config)")
    worker._import_jobs()
    step("every job module (line-bot-sdk models)")
    from connector.domain.knowledge import Answerer, KnowledgeIndex
    from connector.domain.knowledge.analysis import _tokenizer

    step("knowledge code, numpy")
    _tokenizer()
    step("Janome (dictionary loaded, one sentence)")
    from connector.gateways.embedder import get_encoder

    encoder = get_encoder()
    encoder.queries(["配送状況を知りたい"])
    step("embedding model (loaded, one message)")
    index = KnowledgeIndex.from_state(json.loads(state_path.read_text(encoding="utf-8")), encoder=encoder)
    answerer = Answerer(index)
    answerer.decide("配送状況を知りたい")
    step(f"index of {len(index)} articles restored")
    texts = [json.loads(x)["text"] for x in questions.read_text(encoding="utf-8").splitlines() if x.strip()]
    for t in texts:
        answerer.decide(t)
    step(f"{len(texts)} questions answered")

    cols = ("VmRSS", "RssAnon", "RssFile", "Pss", "USS", "VmHWM")
    print(f"{'step':42s}" + "".join(f"{c:>9s}" for c in cols) + f"{'+RSS':>8s}{'+anon':>8s}")
    prev = None
    for name, m in rows:
        d = (m["VmRSS"] - prev["VmRSS"], m["RssAnon"] - prev["RssAnon"]) if prev else (0.0, 0.0)
        print(f"{name:42s}" + "".join(f"{m[c]:9.1f}" for c in cols) + f"{d[0]:+8.1f}{d[1]:+8.1f}")
        prev = m
    print("\nlargest mappings (RSS, MiB):")
    for mb, n in _mappings():
        print(f"{mb:7.1f}  {n}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb", type=Path, default=ROOT / "bench" / "bot" / "kb.json")
    ap.add_argument("--questions", type=Path, default=ROOT / "bench" / "bot" / "questions_dev.jsonl")
    ap.add_argument("--make-state", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_state:
        make_state(args.kb, args.make_state)
        return
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.json"
        subprocess.run([sys.executable, __file__, "--kb", str(args.kb), "--make-state", str(state)], check=True)
        measure(state, args.questions)


if __name__ == "__main__":
    main()
