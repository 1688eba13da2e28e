"""Second-stage scorer: which candidate to answer with, and how sure to be.

BM25 ranks; this module re-scores the top ``RERANK_K`` candidates with a small
logistic regression over match statistics that BM25's single number hides
(see ``KnowledgeIndex.search_detailed``). Weights are fitted on the dev split
only by ``bench/bot/train_scorer.py`` (pure Python, no numpy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

RERANK_K = 5

# Every feature vectors() can produce (bench/bot/train_scorer.py --features picks a subset).
ALL_FEATURES = (
    "score", "gap", "rel", "rank0", "cov_s", "cov_w", "cov_c", "strong_s", "strong_w", "strong_c",
    "strong_all", "has_c", "miss_concepts", "miss_word_idf", "word_top", "qlen",
    "unseen_words", "about_cov", "has_about", "full_c", "miss_nouns",
)
# The model in use: chosen by 5-fold cross-validation on the dev questions
# (questions_dev.jsonl + questions_dev_extra.jsonl), fitted on those questions
# against both the 47-article KB and the 2,000-article KB so that the same
# threshold holds as the KB grows. See docs/bot.md.
FEATURES = ("score", "gap", "cov_c", "strong_c", "about_cov", "miss_nouns", "word_top")
WEIGHTS: tuple[float, ...] = (0.9239, 1.4777, -0.2023, 1.5091, 1.3026, -1.1092, 0.4423)
BIAS = -0.3878


def vectors(details: Sequence[dict[str, float]], features: Sequence[str] | None = None) -> list[list[float]]:
    """Feature vectors (in ``features`` order, default ``FEATURES``) for candidates in BM25 order.

    * ``score``: BM25 share of the query explained (Candidate.score); ``gap``:
      its lead over the best other candidate;
    * ``cov_c`` / ``strong_c``: IDF-weighted share of the query's synonym
      concepts the article has (anywhere / in title, question or examples);
    * ``about_cov``: share of the article's own title/question concepts the
      query mentions (「いつ届く」 does not mention 予約, the pre-order article's topic);
    * ``miss_nouns``: query content nouns (not generic shop words) absent
      from the article — 「フリマ」「ホテル」 in 「フリマで買った商品の返品」「ホテルの予約」
      mark a message about something else (capped at 3);
    * ``word_top``: the article also ranks first on words + concepts alone.
    """
    if not details:
        return []
    scores = [d["score"] for d in details]
    out = []
    for i, d in enumerate(details):
        best_other = max((s for j, s in enumerate(scores) if j != i), default=0.0)
        top = scores[0] or 1.0
        row = {
            **d,
            "gap": d["score"] - best_other,
            "rel": d["score"] / top,
            "rank0": 1.0 if i == 0 else 0.0,
            "has_c": 1.0 if d["n_concepts"] else 0.0,
            "miss_concepts": min(d["miss_concepts"], 3.0),
            "qlen": math.log1p(d["n_words"]),
            "unseen_words": min(d["unseen_words"], 3.0),
            "miss_nouns": min(d["miss_nouns"], 3.0),
            "full_c": 1.0 if d["n_concepts"] and d["miss_concepts"] == 0 else 0.0,
        }
        out.append([row[f] for f in (features or FEATURES)])
    return out


def probabilities(details: Sequence[dict[str, float]]) -> list[float]:
    out = []
    for v in vectors(details):
        z = BIAS + sum(a * b for a, b in zip(WEIGHTS, v))
        out.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))))
    return out
