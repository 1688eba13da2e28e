"""The bot's evaluation drivers (bench/bot): what they count is what the docs report."""

import json

from bench.bot.examples_curve import run, split
from bench.bot.lodo_examples import recall


def row(expected, ids, rule=False):
    return {"expected": expected, "ids": ids, "rule": rule}


def test_recall_counts_answerable_messages_no_rule_decides():
    rows = [
        row("a", ["a", "b", "c"]),
        row("a", ["b", "c", "a"]),
        row("b", ["c", "d", "e"]),
        row(None, ["a", "b", "c"]),  # must not be answered: not in recall
        row("a", [], rule=True),  # a greeting or handoff rule decided it
    ]
    assert recall(rows) == {"items": 3, "r1": round(1 / 3, 3), "r3": round(2 / 3, 3)}


def test_split_makes_the_first_k_questions_of_each_article_its_examples():
    kb = [{"id": "a"}, {"id": "b"}]
    qs = [{"text": t, "expected": e} for t, e in [("a1", "a"), ("n", None), ("a2", "a"), ("b1", "b"), ("a3", "a")]]
    articles, rest = split(kb, qs, 2)
    assert [a["examples"] for a in articles] == [["a1", "a2"], ["b1"]]
    assert [q["text"] for q in rest] == ["n", "a3"]


def test_examples_curve_runs_any_folder_of_domains(tmp_path):
    d = tmp_path / "tiny"
    d.mkdir()
    kb = [
        {
            "id": "cancel",
            "title": "注文のキャンセル",
            "question": "注文をキャンセルしたい",
            "answer": "マイページから取り消せます。",
        },
        {"id": "pay", "title": "支払い方法", "question": "支払い方法を知りたい", "answer": "カードと振込が使えます。"},
    ]
    (d / "kb.json").write_text(json.dumps(kb, ensure_ascii=False), encoding="utf-8")
    lines = [{"text": "注文キャンセルしたい", "expected": "cancel"}, {"text": "こんにちは", "expected": None}]
    (d / "questions.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    out = run([0], tmp_path)
    assert out["tiny"][0]["items"] == 2
    assert set(out["tiny"][0]) == {"items", "top1_accuracy", "wrong_answer_rate", "one_tap_rate", "menu_rate_on_null"}
