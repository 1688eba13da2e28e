"""Text normalisation for Japanese (and other) chat messages.

Everything the index and the rules compare goes through :func:`normalize`, so
articles and user messages meet in the same space:

* NFKC (full-/half-width variants: ``ﾊﾟｽﾜｰﾄﾞ`` -> ``パスワード``, ``ＰＷ`` -> ``PW``),
* case folding,
* katakana folded to hiragana (``キャンセル`` == ``きゃんせる``),
* small kana folded to full size (``ぁ`` -> ``あ``, ``っ`` -> ``つ``),
* long-vowel marks and wave dashes dropped (``パスワード``/``パスワド``, ``ですーーー``),
* emoji, symbols and punctuation replaced by a space,
* runs of three or more identical characters squashed to one (``まだーーー``, ``ｗｗｗ``).
"""

from __future__ import annotations

import re
import unicodedata

_KATA_START, _KATA_END = 0x30A1, 0x30F6  # ァ .. ヶ
_SMALL_KANA = str.maketrans(
    {
        "ぁ": "あ",
        "ぃ": "い",
        "ぅ": "う",
        "ぇ": "え",
        "ぉ": "お",
        "っ": "つ",
        "ゃ": "や",
        "ゅ": "ゆ",
        "ょ": "よ",
        "ゎ": "わ",
        "ゕ": "か",
        "ゖ": "け",
    }
)
# Long-vowel marks and dashes people use to stretch words.
_STRETCH = str.maketrans(dict.fromkeys("ー―‐‑–—〜~∼"))
_REPEAT = re.compile(r"(.)\1{2,}")
_SPACES = re.compile(r"\s+")


def kata_to_hira(text: str) -> str:
    """Fold katakana to hiragana (other characters unchanged)."""
    return "".join(chr(ord(c) - 0x60) if _KATA_START <= ord(c) <= _KATA_END else c for c in text)


def _keep(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in ("L", "N") or ch == " "


def normalize(text: str) -> str:
    """Return the canonical matching form of ``text`` (may be empty)."""
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", text).casefold()
    s = kata_to_hira(s).translate(_SMALL_KANA).translate(_STRETCH)
    s = "".join(ch if _keep(ch) else " " for ch in s)
    s = _REPEAT.sub(r"\1", s)
    return _SPACES.sub(" ", s).strip()


def is_katakana(ch: str) -> bool:
    return _KATA_START <= ord(ch) <= 0x30FA


def is_kanji(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or ch == "々"
