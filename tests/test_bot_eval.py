"""`connector bot eval`: metrics, output formats, input errors, and the targets on the held-out split."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from connector.entrypoints import bot_eval
from connector.entrypoints.bot_eval import main, metrics, percentile

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "bot"

KB = [
    {
        "id": "fee",
        "title": "送料について",
        "question": "送料はいくらですか？",
        "answer": "送料は全国一律550円です。",
        "body": "",
    },
    {
        "id": "return",
        "title": "返品について",
        "question": "商品を返品したいです。",
        "answer": "到着後8日以内なら返品できます。",
        "body": "未使用に限ります。",
    },
]


def _write(tmp_path: Path, kb, questions) -> tuple[str, str]:
    k = tmp_path / "kb.json"
    k.write_text(json.dumps(kb, ensure_ascii=False), encoding="utf-8")
    q = tmp_path / "q.jsonl"
    q.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in questions), encoding="utf-8")
    return str(k), str(q)


def test_metrics_hand_computed() -> None:
    preds = [
        {"text": "a", "expected": "fee", "predicted": "fee", "score": 0.9},
        {"text": "b", "expected": "return", "predicted": "return", "score": 0.8},
        {"text": "c", "expected": None, "predicted": "fee", "score": 0.7},  # answered a null item: wrong
    ]
    m = metrics(preds, [1.0, 2.0, 3.0])
    assert m["top1_accuracy"] == 1.0  # 2/2
    assert m["answer_rate"] == 1.0  # 3/3
    assert m["wrong_answer_rate"] == round(1 / 3, 4)
    assert m["p50_ms"] == 2.0 and m["p95_ms"] == 3.0

    preds2 = [
        {"text": "a", "expected": "fee", "predicted": None, "score": 0.3},  # declined: a miss, not wrong
        {"text": "b", "expected": "return", "predicted": "fee", "score": 0.6},  # wrong article
        {"text": "c", "expected": None, "predicted": None, "score": 0.0},
        {"text": "d", "expected": "fee", "predicted": "fee", "score": 0.9},
    ]
    m2 = metrics(preds2, [1, 1, 1, 1])
    assert m2["top1_accuracy"] == round(1 / 3, 4)
    assert m2["answer_rate"] == 0.5
    assert m2["wrong_answer_rate"] == 0.25


def test_one_tap_counts_the_expected_article_in_a_clarify_menu() -> None:
    preds = [
        {"text": "a", "expected": "fee", "predicted": "fee", "candidates": []},  # answered right
        {"text": "b", "expected": "return", "predicted": None, "candidates": ["fee", "return"]},  # one tap away
        {"text": "c", "expected": "return", "predicted": None, "candidates": ["fee"]},  # not in the menu
        {"text": "d", "expected": "fee", "predicted": "return", "candidates": []},  # wrong
        {"text": "e", "expected": None, "predicted": None, "candidates": ["fee"]},  # a menu on chat
        {"text": "f", "expected": None, "predicted": None, "candidates": []},
    ]
    m = metrics(preds, [1] * 6)
    assert m["one_tap_rate"] == 0.5  # a and b of four answerable
    assert m["menu_rate_on_null"] == 0.5


def test_each_prediction_says_its_decision_and_menu(tmp_path, capsys) -> None:
    kb, q = _write(
        tmp_path, KB, [{"text": "送料はいくら？", "expected": "fee"}, {"text": "こんにちは", "expected": None}]
    )
    assert main(["--kb", kb, "--questions", q, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    for p in res["predictions"]:
        assert p["decision"] in ("answer", "clarify", "no_match", "greeting", "handoff")
        assert isinstance(p["candidates"], list) and (p["decision"] == "clarify" or p["candidates"] == [])
    assert {"one_tap_rate", "menu_rate_on_null"} <= res.keys()


def test_percentile_nearest_rank() -> None:
    xs = list(range(1, 21))
    assert percentile(xs, 50) == 10 and percentile(xs, 95) == 19 and percentile([], 95) == 0.0


def test_main_json_on_tiny_kb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb, q = _write(
        tmp_path,
        KB,
        [
            {"text": "送料いくらですか", "expected": "fee"},
            {"text": "商品を返品したい", "expected": "return"},
            {"text": "今日の天気は？", "expected": None},
        ],
    )
    assert main(["--kb", kb, "--questions", q, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    preds = res["predictions"]
    assert [p["text"] for p in preds] == ["送料いくらですか", "商品を返品したい", "今日の天気は？"]
    assert all(set(p) >= {"text", "expected", "predicted", "score"} for p in preds)
    # the figures can be recomputed from the predictions
    again = metrics(preds, [0.0])
    for k in ("top1_accuracy", "answer_rate", "wrong_answer_rate"):
        assert res[k] == again[k]
    assert preds[0]["predicted"] == "fee" and preds[1]["predicted"] == "return" and preds[2]["predicted"] is None
    assert res["top1_accuracy"] == 1.0 and res["wrong_answer_rate"] == 0.0 and res["answer_rate"] == round(2 / 3, 4)
    assert res["p95_ms"] >= res["p50_ms"] >= 0


def test_main_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb, q = _write(tmp_path, KB, [{"text": "送料いくら", "expected": "fee"}])
    assert main(["--kb", kb, "--questions", q]) == 0
    out = capsys.readouterr().out
    assert "top1_accuracy:" in out and "wrong_answer_rate:" in out and "p95_ms:" in out


def test_files_from_other_tools_are_read_as_they_come(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A BOM (Windows editors, Excel), numeric ids, and no question or a null body are all fine."""
    kb = [
        {"id": 1, "title": "送料について", "answer": "送料は全国一律550円です。", "body": None},
        {
            "id": 2,
            "title": "返品について",
            "question": "商品を返品したいです。",
            "answer": "到着後8日以内なら返品できます。",
        },
    ]
    k, q = tmp_path / "kb.json", tmp_path / "q.jsonl"
    k.write_text(json.dumps(kb, ensure_ascii=False), encoding="utf-8-sig")
    q.write_text(
        '{"text": "送料いくらですか", "expected": 1}\n{"text": "商品を返品したい", "expected": "2"}\n',
        encoding="utf-8-sig",
    )
    assert main(["--kb", str(k), "--questions", str(q), "--json"]) == 0
    preds = json.loads(capsys.readouterr().out)["predictions"]
    assert [(p["expected"], p["predicted"]) for p in preds] == [("1", "1"), ("2", "2")]


