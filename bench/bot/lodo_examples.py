"""The learning loop on held-out domains, leave-one-domain-out (issue 18, item 5): approved
examples as direct evidence in the second-stage scorer.

For k = 1, 2, 3, the first k questions of each article of a domain become its approved examples
(as in examples_curve.py) and the rest are scored. Approaches, per held-out domain D:

* ``shipped``: scorer.HYBRID_LEARNED (fitted on shop questions) with its thresholds;
* ``lodo-base``: the same 29 features refitted on the other three domains (k = 1, 2, 3 pooled),
  thresholds by lodo.py's rules, nested (each training domain scored by a model fitted without it);
* ``lodo-ex``: as lodo-base plus the example features ``ex_over`` (how much closer the message is
  to the candidate's best example than to its article text) and ``ex_lead`` (that, ahead of the
  other candidates').

``ship`` is lodo-base fitted on all four domains: scorer.HYBRID_LEARNED.

``--recall`` prints instead the first stage's ceiling: R@1 / R@3 of the fused ranking for k = 1, 2, 3,
and with no examples on the questions k = 2 asks (top-1 can never exceed R@1).

    python -m bench.bot.lodo_examples [--json] [--recall]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys

import numpy as np

from bench.bot import lodo as L
from bench.bot.examples_curve import split
from connector.domain.knowledge import Article, KnowledgeIndex
from connector.domain.knowledge import scorer as S

KS = (1, 2, 3)
N_BASE = len(S.BASE_FEATURES)


def rows_for(name: str, k: int) -> list[dict]:
    kb, qs = L.dataset(name)
    articles, rest = split(kb, qs, k)
    key = hashlib.sha1(json.dumps([name, k, articles, rest, S.ALL_FEATURES], ensure_ascii=False).encode()).hexdigest()[
        :16
    ]
    path = L.CACHE / f"ex-rows-{name}-{k}-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    idx = KnowledgeIndex.build([Article.from_dict(a) for a in articles], encoder=L.encoder(), synonyms={})
    out = [L.question_row(idx, q, S.ALL_FEATURES) for q in rest]
    L.encoder().save()
    L.CACHE.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def base(rows: list[dict]) -> list[dict]:
    return [{**r, "X": [x[:N_BASE] for x in r["X"]]} for r in rows]


def lodo_fit(sets: dict[str, list[dict]], held: str) -> tuple:
    train = [n for n in sets if n != held]
    model = L.fit([sets[n] for n in train])
    inner = [L.scored(L.fit([sets[m] for m in train if m != n]), sets[n]) for n in train]
    return model, L.choose_thresholds(inner)


def recall(rows: list[dict]) -> dict:
    """R@1 and R@3 of the first stage over the answerable messages no rule decides."""
    asked = [r for r in rows if r["expected"] and not r["rule"]]
    at = lambda n: round(sum(r["expected"] in r["ids"][:n] for r in asked) / len(asked), 3)
    return {"items": len(asked), "r1": at(1), "r3": at(3)}


def recall_table() -> dict:
    out: dict = {}
    for d in L.DOMAINS:
        kb, qs = L.dataset(d)
        _, rest = split(kb, qs, 2)
        idx = KnowledgeIndex.build([Article.from_dict(a) for a in kb], encoder=L.encoder(), synonyms={})
        out[d] = {"none": recall([L.question_row(idx, q, S.ALL_FEATURES) for q in rest])}
        out[d].update({k: recall(rows_for(d, k)) for k in KS})
        print(d, json.dumps(out[d]), file=sys.stderr)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--recall", action="store_true", help="the first stage's R@1 / R@3 only")
    args = p.parse_args()
    np.seterr(all="ignore")
    if args.recall:
        table = recall_table()
        if args.json:
            json.dump(table, sys.stdout, indent=1)
        return 0
    rows = {(d, k): rows_for(d, k) for d in L.DOMAINS for k in KS}
    pooled = {d: [r for k in KS for r in rows[(d, k)]] for d in L.DOMAINS}
    learned = (np.asarray(S.HYBRID_LEARNED.weights), S.HYBRID_LEARNED.bias)
    report: dict = {}
    for held in L.DOMAINS:
        fits = {
            "lodo-base": lodo_fit({d: base(rs) for d, rs in pooled.items()}, held),
            "lodo-ex": lodo_fit(pooled, held),
        }
        for k in KS:
            cell = {
                "shipped": L.evaluate(
                    L.scored(learned, base(rows[(held, k)])),
                    S.HYBRID_LEARNED.answer_threshold,
                    S.HYBRID_LEARNED.clarify_threshold,
                )
            }
            for name, (model, (a, c)) in fits.items():
                rs = base(rows[(held, k)]) if name == "lodo-base" else rows[(held, k)]
                cell[name] = {"answer_at": a, "clarify_at": c, **L.evaluate(L.scored(model, rs), a, c)}
            report.setdefault(held, {})[k] = cell
            print(held, k, json.dumps(cell), file=sys.stderr)
    # What ships as scorer.HYBRID_LEARNED (no synonym groups): the 29 base features fitted on the four
    # domains, thresholds by lodo.py's rules on leave-one-domain-out probabilities.
    based = {d: base(rs) for d, rs in pooled.items()}
    full = L.fit(list(based.values()))
    a, c = L.choose_thresholds([L.scored(L.fit([based[m] for m in based if m != n]), based[n]) for n in based])
    report["ship"] = {
        "weights": [round(float(x), 4) for x in full[0]],
        "bias": round(full[1], 4),
        "answer_at": a,
        "clarify_at": c,
    }
    print("ship", json.dumps(report["ship"]), file=sys.stderr)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
