"""Kana-typed messages are respelled with the Knowledge base's own words before ranking."""

from __future__ import annotations

import json

from connector.domain.knowledge import Article, KnowledgeIndex
from connector.domain.knowledge.analysis import spellings
from connector.domain.knowledge.spelling import Lexicon

ARTICLES = [
    Article("fee", "送料について", "送料はいくらですか？", "全国一律550円です。"),
    Article("cancel", "注文のキャンセル", "注文をキャンセルしたいです。", "発送前ならマイページから取り消せます。"),
    Article("mail", "注文確認メールが届かない", "確認メールが来ません。", "迷惑メールフォルダをご確認ください。"),
    Article("refund", "返金の時期", "返金はいつされますか？", "返品の到着後5営業日以内に返金します。"),
]


def test_words_written_in_kanji_or_katakana_are_learned_with_their_reading() -> None:
    found = dict(spellings("注文確認メールが届かない"))
    assert found["ちゅうもん"] == "注文"
    assert found["めーる"] == "メール"
    assert found["ちゅうもんかくにんめーる"] == "注文確認メール"  # a run of nouns, as one word too
    assert "が" not in found and all(len(r) >= 3 for r in found)


def test_a_kana_message_is_ranked_and_scored_like_the_written_one() -> None:
    idx = KnowledgeIndex.build(ARTICLES)
    for kana, written, article in (
        ("そうりょういくら", "送料いくら", "fee"),
        ("きゃんせるしたいです", "キャンセルしたいです", "cancel"),
        ("ちゅうもんかくにんめーるがこない", "注文確認メールがこない", "mail"),
        ("へんきんまだ？", "返金まだ？", "refund"),
    ):
        assert idx.search(kana, 2) == idx.search(written, 2)
        assert idx.search(kana, 1)[0].article_id == article


def test_respelling_restores_only_the_knowledge_bases_own_words() -> None:
    lex = Lexicon([spellings(a.title + a.question) for a in ARTICLES])
    assert lex.respell("そうりょうはいくらですか") == "送料はいくらですか"
    assert lex.respell("ひこうきでおくって") == "ひこうきでおくって"  # 飛行機 is in no article
    assert lex.respell("送料は？") == "送料は?"  # written words stay (NFKC only)
    assert Lexicon().respell("そうりょう") == "そうりょう"


def test_the_spelling_most_articles_use_wins() -> None:
    lex = Lexicon([[("へんぴん", "返品")], [("へんぴん", "返品")], [("へんぴん", "返本")]])
    assert lex.respell("へんぴんしたい") == "返品したい"
    assert (
        Lexicon([[("へんぴん", "返本")], [("へんぴん", "返品")]]).respell("へんぴん") == "返品"
    )  # tie: code-point order


def test_upsert_and_remove_change_the_lexicon() -> None:
    idx = KnowledgeIndex.build(ARTICLES[:1])
    assert idx.respell("きゃんせるしたい") == "きゃんせるしたい"
    idx.upsert(ARTICLES[1])
    assert idx.respell("きゃんせるしたい") == "キャンセルしたい"
    idx.remove("cancel")
    assert idx.respell("きゃんせるしたい") == "きゃんせるしたい"


def test_the_state_keeps_the_lexicon_and_an_older_state_rebuilds_it() -> None:
    idx = KnowledgeIndex.build(ARTICLES)
    state = json.loads(json.dumps(idx.to_state(), ensure_ascii=False))
    assert ["そうりょう", "送料"] in state["spellings"]["fee"]
    for restored in (
        KnowledgeIndex.from_state(state),
        KnowledgeIndex.from_state({k: v for k, v in state.items() if k != "spellings"}),
    ):
        assert restored.respell("そうりょういくら") == "送料いくら"
        assert restored.search("そうりょういくら", 3) == idx.search("送料いくら", 3)
