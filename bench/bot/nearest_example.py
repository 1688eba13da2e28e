"""An approach tried for issue 18, item 4: approved examples as direct evidence (nearest example).

The shipped bot treats an approved example as one more lexical field at half weight and one more
vector behind a margin; on the held-out domains two examples per article change nothing
(docs/bot.md). Here an example is evidence of its own: when the customer's message is at least
`tau` (cosine, multilingual-E5 query vectors of both) from an approved example of article A and
A's best example is clearly ahead of the next article's, answer A; otherwise the shipped decision
stands. `tau` is chosen leave-one-domain-out: for each domain, the value that maximises
top-1 - 3 x wrong on the other three domains, then measured on the held-out one.

    python -m bench.bot.nearest_example [--k 2]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from bench.bot.examples_curve import DOMAINS, load, split
from connector.domain.knowledge import ANSWER, Answerer, Article, KnowledgeIndex
from connector.entrypoints.bot_eval import metrics

TAUS = [round(0.80 + 0.01 * i, 2) for i in range(16)]  # 0.80 .. 0.95
GAP = 0.02  # the best example's article must lead the next article's best example by this much


def predictions(domain, k: int, encoder) -> list[dict]:
    """Per evaluated question: the shipped prediction and the nearest example (article, cosine, lead)."""
    kb, qs = load(domain)
    articles, rest = split(kb, qs, k)
    answerer = Answerer(KnowledgeIndex.build([Article.from_dict(a) for a in articles], encoder=encoder))
    owners, texts = [], []
    for a in articles:
        for e in a["examples"]:
            owners.append(a["id"])
            texts.append(e)
    ex = encoder.queries(texts) if texts else None
    qv = encoder.queries([q["text"] for q in rest])
    out = []
    for q, v in zip(rest, qv):
        d = answerer.decide(q["text"])
        shipped = d.article.id if d.kind == ANSWER and d.article is not None else None
        best = {}
        if ex is not None:
            for owner, cos in zip(owners, ex @ v):
                best[owner] = max(best.get(owner, -1.0), float(cos))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        near, cos = ranked[0] if ranked else (None, 0.0)
        lead = cos - (ranked[1][1] if len(ranked) > 1 else 0.0)
        candidates = [c.article_id for c in d.candidates] if d.kind == "clarify" else []
        out.append({**q, "shipped": shipped, "near": near, "cos": cos, "lead": lead, "candidates": candidates})
    return out


def score(rows: list[dict], tau: float | None) -> dict:
    preds = []
    for r in rows:
        predicted = r["shipped"]
        if tau is not None and r["near"] and r["cos"] >= tau and r["lead"] >= GAP:
            predicted = r["near"]
        preds.append(
            {"text": r["text"], "expected": r["expected"], "predicted": predicted, "candidates": r["candidates"]}
        )
    m = metrics(preds, [0.0] * len(preds))
    return {k: m[k] for k in ("items", "top1_accuracy", "wrong_answer_rate", "one_tap_rate")}


def _objective(s: dict) -> float:
    return s["top1_accuracy"] - 3 * s["wrong_answer_rate"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=2)
    args = p.parse_args()
    from connector.gateways.embedder import get_encoder

    encoder = get_encoder()
    domains = sorted(d for d in DOMAINS.iterdir() if d.is_dir())
    rows = {d.name: predictions(d, args.k, encoder) for d in domains}
    report = {}
    for held in rows:
        others = [r for name, rs in rows.items() if name != held for r in rs]

        tau = max(TAUS, key=lambda t, rows_=others: _objective(score(rows_, t)))
        report[held] = {"tau": tau, "shipped": score(rows[held], None), "nearest": score(rows[held], tau)}
        print(held, json.dumps(report[held]), file=sys.stderr)
    json.dump(report, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
