"""A bot for any company's Knowledge (issue 18): noise is never answered, the shop's synonyms are
an optional pack, and each KB calibrates its own answer threshold."""

from __future__ import annotations

import json

import pytest

from connector.domain.knowledge import (
    ANSWER,
    CLARIFY,
    NO_MATCH,
    Answerer,
    Article,
    KnowledgeIndex,
    is_noise,
    synonym_groups,
)
from connector.domain.knowledge import calibration as cal

ARTICLES = [
    Article(
        "plan", "料金プランの変更", "料金プランを変更したいです。", "マイページの「料金プラン変更」から手続きできます。"
    ),
    Article("cancel", "解約の手続き", "解約したいです。", "解約はショップまたはお客さまセンターで承ります。"),
    Article("sticker", "スタンプの購入", "スタンプを買いたい", "スタンプショップからご購入いただけます。"),
    Article("wifi", "Wi-Fiの設定", "Wi-Fiにつながらない", "ルーターを再起動してください。"),
]


@pytest.fixture(scope="module")
def answerer() -> Answerer:
    # Thresholds at 0: whatever reaches the index is answered, so only the guard can decline.
    return Answerer(KnowledgeIndex.build(ARTICLES), answer_threshold=0.0, clarify_threshold=0.0)


# --------------------------------------------------------------------- noise
@pytest.mark.parametrize(
    "text",
    [
        "[スタンプ]",  # a sticker as LINE writes it in text
        "[Sticker]",
        "［写真］",
        "👍",
        "😭😭",
        "ばーか",
        "バカじゃないの",
        "うざ",
        "ｗｗｗ",
        "ｗｗｗｗ草",
        "笑",
        "ｋｊｄｓｆｈｌ",  # keyboard mash
        "asdfghjkl",
        "ああああああ",
        "？",
    ],
)
def test_noise_is_never_answered_even_with_zero_thresholds(answerer: Answerer, text: str) -> None:
    assert is_noise(text)
    d = answerer.decide(text)
    assert d.kind == NO_MATCH and d.article is None and not d.candidates


@pytest.mark.parametrize(
    "text, expected",
    [
        ("スタンプ買いたい", "sticker"),  # the KB's own word 「スタンプ」 is not a sticker placeholder
        ("[スタンプ] 解約したい", "cancel"),  # a placeholder next to a question: the question counts
        ("wifi つながらない", "wifi"),
        ("ばかみたいに料金プラン高いから変更したい", "plan"),  # an insult inside a question
        ("解約", "cancel"),
    ],
)
def test_questions_with_noise_words_are_still_answered(answerer: Answerer, text: str, expected: str) -> None:
    assert not is_noise(text)
    d = answerer.decide(text)
    assert d.kind == ANSWER and d.article is not None and d.article.id == expected


# ------------------------------------------------------------ synonym packs
def test_no_synonym_pack_by_default_so_shop_words_do_not_meet() -> None:
    """Without the shop pack, 「やめたい」 is not 解約 (a false friend on other domains: a shop's
    「やめたい」 is a cancelled order); with it, it is."""
    arts = [
        Article("cancel", "解約の手続き", "解約の方法", "お客さまセンターで承ります。"),
        Article("pay", "支払い方法", "支払い方法の変更", "カードまたは口座振替です。"),
    ]
    plain = KnowledgeIndex.build(arts)
    shop = KnowledgeIndex.build(arts, synonyms=synonym_groups(["shop"]))
    assert not plain.search("やめたい", 1)
    assert shop.search("やめたい", 1)[0].article_id == "cancel"


def test_admin_groups_extend_a_pack_and_stand_alone() -> None:
    groups = synonym_groups(["shop"], {"解約": ["おわりにしたい"], "ギガ": ["ギガ", "データ容量"]})
    assert "おわりにしたい" in groups["解約"] and "やめたい" in groups["解約"]
    assert groups["ギガ"] == ("ギガ", "データ容量")
    assert synonym_groups([], {"ギガ": ["ギガ"]}) == {"ギガ": ("ギガ",)}
    with pytest.raises(ValueError):
        synonym_groups(["airline"])


