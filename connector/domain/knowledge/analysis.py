"""Feature extraction: text -> weighted bag of features for BM25.

Feature families (prefix in the feature string):

* ``s:`` surface character 2- and 3-grams of the normalised text (robust to
  missing spaces, typos and conjugation), plus whole Latin/digit words;
* ``r:`` character 2- and 3-grams of the kana *reading* (Janome), so
  「にもつがとどかない」 meets 「荷物が届かない」;
* ``w:`` dictionary base forms of content words (Janome), 「届か」 -> 「届く」;
* ``c:`` concept tokens from synonym groups (matched on the surface, and with
  ``m`` also on the Janome reading and base forms).

Which families are used is the analyser's ``mode``; the approach comparison in
docs/bot.md was measured by switching modes.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from .normalize import is_kanji, is_katakana, kata_to_hira, normalize

MODES: dict[str, frozenset[str]] = {
    "char": frozenset({"s"}),
    "char+syn": frozenset({"s", "c"}),  # synonyms matched on the surface only (no Janome)
    "word": frozenset({"w"}),
    "word+syn": frozenset({"w", "c", "m"}),
    "hybrid": frozenset({"s", "w", "c", "m"}),
    "hybrid+reading": frozenset({"s", "r", "w", "c", "m"}),
}
DEFAULT_MODE = "hybrid"

_LATIN = re.compile(r"[a-z0-9]+")
# Base forms that carry no topic.
_STOP_BASE = frozenset(
    "する なる ある いる れる られる せる させる できる 出来る ます です だ た ない ぬ たい てる "
    "いう 思う ほしい 欲しい もらう くれる いただく ください 下さい よう こと もの の ん やつ "
    "これ それ あれ どれ ここ そこ どこ なに 何 いつ 方 方法 さん お願い おねがい".split()
)
_CONTENT_POS = ("名詞", "動詞", "形容詞", "副詞")
# Nouns any shop message may contain: they say nothing about the topic, so an
# article not containing them is no evidence of a mismatch (see scorer.py).
GENERIC_NOUNS = frozenset(
    normalize(w)
    for w in (
        "注文 商品 購入 今日 明日 昨日 前 後 あと 今 さっき 先日 自分 私 僕 俺 わたし 方法 やり方 仕方 "
        "場合 感じ 時 とき 事 こと 件 ところ 所 大丈夫 お願い 質問 問題 確認 利用 対応 可能 必要 "
        "一 二 1 2 回 個 つ 日 ほう 方 全部 みんな 何 なに どれ どこ いつ 皆 ちょっと 本当 やつ もの".split()
    )
)

# Noun kinds that never name who or what a message is about (「次の」「これの」「2つの」「普通の」).
_NOT_OWNER = frozenset(("非自立", "代名詞", "数", "副詞可能", "接尾", "特殊", "形容動詞語幹"))


@lru_cache(maxsize=1)
def _tokenizer() -> Any | None:
    from .janome_dict import tokenizer  # Janome over a lean copy of its dictionary (~50 MB less per worker)

    try:
        return tokenizer()
    except ImportError:  # pragma: no cover - janome is a declared dependency
        return None


def janome_available() -> bool:
    return _tokenizer() is not None


def _ngrams(text: str, out: Counter, prefix: str, weight: float, unigram_kanji: bool) -> None:
    for seg in text.split(" "):
        n = len(seg)
        if n == 0:
            continue
        if n == 1:
            out[prefix + seg] += weight
            continue
        for i in range(n - 1):
            out[prefix + seg[i : i + 2]] += weight
        for i in range(n - 2):
            out[prefix + seg[i : i + 3]] += weight
        if unigram_kanji:
            for ch in seg:
                if is_kanji(ch):
                    out[prefix + ch] += weight * 0.5


class Morph:
    """Janome view of a text: normalised reading, base-form string, tokens."""

    __slots__ = ("reading", "bases", "base_string", "tokens", "nouns", "spellings", "owners")

    def __init__(
        self,
        reading: str,
        bases: list[str],
        base_string: str,
        tokens: set[str],
        nouns: tuple[str, ...] = (),
        spellings: tuple[tuple[str, str], ...] = (),
        owners: tuple[tuple[str, ...], ...] = (),
    ):
        self.reading = reading
        self.bases = bases  # content-word base forms (normalised)
        self.base_string = base_string  # every token's base form, concatenated
        self.tokens = tokens  # normalised surfaces and base forms of all tokens
        self.nouns = nouns  # content nouns (normalised base forms), a subset of bases
        self.spellings = spellings  # (hiragana reading, written form) of content words and compound nouns
        self.owners = owners  # noun compounds (their normalised bases) followed by の or で


@lru_cache(maxsize=512)
def _morph(text: str) -> Morph:
    tk = _tokenizer()
    if tk is None:
        n = normalize(text)
        return Morph(n, [], n.replace(" ", ""), set(n.split()))
    src = unicodedata.normalize("NFKC", text)
    readings: list[str] = []
    all_bases: list[str] = []
    bases: list[str] = []
    nouns: list[str] = []
    tokens: set[str] = set()
    spellings: list[tuple[str, str]] = []
    compound: list[tuple[str, str]] = []  # a run of nouns (注文 + 確認 + メール), spelled as one word too
    owners: list[tuple[str, ...]] = []
    run: list[str] | None = []  # the noun compound just read (None: it has a pronoun, number, adverbial noun ...)

    def end_compound() -> None:
        if len(compound) > 1:
            _add_spelling(spellings, "".join(s for s, _ in compound), "".join(r for _, r in compound))
        compound.clear()

    for tok in tk.tokenize(src):
        surface = tok.surface
        known = bool(tok.reading) and tok.reading != "*"
        reading = tok.reading if known else surface
        readings.append(reading)
        pos = tok.part_of_speech.split(",", 1)[0]
        if known and pos in _SPELLED_POS:
            _add_spelling(spellings, surface, reading)
        if known and pos in ("名詞", "接頭詞"):
            compound.append((surface, reading))
        else:
            end_compound()
        base = tok.base_form if tok.base_form and tok.base_form != "*" else surface
        nb = normalize(base)
        ns = normalize(surface)
        if pos == "名詞":
            if run is not None:
                kind = tok.part_of_speech.split(",", 2)[1]
                run = None if kind in _NOT_OWNER or not nb or (len(nb) == 1 and not is_kanji(nb)) else run + [nb]
        else:
            if run and pos == "助詞" and surface in ("の", "で"):
                owners.append(tuple(run))
            run = []
        all_bases.append(nb)
        tokens.update(x for x in (nb, ns, normalize(reading)) if x)
        if pos in _CONTENT_POS and nb and nb not in _STOP_BASE and not (len(nb) == 1 and not is_kanji(nb)):
            bases.append(nb)
            if pos == "名詞" and nb not in GENERIC_NOUNS:
                nouns.append(nb)
    end_compound()
    # Readings are joined without spaces (Japanese has none); punctuation in
    # them still cuts segments once normalised.
    return Morph(
        normalize("".join(readings)),
        bases,
        "".join(all_bases).replace(" ", ""),
        tokens,
        tuple(nouns),
        tuple(dict.fromkeys(spellings)),
        tuple(owners),
    )


# Words whose written form is worth restoring when a customer types them in kana (spelling.py).
_SPELLED_POS = ("名詞", "動詞", "形容詞", "副詞", "接頭詞")
MIN_SPELLED_KANA = 3  # shorter readings (いつ, かう, のし) are too often part of other words


def _add_spelling(out: list[tuple[str, str]], surface: str, reading: str) -> None:
    kana = kata_to_hira(reading)
    if len(kana) >= MIN_SPELLED_KANA and kana != surface and any(is_kanji(c) or is_katakana(c) for c in surface):
        out.append((kana, surface))


def spellings(text: str) -> tuple[tuple[str, str], ...]:
    """(hiragana reading, written form) of the words of ``text`` written in kanji or katakana
    (empty without Janome): 「送料」 -> ("そうりょう", "送料"), 「注文確認メール」 -> ("ちゅうもんかくにんめーる", ...)."""
    return _morph(text).spellings if _tokenizer() is not None else ()


def query_owners(text: str) -> tuple[tuple[str, ...], ...]:
    """Noun compounds that a message puts before の or で, as normalised base forms (katakana
    as hiragana): what the rest of it is about or where it happened (「ホテルの予約」 ->
    ("ほてる",), 「フリマで買った」 -> ("ふりま",)). Empty without Janome."""
    return _morph(text).owners if _tokenizer() is not None else ()


def query_nouns(text: str) -> tuple[str, ...]:
    """Content nouns of a message (cached Janome analysis; empty without Janome)."""
    return _morph(text).nouns if _tokenizer() is not None else ()


_KANA_OR_LATIN = re.compile(r"^[\u3041-\u309f a-z0-9]+$")
# Function morphemes (auxiliaries, light verbs, particles) never count as a
# whole-token synonym hit: normalised セール is 「せる」, the causative auxiliary.
_FUNCTION_TOKENS = frozenset(
    "せる させる れる られる ます です だ た たい ない ぬ いる ある する なる くる いく やる て で に を は が の "
    "か よ ね な わ も と や し そう".split()
)


class SynonymMatcher:
    """Finds synonym-group concepts in a text.

    A variant matches as a substring of the normalised surface, of the kana
    reading, or of the base-form string (so conjugations match:
    「なくなり」 ~ 「なくなる」). Short kana/Latin variants (under 4
    characters once normalised, e.g. 「えら」 from エラー) only match a whole
    token, so they do not fire inside unrelated words.
    """

    def __init__(self, groups: Mapping[str, Sequence[str]], *, use_morph: bool = True):
        self.groups = {k: tuple(v) for k, v in groups.items()}
        subs: dict[str, set[str]] = {}
        whole: dict[str, set[str]] = {}
        for name, variants in self.groups.items():
            for v in (name, *variants):
                nv = normalize(v).replace(" ", "")
                if not nv:
                    continue
                target = whole if (len(nv) < 4 and _KANA_OR_LATIN.match(nv)) else subs
                target.setdefault(nv, set()).add(name)
                # Also match the kana reading of written variants ("返品" ~ "へんぴん").
                if use_morph and janome_available() and any(is_kanji(c) for c in nv):
                    rv = _morph(v).reading.replace(" ", "")
                    if rv:
                        (whole if len(rv) < 4 else subs).setdefault(rv, set()).add(name)
        self._subs = sorted(subs.items())
        self._whole = whole

    def concepts(self, surface: str, morph: Morph) -> set[str]:
        hay = (surface.replace(" ", ""), morph.reading.replace(" ", ""), morph.base_string)
        found: set[str] = set()
        for pat, names in self._subs:
            if pat in hay[0] or pat in hay[1] or pat in hay[2]:
                found |= names
        for tok in (morph.tokens - _FUNCTION_TOKENS) | set(surface.split()):
            names = self._whole.get(tok)
            if names:
                found |= names
        return found


class Analyzer:
    def __init__(self, mode: str = DEFAULT_MODE, synonyms: Mapping[str, Sequence[str]] | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown analyzer mode {mode!r}; choose one of {sorted(MODES)}")
        self.mode = mode
        self.families = MODES[mode]
        self.synonyms = SynonymMatcher(synonyms or {}, use_morph=self.needs_morph)

    @property
    def needs_morph(self) -> bool:
        return bool(self.families & {"r", "w", "m"})

    def features(self, text: str, weight: float = 1.0) -> Counter:
        out: Counter = Counter()
        surface = normalize(text)
        if not surface:
            return out
        fam = self.families
        if self.needs_morph:
            morph = _morph(text)
        else:
            morph = Morph("", [], surface.replace(" ", ""), set(surface.split()))
        reading, bases = morph.reading, morph.bases
        if "s" in fam:
            _ngrams(surface, out, "s:", weight, unigram_kanji=False)
            for word in _LATIN.findall(surface):
                if len(word) >= 2:
                    out["s:" + word] += weight
        if "r" in fam and reading:
            _ngrams(reading, out, "r:", weight, unigram_kanji=False)
        if "w" in fam:
            for b in bases:
                out["w:" + b] += weight
        if "c" in fam:
            for c in self.synonyms.concepts(surface, morph):
                out["c:" + c] += weight
        return out
