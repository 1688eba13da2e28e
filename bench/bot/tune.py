"""Calibrate the confidence function and thresholds on the DEV split only.

    .venv/bin/python bench/bot/tune.py [--mode hybrid] [--max-wrong 0.03]

Grid-searches the logistic confidence parameters (CONF_A, CONF_B, CONF_C in
connector/domain/knowledge/answerer.py) and the answer/clarify thresholds,
maximising dev top-1 accuracy subject to a dev wrong-answer rate at most
--max-wrong (kept below the 0.05 target to leave room for unseen questions).
Prints the best settings; copy them into answerer.py by hand. Never run it on
questions_test.jsonl.

Legacy: calibrates the score-only confidence (CONF_*), which Answerer no
longer uses; the decision model is trained by train_scorer.py.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import connector.domain.knowledge.answerer as A
import connector.domain.knowledge.index as I
from connector.domain.knowledge import Answerer, Article, KnowledgeIndex

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="hybrid")
    ap.add_argument("--max-wrong", type=float, default=0.03)
    ap.add_argument("--unseen", type=float, default=None, help="override index.UNSEEN_WEIGHT")
    ap.add_argument("--kb", default=str(HERE / "kb.json"))
    ap.add_argument("--questions", default=str(HERE / "questions_dev.jsonl"))
    args = ap.parse_args()
    if args.unseen is not None:
        I.UNSEEN_WEIGHT = args.unseen
    kb = [Article.from_dict(d) for d in json.loads(Path(args.kb).read_text(encoding="utf-8"))]
    qs = [json.loads(l) for l in Path(args.questions).read_text(encoding="utf-8").splitlines() if l.strip()]
    idx = KnowledgeIndex.build(kb, mode=args.mode)
    print(json.dumps(calibrate(idx, qs, args.max_wrong), indent=1))


def calibrate(idx: KnowledgeIndex, qs: list[dict], max_wrong: float) -> dict | None:
    """Best (CONF_A, CONF_B, CONF_C, answer_threshold) on ``qs`` under the wrong-rate cap."""
    saved = (A.CONF_A, A.CONF_B, A.CONF_C)
    probe = Answerer(idx, answer_threshold=0.0, clarify_threshold=0.0)
    rows = []  # (expected, top id or None, s1, s2)
    for q in qs:
        d = probe.decide(q["text"])
        if d.kind != "answer":  # rules fired (greeting / handoff) or nothing matched
            rows.append((q["expected"], None, 0.0, 0.0))
            continue
        c = d.candidates
        rows.append((q["expected"], c[0].article_id, c[0].score, c[1].score if len(c) > 1 else 0.0))
    n = len(rows)
    n_ans = sum(1 for r in rows if r[0] is not None)
    best = None
    for a, b, c in itertools.product([6, 8, 10, 14, 20], [0, 2, 4, 6, 8], [0.15, 0.2, 0.25, 0.3, 0.35, 0.4]):
        A.CONF_A, A.CONF_B, A.CONF_C = a, b, c
        confs = [A.confidence(s1, s2) for _, _, s1, s2 in rows]
        for t in [x / 100 for x in range(30, 96, 1)]:
            correct = sum(1 for r, cf in zip(rows, confs) if cf >= t and r[1] == r[0])
            wrong = sum(1 for r, cf in zip(rows, confs) if cf >= t and r[1] is not None and r[1] != r[0])
            top1, wr = correct / n_ans, wrong / n
            if wr <= max_wrong:
                key = (round(top1, 4), -wr, -abs(t - 0.5))
                if best is None or key > best[0]:
                    best = (
                        key,
                        dict(CONF_A=a, CONF_B=b, CONF_C=c, answer_threshold=t, top1=round(top1, 4), wrong=round(wr, 4)),
                    )
                break  # lowest threshold meeting the constraint is the best for this (a, b, c)
    A.CONF_A, A.CONF_B, A.CONF_C = saved
    return best[1] if best else None


if __name__ == "__main__":
    main()
