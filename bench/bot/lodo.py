"""Leave-one-domain-out evaluation of the second-stage scorer and its thresholds (issue 18).

Sets: ``shop`` (bench/bot/kb.json with the dev questions, never the test splits) and the four
held-out domains of bench/bot/domains. For each held-out domain D the scorer is fitted on shop and
the three other domains, its thresholds chosen on those only (nested: each training domain is
scored by a model fitted without it, and the threshold rule is applied to those out-of-domain
probabilities), and D is evaluated once. Nothing is fitted or chosen while looking at D.

    python -m bench.bot.lodo [--packs shop|none] [--large] [--no-guard] [--rule max|mean|nested] [--json]

Approaches reported per domain: ``before`` (the shop-fitted model of before issue 18, now
scorer.HYBRID_SYNONYMS, with its thresholds), ``lodo`` (refitted as above), and each with the
answer threshold calibrated on the held-out KB (``+cal``, calibration.py; the quantile chosen on
the other sets). ``shop-test`` scores the shop's test splits with the model fitted on all five
sets (``all-five``: its weights are scorer.HYBRID). Candidate rows are cached in /tmp (per set and synonym packs) so re-runs with
other rules are quick; vectors are cached by bench/bot/train_scorer.CachedEncoder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np

from connector.domain.knowledge import Article, KnowledgeIndex, is_greeting, is_handoff_request, normalize
from connector.domain.knowledge import calibration as C
from connector.domain.knowledge import scorer as S
from connector.domain.knowledge.rules import is_noise
from connector.domain.knowledge.synonyms import synonym_groups
from connector.entrypoints.bot_eval import metrics

HERE = Path(__file__).resolve().parent
# Every domain under bench/bot/domains (a new one joins the rotation).
DOMAINS = tuple(sorted(d.name for d in (HERE / "domains").iterdir() if (d / "kb.json").exists()))
SHOP_DEV = ("questions_dev.jsonl", "questions_dev_extra.jsonl", "questions_dev_extra2.jsonl")
CACHE = Path("/tmp/bench_bot_lodo")
WRONG_CAP = 0.04  # threshold rule: the lowest answer threshold keeping wrong <= this on every training set
MENU_WEIGHT = 0.5  # clarify rule: maximise one-tap - MENU_WEIGHT x menu-on-null over the training sets
# The example features (lodo_examples.py) are 0 on KBs without examples; "size" is last.
FEATS = (*S.BASE_FEATURES, "size")


def _load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def dataset(name: str) -> tuple[list[dict], list[dict]]:
    """(articles, questions) of a set; "shop-test" is the shop's held-out splits (evaluation only)."""
    if name == "shop":
        return json.loads((HERE / "kb.json").read_text(encoding="utf-8")), [
            q for f in SHOP_DEV for q in _load_jsonl(HERE / f)
        ]
    if name == "shop-2000":  # the shop's dev questions against 2,000 articles (make_large_kb.py)
        sys.path.insert(0, str(HERE))
        from make_large_kb import make

        return make(2000), dataset("shop")[1]
    if name == "shop-test":
        return json.loads((HERE / "kb.json").read_text(encoding="utf-8")), [
            q for f in ("questions_test.jsonl", "questions_test2.jsonl") for q in _load_jsonl(HERE / f)
        ]
    d = HERE / "domains" / name
    return json.loads((d / "kb.json").read_text(encoding="utf-8")), _load_jsonl(d / "questions.jsonl")


_ENCODER = None


def encoder():
    global _ENCODER
    if _ENCODER is None:
        sys.path.insert(0, str(HERE))
        from train_scorer import CachedEncoder

        from connector.gateways.embedder import get_encoder

        CACHE.mkdir(exist_ok=True)
        _ENCODER = CachedEncoder(get_encoder(), CACHE / "vectors.npz")
    return _ENCODER


