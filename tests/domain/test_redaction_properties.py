"""Properties the redactor must keep for any input, checked with hypothesis."""

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.domain.redaction import Redactor, Rule
from tests.domain.luhn import luhn_valid

REDACTOR = Redactor()
SEPARATORS = " \u00a0\u3000-\u2010\u2011\u2012\u2013\u2212\uff0d\u30fc\uff70"


def digit_runs(text: str) -> list[list[list[int]]]:
    """Maximal runs of digit groups joined by single separators (brute force)."""
    runs: list[list[list[int]]] = []
    groups: list[list[int]] = []
    group: list[int] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdecimal():
            group.append(unicodedata.decimal(ch))
        elif (ch in SEPARATORS and group and i + 1 < len(text)
              and text[i + 1].isdecimal()):
            groups.append(group)
            group = []
        else:
            if group:
                groups.append(group)
            if groups:
                runs.append(groups)
            groups, group = [], []
        i += 1
    if group:
        groups.append(group)
    if groups:
        runs.append(groups)
    return runs


def contains_pan(text: str) -> bool:
    """True if any window of whole digit groups is a Luhn-valid 13-19 digits."""
    for groups in digit_runs(text):
        for i in range(len(groups)):
            for j in range(i, len(groups)):
                digits = [d for g in groups[i:j + 1] for d in g]
                if 13 <= len(digits) <= 19 and luhn_valid(digits):
                    return True
    return False


@st.composite
def pans(draw) -> str:
    """A Luhn-valid card number as a customer might type it."""
    length = draw(st.integers(13, 19))
    body = draw(st.lists(st.integers(0, 9), min_size=length - 1, max_size=length - 1))
    check = next(c for c in range(10) if luhn_valid(body + [c]))
    digits = body + [check]
    full_width = draw(st.sampled_from(["none", "all", "mixed"]))
    chars = []
    for d in digits:
        wide = full_width == "all" or (full_width == "mixed" and draw(st.booleans()))
        chars.append(chr(0xFF10 + d) if wide else str(d))
    if draw(st.booleans()):
        sep = draw(st.sampled_from(SEPARATORS))
        return sep.join("".join(chars[k:k + 4]) for k in range(0, len(chars), 4))
    return "".join(chars)


KEYWORDS = st.sampled_from([
    "CVV ", "ＣＶＶ：", "セキュリティコードは", "暗証番号", "がセキュリティコード",
    "は CVV", " is my PIN", "裏の3桁", "注文番号 ", "、",
])
SHORT_DIGITS = st.text(alphabet="0123456789０１２３ -ー", max_size=6)
MESSAGES = st.lists(
    st.one_of(st.text(max_size=8), pans(), KEYWORDS, SHORT_DIGITS), max_size=8,
).map("".join)


@given(MESSAGES)
@settings(max_examples=400)
def test_redaction_is_idempotent(text):
    once = REDACTOR.redact(text)
    assert REDACTOR.redact(once) == once


@given(MESSAGES)
@settings(max_examples=400)
def test_output_never_contains_a_luhn_valid_card_number(text):
    assert not contains_pan(REDACTOR.redact(text))


@given(st.lists(pans(), min_size=1, max_size=3), st.sampled_from(["", "カード ", "no. "]))
def test_generated_card_numbers_never_survive(numbers, prefix):
    text = prefix + " と ".join(numbers)
    assert not contains_pan(REDACTOR.redact(text))
    assert REDACTOR.redact_with_report(text)[1] == ["pan"]


@given(st.text(alphabet=st.characters(exclude_categories=["Nd", "Cs"])))
def test_text_without_digits_is_unchanged(text):
    assert REDACTOR.redact(text) == text


@given(MESSAGES)
def test_mask_rules_preserve_length(text):
    redactor = Redactor([Rule("vowels", "[aeiouアイウエオ]+", "mask")])
    assert len(redactor.redact(text)) == len(text)


@given(st.text())
def test_never_raises_on_arbitrary_unicode(text):
    redactor = Redactor([Rule("x", "x+", "remove"), Rule("y", "y", "mask", replacement="Y")])
    result, fired = redactor.redact_with_report(text)
    assert isinstance(result, str) and isinstance(fired, list)
