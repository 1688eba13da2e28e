"""Per-KB calibration of the answer threshold (issue 18): how confident must the bot be on *this*
Knowledge base before it answers?

The scorer's default thresholds were chosen on other KBs. A KB whose articles are close
neighbours (five kinds of "cancel") needs a higher bar than one whose articles are far apart. At
sync, each article's own title and question are asked of the index as pseudo-queries twice: with
the article present, and with it held out (``search_detailed(exclude=...)``). With the article held
out, whatever the bot would answer is wrong by construction, so the scorer's top probability on
those queries measures how confidently this KB's near neighbours are mistaken for each other. The
answer threshold is a high quantile of those probabilities, kept within [FLOOR, CEILING]; the rule's
quantile is chosen leave-one-domain-out (bench/bot/lodo.py, "+cal" columns; docs/bot.md). The bot
uses it unless the admin set explicit thresholds.

Measured on the four held-out domains it did not pay: a KB's pseudo-queries (its own titles and
questions) say little about how its customers' messages are confused, so the threshold moved
the wrong way on two domains of four. Off by default (``knowledge.calibrate: false``); the sync
calibrates only when it is switched on.

Cost: two searches per pseudo-query (one embedding: the index reuses the query's vector), at most
MAX_ARTICLES articles (spread over the KB), once per sync that changed the KB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .scorer import RERANK_K, model_for, probabilities

if TYPE_CHECKING:
    from .index import KnowledgeIndex

MAX_ARTICLES = 150
MIN_ARTICLES = 8  # fewer: the quantile says nothing; keep the model's thresholds
# The rule: QUANTILE is what bench/bot/lodo.py chose from all five sets (0.81 with the shipped
# HYBRID model); FLOOR and CEILING were fixed beforehand.
QUANTILE = 0.81
FLOOR = 0.5
CEILING = 0.95


def pseudo_queries(index: KnowledgeIndex) -> list[tuple[str, str]]:
    """(article id, text) for the title and the question of up to MAX_ARTICLES articles."""
    articles = sorted(index.articles, key=lambda a: a.id)
    step = max(1, -(-len(articles) // MAX_ARTICLES))
    out = []
    for a in articles[::step]:
        for text in dict.fromkeys(t.strip() for t in (a.title, a.question) if t and t.strip()):
            out.append((a.id, text))
    return out


def held_out_probabilities(index: KnowledgeIndex) -> list[float]:
    """Per pseudo-query, the scorer's best probability with its own article held out."""
    out = []
    for aid, text in pseudo_queries(index):
        _, details = index.search_detailed(text, RERANK_K, exclude=aid)
        if details:
            out.append(max(probabilities(details, model_for(details))))
    return out


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (0 <= q <= 1) of a non-empty list."""
    xs = sorted(values)
    return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]


def answer_threshold(
    held_out: list[float], q: float = QUANTILE, floor: float = FLOOR, ceiling: float = CEILING
) -> float:
    return round(min(ceiling, max(floor, quantile(held_out, q))), 4)


def calibrate(index: KnowledgeIndex) -> dict[str, float] | None:
    """Set and return ``index.calibration`` ({"answer_threshold", "pseudo_queries"}), or None (and
    the model's thresholds stay) for a KB too small to say anything."""
    if len(index) < MIN_ARTICLES:
        index.calibration = None
        return None
    held = held_out_probabilities(index)
    if len(held) < MIN_ARTICLES:
        index.calibration = None
        return None
    index.calibration = {"answer_threshold": answer_threshold(held), "pseudo_queries": float(len(held))}
    return index.calibration