def rows_for(name: str, packs: tuple[str, ...]) -> list[dict]:
    """Per question: expected, rule (a handoff/greeting/empty rule fires), noise (the noise guard
    fires), candidate ids in ranking order and their feature vectors (ALL_FEATURES order)."""
    articles, qs = dataset(name)
    key = hashlib.sha1(json.dumps([name, packs, articles, qs, FEATS], ensure_ascii=False).encode()).hexdigest()[:16]
    path = CACHE / f"rows-{name}-{'+'.join(packs) or 'none'}-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    idx = KnowledgeIndex.build(
        [Article.from_dict(a) for a in articles], encoder=encoder(), synonyms=synonym_groups(packs)
    )
    out = [question_row(idx, q, FEATS) for q in qs]
    encoder().save()
    CACHE.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def question_row(idx: KnowledgeIndex, q: dict, feats) -> dict:
    """One question's row: whether a rule or the noise guard decides it, else its candidates (in
    ranking order) and their feature vectors (`feats` order)."""
    t = q["text"]
    row = {"text": t, "expected": q["expected"], "noise": is_noise(t), "ids": [], "X": []}
    row["rule"] = bool(is_handoff_request(t) or is_greeting(t) or not normalize(t))
    if not row["rule"]:
        cands, det = idx.search_detailed(t, S.RERANK_K)
        row["ids"] = [c.article_id for c in cands]
        row["X"] = S.vectors(det, feats)
    return row


def pseudo_rows_for(name: str, packs: tuple[str, ...]) -> list[list[list[float]]]:
    """Per pseudo-query of calibration.py (an article's title / question, that article held out):
    the feature vectors of the candidates - what the sync's calibration sees on this KB."""
    articles, _ = dataset(name)
    key = hashlib.sha1(json.dumps([name, packs, articles, FEATS], ensure_ascii=False).encode()).hexdigest()[:16]
    path = CACHE / f"pseudo-{name}-{'+'.join(packs) or 'none'}-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    idx = KnowledgeIndex.build(
        [Article.from_dict(a) for a in articles], encoder=encoder(), synonyms=synonym_groups(packs)
    )
    out = []
    for aid, text in C.pseudo_queries(idx):
        _, det = idx.search_detailed(text, S.RERANK_K, exclude=aid)
        if det:
            out.append(S.vectors(det, FEATS))
    encoder().save()
    path.write_bytes(pickle.dumps(out))
    return out


def held_out_probs(model, pseudo: list[list[list[float]]]) -> list[float]:
    w, b = model
    return [float(1.0 / (1.0 + np.exp(-np.clip(np.max(np.asarray(X, float) @ w + b), -30.0, 30.0)))) for X in pseudo]


QUANTILES = [round(0.5 + x / 100, 2) for x in range(0, 51)]


def choose_quantile(per_set: list, held: list[list[float]], clarify_at: float) -> float:
    """The calibration rule's quantile: the lowest that keeps wrong <= WRONG_CAP on every training set
    when each set's answer threshold is calibrated on its own KB."""
    for q in QUANTILES:
        if all(
            evaluate(sc, C.answer_threshold(h, q), clarify_at)["wrong_answer_rate"] <= WRONG_CAP
            for sc, h in zip(per_set, held)
        ):
            return q
    return 1.0


def fit(sets: list[list[dict]], l2: float = 1.0, iters: int = 3000, lr: float = 0.5, balance: bool = True):
    """L2 logistic regression (as train_scorer.fit) on the candidate rows of ``sets``; with
    ``balance`` every set weighs the same whatever its number of questions."""
    X, y, sw = [], [], []
    for rows in sets:
        n = sum(1 for r in rows if r["ids"]) or 1
        for r in rows:
            for i, v in zip(r["ids"], r["X"]):
                X.append(v)
                y.append(1.0 if i == r["expected"] else 0.0)
                sw.append(1.0 / n if balance else 1.0)
    A, t, s = np.asarray(X, float), np.asarray(y), np.asarray(sw)
    s = s / s.mean()
    mu, sd = A.mean(0), A.std(0) + 1e-9
    Z = (A - mu) / sd
    n, _ = Z.shape
    w, b = np.zeros(Z.shape[1]), 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ w + b, -30.0, 30.0)))
        e = (p - t) * s
        w -= lr * (Z.T @ e / n + l2 * w / n)
        b -= lr * e.sum() / n
    raw = w / sd
    return raw, float(b - (raw * mu).sum())


def scored(model, rows: list[dict], guard: bool = True) -> list[tuple[dict, list[tuple[str, float]]]]:
    """Per question: candidates sorted by probability (empty when a rule or the guard fires)."""
    w, b = model
    out = []
    for r in rows:
        if r["rule"] or (guard and r["noise"]) or not r["ids"]:
            out.append((r, []))
            continue
        z = np.asarray(r["X"], float) @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
        ranked = sorted(zip(r["ids"], p.tolist()), key=lambda ip: -ip[1])
        out.append((r, ranked))
    return out


