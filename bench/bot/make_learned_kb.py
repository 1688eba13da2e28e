"""kb.json after the learning loop: the dev questions approved as question examples.

    .venv/bin/python bench/bot/make_learned_kb.py > bench/bot/kb_learned.json

In production, "not solved" answers and the articles operators then used become
question-example candidates; an admin approves them and the next sync attaches
them to their articles (``Article.examples``; docs/bot.md, "Learning loop").
This builds the KB such a loop would give after a few hundred conversations: every
answerable dev question (questions_dev*.jsonl) becomes an approved example of its
expected article. The held-out splits (questions_test*.jsonl) are never read, so
they stay unseen by both the scorer and the examples.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
DEV = ("questions_dev.jsonl", "questions_dev_extra.jsonl", "questions_dev_extra2.jsonl")


def learned_kb(kb: list[dict], questions: list[dict]) -> list[dict]:
    """``kb`` with each answerable question attached to its expected article (in order, no repeats)."""
    examples: dict[str, list[str]] = {}
    for q in questions:
        if q["expected"] and q["text"] not in examples.setdefault(q["expected"], []):
            examples[q["expected"]].append(q["text"])
    return [{**a, "examples": [*a.get("examples", ()), *examples.get(a["id"], ())]} for a in kb]


def dev_questions() -> list[dict]:
    return [
        json.loads(line)
        for name in DEV
        for line in (HERE / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def main() -> None:
    kb = json.loads((HERE / "kb.json").read_text(encoding="utf-8"))
    out = learned_kb(kb, dev_questions())
    sys.stdout.write("[\n" + ",\n".join(json.dumps(a, ensure_ascii=False) for a in out) + "\n]\n")


if __name__ == "__main__":
    main()
