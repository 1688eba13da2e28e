"""The semantic channel: embeddings ranked next to BM25, kept in the index state, re-embedded only when needed.

A tiny stand-in encoder makes the behaviour visible: it maps a text to a direction per topic
word it contains, the way a real model puts paraphrases near each other.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from connector.domain.knowledge import ANSWER, Answerer, Article, KnowledgeIndex, scorer, semantic

TOPICS = {  # words the stand-in model "understands" -> topic axis
    "配送": 0,
    "荷物": 0,
    "どこ": 0,
    "追跡": 0,
    "返品": 1,
    "返したい": 1,
    "送り返": 1,
    "パスワード": 2,
    "ログイン": 2,
    "入れない": 2,
}


class TopicEncoder:
    name = "topic-test/1"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _vec(self, text: str) -> np.ndarray:
        v = np.full(4, 0.05, np.float32)
        for word, axis in TOPICS.items():
            if word in text:
                v[axis] += 1.0
        return v / np.linalg.norm(v)

    def queries(self, texts):
        self.embedded += list(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, 4), np.float32)

    def passages(self, texts):
        self.embedded += list(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, 4), np.float32)


ARTICLES = [
    Article("tracking", "配送状況の確認", "荷物の配送状況を知りたい", "発送メールの追跡番号からご確認いただけます。"),
    Article("return", "返品について", "返品したいです", "商品到着後8日以内であれば返品できます。"),
    Article("password", "パスワード再設定", "ログインできません", "ログイン画面から再設定してください。"),
]


def test_a_paraphrase_without_shared_words_finds_its_article() -> None:
    """「どこ？」 shares no word with the tracking article: BM25 alone cannot rank it first."""
    text = "今どこ？"
    lexical = KnowledgeIndex.build(ARTICLES).search(text, 3)
    assert not lexical or lexical[0].article_id != "tracking"
    hybrid = KnowledgeIndex.build(ARTICLES, encoder=TopicEncoder())
    assert hybrid.search(text, 3)[0].article_id == "tracking"


def test_the_model_reads_only_the_start_of_a_very_long_message() -> None:
    """LINE allows 5,000 characters; embedding them all took seconds for nothing a KB answers."""
    enc = TopicEncoder()
    index = KnowledgeIndex.build(ARTICLES, encoder=enc)
    enc.embedded.clear()
    index.search("返品したい。" + "あ" * 5000, 3)
    assert [len(t) for t in enc.embedded] == [semantic.MAX_CHARS]


def test_words_still_count_when_the_model_is_unsure() -> None:
    idx = KnowledgeIndex.build(ARTICLES, encoder=TopicEncoder())
    assert idx.search("再設定のやり方", 1)[0].article_id == "password"  # no topic word: BM25 decides


def test_learned_examples_get_their_own_vectors() -> None:
    arts = [
        Article("tracking", "配送状況", "状況を知りたい", "追跡番号で確認できます。"),
        Article("return", "返品", "返品したい", "8日以内です。", examples=("送り返したいんだけど",)),
    ]
    idx = KnowledgeIndex.build(arts, encoder=TopicEncoder())
    cands, details = idx.search_detailed("送り返すには？", 2)
    assert cands[0].article_id == "return"
    assert details[0]["dense"] > details[1]["dense"]


def test_state_keeps_vectors_so_a_worker_does_not_re_embed() -> None:
    enc = TopicEncoder()
    state = json.loads(json.dumps(KnowledgeIndex.build(ARTICLES, encoder=enc).to_state(), ensure_ascii=False))
    assert state["encoder"] == "topic-test/1" and set(state["vectors"]) == {"tracking", "return", "password"}
    again = TopicEncoder()
    restored = KnowledgeIndex.from_state(state, encoder=again)
    assert restored.search("今どこ？", 1)[0].article_id == "tracking"
    assert again.embedded == ["今どこ?"]  # only the message (NFKC), no article


def test_vectors_of_another_model_are_recomputed() -> None:
    state = KnowledgeIndex.build(ARTICLES, encoder=TopicEncoder()).to_state()
    other = TopicEncoder()
    other.name = "topic-test/2"
    KnowledgeIndex.from_state(state, encoder=other).search("返品", 1)
    assert len([t for t in other.embedded if t != "返品"]) == len(ARTICLES)


def test_an_upsert_embeds_only_the_changed_article_and_remove_forgets_it() -> None:
    enc = TopicEncoder()
    idx = KnowledgeIndex.build(ARTICLES, encoder=enc)
    idx.search("返品", 1)
    enc.embedded.clear()
    idx.upsert(Article("return", "返品について", "送り返したい", "8日以内です。"))
    idx.remove("password")
    idx.search("荷物", 1)
    assert [t for t in enc.embedded if t != "荷物"] == ["返品について\n送り返したい\n8日以内です。"]
    assert set(idx.to_state()["vectors"]) == {"tracking", "return"}


def test_without_an_encoder_the_state_has_no_vectors_and_uses_the_lexical_model() -> None:
    idx = KnowledgeIndex.build(ARTICLES)
    assert "vectors" not in idx.to_state()
    _, details = idx.search_detailed("返品したい", 3)
    assert scorer.model_for(details) is scorer.LEXICAL


def test_with_an_encoder_the_hybrid_model_and_its_thresholds_decide() -> None:
    idx = KnowledgeIndex.build(ARTICLES, encoder=TopicEncoder())
    _, details = idx.search_detailed("返品したい", 3)
    assert scorer.model_for(details) is scorer.HYBRID
    d = Answerer(idx).decide("返品したいです")
    assert d.kind == ANSWER and d.article.id == "return"
    assert d.confidence >= scorer.HYBRID.answer_threshold


def test_once_articles_have_learned_examples_the_learned_model_decides() -> None:
    """The learning loop's approved examples change what a close match means: another model, fitted
    on KBs with examples, and its own thresholds; removing the last example brings HYBRID back."""
    learned = [
        ARTICLES[0],
        Article("return", "返品について", "返品したいです", "8日以内です。", examples=("届いた服を送り返したい",)),
        ARTICLES[2],
    ]
    idx = KnowledgeIndex.build(learned, encoder=TopicEncoder())
    _, details = idx.search_detailed("送り返したい", 3)
    assert scorer.model_for(details) is scorer.HYBRID_LEARNED
    assert Answerer(idx).decide("届いた服を送り返したい").article.id == "return"
    idx.upsert(ARTICLES[1])
    _, details = idx.search_detailed("送り返したい", 3)
    assert scorer.model_for(details) is scorer.HYBRID


class PassageEncoder:
    """Like E5: an article's text sits a little apart from the messages that ask for it, so a message is
    nearer to another customer's message (an example) than to the article text that answers it."""

    name = "passage-test/1"
    WORDS = {"ポイント": 0, "使": 1, "期限": 2}

    def _vec(self, text: str, passage: bool) -> np.ndarray:
        v = np.zeros(4, np.float32)
        for word, axis in self.WORDS.items():
            v[axis] = 1.0 if word in text else 0.0
        v[3] = 0.8 * np.linalg.norm(v) if passage else 0.0
        return v / np.linalg.norm(v)

    def queries(self, texts):
        return np.stack([self._vec(t, False) for t in texts])

    def passages(self, texts):
        return np.stack([self._vec(t, True) for t in texts])


def test_a_neighbours_example_does_not_outweigh_an_articles_own_text() -> None:
    """「ポイントの使い方おしえて」 is about using points; the expiry article's example 「ポイント使いたいけど期限ある？」
    is nearer to it (0.82) than the usage article's text (0.78), but examples count EXAMPLE_MARGIN less."""
    idx = KnowledgeIndex.build(
        [
            Article("points", "ポイントの使い方", "", "お買い物でポイントを1ポイント1円として使えます。"),
            Article(
                "points-expire",
                "ポイントの有効期限",
                "",
                "最後に獲得した日から1年です。",
                examples=("ポイント使いたいけど期限ある？",),
            ),
        ],
        encoder=PassageEncoder(),
    )
    cands, details = idx.search_detailed("ポイントの使い方おしえて", 2)
    dense = {c.article_id: d["dense"] for c, d in zip(cands, details)}
    assert dense["points"] > dense["points-expire"]
    assert cands[0].article_id == "points"


@pytest.mark.parametrize("bad", ["", "@@@"])
def test_corrupt_vector_data_is_an_error(bad: str) -> None:
    from connector.domain.knowledge.semantic import unpack

    with pytest.raises(ValueError):
        unpack(bad, 0 if not bad else 3)