def evaluate(sc, answer_at: float, clarify_at: float, shown: int = 3) -> dict:
    preds = []
    for r, ranked in sc:
        predicted, cands = None, []
        if ranked and ranked[0][1] >= answer_at:
            predicted = ranked[0][0]
        elif ranked and ranked[0][1] >= min(clarify_at, answer_at):
            cands = [i for i, _ in ranked[:shown]]
        preds.append({"text": r["text"], "expected": r["expected"], "predicted": predicted, "candidates": cands})
    m = metrics(preds, [0.0])
    return {k: m[k] for k in ("items", "top1_accuracy", "wrong_answer_rate", "one_tap_rate", "menu_rate_on_null")}


GRID = [round(x / 100, 2) for x in range(10, 100)]


RULES = ("max", "mean")


def choose_thresholds(per_set: list, rule: str = "max") -> tuple[float, float]:
    """Answer at the lowest threshold keeping wrong <= WRONG_CAP on every set (rule "max", fixed
    before any held-out figure was seen) or on average over the sets (rule "mean"); clarify at the
    threshold maximising mean one-tap - MENU_WEIGHT x mean menu-on-null."""
    agg = max if rule == "max" else (lambda xs: sum(xs) / len(xs))
    answer_at = next(
        (t for t in GRID if agg([evaluate(sc, t, 1.0)["wrong_answer_rate"] for sc in per_set]) <= WRONG_CAP), 0.99
    )

    def gain(c: float) -> float:
        ms = [evaluate(sc, answer_at, c) for sc in per_set]
        return float(np.mean([m["one_tap_rate"] - MENU_WEIGHT * m["menu_rate_on_null"] for m in ms]))

    clarify_at = max((c for c in GRID if c <= answer_at), key=lambda c: (gain(c), c))
    return answer_at, clarify_at


# The baseline: the model fitted on shop questions only before issue 18 (now scorer.HYBRID_SYNONYMS,
# used when synonym groups are configured); scorer.HYBRID is what this driver's "all-five" fit gave.
BASE = S.HYBRID_SYNONYMS


def shipped_model() -> tuple[np.ndarray, float]:
    return np.asarray([*BASE.weights, 0.0]), BASE.bias  # it has no "size" weight


def pick_rule(rows: dict[str, list[dict]], train: list[str], guard: bool, balance: bool) -> str:
    """The threshold rule for a held-out domain, chosen on the training sets only: each training set j
    is scored by a model fitted on the others, with thresholds chosen by the rule on out-of-domain
    probabilities of those others (models fitted without j and without them); the rule with the best
    mean top-1 among those keeping wrong <= 0.05 on every j wins ("max" when none or a tie)."""
    results: dict[str, list[dict]] = {r: [] for r in RULES}
    for j in train:
        rest = [n for n in train if group(n) != group(j)]
        model = fit([rows[n] for n in rest], balance=balance)
        inner = [
            scored(fit([rows[m] for m in rest if group(m) != group(k)], balance=balance), rows[k], guard) for k in rest
        ]
        sc = scored(model, rows[j], guard)
        for r in RULES:
            results[r].append(evaluate(sc, *choose_thresholds(inner, r)))
    ok = [r for r in RULES if all(m["wrong_answer_rate"] <= 0.05 for m in results[r])]
    return max(ok or ["max"], key=lambda r: (np.mean([m["top1_accuracy"] for m in results[r]]), r == "max"))


def group(name: str) -> str:
    """Sets that share questions (shop and shop-2000) are held out together."""
    return "shop" if name.startswith("shop") else name


def lodo(
    rows: dict[str, list[dict]], pseudo: dict[str, list], held: str, guard: bool, balance: bool, rule: str = "max"
) -> dict:
    """The held-out domain scored by a scorer fitted on the other sets, thresholds chosen on those
    (``lodo``), and the same with the answer threshold calibrated on the held-out KB itself by the
    calibration rule whose quantile was chosen on the other sets (``lodo+cal``)."""
    train = [n for n in rows if n != held]
    model = fit([rows[n] for n in train], balance=balance)
    # Thresholds from out-of-domain probabilities on the training sets (nested leave-one-out).
    inner_models = {n: fit([rows[m] for m in train if group(m) != group(n)], balance=balance) for n in train}
    inner = [scored(inner_models[n], rows[n], guard) for n in train]
    if rule == "nested":
        rule = pick_rule(rows, train, guard, balance)
    answer_at, clarify_at = choose_thresholds(inner, rule)
    sc = scored(model, rows[held], guard)
    q = choose_quantile(inner, [held_out_probs(inner_models[n], pseudo[n]) for n in train], clarify_at)
    cal_at = C.answer_threshold(held_out_probs(model, pseudo[held]), q)
    return {
        "lodo": {"rule": rule, "answer_at": answer_at, "clarify_at": clarify_at, **evaluate(sc, answer_at, clarify_at)},
        "lodo+cal": {"quantile": q, "answer_at": cal_at, "clarify_at": clarify_at, **evaluate(sc, cal_at, clarify_at)},
    }


