"""Mask card data in free text before it is written anywhere.

Customers paste card numbers and security codes into chats. PCI DSS says a
stored PAN must show at most its first 6 and last 4 digits (3.4.1) and that
sensitive authentication data such as the CVV must not be stored at all
(3.3). Every message therefore passes through a :class:`Redactor` before it
reaches Salesforce, logs or Redis.

Built-in rules (always on, applied first; docs/data-protection.md has the
measurements):

``pan``
    A Luhn-valid number of 13-19 digits, written with any Unicode decimal
    digits (ASCII, full-width, Thai, ... mixed at will) in groups of any size
    separated by up to six separator characters: spaces of every width, line
    breaks, tabs, invisible spaces, any Unicode punctuation or dash, the
    katakana long-vowel mark and a few ASCII symbols (:func:`is_separator`).
    The number is made of whole digit groups, so it never starts or ends
    inside a group. Everything but the first 6 and last 4 digits becomes the
    mask character; separators and the width of the kept digits stay as
    typed. *Safety first*: any Luhn-valid number that could be a card is
    masked, even if the customer calls it an order number; Luhn-invalid
    numbers stay intact, and so do shapes no card has (a first digit 0, a
    date, a clock time, a thousands-separated amount, or the tail of a
    longer number joined by one repeated punctuation mark, such as an order
    number ``123-4567890-1234567``).

``security_code``
    3-4 digits (or 3-4 single digits separated by spaces) that are not part
    of a longer number, an amount or a count, and that

    * follow a label (CVV, CVC2, CID, CSC, セキュリティコード, 安全碼,
      รหัสความปลอดภัย, PIN, 暗証番号, ...) or a place on the card (裏の3桁,
      カード裏面, back of the card, 背面, 後三碼, หลังบัตร, ...) within 24
      characters of text that holds no other number, no sentence end and no
      other kind of number's label (注文, phone, 訂單, เบอร์, ...);
    * directly precede a label with a particle ("123がセキュリティコード",
      "1234 is my PIN", "123是安全碼", "123（CVV）");
    * follow a card number with only separators in between, optionally after
      an expiry date ("4111 1111 1111 1111 / 12/28 / 123"); four digits that
      read as an expiry (MMYY) stay unless the card is an American Express
      (whose code has four digits);
    * follow a length ("4桁で1234", "3 digits: 123", "三碼 123", "3 ตัว 123")
      in a message that contains a card number, unless the length names the
      last digits of the card ("下4桁", "last 4", "後四碼").

    The digits become mask characters.

Admin rules from configuration are applied afterwards, in order.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import NamedTuple

__all__ = [
    "BUILTIN_RULE_NAMES",
    "Redactor",
    "Rule",
    "is_separator",
    "redact_stream",
    "rules_from_config",
]

PAN_RULE = "pan"
SECURITY_CODE_RULE = "security_code"
BUILTIN_RULE_NAMES = (PAN_RULE, SECURITY_CODE_RULE)

_ACTIONS = ("mask", "remove")
_CONFIG_KEYS = frozenset({"name", "pattern", "action", "replacement"})

# ---------------------------------------------------------------------------
# Separators between digit groups
# ---------------------------------------------------------------------------

# Spaces of every width and all punctuation (connector, dash, brackets,
# quotes, other) by Unicode category, so that no hand list can miss one.
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"})
_EXTRA_SEPARATORS = frozenset(
    "\t\n\v\f\r\x85"  # control characters that are whitespace
    "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"  # invisible: soft hyphen, zero-width spaces
    # A Japanese IME in kana mode turns "-" into the long-vowel mark; between
    # digits it is never a vowel mark.
    "\u30fc\uff70"
    "$+<=>^`|~\uff5e"  # the ASCII symbols among ASCII punctuation, full-width tilde
    "\u2212\u2500\u2501"  # minus sign, box-drawing lines used as dashes
)
# Never separators: characters used to mask digits (a masked number must not
# join its neighbours into a new one) and sentence ends.
_NOT_SEPARATORS = frozenset("*\uff0a#\uff03\u2022\u2217!\uff01?\uff1f\u00a1\u00bf\u203c\u2047\u2048\u2049")
# Whitespace and invisible separators: several of them between groups are
# common, so they never tie groups into one token (see _cuts_token).
_LOOSE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def is_separator(ch: str) -> bool:
    """True for a character that may stand between the digit groups of a card number."""
    if ch in _NOT_SEPARATORS:
        return False
    return ch in _EXTRA_SEPARATORS or unicodedata.category(ch) in _SEPARATOR_CATEGORIES


_MAX_GAP = 6  # separator characters allowed between two digit groups


def _is_tight(ch: str) -> bool:
    """A separator that is neither whitespace nor invisible: - . / , : ・ ..."""
    return is_separator(ch) and unicodedata.category(ch) not in _LOOSE_CATEGORIES


def _separators_end(text: str, pos: int, limit: int = _MAX_GAP) -> int:
    """Index after the separators starting at ``pos`` (at most ``limit`` of them)."""
    end = pos
    while end < len(text) and end - pos < limit and is_separator(text[end]):
        end += 1
    return end


# ---------------------------------------------------------------------------
# PAN detection
# ---------------------------------------------------------------------------

# In ``str`` patterns ``\d`` matches every Unicode decimal digit, so
# full-width (０-９) and other scripts' digits are covered, and a card number
# can never hide by switching digit width half-way. The pattern finds digit
# groups joined by up to six non-word characters; which of those are
# separators is then checked per character (is_separator), which keeps the
# pattern small and the import fast. Digits and non-word characters are
# disjoint and a gap is bounded, so the pattern never backtracks (linear
# time).
# The long-vowel marks are the only separators that are word characters.
_CANDIDATE_RUN = re.compile(rf"\d+(?:[\W_\u30fc\uff70]{{1,{_MAX_GAP}}}\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
_ANY_DIGIT = re.compile(r"\d")
_PAN_MIN, _PAN_MAX = 13, 19
_KEEP_FIRST, _KEEP_LAST = 6, 4

_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn value of a doubled digit
_YEAR_PREFIXES = ("19", "20")


class _Pan(NamedTuple):
    start: int  # text index of the card number's first digit
    end: int  # text index just after the card number's last digit
    amex: bool  # 15 digits starting 34 or 37: its security code has 4 digits


class _Run:
    """One run of digit groups: group texts, gap texts and digit positions."""

    __slots__ = ("groups", "gaps", "positions", "bounds", "values")

    def __init__(self, text: str, groups: list[re.Match[str]]) -> None:
        self.groups = [m.group() for m in groups]
        # gaps[k] is the text between groups[k - 1] and groups[k]
        self.gaps = [""] + [text[a.end() : b.start()] for a, b in zip(groups, groups[1:])]
        self.positions: list[int] = []  # text index of each digit, in order
        self.bounds: list[tuple[int, int]] = []  # digit-index span of each group
        for m in groups:
            n = len(self.positions)
            self.positions.extend(range(m.start(), m.end()))
            self.bounds.append((n, len(self.positions)))
        digits = "".join(self.groups)
        self.values = [b - 48 for b in digits.encode()] if digits.isascii() else [int(c) for c in digits]


def _runs(text: str) -> Iterator[_Run]:
    """Runs of digit groups joined by 1-6 separators that hold at least 13 digits."""
    for m in _CANDIDATE_RUN.finditer(text):
        if m.end() - m.start() < _PAN_MIN:
            continue  # the common case: short numbers
        groups = list(_DIGIT_GROUP.finditer(text, m.start(), m.end()))
        if sum(g.end() - g.start() for g in groups) < _PAN_MIN:
            continue  # e.g. phone numbers: long only because of separators
        current: list[re.Match[str]] = []
        digits = 0
        for g in groups:
            if current and not all(map(is_separator, text[current[-1].end() : g.start()])):
                if digits >= _PAN_MIN:
                    yield _Run(text, current)
                current, digits = [], 0
            current.append(g)
            digits += g.end() - g.start()
        if digits >= _PAN_MIN:
            yield _Run(text, current)


def _is_tight_gap(gap: str) -> bool:
    return len(gap) == 1 and _is_tight(gap)


def _cuts_token(run: _Run, i: int, j: int) -> bool:
    """True if groups i..j are the inner part of an order number, not a card number.

    ``123-4567890-1234567`` is one number joined by one repeated mark; its
    last two groups are not a card number even when they are Luhn-valid.
    Card numbers are written in groups of at most 6 digits (4-4-4-4, 4-6-5)
    or in one piece, so only windows with a longer group are dropped: a card
    number in the same style as its neighbours (``4111-1111-1111-1111-123``)
    is still masked.
    """
    if i == j or max(len(g) for g in run.groups[i : j + 1]) <= 6:
        return False
    gaps = run.gaps
    left = i > 0 and _is_tight_gap(gaps[i]) and gaps[i] == gaps[i + 1]
    right = j + 1 < len(run.groups) and _is_tight_gap(gaps[j + 1]) and gaps[j + 1] == gaps[j]
    return left or right


def _has_non_card_shape(run: _Run, i: int, j: int) -> bool:
    """True if groups i..j hold a clock time, a date or a thousands-separated amount."""
    groups, gaps = run.groups, run.gaps
    for k in range(i + 1, j + 1):
        gap, a, b = gaps[k], len(groups[k - 1]), len(groups[k])
        if gap in (":", "：") and a <= 2 and b == 2:
            return True  # 10:00, 23:59:59
        if gap in (",", "，") and a <= 3 and b == 3:
            return True  # 1,234,567
        if k + 1 <= j and gaps[k + 1] == gap and _is_tight_gap(gap) and gap not in (":", "："):
            c = len(groups[k + 1])
            if a == 4 and b <= 2 and c <= 2 and groups[k - 1][:2] in _YEAR_PREFIXES:
                return True  # 2026-11-21, 2026/1/5
            if a <= 2 and b <= 2 and c == 4 and groups[k + 1][:2] in _YEAR_PREFIXES:
                return True  # 21/11/2026, 11.21.2026
    return False


def _card_windows(run: _Run) -> list[tuple[int, int]]:
    """Digit-index windows [lo, hi) of whole groups that hold a card number.

    Every window of whole groups with 13-19 digits is tried, because a run
    may hold a card number and more (``4111 1111 1111 1111 1228``: an
    expiry; ``090-1234-5678 4111 ...``: a phone number before it). All
    windows that pass are masked, so a chance Luhn-valid window that
    overlaps a real card number cannot hide it. Prefix sums make each Luhn
    check O(1).
    """
    values = run.values
    # prefix[p][k]: Luhn sum of digits before k when digits whose index has
    # parity p are taken as-is and the others doubled.
    doubled = [_DOUBLED[v] for v in values]
    as_is_even, as_is_odd = values[:], values[:]
    as_is_even[1::2] = doubled[1::2]
    as_is_odd[0::2] = doubled[0::2]
    prefix = (list(accumulate(as_is_even, initial=0)), list(accumulate(as_is_odd, initial=0)))
    windows = []
    for i, (lo, _) in enumerate(run.bounds):
        if values[lo] == 0:
            continue  # no card number starts with 0 (ISO/IEC 7812); phone numbers do
        for j in range(i, len(run.bounds)):
            hi = run.bounds[j][1]
            if hi - lo > _PAN_MAX:
                break
            if hi - lo < _PAN_MIN:
                continue
            # The rightmost digit (index hi - 1) is never doubled.
            sums = prefix[(hi - 1) % 2]
            if (sums[hi] - sums[lo]) % 10 == 0 and not _cuts_token(run, i, j) and not _has_non_card_shape(run, i, j):
                windows.append((lo, hi))
    return windows


def _pan_positions(text: str) -> tuple[list[int], list[_Pan], bool]:
    """Positions of digit characters to mask, the card numbers found, and whether to scan again.

    Masking keeps the first 6 and last 4 digits. When a card number filled
    its whole run those remnants stand alone; when it shared the run with
    other groups they could combine with them into a new card number, so
    the caller must scan the masked text again.
    """
    masked: list[int] = []
    pans: list[_Pan] = []
    rescan = False
    for run in _runs(text):
        windows = _card_windows(run)
        for lo, hi in windows:
            masked.extend(run.positions[lo + _KEEP_FIRST : hi - _KEEP_LAST])
            first_two = "".join(map(str, run.values[lo : lo + 2]))
            pans.append(
                _Pan(
                    start=run.positions[lo],
                    end=run.positions[hi - 1] + 1,
                    amex=hi - lo == 15 and first_two in ("34", "37"),
                )
            )
        if windows and windows != [(0, len(run.positions))]:
            rescan = True
    return masked, pans, rescan


# ---------------------------------------------------------------------------
# Security codes
# ---------------------------------------------------------------------------


def _width_insensitive(literal: str) -> str:
    """Regex matching ``literal`` typed in ASCII or full-width characters.

    Full-width ASCII variants (U+FF01-U+FF5E) sit at a fixed offset from
    ASCII; IGNORECASE then handles letter case for both widths.
    """
    parts = []
    for ch in literal:
        if ch == " ":
            parts.append(r"[ \u3000]+")
        elif "!" <= ch <= "~":
            parts.append("[" + re.escape(ch) + re.escape(chr(ord(ch) + 0xFEE0)) + "]")
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


_LETTER = r"[A-Za-zＡ-Ｚａ-ｚ]"
# Latin labels are whole words: "PINK 1234" and "ACID 123" are not codes.
_LATIN_LABELS = (
    "cvv2",
    "cvc2",
    "cav2",
    "cvv",
    "cvc",
    "cvn",
    "cid",
    "csc",
    "pin",
    "security code",
    "security-code",
    "security number",
    "security no",
    "card verification code",
    "card verification value",
    "card verification number",
    "card code",
    "verification code",
    # place on the card
    "back of the card",
    "back of my card",
    "back of your card",
    "back of card",
    "on the back",
    "on the reverse",
    "card back",
    "reverse of the card",
    "signature panel",
    "signature strip",
)
_OTHER_LABELS = (
    # Japanese
    r"セキュリティー?(?:コード|番号|ナンバー|No)?",  # "セキュリティは123" too
    r"ｾｷｭﾘﾃｨｰ?(?:ｺｰﾄﾞ|ﾅﾝﾊﾞｰ)?",
    r"暗証(?:番号|コード)",
    r"(?<![表])裏(?:面|側)?(?![技切口腹付返話])",  # カードの裏, 裏面の3桁, not 裏技/表裏
    r"背面",
    r"署名欄",
    r"サイン欄",
    r"カード確認(?:コード|番号)",
    # Chinese (Traditional and Simplified)
    r"安全[碼码]",
    r"安全代[碼码]",
    r"[驗验][證证](?:[碼码]|[號号][碼码])",
    r"[檢检]查[碼码]",
    r"校[驗验][碼码]",
    r"[認认][證证][碼码]",
    r"[後后]三[碼码]",
    r"末三[碼码]",
    r"卡背",
    r"反面",
    r"背[後后]",
    r"(?:卡片?|信用卡)[後后]面",
    r"[簽签]名[欄栏]",
    r"密[碼码]",
    # Thai: security code, code/number on the back of the card, verification code
    r"รหัสความปลอดภัย",
    r"รหัสยืนยัน",
    r"รหัสผ่าน",
    r"หลังบัตร",
    r"หลังการ์ด",
    r"ซีวี[วีซี]",
    # "3-digit code", "4 digit number"
    r"[34３４][-‐ ]?digits?[ ]+(?:security[ ]+)?(?:code|number|no)(?![A-Za-z])",
)


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex for many literal words, factored by common prefix (fewer steps per position)."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        alternatives = [_width_insensitive(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


# Every label's first character (IGNORECASE adds the other case). The
# look-ahead lets the engine skip most positions cheaply: without it a
# search took about 1 us per character.
_LABEL_FIRST_CHARS = "cpsvbor" + "ｃｐｓｖｂｏｒ" + "34３４" + "セｾ暗裏背署サカ安驗验檢检校認认後后末卡反信簽签密รหซ"
_LABEL = re.compile(
    f"(?=[{_LABEL_FIRST_CHARS}])(?:"
    + "|".join([rf"(?<!{_LETTER}){_trie_pattern(_LATIN_LABELS)}(?!{_LETTER})"] + list(_OTHER_LABELS))
    + ")",
    re.IGNORECASE,
)
_LABEL_REACH = 64  # characters before a code searched for a label (longest label + gap)

# "3桁", "４桁", "3-digit", "3 digits", "三碼" is a label above; "3碼", "3 ตัว".
_LENGTH = re.compile(
    r"[34３４]\s?-?\s?(?:桁|けた|ケタ|[碼码]|位[數数]?|ตัว|หลัก|digits?(?![A-Za-z]))"
    r"|[三四](?:桁|けた|ケタ|[碼码]|位[數数]?)"
    r"|(?<![A-Za-z])(?:three|four)[- ]digits?(?![A-Za-z])",
    re.IGNORECASE,
)
# A length that names the last digits of the card number is not a code.
_LAST_DIGITS_BEFORE = re.compile(
    r"(?:下|末尾?|[後后]|最後の?|ラスト|last|final|ending(?: in)?|ท้าย)\s*\Z", re.IGNORECASE
)
_LENGTH_REACH = 40

_MAX_LABEL_GAP = 24
# Text that may sit between a label and its code: anything but digits (other
# than a length such as "3桁"), a sentence end, or two line breaks.
_STOPS = "。｡！？!?"
# Labels of other kinds of numbers: a number after them is not a code.
_OTHER_NUMBER = re.compile(
    r"注文|電話|携帯|部屋|会員|郵便|〒|予約|伝票|問い?合わ?せ|受付|品番|型番|商品|金額|料金|価格|合計|送料"
    r"|[訂订]單|[訂订]单|[單单][號号]|房[間间]|[會会][員员]|[郵邮][遞递编]|[價价]格|[總总][計计]"
    r"|คำสั่งซื้อ|ออเดอร์|เบอร์|โทร|ห้อง|สมาชิก|พัสดุ|ราคา|รหัสไปรษณีย์"
    r"|(?<![A-Za-z])(?:order|phone|tel|mobile|room|ticket|tracking|invoice|booking|reservation"
    r"|member|zip|postal|price|total|amount|qty|quantity|account)(?![A-Za-z])",
    re.IGNORECASE,
)
# A count or an amount: "123個", "1234円", "123 baht".
_UNIT_AFTER = re.compile(
    r"[ \u3000]?(?:[個円件枚人名回時分秒日年月歳才階号点本台箱冊杯泊室部通元塊]|番(?!号)|ヶ|か月|カ月|ケ月"
    r"|ドル|ページ|บาท|ชิ้น|คน|ปี|วัน|กล่อง|ครั้ง|%|％"
    r"|(?:yen|usd|dollars?|pcs|pieces|items?|times|km|kg|cm|mm|ml)(?![A-Za-z]))",
    re.IGNORECASE,
)
_CURRENCY = frozenset("¥￥$＄€£฿₩元")
# "123がセキュリティコード", "1234 is my PIN", "123是安全碼", "123（CVV）".
_PARTICLE = re.compile(
    r"[ \u3000]?(?:が|は|って|is(?: (?:my|the|our|your))?|是|為|为|คือ|เป็น|[（(])[ \u3000]?", re.IGNORECASE
)
# A code is 3-4 digits, or 3-4 single digits with spaces ("1 2 3").
# Patterns that start with \d let the engine jump from digit to digit; the
# character before a code is checked in Python.
_SPACED_CODE = re.compile(r"\d(?:[ \u3000]\d){2,3}(?![ \u3000]?\d)")


def _code_at(text: str, pos: int) -> tuple[int, int] | None:
    """The span of a code that starts at ``pos``, if one does."""
    if pos and text[pos - 1].isdecimal():
        return None
    m = _DIGIT_GROUP.match(text, pos)
    if m and 3 <= m.end() - m.start() <= 4:
        return m.span()
    m = _SPACED_CODE.match(text, pos)
    return m.span() if m else None


def _codes(text: str) -> list[tuple[int, int]]:
    """The span of every code in ``text``."""
    spans = [m.span() for m in _DIGIT_GROUP.finditer(text) if 3 <= m.end() - m.start() <= 4]
    if " " in text or "\u3000" in text:
        spaced = [m.span() for m in _SPACED_CODE.finditer(text) if not (m.start() and text[m.start() - 1].isdecimal())]
        if spaced:
            spans = sorted(spans + spaced)
    return spans


# An expiry date after a card number: 12/28, 1/2028, 1228.
_EXPIRY = re.compile(r"(?:(?:0?[1-9]|1[0-2])[ \u3000]?[/／\-－.][ \u3000]?(?:20)?\d\d|(?:0[1-9]|1[0-2])\d\d)(?!\d)")
_MMYY = re.compile(r"(?:0[1-9]|1[0-2])\d\d\Z")


@functools.lru_cache(maxsize=8)
def _label_gap(mask_char: str) -> re.Pattern[str]:
    return re.compile(r"(?:" + _LENGTH.pattern + r"|[^\d" + re.escape(_STOPS + mask_char) + r"])*", re.IGNORECASE)


class _CodeFinder:
    """Finds security codes in one text, after its card numbers were masked."""

    def __init__(self, text: str, mask_char: str, pans: list[_Pan]) -> None:
        self.text = text
        self.mask = mask_char
        self.pans = pans
        self.gap = _label_gap(mask_char)

    def positions(self) -> list[int]:
        if not (self.pans or _LABEL.search(self.text)):
            return []  # every rule needs a card number or a label
        candidates = _codes(self.text)
        masked: list[int] = []
        for code in self._after_card_codes():
            masked.extend(self._digits(*code))
        for s, e in candidates:
            if self._stands_alone(s, e) and (
                self._label_before(s) or self._label_after(e) or (self.pans and self._length_before(s))
            ):
                masked.extend(self._digits(s, e))
        return masked

    def _digits(self, s: int, e: int) -> list[int]:
        return [p for p in range(s, e) if self.text[p].isdecimal()]

    def _digit_like(self, ch: str) -> bool:
        return ch.isdecimal() or ch == self.mask

    def _stands_alone(self, s: int, e: int, after_card: bool = False) -> bool:
        """Not a group of a longer number (090-1234-5678, 1,200, 1234 5678), an amount or a count.

        A code right after a card number is joined to it by design, and may
        be followed by an expiry date ("... 1111 123 12/28").
        """
        t = self.text
        if s and (t[s - 1] in _CURRENCY or (s >= 2 and t[s - 1] == " " and t[s - 2] in _CURRENCY)):
            return False
        if _UNIT_AFTER.match(t, e):
            return False
        if not after_card:
            k = s - 1
            while k >= 0 and s - 1 - k < _MAX_GAP and is_separator(t[k]):
                k -= 1
            if k >= 0 and self._digit_like(t[k]) and not (k < s - 1 and self._digits_end_a_word(k)):
                return False  # "ＣＶＶ２：１２３": the 2 is part of the label
        k = e
        while k < len(t) and k - e < _MAX_GAP and is_separator(t[k]):
            k += 1
        if k < len(t) and self._digit_like(t[k]):
            if k == e or (k == e + 1 and _is_tight(t[e])):
                return False  # 090-1234, 1,200, 12.50, or the digits touch a mask
            return after_card and bool(_EXPIRY.match(t, k) or self._starts_masked_number(e))
        return True

    def _digits_end_a_word(self, k: int) -> bool:
        """The digits ending at index k belong to a word such as CVV2 or ＣＶＣ２."""
        t = self.text
        while k >= 0 and t[k].isdecimal():
            k -= 1
        return k >= 0 and t[k].isalpha()

    def _gap_ok(self, start: int, end: int) -> bool:
        gap = self.text[start:end]
        return (
            len(gap) <= _MAX_LABEL_GAP
            and gap.count("\n") <= 1
            and self.gap.fullmatch(gap) is not None
            and not _OTHER_NUMBER.search(gap)
        )

    def _label_before(self, s: int) -> bool:
        for label in _LABEL.finditer(self.text, max(0, s - _LABEL_REACH), s):
            if self._gap_ok(label.end(), s):
                return True
        return False

    def _label_after(self, e: int) -> bool:
        particle = _PARTICLE.match(self.text, e)
        return bool(particle and _LABEL.match(self.text, particle.end()))

    def _length_before(self, s: int) -> bool:
        lo = max(0, s - _LENGTH_REACH)
        for length in _LENGTH.finditer(self.text, lo, s):
            if not _LAST_DIGITS_BEFORE.search(self.text, max(0, length.start() - 8), length.start()) and self._gap_ok(
                length.end(), s
            ):
                return True
        return False

    def _after_card_codes(self) -> Iterator[tuple[int, int]]:
        """A code right after a card number: "4111 ... 1111 123", "... 1111 / 12/28 / 123"."""
        t = self.text
        for pan in self.pans:
            gap_end = _separators_end(t, pan.end)
            if gap_end == pan.end:
                continue
            starts = [gap_end]
            expiry = _EXPIRY.match(t, gap_end)
            if expiry and _separators_end(t, expiry.end()) > expiry.end():
                starts.insert(0, _separators_end(t, expiry.end()))
            for start in starts:
                code = _code_at(t, start)
                if not code:
                    continue
                s, e = code
                looks_like_expiry = start == gap_end and not pan.amex and _MMYY.match(_ascii_digits(t[s:e]))
                if any(p.start <= s < p.end for p in self.pans):
                    break  # a group of a longer card number that holds this one
                if (
                    self._stands_alone(s, e, after_card=True)
                    and not self._starts_masked_number(e)
                    and not looks_like_expiry
                ):
                    yield s, e
                    break

    def _starts_masked_number(self, e: int) -> bool:
        """The digits are the kept head of the next, already masked, card number."""
        t = self.text
        k = e
        while k < len(t) and k - e < _MAX_GAP and is_separator(t[k]):
            k += 1
        while k < len(t) and t[k].isdecimal():
            k += 1
        return k < len(t) and k > e and t[k] == self.mask


def _ascii_digits(s: str) -> str:
    return "".join(str(unicodedata.decimal(c)) for c in s if c.isdecimal())


def _apply_mask(text: str, positions: Iterable[int], mask_char: str) -> str:
    chars = list(text)
    for p in positions:
        chars[p] = mask_char
    return "".join(chars)


# ---------------------------------------------------------------------------
# Admin rules
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """An admin rule from configuration.

    ``action`` is ``"mask"`` (each matched character except whitespace and
    hyphen-like separators becomes the mask character, or the whole match
    becomes ``replacement`` when given) or ``"remove"`` (the match is
    deleted).
    """

    name: str
    pattern: str
    action: str
    replacement: str | None = None


@dataclass(frozen=True)
class _CompiledRule:
    name: str
    regex: re.Pattern[str]
    action: str
    replacement: str | None


def _compile_rule(rule: Rule) -> _CompiledRule:
    """Validate one rule; every error names the rule so admins can find it."""
    if not isinstance(rule.name, str) or not rule.name.strip():
        raise ValueError(f"redaction rule {rule.name!r}: name must be a non-empty string")
    label = f"redaction rule {rule.name!r}"
    if rule.name in BUILTIN_RULE_NAMES:
        raise ValueError(f"{label}: name is reserved for a built-in rule")
    if rule.action not in _ACTIONS:
        raise ValueError(f"{label}: action must be one of {', '.join(_ACTIONS)}, got {rule.action!r}")
    if not isinstance(rule.pattern, str) or not rule.pattern:
        raise ValueError(f"{label}: pattern must be a non-empty string")
    try:
        regex = re.compile(rule.pattern)
    except re.error as exc:
        raise ValueError(f"{label}: invalid regular expression: {exc}") from exc
    if regex.fullmatch(""):
        raise ValueError(f"{label}: pattern matches the empty string")
    if rule.replacement is not None:
        if rule.action != "mask":
            raise ValueError(f"{label}: replacement is only allowed with action 'mask'")
        if not isinstance(rule.replacement, str):
            raise ValueError(f"{label}: replacement must be a string")
    return _CompiledRule(rule.name, regex, rule.action, rule.replacement)


# Kept as typed when an admin "mask" rule masks a match (whitespace too).
_ADMIN_KEPT = frozenset("-\u2010\u2011\u2012\u2013\u2212\uff0d\u30fc\uff70")


def _mask_match(match: str, mask_char: str) -> str:
    return "".join(c if c.isspace() or c in _ADMIN_KEPT else mask_char for c in match)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


class Redactor:
    """Applies the built-in card rules and then the admin rules.

    Compiled once and immutable, so one instance can be shared by every
    worker thread.
    """

    def __init__(self, rules: Sequence[Rule] = (), mask_char: str = "*") -> None:
        # A digit, space or separator as mask could recombine masked digits
        # into something that looks like a number again.
        if len(mask_char) != 1 or mask_char.isdecimal() or mask_char.isspace() or is_separator(mask_char):
            raise ValueError("mask_char must be one character that is not a digit, whitespace or separator")
        compiled = [_compile_rule(r) for r in rules]
        seen: set[str] = set()
        for r in compiled:
            if r.name in seen:
                raise ValueError(f"redaction rule {r.name!r}: duplicate name")
            seen.add(r.name)
        self._rules = tuple(compiled)
        self._mask_char = mask_char

    def redact(self, text: str) -> str:
        """Return ``text`` with card data and admin-rule matches masked."""
        return self.redact_with_report(text)[0]

    def redact_with_report(self, text: str) -> tuple[str, list[str]]:
        """Redact and also name the rules that fired (each once, in order).

        The names feed metrics ("how often do customers paste card
        numbers?") without ever exposing the text itself.
        """
        fired: list[str] = []
        if _ANY_DIGIT.search(text):  # most chat messages have no digit: one cheap scan
            text, fired = self._redact_builtins(text)
        if self._rules:
            text, admin_fired = self._apply_admin_rules(text)
            fired.extend(name for name in admin_fired if name not in fired)
        return text, fired

    def _redact_builtins(self, text: str) -> tuple[str, list[str]]:
        """Card numbers, then security codes. Keeps the text's length."""
        fired: list[str] = []
        text, pans = self._redact_pans(text)
        if pans:
            fired.append(PAN_RULE)
        positions = _CodeFinder(text, self._mask_char, pans).positions()
        if positions:
            text = _apply_mask(text, positions, self._mask_char)
            fired.append(SECURITY_CODE_RULE)
        return text, fired

    def _apply_admin_rules(self, text: str) -> tuple[str, list[str]]:
        fired: list[str] = []
        for rule in self._rules:
            if rule.action == "remove":
                text, count = rule.regex.subn("", text)
            elif rule.replacement is not None:
                text, count = rule.regex.subn(lambda _m, r=rule.replacement: r, text)
            else:
                text, count = rule.regex.subn(lambda m: _mask_match(m.group(), self._mask_char), text)
            if count and rule.name not in fired:
                fired.append(rule.name)
        return text, fired

    def _redact_pans(self, text: str) -> tuple[str, list[_Pan]]:
        """Mask card numbers until none is left.

        The kept first 6 and last 4 digits of one number could form a new
        card number with neighbouring groups, so the masked text is scanned
        again until a scan finds nothing: ``redact`` is idempotent and leaves
        no Luhn-valid card number behind.
        """
        found: list[_Pan] = []
        while True:
            positions, pans, rescan = _pan_positions(text)
            if positions:
                text = _apply_mask(text, positions, self._mask_char)
            found.extend(pans)
            if not rescan:
                return text, found


def rules_from_config(items: list[dict]) -> list[Rule]:
    """Build rules from YAML items ``{name, pattern, action, replacement?}``.

    Every error names the item (by position and name) and the offending key,
    because admins edit these by hand.
    """
    if not isinstance(items, list):
        raise ValueError("redaction rules must be a list of mappings")
    rules = []
    for index, item in enumerate(items):
        where = f"redaction rule #{index + 1}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(item).__name__}")
        if isinstance(item.get("name"), str):
            where += f" ({item['name']!r})"
        unknown = sorted(str(k) for k in item if k not in _CONFIG_KEYS)
        if unknown:
            raise ValueError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_CONFIG_KEYS))}"
            )
        for key in ("name", "pattern", "action"):
            if key not in item:
                raise ValueError(f"{where}: missing key {key!r}")
        for key in ("name", "pattern", "action", "replacement"):
            if key in item and item[key] is not None and not isinstance(item[key], str):
                raise ValueError(f"{where}: key {key!r} must be a string")
        rule = Rule(
            name=item["name"], pattern=item["pattern"], action=item["action"], replacement=item.get("replacement")
        )
        try:
            _compile_rule(rule)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        rules.append(rule)
    return rules