# --------------------------------------------------------------- calibration
def _kb(twins: bool) -> KnowledgeIndex:
    """Eight articles; with ``twins`` they come in pairs about nearly the same thing."""
    topics = ["ポイントの有効期限", "領収書の発行", "住所の変更", "パスワードの再設定"]
    others = ["粗大ごみの出し方", "犬の登録", "停電したとき", "海外での利用"]
    arts = []
    for i, t in enumerate(topics):
        arts.append(Article(f"a{i}", t, f"{t}を知りたい", f"{t}はマイページで確認できます。"))
        second = f"{t}（法人のお客さま）" if twins else others[i]
        arts.append(Article(f"b{i}", second, f"{second}を知りたい", f"{second}は窓口で承ります。"))
    return KnowledgeIndex.build(arts)


def test_a_kb_of_near_twins_calibrates_a_higher_answer_threshold() -> None:
    twins, apart = _kb(True), _kb(False)
    high, low = cal.calibrate(twins), cal.calibrate(apart)
    assert high is not None and low is not None
    assert high["answer_threshold"] > low["answer_threshold"]
    assert twins.calibration == high


def test_the_calibrated_threshold_decides_unless_the_admin_set_one() -> None:
    idx = _kb(True)
    text = "ポイントの有効期限を知りたい"
    confidence = Answerer(idx).decide(text).confidence
    idx.calibration = {"answer_threshold": min(1.0, confidence + 0.01)}
    assert Answerer(idx, clarify_threshold=0.0).decide(text).kind == CLARIFY
    idx.calibration = {"answer_threshold": max(0.0, confidence - 0.01)}
    assert Answerer(idx).decide(text).kind == ANSWER
    assert Answerer(idx, answer_threshold=1.0, clarify_threshold=0.0).decide(text).kind == CLARIFY


def test_calibration_survives_the_state_round_trip() -> None:
    idx = _kb(True)
    cal.calibrate(idx)
    state = json.loads(json.dumps(idx.to_state()))
    assert KnowledgeIndex.from_state(state).calibration == idx.calibration


def test_a_tiny_kb_keeps_the_model_thresholds() -> None:
    idx = KnowledgeIndex.build(ARTICLES)
    assert cal.calibrate(idx) is None and idx.calibration is None


def test_held_out_search_never_returns_the_excluded_article() -> None:
    idx = _kb(True)
    cands, details = idx.search_detailed("ポイントの有効期限", 5, exclude="a0")
    assert cands and all(c.article_id != "a0" for c in cands) and len(details) == len(cands)
    assert idx.search_detailed("ポイントの有効期限", 5)[0][0].article_id == "a0"


def test_with_synonym_groups_the_shop_fitted_models_decide() -> None:
    """No groups: the models fitted on five domains; groups (a pack or an admin's): the shop-fitted
    ones, whose concept features weigh what the groups add."""
    from connector.domain.knowledge import scorer
    from tests.domain.test_knowledge_semantic import ARTICLES as SHOP
    from tests.domain.test_knowledge_semantic import TopicEncoder

    def model(articles, synonyms) -> scorer.Model:
        idx = KnowledgeIndex.build(articles, encoder=TopicEncoder(), synonyms=synonyms)
        return scorer.model_for(idx.search_detailed("返品したい", 3)[1])

    learned = [SHOP[0], Article("return", "返品", "返品したい", "8日以内です。", examples=("送り返したい",)), SHOP[2]]
    assert model(SHOP, None) is scorer.HYBRID
    assert model(SHOP, synonym_groups(["shop"])) is scorer.HYBRID_SYNONYMS
    assert model(learned, None) is scorer.HYBRID_LEARNED
    assert model(learned, {"返品": ["返品", "もどす"]}) is scorer.HYBRID_LEARNED_SYNONYMS