@pytest.mark.parametrize(
    "kb_text, q_text, needle",
    [
        ("not json", '{"text": "a", "expected": null}\n', "not valid JSON"),
        ('{"id": "x"}', '{"text": "a", "expected": null}\n', "JSON array"),
        ('[{"id": "x", "title": "t"}]', '{"text": "a", "expected": null}\n', "lacks"),
        ('[{"id": "x", "title": "t", "answer": "a", "body": 3}]', '{"text": "a", "expected": null}\n', "lacks"),
        ('[{"id": true, "title": "t", "answer": "a"}]', '{"text": "a", "expected": null}\n', "lacks"),
        (json.dumps(KB), "{broken\n", "line 1"),
        (json.dumps(KB), '{"text": "a"}\n', "line 1"),
        (json.dumps(KB), '{"text": "a", "expected": "nope"}\n', "not in the KB"),
        (json.dumps(KB), "\n", "no questions"),
        (json.dumps(KB + KB), '{"text": "a", "expected": null}\n', "duplicate"),
    ],
)
def test_bad_input_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kb_text: str, q_text: str, needle: str
) -> None:
    k = tmp_path / "kb.json"
    k.write_text(kb_text, encoding="utf-8")
    q = tmp_path / "q.jsonl"
    q.write_text(q_text, encoding="utf-8")
    assert main(["--kb", str(k), "--questions", str(q)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_missing_file_and_bad_args_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--kb", str(tmp_path / "none.json"), "--questions", str(tmp_path / "none.jsonl")]) == 2
    assert "cannot read KB file" in capsys.readouterr().err
    assert main(["--kb", "x.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--questions" in err and len(err.splitlines()) == 1


@functools.cache  # each KB and split is evaluated once per run (an index build embeds it)
def _held_out(split: str = "questions_test.jsonl", kb_file: str = "kb.json") -> dict:
    kb, q = str(BENCH / kb_file), str(BENCH / split)
    articles = bot_eval.load_kb(kb)
    questions = bot_eval.load_questions(q, {a.id for a in articles})
    from connector.domain.knowledge import Answerer, KnowledgeIndex, synonym_groups
    from connector.gateways.embedder import get_encoder

    # The shop's KB with the shop's synonym pack, as its admin would configure it (knowledge.synonym_packs).
    index = KnowledgeIndex.build(articles, encoder=get_encoder(), synonyms=synonym_groups(["shop"]))
    return bot_eval.evaluate(Answerer(index), questions)


@pytest.fixture(scope="module")
def held_out() -> dict:
    return _held_out()


SPLITS = (
    "questions_dev.jsonl",
    "questions_dev_extra.jsonl",
    "questions_dev_extra2.jsonl",
    "questions_test.jsonl",
    "questions_test2.jsonl",
)


def _jsonl(name: str) -> list[dict]:
    return [json.loads(l) for l in (BENCH / name).read_text(encoding="utf-8").splitlines() if l.strip()]


def test_eval_set_shape() -> None:
    kb = json.loads((BENCH / "kb.json").read_text(encoding="utf-8"))
    rows = [r for name in SPLITS for r in _jsonl(name)]
    assert len(kb) >= 40
    assert sum(r["expected"] is not None for r in rows) >= 200
    assert sum(r["expected"] is None for r in rows) >= 40
    assert len({r["text"] for r in rows}) == len(rows)  # no duplicates across splits


@pytest.fixture(scope="module")
def second_held_out() -> dict:
    """questions_test2.jsonl was written after the sixth session's model was fixed."""
    return _held_out("questions_test2.jsonl")


def test_second_held_out_split_wrong_answer_target(second_held_out: dict) -> None:
    assert second_held_out["wrong_answer_rate"] <= 0.05
    assert second_held_out["top1_accuracy"] >= 0.68  # regression floor below the measured level (0.73, wrong 0.011)


def test_held_out_wrong_answer_target(held_out: dict) -> None:
    """Never a confident wrong answer: the target that is met on the held-out split."""
    assert held_out["wrong_answer_rate"] <= 0.05
    assert held_out["top1_accuracy"] >= 0.72  # regression floor below the measured level (0.76, wrong 0.017)


@pytest.mark.xfail(
    reason="top-1 >= 0.90 on the held-out split with a KB that has no learned examples yet is not "
    "reached (measured 0.76 with wrong 0.017; 2,000 articles in docs/bot.md)",
    strict=False,
)
def test_held_out_top1_target(held_out: dict) -> None:
    assert held_out["top1_accuracy"] >= 0.90
    assert held_out["wrong_answer_rate"] <= 0.05


# After the learning loop: kb_learned.json is kb.json with the dev questions approved as question examples.


def test_learned_kb_is_kb_json_with_the_dev_questions_only() -> None:
    """kb_learned.json is what make_learned_kb.py builds, and no held-out message is among its examples."""
    import subprocess
    import sys

    built = subprocess.run(
        [sys.executable, str(BENCH / "make_learned_kb.py")], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(built) == json.loads((BENCH / "kb_learned.json").read_text(encoding="utf-8"))
    examples = {e for a in json.loads(built) for e in a["examples"]}
    held = {q["text"] for name in ("questions_test.jsonl", "questions_test2.jsonl") for q in _jsonl(name)}
    assert len(examples) >= 300 and not examples & held


def _held_out_with(tmp_path_factory: pytest.TempPathFactory, split: str, articles: list[dict]) -> dict:
    path = tmp_path_factory.mktemp("kb") / "kb.json"
    path.write_text(json.dumps(articles, ensure_ascii=False), encoding="utf-8")
    return _held_out(split, str(path))


def _learned_on_every_other_article() -> list[dict]:
    """A loop that has not reached every article yet: kb_learned.json's examples on every other article only."""
    plain = json.loads((BENCH / "kb.json").read_text(encoding="utf-8"))
    learned = json.loads((BENCH / "kb_learned.json").read_text(encoding="utf-8"))
    return [a if n % 2 == 0 else plain[n] for n, a in enumerate(learned)]


@pytest.mark.parametrize("split, lift", [("questions_test.jsonl", 0.10), ("questions_test2.jsonl", 0.03)])
def test_learned_examples_answer_more_customers_correctly(split: str, lift: float) -> None:
    """Measured 0.76 -> 0.91 on test (written with the dev questions, so its phrasings are close to the
    examples) and 0.73 -> 0.78 on test2 (written later to differ), wrong 0.008 / 0.011."""
    cold, learned = _held_out(split), _held_out(split, "kb_learned.json")
    assert learned["top1_accuracy"] >= cold["top1_accuracy"] + lift
    assert learned["wrong_answer_rate"] <= 0.05


@pytest.mark.parametrize("split", ["questions_test.jsonl", "questions_test2.jsonl"])
def test_examples_on_some_articles_do_not_pull_messages_from_the_others(
    tmp_path_factory: pytest.TempPathFactory, split: str
) -> None:
    """Before EXAMPLE_MARGIN, examples on half the articles made the bot worse than none (test: top-1 0.69,
    wrong 0.059); now 0.82 / 0.74 with wrong 0.017 / 0.011."""
    cold, half = _held_out(split), _held_out_with(tmp_path_factory, split, _learned_on_every_other_article())
    assert half["top1_accuracy"] >= cold["top1_accuracy"] - 0.015  # no worse, within one question
    assert half["wrong_answer_rate"] <= 0.05
