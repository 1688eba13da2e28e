"""The learning loop on held-out domains: top-1, wrong and one-tap with 0-3 approved examples per
article (issue 18, item 4).

For each domain of bench/bot/domains, k of each article's questions (the first k in file order)
become that article's approved examples - what operators approve in the learning loop - and the
bot is evaluated on the remaining questions (the k examples are never scored). Nothing is fitted:
the shipped model and thresholds answer.

    python -m bench.bot.examples_curve [--ks 0,1,2,3] [--dir bench/bot/unseen] [--json]

``--dir`` names another folder of domains: ``bench/bot/unseen`` holds the ones no model, threshold or
rule was ever fitted or chosen on (its README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from connector.domain.knowledge import Answerer, Article, KnowledgeIndex
from connector.entrypoints.bot_eval import evaluate

DOMAINS = Path(__file__).resolve().parent / "domains"


def load(domain: Path) -> tuple[list[dict], list[dict]]:
    kb = json.loads((domain / "kb.json").read_text(encoding="utf-8"))
    qs = [json.loads(line) for line in (domain / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return kb, qs


def split(kb: list[dict], qs: list[dict], k: int) -> tuple[list[dict], list[dict]]:
    """The first k questions of each article become its examples; the rest is evaluated."""
    taken: dict[str, list[str]] = {a["id"]: [] for a in kb}
    rest = []
    for q in qs:
        exp = q["expected"]
        if exp is not None and len(taken[exp]) < k:
            taken[exp].append(q["text"])
        else:
            rest.append(q)
    return [{**a, "examples": taken[a["id"]]} for a in kb], rest


def run(ks: list[int], domains: Path = DOMAINS) -> dict:
    from connector.gateways.embedder import get_encoder

    encoder = get_encoder()
    out: dict = {}
    for domain in sorted(p for p in domains.iterdir() if p.is_dir()):
        kb, qs = load(domain)
        for k in ks:
            articles, rest = split(kb, qs, k)
            index = KnowledgeIndex.build([Article.from_dict(a) for a in articles], encoder=encoder)
            res = evaluate(Answerer(index), rest)
            out.setdefault(domain.name, {})[k] = {
                m: res[m] for m in ("items", "top1_accuracy", "wrong_answer_rate", "one_tap_rate", "menu_rate_on_null")
            }
            print(f"{domain.name} k={k}: {out[domain.name][k]}", file=sys.stderr)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ks", default="0,1,2,3")
    p.add_argument("--dir", type=Path, default=DOMAINS, help="a folder of domains (default bench/bot/domains)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    res = run([int(x) for x in args.ks.split(",")], args.dir)
    if args.json:
        json.dump(res, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
