"""Approach comparison for docs/bot.md.

    .venv/bin/python bench/bot/compare.py [--max-wrong 0.03]

For each analyser mode: calibrate confidence + thresholds on the dev split
(tune.calibrate), then report dev and held-out test metrics with those
settings. The test split is only evaluated, never used to choose anything.

Legacy: this compares analyser modes under the score-only confidence
(answerer.confidence / CONF_*). Since the second-stage scorer, Answerer
decides with scorer.probabilities and ignores CONF_*, so the thresholds this
script calibrates no longer drive Answerer; the table it produced is kept in
docs/bot.md as the baseline. Train and check the scorer with train_scorer.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from tune import calibrate  # noqa: E402

import connector.domain.knowledge.answerer as A  # noqa: E402
from connector.domain.knowledge import Answerer, Article, KnowledgeIndex  # noqa: E402
from connector.domain.knowledge.analysis import MODES  # noqa: E402
from connector.entrypoints.bot_eval import evaluate  # noqa: E402


def load(name: str) -> list[dict]:
    return [json.loads(l) for l in (HERE / name).read_text(encoding="utf-8").splitlines() if l.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-wrong", type=float, default=0.03)
    args = ap.parse_args()
    kb = [Article.from_dict(d) for d in json.loads((HERE / "kb.json").read_text(encoding="utf-8"))]
    dev, test = load("questions_dev.jsonl"), load("questions_test.jsonl")
    print(
        "| approach | R@1 dev | dev top-1 | dev wrong | dev answer | R@1 test | test top-1 | test wrong | test answer | test p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    saved = (A.CONF_A, A.CONF_B, A.CONF_C)
    for mode in MODES:
        idx = KnowledgeIndex.build(kb, mode=mode)
        p = calibrate(idx, dev, args.max_wrong)
        A.CONF_A, A.CONF_B, A.CONF_C = p["CONF_A"], p["CONF_B"], p["CONF_C"]
        ans = Answerer(idx, answer_threshold=p["answer_threshold"], clarify_threshold=min(p["answer_threshold"], 0.25))
        rd, rt = evaluate(ans, dev), evaluate(ans, test)
        r1 = lambda qs, idx=idx: (
            sum(1 for q in qs if q["expected"] and (c := idx.search(q["text"], 1)) and c[0].article_id == q["expected"])
            / sum(1 for q in qs if q["expected"])
        )
        print(
            f"| {mode} | {r1(dev):.3f} | {rd['top1_accuracy']:.3f} | {rd['wrong_answer_rate']:.3f} | {rd['answer_rate']:.3f} "
            f"| {r1(test):.3f} | {rt['top1_accuracy']:.3f} | {rt['wrong_answer_rate']:.3f} | {rt['answer_rate']:.3f} | {rt['p95_ms']:.2f} |"
        )
    A.CONF_A, A.CONF_B, A.CONF_C = saved


if __name__ == "__main__":
    main()
