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

FEATURES = (
    "score", "gap", "rel", "rank0", "cov_s", "cov_w", "cov_c", "strong_s", "strong_w", "strong_c",
    "strong_all", "has_c", "miss_concepts", "miss_word_idf", "char_top", "word_top", "qlen",
    "unseen_words", "about_cov", "has_about", "full_c",
)

WEIGHTS: tuple[float, ...] = ()
BIAS = 0.0


def vectors(details: Sequence[dict[str, float]], features: Sequence[str] | None = None) -> list[list[float]]:
    """Feature vectors (in ``FEATURES`` order) for candidates in BM25 order."""
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
