"""Latency (and accuracy) of the bot with 2,000 articles indexed.

    .venv/bin/python bench/bot/bench_latency.py [--articles 2000] [--split dev|test|test2|all] [--learned] [--lexical]

Builds the large KB in memory (make_large_kb.py), indexes it, runs every
question of the split through Answerer.decide and prints p50/p95 per question,
the build time, the state round-trip time and the eval metrics at that size.
With ``--learned`` the real articles carry the dev questions as learned examples
(make_learned_kb.py), as after the learning loop.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from make_large_kb import make  # noqa: E402
from make_learned_kb import dev_questions, learned_kb  # noqa: E402

from connector.domain.knowledge import Answerer, Article, KnowledgeIndex  # noqa: E402
from connector.entrypoints.bot_eval import evaluate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--split", default="all", choices=["dev", "test", "test2", "all"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--learned", action="store_true", help="the dev questions as the articles' learned examples")
    ap.add_argument("--lexical", action="store_true", help="BM25 only, without the embedding model")
    args = ap.parse_args()
    encoder = None
    if not args.lexical:
        from connector.gateways.embedder import get_encoder

        encoder = get_encoder()
    kb = make(args.articles)
    if args.learned:
        kb = learned_kb(kb, dev_questions())
    arts = [Article.from_dict(d) for d in kb]
    t0 = time.perf_counter()
    idx = KnowledgeIndex.build(arts, encoder=encoder)
    idx.search("ウォームアップ")  # embeds the articles (lazily, in one batch)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = json.dumps(idx.to_state(), ensure_ascii=False)
    idx = KnowledgeIndex.from_state(json.loads(state), encoder=encoder)
    restore_s = time.perf_counter() - t0
    splits = ["dev", "test"] if args.split == "all" else [args.split]
    qs = []
    for s in splits:
        qs += [
            json.loads(l) for l in (HERE / f"questions_{s}.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()
        ]
    answerer = Answerer(idx)
    answerer.decide("ウォームアップ")
    res = None
    for _ in range(args.repeat):  # keep the last run (warm caches), as a long-lived worker would be
        res = evaluate(answerer, qs)
    print(f"articles: {len(idx)}  questions: {len(qs)} ({args.split})")
    print(f"build: {build_s:.1f} s  state: {len(state) / 1e6:.1f} MB JSON, serialise+restore {restore_s:.2f} s")
    print(f"p50_ms: {res['p50_ms']}  p95_ms: {res['p95_ms']}")
    for k in ("top1_accuracy", "answer_rate", "wrong_answer_rate"):
        print(f"{k}: {res[k]}")


if __name__ == "__main__":
    main()
