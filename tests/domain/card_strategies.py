"""Hypothesis strategies for card numbers as customers type them, written apart from the redactor.

The separator classes come from Unicode categories and the lists of what people type in
Japanese, English, Chinese and Thai chats; nothing here is imported from
connector.domain.redaction.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

from hypothesis import assume
from hypothesis import strategies as st

from tests.domain.luhn import luhn_valid

# Characters that mask digits, and sentence ends: never between the groups of a number.
NOT_SEPARATORS = set("*＊#＃•∗!！?？¡¿‼⁇⁈⁉")


def _chars(categories: list[str]) -> st.SearchStrategy[str]:
    return st.characters(categories=categories).filter(lambda c: c not in NOT_SEPARATORS)


# One strategy per class of separator, each drawing a single character.
SEPARATOR_CLASSES: dict[str, st.SearchStrategy[str]] = {
    "ascii_punctuation": st.sampled_from(sorted(set(string.punctuation) - NOT_SEPARATORS)),
    "unicode_punctuation": st.one_of(
        st.sampled_from(list("・･、。，．‧·：；／＿")), _chars(["Po", "Pc", "Ps", "Pe", "Pi", "Pf"])
    ),
    "dashes": st.one_of(st.sampled_from(list("-‐‑‒–—―−－ーｰ〜﹣")), _chars(["Pd"])),
    "spaces_of_every_width": st.one_of(
        st.sampled_from(list(" \u00a0\u2000\u2002\u2003\u2009\u200a\u202f\u205f\u3000")), _chars(["Zs"])
    ),
    "tabs_and_line_breaks": st.sampled_from(["\t", "\n", "\r\n", "\r", "\u2028", "\u2029", "\x85"]),
    "invisible_characters": st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]),
}
ANY_SEPARATOR = st.one_of(*SEPARATOR_CLASSES.values())
MAX_GAP = 6  # separator characters between two groups that still join them (documented)

# Card brands: (prefixes, lengths). Test numbers and random bodies alike.
BRANDS = {
    "visa": (["4"], [13, 16, 19]),
    "mastercard": (["51", "52", "53", "54", "55", "2221", "2500", "2720"], [16]),
    "amex": (["34", "37"], [15]),
    "discover": (["6011", "644", "65"], [16, 19]),
    "jcb": (["3528", "3566", "3589"], [16, 17, 18, 19]),
    "diners": (["300", "305", "36", "38"], [14]),
    "unionpay": (["62"], [16, 17, 18, 19]),
    "maestro": (["50", "56", "67"], [13, 15, 19]),
    "mir": (["2200", "2204"], [16]),
}

FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
THAI = {str(d): chr(0x0E50 + d) for d in range(10)}

# Shapes the redactor leaves alone on purpose (docs/data-protection.md): a clock time, a
# thousands-separated amount or a date inside the number. No one writes a card number so.
_TIME = re.compile(r"(?<!\d)\d{1,2}[:：]\d{2}(?!\d)")
_THOUSANDS = re.compile(r"(?<!\d)\d{1,3}[,，]\d{3}(?!\d)")
_DATE = re.compile(r"(?<!\d)(?:(?:19|20)\d\d(\D)\d{1,2}\1\d{1,2}|\d{1,2}(\D)\d{1,2}\2(?:19|20)\d\d)(?!\d)")


def ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())


def has_excluded_shape(rendered: str) -> bool:
    """Time, amount or date in the rendered number (ASCII digits, separators as typed)."""
    plain = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in rendered)
    return bool(_TIME.search(plain) or _THOUSANDS.search(plain) or _DATE.search(plain))


@dataclass(frozen=True)
class Card:
    digits: str  # ASCII digits
    rendered: str  # as typed: grouping, separators, digit widths
    digit_offsets: tuple[int, ...]  # index of each digit in ``rendered``

    def middle_offsets(self) -> tuple[int, ...]:
        """Offsets of every digit but the first 6 and the last 4: the ones that must go."""
        return self.digit_offsets[6:-4]


@st.composite
def card_digits(draw, brand: str | None = None) -> str:
    """A Luhn-valid card number of a random brand and length."""
    prefixes, lengths = BRANDS[brand or draw(st.sampled_from(sorted(BRANDS)))]
    prefix = draw(st.sampled_from(prefixes))
    length = draw(st.sampled_from(lengths))
    body = prefix + "".join(
        draw(
            st.lists(
                st.sampled_from("0123456789"), min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1
            )
        )
    )
    return next(body + c for c in "0123456789" if luhn_valid(body + c))


@st.composite
def groupings(draw, length: int) -> list[int]:
    """Group sizes: one piece, 4-4-4-..., 4-6-5 / 4-6-4, or irregular groups of 1-6 digits."""
    style = draw(st.sampled_from(["one_piece", "fours", "amex", "irregular"]))
    if style == "one_piece":
        return [length]
    if style == "fours":
        return [4] * (length // 4) + ([length % 4] if length % 4 else [])
    if style == "amex" and length in (14, 15):
        return [4, 6, length - 10]
    sizes: list[int] = []
    while sum(sizes) < length:
        sizes.append(min(draw(st.integers(1, 6)), length - sum(sizes)))
    return sizes


@st.composite
def gaps(draw, separators: st.SearchStrategy[str] = ANY_SEPARATOR) -> str:
    """Between two groups: 1-3 separators drawn from ``separators``, at most MAX_GAP characters."""
    gap = "".join(draw(st.lists(separators, min_size=1, max_size=3)))
    assume(len(gap) <= MAX_GAP)
    return gap


@st.composite
def render(
    draw,
    digits: str,
    separators: st.SearchStrategy[str] = ANY_SEPARATOR,
    widths: str | None = None,
    lookalike: bool = False,
) -> Card:
    """``digits`` as a customer might type them."""
    widths = widths or draw(st.sampled_from(["ascii", "full_width", "thai", "mixed"]))
    sizes = draw(groupings(len(digits)))
    same_gap = draw(st.booleans())
    first_gap = draw(gaps(separators))
    out, offsets, pos = [], [], 0
    for k, size in enumerate(sizes):
        if k:
            gap = first_gap if same_gap else draw(gaps(separators))
            out.append(gap)
            pos += len(gap)
        for d in digits[sum(sizes[:k]) : sum(sizes[:k]) + size]:
            width = widths if widths != "mixed" else draw(st.sampled_from(["ascii", "full_width"]))
            out.append({"ascii": d, "full_width": FULL_WIDTH[d], "thai": THAI[d]}[width])
            offsets.append(pos)
            pos += 1
    rendered = "".join(out)
    if not lookalike:
        assume(not has_excluded_shape(rendered))
    return Card(digits, rendered, tuple(offsets))


@st.composite
def cards(draw, separators: st.SearchStrategy[str] = ANY_SEPARATOR, widths: str | None = None) -> Card:
    return draw(render(draw(card_digits()), separators, widths))


def card_windows_valid(groups: list[str]) -> bool:
    """True if any window of whole groups could be a card number (13-19 digits, not 0..., Luhn)."""
    for i in range(len(groups)):
        for j in range(i, len(groups)):
            d = "".join(groups[i : j + 1])
            if 13 <= len(d) <= 19 and d[0] != "0" and luhn_valid(d):
                return True
    return False


@st.composite
def lookalikes(draw) -> Card:
    """A 13-19 digit number no part of which is a card number: order, tracking, phone..."""
    length = draw(st.integers(13, 19))
    digits = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length, max_size=length)))
    card = draw(render(digits, lookalike=True))
    sizes, groups, k = [], [], 0
    # the groups as rendered: split the digit offsets where a gap sits
    for i, off in enumerate(card.digit_offsets):
        if i and off != card.digit_offsets[i - 1] + 1:
            sizes.append(i - k)
            k = i
    sizes.append(len(digits) - k)
    pos = 0
    for size in sizes:
        groups.append(digits[pos : pos + size])
        pos += size
    assume(not card_windows_valid(groups))
    return card


# Text around the number, in the four languages of the product, with and without labels.
PHRASES = {
    "ja": [
        "カード番号は",
        "です。",
        "よろしくお願いします",
        "決済できません",
        "番号：",
        "こちらの",
        "を使いました",
        "セキュリティコードは",
        "注文番号 ",
        "お問い合わせ",
        "\n",
    ],
    "en": ["My card is ", " thanks", "Please charge ", "card number: ", " and ", "CVV ", "order ", "Hi, ", ".\n"],
    "zh": ["我的信用卡號碼是", "謝謝", "卡號：", "請幫我付款", "安全碼", "訂單編號 ", "，"],
    "th": ["หมายเลขบัตร ", " ค่ะ", "ครับ", "บัตรเครดิตของฉันคือ ", "รหัส CVV ", "ขอบคุณ "],
}
WORDS = st.sampled_from([p for ps in PHRASES.values() for p in ps])
DIGITLESS_TEXT = st.text(alphabet=st.characters(exclude_categories=["Nd", "Cs"]), max_size=12)


@st.composite
def surroundings(draw) -> str:
    """Random Japanese/English/Chinese/Thai text without digits."""
    parts = draw(st.lists(st.one_of(WORDS, DIGITLESS_TEXT), max_size=4))
    return "".join(parts)
