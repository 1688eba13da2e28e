"""`connector bot eval`: measure the auto-reply bot on a KB and a question set.

    connector bot eval --kb KB.json --questions Q.jsonl [--json]

KB.json is a JSON array of articles ``{"id", "title", "question", "answer",
"body"}`` (optional ``"url"``, ``"examples"``); Q.jsonl has one
``{"text": ..., "expected": "<article id>" | null}`` per line. Metrics:

* ``top1_accuracy``: answered with the expected article / answerable items
  (declining or clarifying counts as a miss);
* ``answer_rate``: items answered from the KB / all items;
* ``wrong_answer_rate``: (answered with another article, or answered a null
  item) / all items;
* ``p50_ms`` / ``p95_ms``: latency of one ``Answerer.decide`` call
  (nearest-rank percentiles);
* ``one_tap_rate``: answerable items answered right, or with the expected
  article among the candidates of a clarify menu (one tap away) / answerable items;
* ``menu_rate_on_null``: items that must not be answered but got a clarify
  menu / such items;
* ``predictions``: one ``{"text", "expected", "predicted", "score", "kind",
  "decision", "candidates"}`` per question, ``score`` being the decision's
  confidence, ``decision`` its kind (answer / clarify / no_match / greeting /
  handoff) and ``candidates`` the article ids a clarify menu offers, best first.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

from connector.domain.knowledge import (
    ANSWER,
    CLARIFY,
    HANDOFF_REQUEST,
    Answerer,
    Article,
    KnowledgeIndex,
    synonym_groups,
)
from connector.domain.knowledge.analysis import MODES
from connector.domain.knowledge.answerer import check_thresholds
from connector.domain.knowledge.calibration import calibrate


class InputError(Exception):
    """Bad arguments or input file: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="connector bot eval", description="Evaluate the knowledge bot.")
    p.add_argument("--kb", required=True, help="JSON array of articles")
    p.add_argument("--questions", required=True, help="JSONL: {text, expected}")
    p.add_argument("--json", action="store_true", help="emit one JSON object")
    p.add_argument("--mode", default=None, choices=sorted(MODES), help="analyser (for comparisons)")
    p.add_argument("--lexical", action="store_true", help="BM25 only, without the embedding model (for comparisons)")
    p.add_argument("--answer-threshold", type=float, default=None, help="default: the scorer model's")
    p.add_argument("--clarify-threshold", type=float, default=None, help="default: the scorer model's")
    p.add_argument(
        "--synonym-packs",
        default="",
        help="comma-separated synonym packs, as knowledge.synonym_packs (default: none; e.g. shop)",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="calibrate the answer threshold on the KB, as the sync does with knowledge.calibrate: true",
    )
    return p


