"""Retrieval quality per analyser mode on a question split (no thresholds).

.venv/bin/python bench/bot/analyse_dev.py [dev|test] [mode ...]
"""

import json
import statistics
import sys
from pathlib import Path

from connector.domain.knowledge import Article, KnowledgeIndex, is_greeting, is_handoff_request
from connector.domain.knowledge.analysis import MODES

HERE = Path(__file__).parent
split = sys.argv[1] if len(sys.argv) > 1 else "dev"
modes = sys.argv[2:] or list(MODES)
kb = [Article.from_dict(d) for d in json.loads((HERE / "kb.json").read_text())]
qs = [json.loads(l) for l in (HERE / f"questions_{split}.jsonl").read_text().splitlines() if l.strip()]
for mode in modes:
    idx = KnowledgeIndex.build(kb, mode=mode)
    r1 = r3 = n = 0
    ok, bad, null = [], [], []
    for q in qs:
        if is_greeting(q["text"]) or is_handoff_request(q["text"]):
            continue
        c = idx.search(q["text"], 5)
        s1 = c[0].score if c else 0.0
        s2 = c[1].score if len(c) > 1 else 0.0
        if q["expected"] is None:
            null.append((s1, s2, q["text"]))
            continue
        n += 1
        ids = [x.article_id for x in c]
        r1 += bool(ids[:1] == [q["expected"]])
        r3 += q["expected"] in ids[:3]
        (ok if ids[:1] == [q["expected"]] else bad).append((s1, s2, q["text"], ids[:1]))
    med = lambda xs: round(statistics.median([x[0] for x in xs]), 3) if xs else None
    print(f"{mode:14s} R@1={r1 / n:.3f} R@3={r3 / n:.3f}  median s1 ok={med(ok)} wrong={med(bad)} null={med(null)}")
