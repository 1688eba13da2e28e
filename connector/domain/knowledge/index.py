"""BM25 index over Knowledge articles (no I/O; JSON-able state)."""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .analysis import DEFAULT_MODE, GENERIC_NOUNS, Analyzer, query_nouns, query_owners, spellings
from .models import Article, Candidate
from .semantic import Encoder, embed_articles, pack, prepare, unpack, zscores
from .spelling import Lexicon
from .synonyms import DEFAULT_SYNONYMS

STATE_FORMAT = "knowledge-index/1"

# Field weights: what the article is about (title, canonical question) dominates; answer and body
# help with recall at a lower weight. Learned examples count half: at 1.0, an article with a dozen
# examples outranked its neighbours that had none yet (docs/bot.md, "Learned question examples").
FIELD_WEIGHTS = {"title": 1.0, "question": 1.0, "examples": 0.5, "answer": 0.5, "body": 0.15}
# Query-side weight of each feature family (see analysis.py).
FAMILY_WEIGHTS = {"s": 0.25, "r": 0.3, "w": 1.0, "c": 3.0}
K1 = 1.2
B = 0.5
# Query features that occur in no article still count in the normaliser (an
# off-topic message should not look like a perfect match), but at this weight.
UNSEEN_WEIGHT = 0.5
# With an encoder, candidates are ranked by LEXICAL_SHARE * z(BM25) + (1 - LEXICAL_SHARE) * z(cosine),
# both standardised over the articles (chosen on the dev questions, docs/bot.md).
LEXICAL_SHARE = 0.6
# A learned example is a customer message, so it is nearer to another customer message (query to
# query) than an article's text is (query to passage). An example's cosine counts this much less, so
# that it takes over from its article's text only when it is a closer paraphrase than usual.
EXAMPLE_MARGIN = 0.08


def _fields(a: Article) -> list[tuple[str, str]]:
    """(field name, text) of everything indexed about an article."""
    return [
        ("title", a.title),
        ("question", a.question),
        ("answer", a.answer),
        ("body", a.body),
        *(("examples", e) for e in a.examples),
    ]


