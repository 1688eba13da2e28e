"""The masking evaluator counts what an auditor would count, and the dev corpus stays clean."""

import json
from pathlib import Path

import pytest

from tests.domain.masking_eval import evaluate, main

DEV_CORPUS = Path(__file__).resolve().parents[1] / "data" / "masking_dev.jsonl"


class Identity:
    """A redactor that masks nothing."""

    def redact(self, text: str) -> str:
        return text


class MaskAllDigits:
    def redact(self, text: str) -> str:
        return "".join("*" if c.isdecimal() else c for c in text)


def corpus(tmp_path, *items) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def test_a_secret_left_in_clear_is_a_leak_whatever_its_separators_or_digit_width(tmp_path):
    path = corpus(
        tmp_path,
        {"id": "dots", "text": "4111.1111.1111.1111", "secrets": ["4111111111111111"]},
        {"id": "wide", "text": "４１１１　１１１１　１１１１　１１１１", "secrets": ["4111111111111111"]},
        {"id": "code", "text": "CVV 1 2 3", "secrets": ["123"]},
    )
    result = evaluate(path, Identity())
    assert (result["leaks"], result["leaked_ids"]) == (3, ["dots", "wide", "code"])


def test_a_masked_secret_is_not_a_leak(tmp_path):
    path = corpus(tmp_path, {"text": "4111 1111 1111 1111 CVV 123", "secrets": ["4111111111111111", "123"]})
    assert evaluate(path, MaskAllDigits())["leaks"] == 0


def test_a_keep_string_that_changed_is_over_masking(tmp_path):
    path = corpus(
        tmp_path,
        {"id": "phone", "text": "電話 090-1234-5678", "keep": ["090-1234-5678"]},
        {"id": "words", "text": "3個ください", "keep": ["ください"]},
    )
    result = evaluate(path, MaskAllDigits())
    assert result == {"lines": 2, "leaks": 0, "over_masked": 1, "leaked_ids": [], "over_masked_ids": ["phone"]}


def test_lines_without_an_id_are_named_by_line_number_and_extra_fields_are_allowed(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"text": "a", "keep": ["a"], "lang": "en", "note": "x"}\n\n{"text": "1234", "secrets": ["1234"]}\n',
        encoding="utf-8",
    )
    result = evaluate(path, Identity())
    assert (result["lines"], result["leaked_ids"]) == (2, ["3"])


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "c.jsonl:1: not valid JSON"),
        ('{"secrets": []}', "c.jsonl:1: expected an object with a string 'text'"),
        ('{"text": "a", "keep": "a"}', "c.jsonl:1: 'keep' must be a list of strings"),
    ],
)
def test_a_malformed_line_is_a_clear_error_naming_the_line(tmp_path, line, message):
    path = tmp_path / "c.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        evaluate(path)


def test_command_line_prints_the_figures(tmp_path, capsys):
    path = corpus(tmp_path, {"id": "a", "text": "4111.1111.1111.1111", "secrets": ["4111111111111111"]})
    assert main([str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        "lines: 1  leaks: 0  over-masked: 0",
        "leaked ids: -",
        "over-masked ids: -",
    ]


def test_dev_corpus_has_no_leak_and_no_over_masking():
    result = evaluate(DEV_CORPUS, details=True)
    assert result["lines"] >= 80
    assert (result["leaks"], result["over_masked"]) == (0, 0), result["failures"]