_LINE_ENDING = re.compile(r"(\r\n|\n|\r)\Z")
# A line that ends in a digit (and maybe separators) may continue a card
# number on the next line; the next line continues it if it starts with one.
_LINE_BREAK_ROOM = _MAX_GAP - 2  # separators left around a line ending inside a number


def _ends_in_digits(content: str) -> bool:
    k = len(content)
    while k and len(content) - k < _LINE_BREAK_ROOM and is_separator(content[k - 1]):
        k -= 1
    return k > 0 and content[k - 1].isdecimal()


def _starts_with_digits(content: str) -> bool:
    k = _separators_end(content, 0, _LINE_BREAK_ROOM)
    return k < len(content) and content[k].isdecimal()


_MAX_JOINED_LINES = 19  # a card number has at most 19 digits


def redact_stream(lines: Iterable[str], redactor: Redactor) -> Iterator[str]:
    """Redact line by line, keeping each line's ending as it was.

    A card number may be split over lines ("4111 1111\\n1111 1111"), so
    lines that end and start with digits are masked together (the built-in
    masks keep the length, so each line gets its own part back). Other lines
    are yielded as soon as they are read. The ending is split off before the
    admin rules run, so that no admin rule (e.g. ``\\s+`` with ``remove``)
    can join lines together.
    """
    block: list[tuple[str, str]] = []  # (content, ending) of lines masked together
    for line in lines:
        m = _LINE_ENDING.search(line)
        content, ending = (line[: m.start()], m.group()) if m else (line, "")
        if block and not _starts_with_digits(content):
            yield from _redact_block(block, redactor)
            block = []
        block.append((content, ending))
        if not ending or not _ends_in_digits(content) or len(block) >= _MAX_JOINED_LINES:
            yield from _redact_block(block, redactor)
            block = []
    yield from _redact_block(block, redactor)


def _redact_block(block: list[tuple[str, str]], redactor: Redactor) -> Iterator[str]:
    masked, _ = redactor._redact_builtins("".join(c + e for c, e in block))
    pos = 0
    for content, ending in block:
        part = masked[pos : pos + len(content)]
        pos += len(content) + len(ending)
        yield redactor._apply_admin_rules(part)[0] + ending
