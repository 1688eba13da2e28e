"""Turning a user message into a decision: answer, clarify, hand off, greet, or decline."""

from __future__ import annotations

import math

from .index import KnowledgeIndex
from .models import ANSWER, CLARIFY, GREETING, HANDOFF_REQUEST, NO_MATCH, Article, Decision
from .normalize import normalize
from .rules import is_greeting, is_handoff_request, is_noise, strip_placeholders
from .scorer import RERANK_K, model_for, probabilities

# Decision.confidence is the second-stage scorer's probability that the top
# candidate is the right article (scorer.py). Unless given, the thresholds are
# the scorer model's own, chosen by 5-fold cross-validation on the dev questions
# only (docs/bot.md, "Re-tuning").
CLARIFY_CANDIDATES = 3

# Legacy score-only confidence (the pre-scorer decision rule; kept for
# comparisons and for callers that imported it).
CONF_A = 6.0  # slope on the top score
CONF_B = 0.0  # slope on the relative gap to the runner-up
CONF_C = 0.30  # top score at which confidence is 0.5 (with CONF_B = 0)


def confidence(top: float, second: float) -> float:
    """Legacy: map the top two match scores (0..1) to a 0..1 confidence.

    Logistic in the top score and in the relative margin over the runner-up.
    ``Answerer`` no longer uses it (see ``scorer.probabilities``).
    """
    if top <= 0:
        return 0.0
    gap = (top - second) / top
    z = CONF_A * (top - CONF_C) + CONF_B * (gap - 0.5)
    return 1.0 / (1.0 + math.exp(-z))


def check_thresholds(answer_threshold: float | None, clarify_threshold: float | None) -> None:
    """ValueError unless 0 <= clarify <= answer <= 1 (None: the model's default, not checked)."""
    given = [t for t in (clarify_threshold, answer_threshold) if t is not None]
    if any(not 0.0 <= t <= 1.0 for t in given) or (len(given) == 2 and given[0] > given[1]):
        raise ValueError("need 0 <= clarify_threshold <= answer_threshold <= 1")


class Answerer:
    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        answer_threshold: float | None = None,
        clarify_threshold: float | None = None,
        max_candidates: int = CLARIFY_CANDIDATES,
    ):
        """Thresholds left None: the answer threshold calibrated on this KB at sync
        (``index.calibration``, calibration.py) when there is one, else the scorer model's
        defaults (scorer.LEXICAL / HYBRID / HYBRID_LEARNED)."""
        check_thresholds(answer_threshold, clarify_threshold)
        self.index = index
        self.answer_threshold = answer_threshold
        self.clarify_threshold = clarify_threshold
        self.max_candidates = max_candidates

    def decide(self, text: str) -> Decision:
        if is_handoff_request(text):
            return Decision(HANDOFF_REQUEST, None, (), 1.0)
        if is_greeting(text):
            return Decision(GREETING, None, (), 1.0)
        if not normalize(text) or is_noise(text):
            # Stickers, emoji, laughter, bare insults, keyboard mash: nothing to look up, never answered.
            return Decision(NO_MATCH, None, (), 0.0)
        text = strip_placeholders(text)
        cands, details = self.index.search_detailed(text, k=max(self.max_candidates, RERANK_K))
        if not cands:
            return Decision(NO_MATCH, None, (), 0.0)
        model = model_for(details)
        probs = probabilities(details, model)
        ranked = list(zip(cands, probs))
        if model.rerank:
            ranked.sort(key=lambda cp: -cp[1])  # stable: ties keep the index's order
        conf = round(ranked[0][1], 4)
        shown = tuple(c for c, _ in ranked[: self.max_candidates])
        answer_at = self.answer_threshold
        if answer_at is None:  # this KB's own calibration (calibration.py), else the model's default
            cal = self.index.calibration
            answer_at = cal["answer_threshold"] if cal else model.answer_threshold
        clarify_at = model.clarify_threshold if self.clarify_threshold is None else self.clarify_threshold
        if conf >= answer_at:
            article = self.index.get(ranked[0][0].article_id)
            return Decision(ANSWER, article, shown, conf)
        if conf >= min(clarify_at, answer_at):
            return Decision(CLARIFY, None, shown, conf)
        return Decision(NO_MATCH, None, shown, conf)


_SENTENCE_END = "。！？!?\n"
MORE_LABEL = "続きはこちら: "


def short_answer(article: Article, max_chars: int = 500, url: str | None = None) -> str:
    """Chat-bubble-sized answer text.

    Returns the article's answer when it fits in ``max_chars``; otherwise cuts
    it at the last sentence end (。！？!? or newline) that fits, falling back
    to a hard cut with an ellipsis, and appends 「続きはこちら: url」 when a url
    (argument, else ``article.url``) is known. The result never exceeds
    ``max_chars`` unless ``max_chars`` is too small to hold the link line.
    """
    text = (article.answer or article.body or "").strip()
    link = url or article.url
    if len(text) <= max_chars:
        return text
    suffix = f"\n{MORE_LABEL}{link}" if link else ""
    room = max(1, max_chars - len(suffix))
    cut = -1
    for i in range(min(room, len(text)) - 1, -1, -1):
        if text[i] in _SENTENCE_END:
            cut = i + 1
            break
    if cut > 0:
        head = text[:cut].rstrip()
    else:
        head = text[: max(0, room - 1)].rstrip() + "…"
    return head + suffix
