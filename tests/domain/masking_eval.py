"""Measure the card-data redactor on a JSONL corpus: leaks and over-masking.

Each line of the corpus is a JSON object::

    {"text": "...", "secrets": ["4111111111111111", "123"], "keep": ["090-1234-5678"],
     "id": "optional", "lang": "optional", "note": "optional"}

``secrets`` are digit strings that must not survive masking; ``keep`` are
substrings that must survive verbatim. A line *leaks* when any secret's digits
are still present in the masked text's digits: every non-digit is dropped and
every Unicode decimal digit (full-width, Thai, ...) is read as ASCII, so a
number cannot count as masked just because it was typed with other
separators or another digit width. A line is *over-masked* when any keep
string is not present verbatim in the output.

Usage::

    python -m tests.domain.masking_eval PATH [--details]

prints the figures (and, with ``--details``, each failing line's id, text and
output). The evaluator only reads the corpus; it was written apart from any
corpus it is run on.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path

from connector.domain.redaction import Redactor

__all__ = ["digits_of", "evaluate", "judge_line"]


def digits_of(text: str) -> str:
    """The decimal digits of ``text`` in order, as ASCII; everything else dropped."""
    return "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())


def judge_line(item: dict, output: str) -> tuple[bool, bool]:
    """(leaked, over_masked) for one corpus item and the redactor's output."""
    out_digits = digits_of(output)
    leaked = any(digits_of(s) and digits_of(s) in out_digits for s in item.get("secrets", []))
    over_masked = any(k not in output for k in item.get("keep", []))
    return leaked, over_masked


def _read(path: Path) -> list[tuple[str, dict]]:
    items = []
    with path.open(encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError(f"{path}:{number}: expected an object with a string 'text'")
            for key in ("secrets", "keep"):
                value = item.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{path}:{number}: {key!r} must be a list of strings")
            items.append((str(item.get("id", number)), item))
    return items


def evaluate(path, redactor: Redactor | None = None, details: bool = False) -> dict:
    """Run ``redactor`` (default: built-in rules only) over the corpus at ``path``.

    Returns ``{"lines", "leaks", "over_masked", "leaked_ids", "over_masked_ids"}``
    and, with ``details``, ``"failures"``: ``[{"id", "text", "output", "leaked",
    "over_masked"}]``.
    """
    redactor = redactor or Redactor()
    result: dict = {"lines": 0, "leaks": 0, "over_masked": 0, "leaked_ids": [], "over_masked_ids": []}
    failures = []
    for line_id, item in _read(Path(path)):
        output = redactor.redact(item["text"])
        leaked, over_masked = judge_line(item, output)
        result["lines"] += 1
        if leaked:
            result["leaks"] += 1
            result["leaked_ids"].append(line_id)
        if over_masked:
            result["over_masked"] += 1
            result["over_masked_ids"].append(line_id)
        if details and (leaked or over_masked):
            failures.append(
                {"id": line_id, "text": item["text"], "output": output, "leaked": leaked, "over_masked": over_masked}
            )
    if details:
        result["failures"] = failures
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.domain.masking_eval",
        description="Leaks and over-masking of the built-in redaction rules on a JSONL corpus.",
    )
    parser.add_argument("path", help="JSONL corpus: text, secrets, keep (id, lang, note optional)")
    parser.add_argument(
        "--details", action="store_true", help="also print each failing line's id, text and masked output"
    )
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.path, details=args.details)
    except (OSError, ValueError) as exc:
        print(f"masking_eval: {exc}", file=sys.stderr)
        return 2
    print(f"lines: {result['lines']}  leaks: {result['leaks']}  over-masked: {result['over_masked']}")
    print(f"leaked ids: {', '.join(result['leaked_ids']) or '-'}")
    print(f"over-masked ids: {', '.join(result['over_masked_ids']) or '-'}")
    for f in result.get("failures", []):
        kind = "+".join(k for k in ("leaked", "over_masked") if f[k])
        print(f"[{f['id']}] {kind}\n  in:  {f['text']!r}\n  out: {f['output']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
