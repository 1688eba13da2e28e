"""Respelling kana-typed words the way the Knowledge base writes them.

On LINE people often type in hiragana what articles write in kanji or katakana:
「そうりょういくら」 for 送料, 「きゃんせるしたい」 for キャンセル, 「ちゅうもんかくにんめーるが来ない」.
The embedding model barely relates such kana to the written word, and BM25 sees other
characters. The index therefore keeps a lexicon of its own articles' words, keyed by their
reading (from the Janome analysis it already runs): hiragana runs of a message are matched
against it, longest first, and replaced by the articles' spelling before the message is
ranked. Only words the articles use are restored, so nothing outside the KB's vocabulary is
guessed at; readings shorter than three kana are left alone (いつ, かう and のし are too
often parts of other words). Measured in docs/bot.md ("Kana respelling").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

from .analysis import MIN_SPELLED_KANA

_HIRAGANA_RUN = re.compile(r"[\u3041-\u3096\u30fc]{%d,}" % MIN_SPELLED_KANA)  # with ー: めーる


class Lexicon:
    """reading -> written form, from (reading, written form) pairs of many articles.

    Where articles spell one reading differently (返品 / 返本), the form most articles use
    wins; ties go to the first in code-point order, so the result never depends on the
    order the articles came in.
    """

    def __init__(self, pairs_per_article: Iterable[Iterable[tuple[str, str]]] = ()):
        votes: dict[str, Counter] = {}
        for pairs in pairs_per_article:
            for reading, written in set(pairs):
                votes.setdefault(reading, Counter())[written] += 1
        self._words: Mapping[str, str] = {
            r: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for r, c in votes.items()
        }
        self._longest = max(map(len, self._words), default=0)

    def __len__(self) -> int:
        return len(self._words)

    def respell(self, text: str) -> str:
        """``text`` (NFKC) with each kana run respelled where it holds articles' words."""
        if not self._words or not text:
            return text
        return _HIRAGANA_RUN.sub(self._respell_run, unicodedata.normalize("NFKC", text))

    def _respell_run(self, m: re.Match) -> str:
        run, words, out, i = m.group(0), self._words, [], 0
        while i < len(run):
            for n in range(min(self._longest, len(run) - i), MIN_SPELLED_KANA - 1, -1):
                written = words.get(run[i : i + n])
                if written is not None:
                    out.append(written)
                    i += n
                    break
            else:
                out.append(run[i])
                i += 1
        return "".join(out)
