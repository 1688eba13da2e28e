"""Mask card data in free text before it is written anywhere.

Customers paste card numbers and security codes into chats. PCI DSS says a
stored PAN must show at most its first 6 and last 4 digits (3.4.1) and that
sensitive authentication data such as the CVV must not be stored at all
(3.3). Every message therefore passes through a :class:`Redactor` before it
reaches Salesforce, logs or Redis.

Built-in rules (always on, applied first):

``pan``
    A Luhn-valid run of 13-19 digits, written with any Unicode decimal digits
    (ASCII, full-width, ...) and optionally single separators between digits
    (space, U+3000, U+00A0, ASCII hyphen and the hyphen/minus look-alikes
    listed in ``_SEPARATORS``). The run must not be part of a longer digit
    run. Everything but the first 6 and last 4 digits becomes the mask
    character; separators and the width of the kept digits stay as typed.
    *Safety first*: any Luhn-valid run is masked, even if the customer
    labels it an order number; Luhn-invalid order numbers stay intact.

``security_code``
    3-4 digits that follow a security-code keyword (CVV, セキュリティコード,
    裏の3桁, 暗証番号, ...) within 12 characters of connective text
    (は, :, =, です, spaces...), or that directly precede one
    ("123がセキュリティコードです"). The digits become mask characters.

Admin rules from configuration are applied afterwards, in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "BUILTIN_RULE_NAMES",
    "Redactor",
    "Rule",
    "redact_stream",
    "rules_from_config",
]

PAN_RULE = "pan"
SECURITY_CODE_RULE = "security_code"
BUILTIN_RULE_NAMES = (PAN_RULE, SECURITY_CODE_RULE)

_ACTIONS = ("mask", "remove")
_CONFIG_KEYS = frozenset({"name", "pattern", "action", "replacement"})

# ---------------------------------------------------------------------------
# PAN detection
# ---------------------------------------------------------------------------

# Single characters allowed between digit groups of a card number.
# The katakana long-vowel mark (ー U+30FC, half-width ｰ U+FF70) is included on
# purpose: a Japanese IME in kana mode turns the "-" key into "ー", so
# "４１１１ー１１１１ー１１１１ー１１１１" is how many customers type a card
# number. Between digits it is never a vowel mark, and only a Luhn-valid
# 13-19 digit run is ever masked, so the false-positive cost is tiny.
_SEPARATORS = (
    " "  # ASCII space
    "\u00a0"  # no-break space
    "\u3000"  # ideographic (full-width) space
    "-"  # ASCII hyphen-minus
    "\u2010"  # hyphen
    "\u2011"  # non-breaking hyphen
    "\u2012"  # figure dash
    "\u2013"  # en dash
    "\u2212"  # minus sign
    "\uff0d"  # full-width hyphen-minus
    "\u30fc"  # katakana long-vowel mark (IME "-" in kana mode)
    "\uff70"  # half-width katakana long-vowel mark
)
_SEP_CLASS = "[" + re.escape(_SEPARATORS) + "]"

# In ``str`` patterns ``\d`` matches every Unicode decimal digit, so
# full-width (０-９) and other scripts' digits are covered, and a card number
# can never hide by switching digit width half-way.
# finditer scans left to right with greedy ``\d+``, so each match is a
# maximal run: it cannot start or end inside a longer digit run. A separator
# is required between groups, so the pattern never backtracks (linear time).
_DIGIT_RUN = re.compile(rf"\d+(?:{_SEP_CLASS}\d+)*")

_ANY_DIGIT = re.compile(r"\d")
_PAN_MIN, _PAN_MAX = 13, 19
_KEEP_FIRST, _KEEP_LAST = 6, 4


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn value of a doubled digit
_SEP_SPLIT = re.compile(_SEP_CLASS)


def _luhn_valid(digits: str) -> bool:
    """The mod-10 check every payment card number satisfies.

    ``int`` accepts any Unicode decimal digit, so full-width digits need no
    normalisation.
    """
    total = sum(map(int, digits[-1::-2]))
    total += sum(_DOUBLED[int(c)] for c in digits[-2::-2])
    return total % 10 == 0


def _luhn_windows(groups: list[str]) -> list[tuple[int, int]]:
    """Digit-index windows [lo, hi) of whole groups that hold a PAN.

    A run like ``4111 1111 1111 1111 1228`` (card number followed by an
    expiry) is not itself Luhn-valid, so every window of whole groups with
    13-19 digits is tried; from each start the longest valid one wins, and
    scanning resumes after it. Prefix sums make each check O(1), keeping
    long digit runs linear.
    """
    values = [int(c) for c in "".join(groups)]
    # prefix[p][k]: Luhn sum of digits before k when digits whose index has
    # parity p are taken as-is and the others doubled.
    prefix = ([0], [0])
    for k, v in enumerate(values):
        prefix[0].append(prefix[0][-1] + (v if k % 2 == 0 else _DOUBLED[v]))
        prefix[1].append(prefix[1][-1] + (v if k % 2 == 1 else _DOUBLED[v]))
    bounds, offset = [], 0
    for g in groups:
        bounds.append((offset, offset + len(g)))
        offset += len(g)

    windows = []
    i = 0
    while i < len(bounds):
        lo = bounds[i][0]
        best = None
        for j in range(i, len(bounds)):
            hi = bounds[j][1]
            if hi - lo > _PAN_MAX:
                break
            # The rightmost digit (index hi - 1) is never doubled.
            sums = prefix[(hi - 1) % 2]
            if hi - lo >= _PAN_MIN and (sums[hi] - sums[lo]) % 10 == 0:
                best = j
        if best is None:
            i += 1
        else:
            windows.append((lo, bounds[best][1]))
            i = best + 1
    return windows


def _pan_positions(text: str) -> tuple[list[int], bool]:
    """Positions of digit characters to mask, and whether to scan again.

    Masking keeps the first 6 and last 4 digits. When a PAN filled its whole
    digit run those remnants stand alone; when it shared the run with other
    groups they could combine with them into a new Luhn-valid window, so the
    caller must scan the masked text again.
    """
    masked: list[int] = []
    rescan = False
    for run in _DIGIT_RUN.finditer(text):
        if run.end() - run.start() < _PAN_MIN:
            continue  # the common case: short numbers
        run_text = run.group()
        groups = _SEP_SPLIT.split(run_text)
        if len(run_text) - (len(groups) - 1) < _PAN_MIN:
            continue  # e.g. phone numbers: long only because of hyphens
        if len(groups) == 1:
            windows = [(0, len(run_text))] if (
                _PAN_MIN <= len(run_text) <= _PAN_MAX and _luhn_valid(run_text)) else []
        else:
            windows = _luhn_windows(groups)
        if not windows:
            continue
        positions = [p for p, ch in enumerate(run_text, run.start()) if ch not in _SEPARATORS]
        for lo, hi in windows:
            masked.extend(positions[lo + _KEEP_FIRST:hi - _KEEP_LAST])
        if windows != [(0, len(positions))]:
            rescan = True
    return masked, rescan


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
            parts.append(r"[ \u3000]")
        elif "!" <= ch <= "~":
            parts.append("[" + re.escape(ch) + re.escape(chr(ord(ch) + 0xFEE0)) + "]")
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


_ASCII_KEYWORDS = ("cvv2", "cvc2", "cav2", "cvv", "cvc", "cid", "csc",
                   "security code", "security-code", "pin")
_JA_KEYWORDS = (
    r"セキュリティー?コード",
    r"ｾｷｭﾘﾃｨｰ?ｺｰﾄﾞ",
    r"(?:カード)?裏面?の(?:[3４4３]桁|番号|数字)(?:の(?:番号|数字))?",
    r"暗証番号",
)
_LETTER = r"[A-Za-zＡ-Ｚａ-ｚ]"
# The leading look-ahead lists every keyword's first character (both
# widths; IGNORECASE covers case). It lets the regex engine skip most
# positions cheaply: without it a 5,000-character message took ~1 ms.
_KEYWORD_FIRST_CHARS = "cｃpｐsｓセｾカ裏暗"
_KEYWORD = re.compile(
    f"(?=[{_KEYWORD_FIRST_CHARS}])(?:"
    + "|".join(
        [rf"(?<!{_LETTER}){_width_insensitive('pin')}(?:コード|番号)"]
        + [rf"(?<!{_LETTER}){_width_insensitive(k)}(?!{_LETTER})" for k in _ASCII_KEYWORDS]
        + list(_JA_KEYWORDS)
    )
    + ")",
    re.IGNORECASE,
)
# Connective text allowed between a keyword and its digits. No digits and no
# mask character, so masking one code never exposes another to a second
# pass (redaction stays idempotent).
_GAP_TOKEN = "(?:" + "|".join(
    [r"[\s:：=＝は、,，\-－#＃「『（(\[［\"'“‘]", "です", "番号"]
    + [_width_insensitive(w) for w in ("number", "no.", "no", "is")]
) + ")"
_MAX_GAP = 12
_CODE = r"(?<!\d)(?P<code>\d{3,4})(?!\d)"
_GAP_THEN_CODE = re.compile(rf"(?P<gap>{_GAP_TOKEN}{{0,{_MAX_GAP}}}?){_CODE}", re.IGNORECASE)
# "123がセキュリティコードです" / "1234 is my PIN": only a particle may sit
# between the code and the keyword.
_CODE_THEN_PARTICLE = re.compile(
    rf"{_CODE}[ \u3000]?(?:が|は|って|{_width_insensitive('is')}(?: (?:my|the))?)[ \u3000]?\Z",
    re.IGNORECASE)
_PARTICLE_WINDOW = 16


def _security_code_positions(text: str) -> list[int]:
    """Positions of digits that a security-code keyword points at."""
    masked: list[int] = []
    for kw in _KEYWORD.finditer(text):
        after = _GAP_THEN_CODE.match(text, kw.end())
        if after and len(after.group("gap")) <= _MAX_GAP:
            masked.extend(range(*after.span("code")))
        # pos/endpos keep the look-behind seeing the real preceding text.
        before = _CODE_THEN_PARTICLE.search(
            text, max(0, kw.start() - _PARTICLE_WINDOW), kw.start())
        if before:
            masked.extend(range(*before.span("code")))
    return masked


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
        raise ValueError(f"{label}: action must be one of {', '.join(_ACTIONS)}, "
                         f"got {rule.action!r}")
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


def _mask_match(match: str, mask_char: str) -> str:
    return "".join(c if c.isspace() or c in _SEPARATORS else mask_char for c in match)


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
        if (len(mask_char) != 1 or mask_char.isdecimal() or mask_char.isspace()
                or mask_char in _SEPARATORS):
            raise ValueError("mask_char must be one character that is not a digit, "
                             "whitespace or separator")
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
        if _ANY_DIGIT.search(text):
            text, changed = self._redact_pans(text)
            if changed:
                fired.append(PAN_RULE)
            spans = _security_code_positions(text)
            if spans:
                text = _apply_mask(text, spans, self._mask_char)
                fired.append(SECURITY_CODE_RULE)
        for rule in self._rules:
            if rule.action == "remove":
                text, count = rule.regex.subn("", text)
            elif rule.replacement is not None:
                text, count = rule.regex.subn(lambda _m, r=rule.replacement: r, text)
            else:
                text, count = rule.regex.subn(
                    lambda m: _mask_match(m.group(), self._mask_char), text)
            if count and rule.name not in fired:
                fired.append(rule.name)
        return text, fired

    def _redact_pans(self, text: str) -> tuple[str, bool]:
        """Mask PANs until none is left.

        Repeating while masked remnants could form a new card number makes
        ``redact`` idempotent and leaves no Luhn-valid run behind.
        """
        changed = False
        while True:
            positions, rescan = _pan_positions(text)
            if positions:
                text = _apply_mask(text, positions, self._mask_char)
                changed = True
            if not rescan:
                return text, changed


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
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(_CONFIG_KEYS))}")
        for key in ("name", "pattern", "action"):
            if key not in item:
                raise ValueError(f"{where}: missing key {key!r}")
        for key in ("name", "pattern", "action", "replacement"):
            if key in item and item[key] is not None and not isinstance(item[key], str):
                raise ValueError(f"{where}: key {key!r} must be a string")
        rule = Rule(name=item["name"], pattern=item["pattern"], action=item["action"],
                    replacement=item.get("replacement"))
        try:
            _compile_rule(rule)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        rules.append(rule)
    return rules


_LINE_ENDING = re.compile(r"(\r\n|\n|\r)\Z")


def redact_stream(lines: Iterable[str], redactor: Redactor) -> Iterator[str]:
    """Redact line by line, keeping each line's ending as it was.

    The ending is split off first so that no admin rule (e.g. ``\\s+`` with
    ``remove``) can join lines together.
    """
    for line in lines:
        m = _LINE_ENDING.search(line)
        if m:
            yield redactor.redact(line[:m.start()]) + m.group()
        else:
            yield redactor.redact(line)
