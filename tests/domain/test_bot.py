"""The bot in a conversation (connector/domain/bot.py): pure, the clock and the index injected."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.config import BotSettings
from connector.domain import conversation
from connector.domain.bot import EXAMPLE, BotResponder
from connector.domain.knowledge import Answerer, Article, KnowledgeIndex, synonym_groups
from connector.domain.records import CASE, MESSAGE, SESSION
from connector.i18n import DEFAULT_TEXTS

KB = Path(__file__).resolve().parents[2] / "bench" / "bot" / "kb.json"
JST = ZoneInfo("Asia/Tokyo")
CHANNEL = "1000000001"
USER = "U" + "a" * 32
OPEN = datetime(2026, 11, 24, 11, 0, tzinfo=JST)  # Tuesday 11:00
FRIDAY_NIGHT = datetime(2026, 11, 20, 20, 0, tzinfo=JST)  # next: Mon 23rd is 勤労感謝の日 -> Tue 24th


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    """The bench KB (an online shop's) as production ranks it for a shop: BM25 with the bundled
    embedding model and the shop synonym pack its configuration would name (docs/bot.md)."""
    from connector.gateways.embedder import get_encoder

    return KnowledgeIndex.build(
        (Article.from_dict(a) for a in json.loads(KB.read_text(encoding="utf-8"))),
        encoder=get_encoder(),
        synonyms=synonym_groups(["shop"]),
    )


def texts(key: str, **values) -> str:
    return DEFAULT_TEXTS["ja"][key].format(**values)


def make(index, now=OPEN, **settings) -> BotResponder:
    s = BotSettings(enabled=True, **settings)
    answerer = Answerer(index, answer_threshold=s.answer_threshold, clarify_threshold=s.clarify_threshold)
    return BotResponder(
        answerer, s.hours(), s, texts, lambda: now, article_url=lambda a: f"https://help.example.com/{a.id}"
    )


class Chat:
    """Drives conversation.apply with the bot as responder, like the drain does."""

    def __init__(self, bot):
        self.bot, self.state, self.n = bot, None, 0

    def _event(self, **kw) -> dict:
        self.n += 1
        return {
            "webhookEventId": f"01EV{self.n:022d}",
            "timestamp": 1_795_000_000_000 + self.n * 1000,
            "replyToken": f"rt{self.n}",
            "mode": "active",
            "source": {"type": "user", "userId": USER},
            **kw,
        }

    def _apply(self, event) -> conversation.Result:
        ctx = conversation.Context(channel_id=CHANNEL, text=texts, responder=self.bot)
        res = conversation.apply(self.state, event, ctx)
        self.state = res.state
        return res

    def say(self, text: str) -> conversation.Result:
        return self._apply(self._event(type="message", message={"type": "text", "id": f"m{self.n + 1}", "text": text}))

    def send(self, message: dict) -> conversation.Result:
        return self._apply(self._event(type="message", message={"id": f"m{self.n + 1}", **message}))

    def tap(self, data: str) -> conversation.Result:
        return self._apply(self._event(type="postback", postback={"data": data}))

    @property
    def bot_state(self) -> dict:
        return self.state["session"]["bot"]


def messages(res) -> list[dict]:
    return [m for r in res.replies for m in r.messages]


def quick_data(msg: dict) -> list[str]:
    return [i["action"]["data"] for i in msg.get("quickReply", {}).get("items", [])]


def upserts(res, sobject):
    return [u for u in res.upserts if u.sobject == sobject]


def test_a_question_is_answered_with_the_short_answer_and_the_three_quick_replies(index):
    chat = Chat(make(index))
    res = chat.say("送料はいくらですか")
    [msg] = messages(res)
    assert msg["text"] == index.get("ship-fee").answer
    assert quick_data(msg)[:3] == ["bot:solved:ship-fee", "bot:unsolved:ship-fee", "bot:human"]
    labels = [i["action"]["label"] for i in msg["quickReply"]["items"][:3]]
    assert labels == ["解決した", "解決しない", "オペレーターと話す"]
    # the bot message is recorded with the article it used, like any message
    [bot_record] = [u for u in upserts(res, MESSAGE) if u.fields.get("Direction__c") == "Bot"]
    assert bot_record.fields["Knowledge_Article_Id__c"] == "ship-fee"
    assert bot_record.fields["Text__c"] == msg["text"]
    assert chat.state["session"]["status"] == "Bot"
    assert not any(u.fields.get("Status__c") for u in upserts(res, SESSION) if "Queued_At__c" in u.fields)


def test_related_articles_are_offered_when_they_match_nearly_as_well(index):
    [msg] = messages(Chat(make(index)).say("ポイント"))
    assert "bot:article:points-expire" in quick_data(msg)
    for item in msg["quickReply"]["items"]:
        assert 1 <= len(item["action"]["label"]) <= 20


def test_a_long_answer_is_trimmed_at_a_sentence_with_a_link_to_the_full_article():
    long = Article("kA1", "長い記事", "長い質問", "最初の文です。" + "とても長い説明が続きます。" * 80)
    bot = make(KnowledgeIndex.build([long]), max_answer_chars=200)
    [msg] = messages(Chat(bot).tap("bot:article:kA1"))
    assert len(msg["text"]) <= 200
    assert msg["text"].endswith("続きはこちら: https://help.example.com/kA1")
    assert "。\n続きはこちら" in msg["text"]


@pytest.mark.parametrize(
    ("answer_t", "clarify_t", "kind"), [(0.47, 0.25, "answer"), (0.99, 0.25, "clarify"), (0.99, 0.99, "no_match")]
)
def test_thresholds_decide_between_answer_clarify_and_no_match(index, answer_t, clarify_t, kind):
    chat = Chat(make(index, answer_threshold=answer_t, clarify_threshold=clarify_t))
    [msg] = messages(chat.say("返品したい"))
    data = quick_data(msg)
    if kind == "answer":
        assert data[0] == "bot:solved:return"
    elif kind == "clarify":
        assert msg["text"] == texts("bot_clarify")
        assert data[0] == "bot:article:return" and len([d for d in data if d.startswith("bot:article:")]) == 3
        assert data[-2:] == ["bot:none", "bot:human"]
        # choosing one answers it, and the original question is remembered for learning
        [answer] = messages(chat.tap("bot:article:return"))
        assert answer["text"] == index.get("return").answer
        assert chat.bot_state["last"] == {"article": "return", "question": "返品したい", "via": "clarify"}
    else:
        assert msg["text"] == texts("bot_no_match") and data == ["bot:human"]
        assert chat.bot_state["misses"] == 1


def unsure(index) -> BotResponder:
    """A bot that offers a menu for 「返品したい」 (return, refund, price-drop) instead of answering."""
    return make(index, answer_threshold=0.99, clarify_threshold=0.25)


def test_a_choice_from_the_clarify_menu_is_recorded_like_an_answer_and_becomes_a_candidate_example(index):
    chat = Chat(unsure(index))
    [menu] = messages(chat.say("返品したい"))
    assert "bot:article:refund" in quick_data(menu)
    res = chat.tap("bot:article:refund")
    [answer] = messages(res)
    assert answer["text"] == index.get("refund").answer
    [bot_record] = [u for u in upserts(res, MESSAGE) if u.fields.get("Direction__c") == "Bot"]
    assert bot_record.fields["Knowledge_Article_Id__c"] == "refund"
    [example] = upserts(res, EXAMPLE)
    assert example.fields["Question__c"] == "返品したい"  # the customer's words, not the article's title
    assert (
        example.fields["Article_Id__c"] == "refund" and example.fields["Article_Title__c"] == index.get("refund").title
    )
    assert example.fields["Source__c"] == "Clarify" and example.fields["Status__c"] == "Candidate"
    assert example.fields["Case__r"] == {"LINE_Inquiry_Key__c": chat.state["session"]["case_key"]}
    assert example.key.startswith("clarify:") and len(example.key) <= 80  # Example_Key__c Text(80)


def test_none_of_the_choices_writes_no_candidate_example(index):
    chat = Chat(unsure(index))
    chat.say("返品したい")
    res = chat.tap("bot:none")
    assert messages(res)[0]["text"] == texts("bot_unsolved")
    assert not upserts(res, EXAMPLE)


def test_a_retried_choice_writes_the_same_candidate_record(index):
    chat = Chat(unsure(index))
    chat.say("返品したい")
    before = copy.deepcopy(chat.state)
    tap = chat._event(type="postback", postback={"data": "bot:article:refund"})
    [first] = upserts(chat._apply(tap), EXAMPLE)
    chat.state = before  # the drain died before saving: the same event is applied again
    [again] = upserts(chat._apply(copy.deepcopy(tap)), EXAMPLE)
    assert (again.sobject, again.key, again.fields) == (first.sobject, first.key, first.fields)


def test_not_solved_after_a_menu_choice_turns_that_candidate_into_an_unsolved_one(index):
    chat = Chat(unsure(index))
    chat.say("返品したい")
    [chosen] = upserts(chat.tap("bot:article:refund"), EXAMPLE)
    [unsolved] = upserts(chat.tap("bot:unsolved:refund"), EXAMPLE)
    # the same record (key): the review list never says both "picked" and "did not solve" for these words
    assert unsolved.key == chosen.key
    assert unsolved.fields["Source__c"] == "Unsolved" and unsolved.fields["Question__c"] == "返品したい"
    assert unsolved.fields["Status__c"] == "Candidate"


def test_a_related_article_tap_writes_no_candidate_but_keeps_the_customers_words(index):
    chat = Chat(make(index, answer_threshold=0.2, clarify_threshold=0.2))  # sure enough to answer
    [answer] = messages(chat.say("ポイント"))
    assert quick_data(answer)[0] == "bot:solved:points"
    related, article = "bot:article:points-expire", "points-expire"
    assert related in quick_data(answer)
    res = chat.tap(related)
    assert messages(res)[0]["text"] == index.get(article).answer
    assert not upserts(res, EXAMPLE)
    [example] = upserts(chat.tap(f"bot:unsolved:{article}"), EXAMPLE)
    assert example.fields["Question__c"] == "ポイント" and example.fields["Source__c"] == "Unsolved"
    assert example.key.startswith("unsolved:")


def test_an_older_button_for_an_article_not_in_the_menu_is_not_a_choice(index):
    chat = Chat(unsure(index))
    chat.say("返品したい")
    res = chat.tap("bot:article:ship-fee")  # not offered for 「返品したい」
    assert messages(res)[0]["text"] == index.get("ship-fee").answer
    assert not upserts(res, EXAMPLE)


def test_greetings_are_answered_without_the_index():
    chat = Chat(make(KnowledgeIndex.build([])))
    [msg] = messages(chat.say("こんにちは"))
    assert msg["text"] == texts("bot_greeting")


@pytest.mark.parametrize("how", ["words", "postback"])
def test_asking_for_a_person_inside_hours_queues_the_session(index, how):
    chat = Chat(make(index))
    chat.say("送料はいくらですか")
    res = chat.say("オペレーターと話したい") if how == "words" else chat.tap("bot:human")
    [msg] = messages(res)
    assert msg["text"] == texts("bot_handoff")
    assert chat.state["session"]["status"] == "Queued"
    session_key = chat.state["session"]["key"]
    assert any(u.fields.get("Status__c") == "Queued" and "Queued_At__c" in u.fields for u in upserts(res, SESSION))
    [case] = [u for u in upserts(res, CASE) if "LINE_Handoff_Reason__c" in u.fields]
    assert case.fields["LINE_Handoff_Reason__c"] == "Requested" and "LINE_Follow_Up__c" not in case.fields
    assert res.signals == [
        {
            "kind": "queued",
            "session_key": session_key,
            "case_key": session_key,
            "priority": 0,
            "entitled": False,
            "reason": "Requested",
        }
    ]
    # with an operator now, the bot stays out of it
    assert not messages(chat.say("まだですか"))


def test_a_verified_entitled_customer_is_queued_with_priority(index):
    chat = Chat(make(index))
    chat.say("送料はいくらですか")
    chat._apply(
        chat._event(type="x-connector.identity.linked", data={"contact_id": "003000000000001AAA", "entitled": True})
    )
    res = chat.say("オペレーターと話したい")
    assert res.signals[0]["entitled"] is True


def test_not_solved_records_a_question_example_candidate_and_hands_off(index):
    chat = Chat(make(index))
    chat.say("返品したい")
    article = chat.bot_state["last"]["article"]
    res = chat.tap(f"bot:unsolved:{article}")
    [example] = upserts(res, EXAMPLE)
    assert example.fields["Question__c"] == "返品したい" and example.fields["Article_Id__c"] == article
    assert example.fields["Source__c"] == "Unsolved" and example.fields["Status__c"] == "Candidate"
    assert example.fields["Case__r"] == {"LINE_Inquiry_Key__c": chat.state["session"]["case_key"]}
    assert chat.state["session"]["status"] == "Queued"
    [case] = [u for u in upserts(res, CASE) if "LINE_Handoff_Reason__c" in u.fields]
    assert case.fields["LINE_Handoff_Reason__c"] == "Unsolved"
    assert example.key.startswith("unsolved:") and len(example.key) <= 80  # Example_Key__c Text(80)


def test_not_solved_without_immediate_handoff_counts_as_a_miss(index):
    chat = Chat(make(index, unsolved_hands_off=False, max_unsuccessful=2))
    chat.say("返品したい")
    [msg] = messages(chat.tap("bot:unsolved:return"))
    assert msg["text"] == texts("bot_unsolved") and chat.state["session"]["status"] == "Bot"
    chat.say("返品したい")
    chat.tap("bot:unsolved:return")
    assert chat.state["session"]["status"] == "Queued"


def test_solved_resets_the_unsuccessful_count(index):
    chat = Chat(make(index, max_unsuccessful=2))
    chat.say("今日の天気は？")
    assert chat.bot_state["misses"] == 1
    chat.say("返品したい")
    [msg] = messages(chat.tap("bot:solved:return"))
    assert msg["text"] == texts("bot_solved") and chat.bot_state["misses"] == 0


def test_n_unsuccessful_attempts_hand_off(index):
    chat = Chat(make(index, max_unsuccessful=3))
    for _ in range(2):
        [msg] = messages(chat.say("今日の天気は？"))
        assert msg["text"] == texts("bot_no_match") and chat.state["session"]["status"] == "Bot"
    chat.tap("bot:none")  # "none of these" counts too
    assert chat.state["session"]["status"] == "Queued"
    assert chat.bot_state["misses"] == 0


def test_outside_hours_on_a_japanese_holiday_weekend_says_when_people_are_back(index):
    chat = Chat(make(index, now=FRIDAY_NIGHT))
    chat.say("送料はいくらですか")
    res = chat.tap("bot:human")
    [msg] = messages(res)
    assert "11月24日(火) 10:00" in msg["text"]
    assert msg["text"] == texts("bot_handoff_closed", next_opening="11月24日(火) 10:00")
    assert chat.state["session"]["status"] == "Bot" and not res.signals
    [case] = [u for u in upserts(res, CASE) if "LINE_Handoff_Reason__c" in u.fields]
    assert case.fields["LINE_Follow_Up__c"] is True
    assert chat.bot_state["follow_up"] is True
    # the bot keeps answering
    [answer] = messages(chat.say("返品したい"))
    assert answer["text"] == index.get("return").answer


def test_configured_hours_and_closures_are_used(index):
    hours = {"timezone": "Asia/Tokyo", "weekly": {"tue": ["09:00-12:00"]}, "closures": ["2026-11-24"]}
    chat = Chat(make(index, now=OPEN, business_hours=hours))
    [msg] = messages(chat.say("オペレーターと話したい"))
    assert "12月1日(火) 09:00" in msg["text"]


def test_a_bot_only_channel_never_queues(index):
    chat = Chat(make(index, bot_only=True))
    res = chat.say("オペレーターと話したい")
    assert messages(res)[0]["text"] == texts("bot_handoff_bot_only")
    assert chat.state["session"]["status"] == "Bot"
    assert any(u.fields.get("LINE_Follow_Up__c") for u in upserts(res, CASE))


@pytest.mark.parametrize(
    "message",
    [
        {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        {"type": "image"},
        {"type": "location", "latitude": 35.0, "longitude": 139.0},
    ],
)
def test_non_text_messages_get_a_gentle_request_to_type(index, message):
    chat = Chat(make(index))
    [msg] = messages(chat.send(message))
    assert msg["text"] == texts("bot_non_text") and quick_data(msg) == ["bot:human"]
    assert chat.bot_state["misses"] == 0


def test_other_postbacks_and_stale_articles(index):
    chat = Chat(make(index))
    assert not messages(chat.tap("richmenu:coupon"))  # not the bot's: recorded, not answered
    [msg] = messages(chat.tap("bot:article:gone-article"))  # archived since the choice was offered
    assert msg["text"] == texts("bot_no_match")


def test_messages_respect_line_limits():
    huge = Article("kA2", "巨大" * 30, "質問", "あ" * 9000)
    bot = make(KnowledgeIndex.build([huge]), max_answer_chars=5000)
    [msg] = messages(Chat(bot).tap("bot:article:kA2"))
    assert len(msg["text"]) <= 5000


FEE = {
    "id": "contract-fee",
    "title": "契約中のプランの料金",
    "question": "今のプランの月額はいくら？",
    "answer": "お客様のプランは月額980円です。",
}


def test_an_article_for_verified_customers_is_not_answered_before_a_support_id():
    index = KnowledgeIndex.build([Article.from_dict({**FEE, "verified_only": True})])
    chat = Chat(make(index, answer_threshold=0.0, clarify_threshold=0.0))
    [msg] = messages(chat.say("今のプランの月額はいくら？"))
    assert msg["text"] == texts("support_id_required")
    assert FEE["answer"] not in msg["text"]
    assert quick_data(msg) == ["bot:human"]


def test_a_verified_customer_gets_the_article_for_verified_customers():
    index = KnowledgeIndex.build([Article.from_dict({**FEE, "verified_only": True})])
    chat = Chat(make(index, answer_threshold=0.0, clarify_threshold=0.0))
    chat.say("こんにちは")
    chat.state["friend"]["verified"] = True  # what a support ID or an account link leaves
    [msg] = messages(chat.say("今のプランの月額はいくら？"))
    assert msg["text"] == FEE["answer"]


def test_a_verified_only_article_survives_the_index_round_trip():
    article = Article.from_dict({**FEE, "verified_only": True})
    assert Article.from_dict(article.to_dict()).verified_only is True
    assert Article.from_dict(FEE).verified_only is False


def test_picking_an_article_for_verified_customers_before_a_support_id_is_still_a_candidate():
    index = KnowledgeIndex.build([Article.from_dict({**FEE, "verified_only": True})])
    chat = Chat(make(index, answer_threshold=1.0, clarify_threshold=0.0))  # never sure: always a menu
    chat.say("月額いくら")
    res = chat.tap("bot:article:contract-fee")
    assert messages(res)[0]["text"] == texts("support_id_required")
    [example] = upserts(res, EXAMPLE)
    assert example.fields["Question__c"] == "月額いくら" and example.fields["Source__c"] == "Clarify"