def shipped_with_calibration(rows, pseudo, held: str, guard: bool) -> dict:
    """The shipped model with the answer threshold calibrated on the held-out KB (quantile chosen on the others)."""
    ship = shipped_model()
    train = [n for n in rows if n != held]
    clarify_at = BASE.clarify_threshold
    q = choose_quantile(
        [scored(ship, rows[n], guard) for n in train], [held_out_probs(ship, pseudo[n]) for n in train], clarify_at
    )
    at = C.answer_threshold(held_out_probs(ship, pseudo[held]), q)
    return {
        "quantile": q,
        "answer_at": at,
        "clarify_at": clarify_at,
        **evaluate(scored(ship, rows[held], guard), at, clarify_at),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--packs", default="shop", help="synonym packs, comma-separated ('' or none: no pack)")
    p.add_argument("--no-guard", action="store_true", help="answer noise (stickers, emoji, gibberish) as before")
    p.add_argument("--unbalanced", action="store_true", help="weigh sets by their number of questions")
    p.add_argument(
        "--rule",
        default="max",
        choices=(*RULES, "nested"),
        help="answer-threshold rule: wrong <= cap on every training set (max), on average (mean), "
        "or the one of those that does best leave-one-out within the training sets (nested)",
    )
    p.add_argument(
        "--large",
        action="store_true",
        help="also train (never evaluate) on the shop's dev questions against 2,000 articles, so that "
        "the thresholds hold as a KB grows",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    np.seterr(all="ignore")
    packs = tuple(x for x in args.packs.split(",") if x and x != "none")
    guard, balance = not args.no_guard, not args.unbalanced
    rows = {n: rows_for(n, packs) for n in ("shop", *(["shop-2000"] if args.large else []), *DOMAINS)}
    pseudo = {n: pseudo_rows_for(n, packs) for n in rows}
    report: dict = {}
    ship = shipped_model()
    for held in DOMAINS:
        report[held] = {
            "before": evaluate(scored(ship, rows[held], guard), BASE.answer_threshold, BASE.clarify_threshold),
            "before+cal": shipped_with_calibration(rows, pseudo, held, guard),
            **lodo(rows, pseudo, held, guard, balance, args.rule),
        }
        print(held, json.dumps(report[held]), file=sys.stderr)
    # The shop's test splits: the shipped model, and a model fitted on the four domains + shop dev
    # (what would ship), thresholds by the same rules from leave-one-set-out probabilities.
    test = rows_for("shop-test", packs)
    full = fit([rows[n] for n in rows], balance=balance)
    inner_models = {n: fit([rows[m] for m in rows if group(m) != group(n)], balance=balance) for n in rows}
    inner = [scored(inner_models[n], rows[n], guard) for n in rows]
    rule = pick_rule(rows, list(rows), guard, balance) if args.rule == "nested" else args.rule
    a, c = choose_thresholds(inner, rule)
    q = choose_quantile(inner, [held_out_probs(inner_models[n], pseudo[n]) for n in rows], c)
    cal_at = C.answer_threshold(held_out_probs(full, pseudo["shop"]), q)
    sc = scored(full, test, guard)
    report["shop-test"] = {
        "before": evaluate(scored(ship, test, guard), BASE.answer_threshold, BASE.clarify_threshold),
        "all-five": {"rule": rule, "answer_at": a, "clarify_at": c, **evaluate(sc, a, c)},
        "all-five+cal": {"quantile": q, "answer_at": cal_at, "clarify_at": c, **evaluate(sc, cal_at, c)},
        "weights": [round(float(x), 4) for x in full[0]],
        "bias": round(full[1], 4),
    }
    print(
        "shop-test",
        json.dumps({k: v for k, v in report["shop-test"].items() if k not in ("weights", "bias")}),
        file=sys.stderr,
    )
    if args.json:
        json.dump(report, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
