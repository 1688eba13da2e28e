"""The bundled embedding model: loads from the installed package (no download) and embeds Japanese."""

from __future__ import annotations

import numpy as np

from connector.gateways.embedder import BATCH, get_encoder


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