def _interned(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Distinct (reading, written form) pairs; their strings shared across articles (2,000 articles: 53k pairs)."""
    return [(sys.intern(r), sys.intern(w)) for r, w in dict.fromkeys(pairs)]


class KnowledgeIndex:
    def __init__(
        self,
        *,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        mode: str = DEFAULT_MODE,
        family_weights: Mapping[str, float] | None = None,
        encoder: Encoder | None = None,
    ):
        self._synonyms = {k: list(v) for k, v in (DEFAULT_SYNONYMS if synonyms is None else synonyms).items()}
        self.mode = mode
        self.analyzer = Analyzer(mode, self._synonyms)
        self.family_weights = dict(FAMILY_WEIGHTS if family_weights is None else family_weights)
        self._articles: dict[str, Article] = {}
        self._docs: dict[str, dict[str, float]] = {}
        # Concepts of each article's "about" fields (title + canonical question):
        # what the article is about, as opposed to what its answer mentions.
        self._about: dict[str, list[str]] = {}
        # (reading, written form) of each article's words: kana-typed messages are respelled
        # with them before ranking (spelling.py).
        self._spellings: dict[str, list[tuple[str, str]]] = {}
        self._lexicon = Lexicon()
        self._dirty = True
        # feature -> (positions, weights): two flat arrays, not a list of (int, float) tuples
        # (2,000 articles: 430k postings, 38 MB as tuples, 5 MB as arrays; the same values)
        self._postings: dict[str, tuple[array, array]] = {}
        self._idf: dict[str, float] = {}
        self._ids: list[str] = []
        self._max_idf = 0.0
        # Semantic channel (semantic.py): vectors per article, embedded lazily in batches.
        self.encoder = encoder
        self._vectors: dict[str, np.ndarray] = {}
        self._unembedded: set[str] = set()
        self._matrix = np.zeros((0, 0), np.float32)
        self._owner = np.zeros(0, np.int64)
        self._margin = np.zeros(
            0, np.float32
        )  # per row of _matrix: 0 for an article's text, -EXAMPLE_MARGIN for an example
        self._learned = False  # some article has learned question examples (scorer.HYBRID_LEARNED)
        # Thresholds calibrated on this KB (calibration.py), set by calibrate(); None: the model's.
        self.calibration: dict[str, float] | None = None
        self._last_query: tuple[str, np.ndarray] | None = None  # calibration asks twice per text

    # ----------------------------------------------------------------- build
    @classmethod
    def build(
        cls,
        articles: Iterable[Article],
        *,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        mode: str = DEFAULT_MODE,
        encoder: Encoder | None = None,
    ) -> "KnowledgeIndex":
        """Index ``articles``. ``synonyms``: the synonym groups (default none;
        ``synonym_groups(["shop"], {...})`` for the shop pack plus one's own); with an ``encoder`` the
        semantic channel ranks too (semantic.py)."""
        idx = cls(synonyms=synonyms, mode=mode, encoder=encoder)
        for a in articles:
            idx._add(a)
        idx._refresh()
        return idx

    def _analyse(self, a: Article) -> dict[str, float]:
        feats: dict[str, float] = {}
        about: set[str] = set()
        parts = _fields(a)
        for field_name, text in parts:
            if not text:
                continue
            for f, v in self.analyzer.features(text, FIELD_WEIGHTS[field_name]).items():
                feats[f] = feats.get(f, 0.0) + v
                if field_name in ("title", "question") and f.startswith("c:"):
                    about.add(f)
        self._about[a.id] = sorted(about)
        self._spellings[a.id] = self._spellings_of(parts)
        return {f: round(v, 4) for f, v in feats.items()}

    def _spellings_of(self, parts: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        if not self.analyzer.needs_morph:  # the analyser runs no Janome: none to be had for free
            return []
        return _interned(p for _, text in parts if text for p in spellings(text))

    def _add(self, a: Article) -> None:
        self._articles[a.id] = a
        self._docs[a.id] = self._analyse(a)
        if self.encoder is not None:
            self._vectors.pop(a.id, None)
            self._unembedded.add(a.id)
        self._dirty = True

    def upsert(self, article: Article) -> None:
        self._add(article)

    def remove(self, article_id: str) -> None:
        if self._articles.pop(article_id, None) is not None:
            del self._docs[article_id]
            self._about.pop(article_id, None)
            self._spellings.pop(article_id, None)
            self._vectors.pop(article_id, None)
            self._unembedded.discard(article_id)
            self._dirty = True

    def __len__(self) -> int:
        return len(self._articles)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._articles

    def get(self, article_id: str) -> Article | None:
        return self._articles.get(article_id)

    @property
    def articles(self) -> list[Article]:
        return list(self._articles.values())

    def _embed_pending(self) -> None:
        if self.encoder is None or not self._unembedded:
            return
        todo = [self._articles[i] for i in sorted(self._unembedded)]
        self._vectors.update(embed_articles(self.encoder, todo))
        self._unembedded.clear()
        self._dirty = True

    def _refresh(self) -> None:
        self._embed_pending()
        if not self._dirty:
            return
        self._ids = list(self._docs)
        n = len(self._ids)
        lengths = [sum(self._docs[i].values()) for i in self._ids]
        avg = (sum(lengths) / n) if n else 1.0
        df: dict[str, int] = {}
        for i in self._ids:
            for f in self._docs[i]:
                df[f] = df.get(f, 0) + 1
        self._idf = {f: math.log(1.0 + (n - d + 0.5) / (d + 0.5)) for f, d in df.items()}
        self._max_idf = math.log(1.0 + (n + 0.5) / 0.5) if n else 0.0
        postings: dict[str, tuple[array, array]] = {}
        for pos, (i, dl) in enumerate(zip(self._ids, lengths)):
            norm = K1 * (1.0 - B + B * dl / avg) if avg else K1
            for f, tf in self._docs[i].items():
                w = self._idf[f] * tf * (K1 + 1.0) / (tf + norm)
                p = postings.get(f)
                if p is None:
                    p = postings[f] = (array("l"), array("d"))
                p[0].append(pos)
                p[1].append(w)
        self._postings = postings
        self._lexicon = Lexicon(self._spellings.values())
        self._learned = any(a.examples for a in self._articles.values())
        if self.encoder is not None and self._vectors:
            rows = [self._vectors[i] for i in self._ids]
            self._matrix = np.vstack(rows)
            self._owner = np.repeat(np.arange(n), [len(r) for r in rows])
            self._margin = np.concatenate([np.r_[0.0, np.full(len(r) - 1, -EXAMPLE_MARGIN)] for r in rows]).astype(
                np.float32
            )
        else:
            self._matrix = np.zeros((0, 0), np.float32)
            self._owner = np.zeros(0, np.int64)
            self._margin = np.zeros(0, np.float32)
        self._dirty = False

    def _semantic(self, text: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Per article (index order): best cosine of its vectors with ``text`` (examples less
        EXAMPLE_MARGIN), and when articles have examples, the best cosine of each article's
        examples alone (0 without) minus that of its own text, floored at 0 (the scorer's
        ``ex_over``: how much closer the message is to what customers asked than to the article)."""
        if self.encoder is None or not len(self._owner):
            return None
        # einsum, not @: a BLAS call would wake OpenBLAS threads that then fight the model's OpenMP threads
        last = self._last_query  # one read: workers may share the index between threads
        if last is not None and last[0] == text:
            qv = last[1]
        else:
            qv = self.encoder.queries([prepare(text)])[0]
            self._last_query = (text, qv)
        sims = np.einsum("ij,j->i", self._matrix, qv)
        ex_over = None
        if self._learned:
            is_ex = self._margin < 0
            own = np.zeros(len(self._ids), np.float32)
            own[self._owner[~is_ex]] = sims[~is_ex]  # one text row per article
            ex_best = np.full(len(self._ids), -1.0, np.float32)
            np.maximum.at(ex_best, self._owner[is_ex], sims[is_ex])
            ex_over = np.maximum(ex_best - own, 0.0)
            sims = sims + self._margin
        best = np.full(len(self._ids), -1.0, np.float32)
        np.maximum.at(best, self._owner, sims)
        return best, ex_over

    # ---------------------------------------------------------------- search
    def search(self, text: str, k: int = 5) -> list[Candidate]:
        """Top ``k`` articles; ``score`` is the 0..1 BM25 match share. Without an encoder the list is
        empty when no word matches; with one, every article has a semantic score, so any message
        with text gets candidates."""
        return self._search(text, k, False)[0]

    def search_detailed(
        self, text: str, k: int = 5, *, exclude: str | None = None
    ) -> tuple[list[Candidate], list[dict[str, float]]]:
        """Like :meth:`search`, plus per-candidate match statistics for the
        second-stage scorer (``scorer.py``): for each candidate, the IDF-weighted
        share of the query's features it matches per family, the share matched
        in the article's "about" fields (title / question / examples), the
        unmatched content-word mass and nouns, and whether it also ranks first
        on words + concepts alone. ``exclude``: rank as if that article were not there
        (calibration: what a question about a missing article gets)."""
        return self._search(text, k, True, exclude)

    def respell(self, text: str) -> str:
        """``text`` as the index ranks it: kana-typed words spelled as the articles spell them (spelling.py)."""
        self._refresh()
        return self._lexicon.respell(text)

    def _search(
        self, text: str, k: int, with_details: bool, exclude: str | None = None
    ) -> tuple[list[Candidate], list[dict[str, float]]]:
        text = self.respell(text)
        q = self.analyzer.features(text)
        if not q or not self._ids:
            return [], []
        fw = self.family_weights
        scores: dict[int, float] = {}
        word_chan: dict[int, float] = {}
        bound = 0.0
        qfeats: list[tuple[str, str, float]] = []  # (feature, family, query mass)
        unseen_words = 0
        max_idf = self._max_idf
        for f in q:
            fam = f[0]
            w = fw.get(fam, 1.0)
            if w <= 0:
                continue
            idf = self._idf.get(f)
            if idf is None:
                m = UNSEEN_WEIGHT * w * max_idf * (K1 + 1.0)
                bound += m
                qfeats.append((f, fam, m))
                if fam == "w":
                    unseen_words += 1
                continue
            m = w * idf * (K1 + 1.0)
            bound += m
            qfeats.append((f, fam, m))
            if with_details and fam not in ("s", "r"):  # word + concept channel
                for pos, pw in zip(*self._postings[f]):
                    v = w * pw
                    scores[pos] = scores.get(pos, 0.0) + v
                    word_chan[pos] = word_chan.get(pos, 0.0) + v
            else:
                for pos, pw in zip(*self._postings[f]):
                    scores[pos] = scores.get(pos, 0.0) + w * pw
        sem = self._semantic(text)
        dense, ex_over = sem if sem is not None else (None, None)
        if exclude is not None and exclude in self._docs:
            gone = self._ids.index(exclude)
            scores.pop(gone, None)
            word_chan.pop(gone, None)
            if dense is not None:
                dense = dense.copy()
                dense[gone] = np.float32(-1.0)
        if bound <= 0 or (not scores and dense is None):
            return [], []
        if dense is None:
            top = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        else:
            lexical = np.zeros(len(self._ids))
            for pos, s in scores.items():
                lexical[pos] = s
            fused = LEXICAL_SHARE * zscores(lexical) + (1.0 - LEXICAL_SHARE) * zscores(dense.astype(np.float64))
            if exclude is not None and exclude in self._docs:
                fused[self._ids.index(exclude)] = -np.inf
            order = np.argsort(-fused, kind="stable")[:k]
            top = [(int(pos), scores.get(int(pos), 0.0)) for pos in order if fused[pos] > -np.inf]
        if not with_details:
            return [
                Candidate(
                    article_id=self._ids[pos],
                    title=self._articles[self._ids[pos]].title,
                    score=round(min(1.0, s / bound), 6),
                )
                for pos, s in top
            ], []
        word_best = max(word_chan.items(), key=lambda kv: (kv[1], -kv[0]))[0] if word_chan else -1
        lexical_best = max(scores.items(), key=lambda kv: (kv[1], -kv[0]))[0] if scores else -1
        dense_best = int(np.argmax(dense)) if dense is not None else -1
        fam_mass: dict[str, float] = {}
        for _, fam, m in qfeats:
            fam_mass[fam] = fam_mass.get(fam, 0.0) + m
        nouns = ["w:" + x for x in query_nouns(text)] if "w" in self.analyzer.families else []
        # 「ホテルの予約」「フリマで買った」: the message is about something no article knows of
        owners = (
            [run for run in query_owners(text) if not all(b in GENERIC_NOUNS for b in run)]
            if "w" in self.analyzer.families
            else []
        )
        foreign = sum(1 for run in owners if not any("w:" + b in self._idf for b in run))
        n_concepts = sum(1 for _, fam, _ in qfeats if fam == "c")
        n_words = sum(1 for _, fam, _ in qfeats if fam == "w")
        out: list[Candidate] = []
        details: list[dict[str, float]] = []
        for pos, s in top:
            aid = self._ids[pos]
            a = self._articles[aid]
            out.append(Candidate(article_id=a.id, title=a.title, score=round(min(1.0, s / bound), 6)))
            if not with_details:
                continue
            doc = self._docs[aid]
            about = self._about.get(aid, ())
            matched: dict[str, float] = {}
            strong: dict[str, float] = {}
            miss_c = 0
            miss_w_idf = 0.0
            for f, fam, m in qfeats:
                tf = doc.get(f)
                if tf:
                    matched[fam] = matched.get(fam, 0.0) + m
                    if tf >= 0.9:
                        strong[fam] = strong.get(fam, 0.0) + m
                elif fam == "c":
                    miss_c += 1
                elif fam == "w":
                    miss_w_idf += m / ((K1 + 1.0) * fw.get("w", 1.0) * max_idf) if max_idf else 0.0
            det = {
                "score": s / bound,
                "n_concepts": float(n_concepts),
                "n_words": float(n_words),
                "miss_concepts": float(miss_c),
                "miss_word_idf": miss_w_idf,
                "unseen_words": float(unseen_words),
                "miss_nouns": float(sum(1 for x in nouns if x not in doc)),
                "foreign_owner": float(foreign),
                "about_cov": (sum(1 for c in about if c in q) / len(about)) if about else 0.0,
                "has_about": 1.0 if about else 0.0,
                "word_top": 1.0 if word_best == pos else 0.0,
                "n_articles": float(len(self._ids)),
            }
            if dense is not None:
                det["dense"] = float(dense[pos])
                det["fused"] = float(fused[pos])
                det["lexical_top"] = 1.0 if lexical_best == pos else 0.0
                det["dense_top"] = 1.0 if dense_best == pos else 0.0
                det["ex_over"] = float(ex_over[pos]) if ex_over is not None else 0.0
                det["learned"] = 1.0 if self._learned else 0.0
                det["synonyms"] = 1.0 if self._synonyms else 0.0  # scorer.HYBRID_SYNONYMS
            for fam in ("s", "w", "c"):
                tot = fam_mass.get(fam, 0.0)
                det["cov_" + fam] = matched.get(fam, 0.0) / tot if tot else 0.0
                det["strong_" + fam] = strong.get(fam, 0.0) / tot if tot else 0.0
            det["strong_all"] = sum(strong.values()) / bound
            details.append(det)
        return out, details

    # ----------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        """JSON-able state (no pickle); restoring it skips re-analysing articles."""
        return {
            "format": STATE_FORMAT,
            "mode": self.mode,
            "synonyms": self._synonyms,
            "family_weights": self.family_weights,
            "articles": [a.to_dict() for a in self._articles.values()],
            "features": self._docs,
            "about": self._about,
            "spellings": self._spellings,
            **({"calibration": self.calibration} if self.calibration else {}),
            **self._vector_state(),
        }

    def _vector_state(self) -> dict[str, Any]:
        if self.encoder is None:
            return {}
        self._embed_pending()
        dim = next((v.shape[1] for v in self._vectors.values()), 0)
        return {"encoder": self.encoder.name, "dim": dim, "vectors": {aid: pack(v) for aid, v in self._vectors.items()}}

    @classmethod
    def from_state(cls, d: Mapping[str, Any], *, encoder: Encoder | None = None) -> "KnowledgeIndex":
        """Restore a state. With an ``encoder``, vectors stored by the same
        encoder are reused; others (or none stored) are re-embedded."""
        if not isinstance(d, Mapping) or d.get("format") != STATE_FORMAT:
            raise ValueError(f"not a {STATE_FORMAT} state")
        idx = cls(synonyms=d["synonyms"], mode=d["mode"], family_weights=d.get("family_weights"), encoder=encoder)
        stored = (d.get("vectors") or {}) if encoder is not None and d.get("encoder") == encoder.name else {}
        feats = d["features"]
        about = d.get("about") or {}
        spelled = d.get("spellings") or {}
        for ad in d["articles"]:
            a = Article.from_dict(ad)
            idx._articles[a.id] = a
            idx._docs[a.id] = {str(f): float(v) for f, v in feats[a.id].items()}
            if a.id in about:
                idx._about[a.id] = [str(f) for f in about[a.id]]
            else:  # older state: concepts weighted like a title / question hit
                idx._about[a.id] = sorted(f for f, v in idx._docs[a.id].items() if f.startswith("c:") and v >= 1.0)
            if a.id in spelled:
                idx._spellings[a.id] = _interned((str(r), str(w)) for r, w in spelled[a.id])
            else:  # older state: analysed once here, stored by the next sync
                idx._spellings[a.id] = idx._spellings_of(_fields(a))
            if encoder is not None:
                vec = unpack(stored[a.id], int(d["dim"])) if a.id in stored else None
                if vec is not None and len(vec) == 1 + len(a.examples):
                    idx._vectors[a.id] = vec
                else:
                    idx._unembedded.add(a.id)
        cal = d.get("calibration")
        idx.calibration = {str(k): float(v) for k, v in cal.items()} if isinstance(cal, Mapping) else None
        idx._dirty = True
        idx._refresh()
        return idx