def _id(value: Any) -> Any:
    """Article ids are compared as text: a KB written with numeric ids (1, 2, ...) works as is."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def load_kb(path: str) -> list[Article]:
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: a BOM (Windows editors, Excel) is fine
            data = json.load(f)
    except OSError as e:
        raise InputError(f"cannot read KB file {path}: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"KB file {path} is not valid JSON: {e}") from None
    if not isinstance(data, list):
        raise InputError(f"KB file {path} must be a JSON array of articles")
    out: list[Article] = []
    seen: set[str] = set()
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise InputError(f"KB file {path}: article #{n} is not an object")
        item = {**item, "id": _id(item.get("id"))}
        missing = [k for k in ("id", "title", "answer") if not isinstance(item.get(k), str)]
        missing += [k for k in ("question", "body") if item.get(k) is not None and not isinstance(item[k], str)]
        if missing:
            raise InputError(f"KB file {path}: article #{n} lacks string field(s) {', '.join(missing)}")
        if item["id"] in seen:
            raise InputError(f"KB file {path}: duplicate article id {item['id']!r}")
        seen.add(item["id"])
        ex = item.get("examples") or []
        if not isinstance(ex, list) or not all(isinstance(x, str) for x in ex):
            raise InputError(f"KB file {path}: article #{n} examples must be a list of strings")
        out.append(Article.from_dict(item))
    return out


def load_questions(path: str, known_ids: set[str]) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError(f"cannot read questions file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise InputError(f"questions file {path} is not UTF-8: {e}") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"questions file {path} line {n}: invalid JSON ({e.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or "expected" not in item:
            raise InputError(f'questions file {path} line {n}: need {{"text": str, "expected": id | null}}')
        exp = _id(item["expected"]) if item["expected"] is not None else None
        if exp is not None and not isinstance(exp, str):
            raise InputError(f"questions file {path} line {n}: expected must be an article id or null")
        if exp is not None and exp not in known_ids:
            raise InputError(f"questions file {path} line {n}: expected id {exp!r} is not in the KB")
        out.append({"text": item["text"], "expected": exp})
    if not out:
        raise InputError(f"questions file {path} has no questions")
    return out


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return 0.0
    s = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(s)))
    return s[rank - 1]


def evaluate(answerer: Answerer, questions: Sequence[dict[str, Any]], progress=None) -> dict[str, Any]:
    """`progress(done, total)`, when given, is called after each question."""
    predictions = []
    times = []
    for n, q in enumerate(questions, 1):
        if progress is not None:
            progress(n - 1, len(questions))
        t0 = time.perf_counter()
        d = answerer.decide(q["text"])
        times.append((time.perf_counter() - t0) * 1000.0)
        predicted = d.article.id if d.kind == ANSWER and d.article is not None else None
        predictions.append(
            {
                "text": q["text"],
                "expected": q["expected"],
                "predicted": predicted,
                "score": round(d.confidence, 4),
                "kind": d.kind,
                "decision": "handoff" if d.kind == HANDOFF_REQUEST else d.kind,
                "candidates": [c.article_id for c in d.candidates] if d.kind == CLARIFY else [],
            }
        )
    return metrics(predictions, times)


def metrics(predictions: Sequence[dict[str, Any]], times_ms: Sequence[float]) -> dict[str, Any]:
    total = len(predictions)
    answerable = [p for p in predictions if p["expected"] is not None]
    correct = sum(1 for p in answerable if p["predicted"] == p["expected"])
    answered = sum(1 for p in predictions if p["predicted"] is not None)
    wrong = sum(1 for p in predictions if p["predicted"] is not None and p["predicted"] != p["expected"])
    one_tap = sum(1 for p in answerable if p["predicted"] == p["expected"] or p["expected"] in p.get("candidates", ()))
    null = [p for p in predictions if p["expected"] is None]
    menus_on_null = sum(1 for p in null if p.get("candidates"))
    return {
        "items": total,
        "answerable": len(answerable),
        "top1_accuracy": round(correct / len(answerable), 4) if answerable else 0.0,
        "answer_rate": round(answered / total, 4) if total else 0.0,
        "wrong_answer_rate": round(wrong / total, 4) if total else 0.0,
        "one_tap_rate": round(one_tap / len(answerable), 4) if answerable else 0.0,
        "menu_rate_on_null": round(menus_on_null / len(null), 4) if null else 0.0,
        "p50_ms": round(percentile(times_ms, 50), 3),
        "p95_ms": round(percentile(times_ms, 95), 3),
        "predictions": list(predictions),
    }


def _print_text(res: dict[str, Any], out) -> None:
    print(f"items: {res['items']} (answerable {res['answerable']})", file=out)
    for k in (
        "top1_accuracy",
        "answer_rate",
        "wrong_answer_rate",
        "one_tap_rate",
        "menu_rate_on_null",
        "p50_ms",
        "p95_ms",
    ):
        print(f"{k}: {res[k]}", file=out)
    misses = [p for p in res["predictions"] if p["predicted"] != p["expected"]]
    if misses:
        print("misses (text | expected | predicted | kind | score):", file=out)
        for p in misses:
            print(f"  {p['text']} | {p['expected']} | {p['predicted']} | {p['kind']} | {p['score']}", file=out)


def _terminal_progress():
    """On a terminal: `questions 120/500` on one line, redrawn at most 10 times a second."""
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.1 or done + 1 == total:
            last[0] = now
            end = "\n" if done + 1 == total else ""
            print(f"\rconnector bot eval: questions {done + 1}/{total}", end=end, file=sys.stderr, flush=True)

    return show


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        try:
            check_thresholds(args.answer_threshold, args.clarify_threshold)
        except ValueError:
            raise InputError("need 0 <= --clarify-threshold <= --answer-threshold <= 1") from None
        articles = load_kb(args.kb)
        questions = load_questions(args.questions, {a.id for a in articles})
    except InputError as e:
        print(f"connector bot eval: error: {e}", file=sys.stderr)
        return 2
    kwargs: dict[str, Any] = {"mode": args.mode} if args.mode else {}
    try:
        kwargs["synonyms"] = synonym_groups([x.strip() for x in args.synonym_packs.split(",") if x.strip()])
    except ValueError as e:
        print(f"connector bot eval: error: {e}", file=sys.stderr)
        return 2
    if not args.lexical:
        from connector.gateways.embedder import get_encoder

        kwargs["encoder"] = get_encoder()
    started = time.perf_counter()
    if "encoder" in kwargs and len(articles) >= 200:  # the model reads every article: say so
        print(
            f"connector bot eval: embedding {len(articles)} articles (about a minute per 1,000)...",
            file=sys.stderr,
            flush=True,
        )
    index = KnowledgeIndex.build(articles, **kwargs)
    if args.calibrate:
        calibrate(index)  # as the knowledge sync does with knowledge.calibrate: true
    if time.perf_counter() - started > 5:
        print(f"connector bot eval: index built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    answerer = Answerer(index, answer_threshold=args.answer_threshold, clarify_threshold=args.clarify_threshold)
    res = evaluate(answerer, questions, _terminal_progress() if sys.stderr.isatty() else None)
    try:
        if args.json:
            json.dump(res, sys.stdout, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            _print_text(res, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # output piped into `head` etc.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
