"""The semantic channel: sentence embeddings next to BM25.

BM25 finds the article that shares the customer's words; an embedding model
finds the one that means the same thing in other words (「荷物まだ？」 and
「配送状況の確認」 share no word). The index keeps one vector per article (its
title, question, answer and the start of its body, embedded as a passage) plus
one per learned question example, and an article's semantic score is the best
cosine of those vectors with the message.

This module does no I/O: the model is an :class:`Encoder` handed in by the
caller (``connector.gateways.embedder`` wraps the bundled multilingual-E5 model).
Vectors are stored in the index state as base64 float16, tagged with the
encoder's name so a state written with another model is re-embedded.
"""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .models import Article

# The passage holds what the article is about first; bodies are cut so a long
# manual costs a bounded embedding time (the model windows long text anyway).
PASSAGE_BODY_CHARS = 600


class Encoder(Protocol):
    """A sentence-embedding model. Vectors are L2-normalised float32."""

    name: str  # identifies the model and its version: vectors of another name are recomputed

    def queries(self, texts: Sequence[str]) -> np.ndarray:  # (n, dim): customer messages, question examples
        ...

    def passages(self, texts: Sequence[str]) -> np.ndarray:  # (n, dim): article texts
        ...


MAX_CHARS = 512  # the model was trained on at most 512 tokens; its cost grows with the length


def prepare(text: str) -> str:
    """What the model sees: NFKC (half-width ｶﾅ and full-width ＡＢＣ become what it was trained
    on), cut to MAX_CHARS: a LINE message may be 5,000 characters, which took 2.4 s to embed."""
    return unicodedata.normalize("NFKC", text)[:MAX_CHARS]


def passage_text(a: Article) -> str:
    parts = [a.title, a.question, a.answer, a.body[:PASSAGE_BODY_CHARS]]
    return prepare("\n".join(p for p in parts if p))


def embed_articles(encoder: Encoder, articles: Sequence[Article]) -> dict[str, np.ndarray]:
    """{article id: (1 + len(examples), dim)} in two batched calls."""
    if not articles:
        return {}
    docs = encoder.passages([passage_text(a) for a in articles])
    examples = [e for a in articles for e in a.examples]
    ex_vecs = encoder.queries([prepare(e) for e in examples]) if examples else np.zeros((0, docs.shape[1]), np.float32)
    out: dict[str, np.ndarray] = {}
    k = 0
    for i, a in enumerate(articles):
        n = len(a.examples)
        out[a.id] = np.vstack([docs[i : i + 1], ex_vecs[k : k + n]]).astype(np.float32)
        k += n
    return out


def pack(vectors: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vectors, dtype="<f2").tobytes()).decode("ascii")


def unpack(text: str, dim: int) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f2")  # binascii.Error is a ValueError
    if dim <= 0 or raw.size == 0 or raw.size % dim:
        raise ValueError("vector data does not match the dimension")
    return raw.reshape(-1, dim).astype(np.float32)


def zscores(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - float(x.mean())) / sd if sd > 1e-9 else np.zeros_like(x)
