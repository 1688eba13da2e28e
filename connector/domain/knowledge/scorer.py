"""Second-stage scorer: how sure to be of the top-ranked article.

The index ranks (BM25, fused with the semantic channel when there is one);
this module gives the probability that the top candidate is right with a small
logistic regression over match statistics that the ranking's single number
hides (see ``KnowledgeIndex.search_detailed``). There is one :class:`Model` per
kind of index, each with the thresholds chosen for it: ``LEXICAL`` (BM25 only)
and ``HYBRID`` (BM25 + embeddings). Weights are fitted on the dev split only by
``bench/bot/train_scorer.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

RERANK_K = 5

# Every feature vectors() can produce (bench/bot/train_scorer.py --features picks a subset).
ALL_FEATURES = (
    "score",
    "gap",
    "rel",
    "rank0",
    "cov_s",
    "cov_w",
    "cov_c",
    "strong_s",
    "strong_w",
    "strong_c",
    "strong_all",
    "has_c",
    "miss_concepts",
    "miss_word_idf",
    "word_top",
    "qlen",
    "unseen_words",
    "about_cov",
    "has_about",
    "full_c",
    "miss_nouns",
    "foreign_owner",
    # semantic channel (index with an encoder only)
    "dense",
    "dgap",
    "fused",
    "fgap",
    "lexical_top",
    "dense_top",
    "agree",
    # approved examples as evidence of their own (issue 18, item 5)
    "ex_over",
    "ex_lead",
    # the KB's size (log of the number of articles): scores standardised over 2,000 articles mean
    # something else than over 35
    "size",
)
# The features of the models fitted before the example features existed.
BASE_FEATURES = ALL_FEATURES[: ALL_FEATURES.index("ex_over")]


@dataclass(frozen=True)
class Model:
    name: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    answer_threshold: float  # default Answerer thresholds for this model
    clarify_threshold: float
    rerank: bool = False  # answer with the most probable candidate, not the top-ranked one

    def probability(self, vector: Sequence[float]) -> float:
        z = self.bias + sum(a * b for a, b in zip(self.weights, vector))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


# LEXICAL: chosen by 5-fold cross-validation on the dev questions (questions_dev.jsonl +
# questions_dev_extra.jsonl), fitted on those questions against both the 47-article KB and the
# 2,000-article KB so that the thresholds hold as the KB grows (see docs/bot.md).
LEXICAL = Model(
    "lexical",
    ("score", "gap", "cov_c", "strong_c", "about_cov", "miss_nouns", "word_top"),
    (0.9239, 1.4777, -0.2023, 1.5091, 1.3026, -1.1092, 0.4423),
    -0.3878,
    answer_threshold=0.88,
    clarify_threshold=0.45,
)
# HYBRID (issue 18): fitted by bench/bot/lodo.py on six Knowledge bases - the shop's dev questions
# against kb.json and against 2,000 articles, and the four held-out domains of bench/bot/domains -
# each weighing the same, with no synonym pack (the default), on the 29 base features plus the KB's
# size. Thresholds by the rules of lodo.py applied to leave-one-set-out probabilities: answer at
# the lowest threshold keeping wrong <= 4 % on every set, clarify where one-tap - 0.5 x
# menu-on-null is best. Reproduce: `python -m bench.bot.lodo --packs none --large --json`
# ("shop-test" -> "weights", "bias", "all-five"). Its leave-one-domain-out
# figures (each domain scored by a model fitted without it) are in docs/bot.md. Concept features
# (cov_c, strong_c, ...) have no weight: without synonym groups they are always 0.
HYBRID = Model(
    "hybrid",
    (*BASE_FEATURES, "size"),
    (
        -1.5006,
        4.9975,
        0.8365,
        0.4924,
        1.7065,
        0.8119,
        0.0000,
        0.0523,
        -0.5614,
        0.0000,
        -1.1970,
        0.0000,
        0.0000,
        0.0110,
        0.4261,
        0.5562,
        -0.0219,
        0.0000,
        0.0000,
        0.0000,
        -0.3153,
        -0.3737,
        23.4293,
        73.8562,
        0.0439,
        -0.0477,
        0.1708,
        0.4666,
        -0.3458,
        -0.1868,
    ),
    -22.2374,
    answer_threshold=0.76,
    clarify_threshold=0.21,
    rerank=True,
)
# For an index with synonym groups (the shop pack, or an admin's own groups): the model fitted
# before issue 18 on the shop's dev questions with the shop pack, by 5-fold cross-validation against
# the 47- and 2,000-article KBs and kb.json without its question field, its body, or both
# (train_scorer.py --semantic --large --shapes). Its concept features carry what the groups add;
# HYBRID's are unweighted (always 0 without groups). See docs/bot.md.
HYBRID_SYNONYMS = Model(
    "hybrid-synonyms",
    BASE_FEATURES,
    (
        2.1897,
        5.8798,
        1.1101,
        0.6992,
        1.6297,
        0.6221,
        -2.1393,
        -7.1084,
        -3.0992,
        0.6686,
        4.2582,
        -0.5128,
        0.0630,
        0.7093,
        0.0900,
        -0.4539,
        -0.1175,
        2.2294,
        -1.0967,
        0.2270,
        -0.6954,
        -2.5306,
        31.3623,
        50.6920,
        -0.0157,
        0.0290,
        1.1314,
        -0.1130,
        -0.2396,
    ),
    -28.1650,
    answer_threshold=0.78,
    clarify_threshold=0.25,
    rerank=True,
)
# For an index whose articles have learned question examples and no synonym groups (issue 18):
# fitted by bench/bot/lodo_examples.py on the four held-out domains with 1, 2 and 3 of each
# article's questions as its approved examples (the rest scored), thresholds by lodo.py's rules on
# leave-one-domain-out probabilities. HYBRID_LEARNED_SYNONYMS (below) answered too many wrong
# there (0.05-0.07 with 2-3 examples on mobile, travel, energy); figures in docs/bot.md.
HYBRID_LEARNED = Model(
    "hybrid-learned",
    BASE_FEATURES,
    (
        -14.6854,
        2.5485,
        1.4445,
        -0.1765,
        4.1498,
        2.8154,
        0.0000,
        1.8714,
        -0.5113,
        0.0000,
        0.5318,
        0.0000,
        0.0000,
        0.0501,
        0.4953,
        0.1165,
        -0.0418,
        0.0000,
        0.0000,
        0.0000,
        -0.2292,
        -0.0219,
        25.2925,
        69.0767,
        0.2644,
        -0.0808,
        0.2321,
        0.7322,
        -0.4137,
    ),
    -25.2024,
    answer_threshold=0.78,
    clarify_threshold=0.19,
    rerank=True,
)
# For an index whose articles have learned question examples and synonym groups (the model fitted
# before issue 18, with the shop pack): HYBRID_SYNONYMS's training KBs with the other folds' dev
# questions attached as examples, to every article or to every other one (train_scorer.py
# --examples). HYBRID_SYNONYMS's weights would answer null messages that resemble an example too
# readily there (CV wrong 0.060 at its threshold); docs/bot.md, "Learned question examples".
HYBRID_LEARNED_SYNONYMS = Model(
    "hybrid-learned-synonyms",
    BASE_FEATURES,
    (
        -1.3599,
        5.6493,
        1.3107,
        0.7021,
        1.9823,
        0.9539,
        -1.9504,
        -6.5167,
        -2.9684,
        0.6074,
        5.2237,
        -0.3479,
        0.1083,
        0.4345,
        0.1241,
        -0.0455,
        -0.0132,
        2.1254,
        -0.9090,
        0.2705,
        -0.7852,
        -2.7125,
        27.7715,
        48.3075,
        -0.0089,
        0.0208,
        0.8947,
        0.0580,
        -0.3104,
    ),
    -25.8463,
    answer_threshold=0.76,
    clarify_threshold=0.25,
    rerank=True,
)


def model_for(details: Sequence[dict[str, float]]) -> Model:
    """The model for what the index produced: HYBRID when it has the semantic channel,
    HYBRID_SYNONYMS when it also has synonym groups, HYBRID_LEARNED (HYBRID_LEARNED_SYNONYMS with
    synonym groups) when its articles have learned question examples."""
    if not details or "dense" not in details[0]:
        return LEXICAL
    synonyms = bool(details[0].get("synonyms"))
    if details[0].get("learned"):
        return HYBRID_LEARNED_SYNONYMS if synonyms else HYBRID_LEARNED
    return HYBRID_SYNONYMS if synonyms else HYBRID


def vectors(details: Sequence[dict[str, float]], features: Sequence[str]) -> list[list[float]]:
    """Feature vectors (in ``features`` order) for candidates in ranking order.

    * ``score``: BM25 share of the query explained (Candidate.score); ``gap``:
      its lead over the best other candidate;
    * ``cov_c`` / ``strong_c``: IDF-weighted share of the query's synonym
      concepts the article has (anywhere / in title, question or examples);
    * ``about_cov``: share of the article's own title/question concepts the
      query mentions (「いつ届く」 does not mention 予約, the pre-order article's topic);
    * ``miss_nouns``: query content nouns (not generic shop words) absent
      from the article — 「フリマ」「ホテル」 in 「フリマで買った商品の返品」「ホテルの予約」
      mark a message about something else (capped at 3);
    * ``foreign_owner``: noun compounds the message puts before の or で that no
      article of the KB contains (「ホテルの予約」「ジムの会員」「フリマで買った」): what the
      message is about is not the shop's (capped at 2);
    * ``word_top``: the article also ranks first on words + concepts alone;
    * semantic channel: ``dense`` (best cosine with the article's vectors),
      ``dgap`` (its lead over the best other candidate), ``fused`` / ``fgap``
      (the fused ranking score and lead), ``lexical_top`` / ``dense_top``
      (first on BM25 / on cosine alone), ``agree`` (both).
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
            "foreign_owner": min(d.get("foreign_owner", 0.0), 2.0),
            "full_c": 1.0 if d["n_concepts"] and d["miss_concepts"] == 0 else 0.0,
            "size": math.log1p(d.get("n_articles", 0.0)),
        }
        if "dense" in d:
            row["dgap"] = d["dense"] - max((x["dense"] for j, x in enumerate(details) if j != i), default=0.0)
            row["fgap"] = d["fused"] - max((x["fused"] for j, x in enumerate(details) if j != i), default=0.0)
            row["agree"] = d["lexical_top"] * d["dense_top"]
            ex = d.get("ex_over", 0.0)
            row["ex_over"] = ex
            row["ex_lead"] = ex - max((x.get("ex_over", 0.0) for j, x in enumerate(details) if j != i), default=0.0)
        out.append([row[f] for f in features])
    return out


def probabilities(details: Sequence[dict[str, float]], model: Model | None = None) -> list[float]:
    """Probability that each candidate is right, with ``model`` (default: ``model_for(details)``)."""
    model = model or model_for(details)
    return [model.probability(v) for v in vectors(details, model.features)]
