"""Knowledge sync and the bot in the drain, against the in-process sandbox (real HTTP, real Redis).

Uses Redis database 14 (not the shared test database) so it can run beside other suites.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from connector.config import load_config
from connector.domain import events as ev
from connector.jobs import knowledge
from connector.jobs.inbound import Drainer
from connector.local.sandbox.salesforce_store import format_datetime
from connector.runtime import Runtime
from tests import stack
from tests.conftest import TEST_REDIS_URL, fresh_redis
from tests.stack import CHANNEL

REDIS_URL = re.sub(r"/\d+$", "/14", TEST_REDIS_URL)
USER = "U" + "b" * 32
OLD = format_datetime(datetime.now(UTC) - timedelta(days=3))


@pytest.fixture(scope="module")
def strict_sandbox():
    with stack.start_sandbox(channel_secret="sec", strict=True) as sb:
        yield sb


@pytest.fixture(scope="module")
def lenient_sandbox():
    with stack.start_sandbox(channel_secret="sec", strict=False) as sb:
        yield sb


@pytest.fixture
def r():
    yield from fresh_redis(REDIS_URL)


def runtime(sb, *, bot: dict | None = None, knowledge_settings: dict | None = None) -> Runtime:
    environ = stack.relay_environ(REDIS_URL, channel_secret="sec")
    channel = stack.channel_settings(
        bot={"enabled": True, "business_hours": stack.always_open(japanese_holidays=False), **(bot or {})}
    )
    data = {
        "line": stack.line_settings(sb, channel, timeout_seconds=3),
        "salesforce": stack.salesforce_settings(sb, timeout_seconds=3),
        "knowledge": knowledge_settings or {},
    }
    return Runtime(load_config(data=data, environ=environ))


@pytest.fixture
def sb(strict_sandbox, r):
    strict_sandbox.reset()
    strict_sandbox.line.add_user(CHANNEL, USER, "テスト 太郎")
    return strict_sandbox


ARTICLES = {
    "kA0000000000001AAA": (
        "返品・交換について",
        "商品到着後8日以内であれば、マイページの注文履歴から返品を申請できます。",
        "returns",
    ),
    "kA0000000000002AAA": ("配送状況の確認", "発送完了メールのお問い合わせ番号で配送状況を確認できます。", "tracking"),
    "kA0000000000003AAA": ("ポイントの有効期限", "ポイントの有効期限は最終購入日から1年間です。", "points"),
}


def seed(sb, article_id, title, summary, url_name, *, status="Online", language="ja", modified=OLD, **extra) -> str:
    return sb.salesforce.insert(
        "Knowledge__kav",
        {
            "KnowledgeArticleId": article_id,
            "Title": title,
            "Summary": summary,
            "UrlName": url_name,
            "Language": language,
            "PublishStatus": status,
            "LastModifiedDate": modified,
            **extra,
        },
    )


def seed_all(sb) -> dict[str, str]:
    return {aid: seed(sb, aid, *values) for aid, values in ARTICLES.items()}


def index_of(rt):
    return rt.knowledge_store.load_index("ja")[0]


# -- sync ------------------------------------------------------------------------------------------
def test_first_sync_is_full_and_later_ones_fetch_only_what_changed(sb):
    versions = seed_all(sb)
    rt = runtime(sb)
    [stats] = knowledge.run_sync(rt).values()
    assert stats["full"] and stats["upserted"] == 3 and stats["articles"] == 3
    assert sorted(a.id for a in index_of(rt).articles) == sorted(ARTICLES)
    assert index_of(rt).get("kA0000000000001AAA").answer == ARTICLES["kA0000000000001AAA"][1]

    # nothing changed: what sits at the high-water mark is read again (>=), but nothing is re-indexed
    [stats] = knowledge.run_sync(rt).values()
    assert not stats["full"] and stats["upserted"] == 0 and not stats["changed"]

    # one edited, one new: only those two are re-indexed
    sb.salesforce.update("Knowledge__kav", versions["kA0000000000002AAA"], {"Title": "配送状況・追跡番号の確認"})
    seed(
        sb,
        "kA0000000000004AAA",
        "領収書の発行",
        "領収書はマイページから発行できます。",
        "receipt",
        modified=format_datetime(datetime.now(UTC)),
    )
    version_before = rt.redis.get(rt.keys.knowledge("ja", "version"))
    [stats] = knowledge.run_sync(rt).values()
    assert not stats["full"] and stats["upserted"] == 2 and stats["articles"] == 4
    assert rt.redis.get(rt.keys.knowledge("ja", "version")) != version_before
    assert index_of(rt).get("kA0000000000002AAA").title == "配送状況・追跡番号の確認"

    # the mark moved: the old articles are no longer read; the two recent ones are (the overlap
    # window, for late commits), but unchanged articles are not re-indexed
    [stats] = knowledge.run_sync(rt).values()
    assert stats["fetched"] == 2 and stats["upserted"] == 0 and not stats["changed"]
    assert rt.redis.get(rt.keys.knowledge("ja", "version")) is not None


def test_configured_synonym_packs_reach_the_index_and_a_change_rebuilds_it(sb):
    seed_all(sb)
    rt = runtime(sb)
    knowledge.run_sync(rt)
    assert not index_of(rt).search("送り返したい", 1)  # no pack by default: 「送り返」 is not 返品
    shop = runtime(sb, knowledge_settings={"synonym_packs": ["shop"], "synonyms": {"返品": ["もどしたい"]}})
    [stats] = knowledge.run_sync(shop).values()
    assert stats["full"] and stats["changed"]
    index = index_of(shop)
    assert index.search("送り返したい", 1)[0].article_id == "kA0000000000001AAA"
    assert index.search("もどしたい", 1)[0].article_id == "kA0000000000001AAA"
    [stats] = knowledge.run_sync(shop).values()
    assert not stats["full"] and not stats["changed"]


def test_an_unknown_synonym_pack_is_a_configuration_error(sb):
    with pytest.raises(Exception, match="unknown synonym pack"):
        runtime(sb, knowledge_settings={"synonym_packs": ["airline"]})


def test_archived_articles_are_removed_and_a_new_version_replaces_the_old(sb):
    versions = seed_all(sb)
    rt = runtime(sb)
    knowledge.run_sync(rt)
    sb.salesforce.update("Knowledge__kav", versions["kA0000000000003AAA"], {"PublishStatus": "Archived"})
    # article 1 gets a new published version: the old one is archived at the same time
    seed(
        sb,
        "kA0000000000001AAA",
        "返品・交換について",
        "到着後14日以内なら返品できます。",
        "returns",
        modified=format_datetime(datetime.now(UTC)),
    )
    sb.salesforce.update("Knowledge__kav", versions["kA0000000000001AAA"], {"PublishStatus": "Archived"})
    [stats] = knowledge.run_sync(rt).values()
    assert stats["removed"] == 1 and stats["articles"] == 2
    index = index_of(rt)
    assert "kA0000000000003AAA" not in index
    assert index.get("kA0000000000001AAA").answer == "到着後14日以内なら返品できます。"


def test_a_full_sync_drops_articles_that_are_no_longer_online_for_any_reason(sb):
    versions = seed_all(sb)
    rt = runtime(sb)
    knowledge.run_sync(rt)
    # moved to another language: invisible to an incremental sync of "ja"
    sb.salesforce.update("Knowledge__kav", versions["kA0000000000002AAA"], {"Language": "en_US"})
    [stats] = knowledge.run_sync(rt).values()
    assert "kA0000000000002AAA" in index_of(rt)
    [stats] = knowledge.run_sync(rt, full=True).values()
    assert stats["full"] and stats["removed"] == 1 and "kA0000000000002AAA" not in index_of(rt)


def test_channel_language_maps_to_the_knowledge_language_code(sb):
    seed(sb, "kA0000000000009AAA", "Returns", "Return within 8 days.", "returns-en", language="en_US")
    rt = runtime(sb, knowledge_settings={"languages": {"ja": "en_US"}})
    [stats] = knowledge.run_sync(rt).values()
    assert stats["articles"] == 1


def test_field_mapping_reads_the_configured_fields_and_strips_html(lenient_sandbox, r):
    sb = lenient_sandbox
    sb.reset()
    seed(
        sb,
        "kA0000000000005AAA",
        "配送料",
        "(summary not used)",
        "shipping-fee",
        Question__c="送料はいくらですか？",
        Answer__c="<p>全国一律550円です。</p><p>5,000円以上で&nbsp;無料。</p>",
        Body__c="<ul><li>離島は別料金</li></ul>",
        Public_URL__c="https://help.example.com/shipping-fee",
    )
    rt = runtime(
        sb,
        knowledge_settings={
            "fields": {"question": "Question__c", "answer": "Answer__c", "body": "Body__c", "url": "Public_URL__c"}
        },
    )
    knowledge.run_sync(rt)
    a = index_of(rt).get("kA0000000000005AAA")
    assert a.title == "配送料" and a.question == "送料はいくらですか？"
    assert a.answer == "全国一律550円です。\n5,000円以上で 無料。"
    assert a.body == "離島は別料金" and a.url == "https://help.example.com/shipping-fee"


def test_an_article_marked_for_verified_customers_is_synced_as_such(lenient_sandbox, r):
    sb = lenient_sandbox
    sb.reset()
    seed(sb, "kA0000000000006AAA", "ご契約プランの料金", "月額980円です。", "plan-fee", Verified_Only__c=True)
    seed(sb, "kA0000000000007AAA", "送料", "全国一律550円です。", "shipping-fee", Verified_Only__c=False)
    rt = runtime(sb, knowledge_settings={"fields": {"verified_only": "Verified_Only__c"}})
    knowledge.run_sync(rt)
    assert index_of(rt).get("kA0000000000006AAA").verified_only is True
    assert index_of(rt).get("kA0000000000007AAA").verified_only is False


def test_approved_question_examples_feed_the_index_and_leave_it_when_rejected(sb):
    seed_all(sb)
    rt = runtime(sb)
    aid = "kA0000000000002AAA"
    example = sb.salesforce.insert(
        "LINE_Question_Example__c",
        {"Example_Key__c": "e1", "Question__c": "荷物どこ？", "Article_Id__c": aid, "Status__c": "Approved"},
    )
    sb.salesforce.insert(
        "LINE_Question_Example__c",
        {"Example_Key__c": "e2", "Question__c": "まだ見てない候補", "Article_Id__c": aid, "Status__c": "Candidate"},
    )
    knowledge.run_sync(rt)
    assert index_of(rt).get(aid).examples == ("荷物どこ？",)
    sb.salesforce.update("LINE_Question_Example__c", example, {"Status__c": "Rejected"})
    [stats] = knowledge.run_sync(rt).values()
    assert stats["examples_changed"] == 1 and stats["upserted"] == 0 and index_of(rt).get(aid).examples == ()
    # an approved example for an article that did not change is picked up too
    sb.salesforce.insert(
        "LINE_Question_Example__c",
        {
            "Example_Key__c": "e3",
            "Question__c": "ポイントいつ消える",
            "Article_Id__c": "kA0000000000003AAA",
            "Status__c": "Approved",
        },
    )
    [stats] = knowledge.run_sync(rt).values()
    assert index_of(rt).get("kA0000000000003AAA").examples == ("ポイントいつ消える",)


def test_one_sync_at_a_time_and_nothing_to_sync_without_a_bot(sb):
    rt = runtime(sb)
    rt.redis.set(rt.keys.knowledge("ja", "lock"), "someone-else")
    assert knowledge.run_sync(rt) == {"ja": {"language": "ja", "skipped": True}}
    assert knowledge.run_sync(runtime(sb, bot={"enabled": False})) == {}


def test_the_worker_schedules_one_sync_per_interval(sb):
    rt = runtime(sb, knowledge_settings={"sync_interval_seconds": 300})
    assert knowledge.maybe_schedule(rt) is True
    assert knowledge.maybe_schedule(rt) is False
    assert rt.queue.count == 1


# -- the bot in the drain --------------------------------------------------------------------------
def send(rt, sb, message: dict | None = None, *, postback: str | None = None) -> dict:
    if postback:
        event = sb.line.send_event(
            CHANNEL,
            {"type": "postback", "postback": {"data": postback}, "source": {"type": "user", "userId": USER}},
            deliver=False,
        )
    else:
        event = sb.line.send_user_message(CHANNEL, USER, message, deliver=False)
    stack.store_event(rt, event)
    return event


def salesforce_requests(sb) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in sb.request_log("salesforce") if e.get("counted")]


def test_answering_a_message_costs_no_salesforce_call(sb):
    seed_all(sb)
    rt = runtime(sb)
    knowledge.run_sync(rt)
    send(rt, sb, {"type": "text", "text": "こんにちは"})
    Drainer(rt).run()  # opens the session (and logs in)
    calls, log_len = sb.salesforce.api_calls, len(salesforce_requests(sb))

    send(rt, sb, {"type": "text", "text": "返品したいです"})
    assert Drainer(rt).run() == 1
    assert sb.salesforce.api_calls - calls == 1  # the one write that records both messages
    assert [c.rsplit("/", 1)[-1] for c in salesforce_requests(sb)[log_len:]] == ["composite"]

    [answer] = [
        m for m in sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Bot") if m.get("Knowledge_Article_Id__c")
    ]
    assert answer["Knowledge_Article_Id__c"] == "kA0000000000001AAA"
    assert answer["Text__c"] == ARTICLES["kA0000000000001AAA"][1] and answer["Delivery_Status__c"] == "Sent"
    delivered = sb.line.delivered(user_id=USER)[-1]["messages"][0]
    labels = [i["action"]["label"] for i in delivered["quickReply"]["items"]]
    assert labels[:3] == ["解決した", "解決しない", "オペレーターと話す"]
    assert sb.line.loading and sb.line.loading[-1]["chat_id"] == USER


def test_not_solved_hands_off_and_the_case_shows_it_with_the_whole_transcript(sb):
    seed_all(sb)
    rt = runtime(sb)
    knowledge.run_sync(rt)
    send(rt, sb, {"type": "text", "text": "返品したいです"})
    Drainer(rt).run()
    send(rt, sb, postback="bot:unsolved:kA0000000000001AAA")
    Drainer(rt).run()
    [session] = sb.salesforce.records("LINE_Chat_Session__c")
    assert session["Status__c"] == "Queued" and session["Queued_At__c"]
    [case] = sb.salesforce.records("Case")
    assert case["Status"] == "New" and case["LINE_Handoff_Reason__c"] == "Unsolved" and case["LINE_Handoff_At__c"]
    assert not case["LINE_Follow_Up__c"]
    [example] = sb.salesforce.records("LINE_Question_Example__c")
    assert example["Question__c"] == "返品したいです" and example["Status__c"] == "Candidate"
    assert example["Source__c"] == "Unsolved" and example["Case__c"] == case["Id"]
    directions = [
        m["Direction__c"] for m in sorted(sb.salesforce.records("LINE_Chat_Message__c"), key=lambda m: m["Id"])
    ]
    assert directions == ["Inbound", "Bot", "Inbound", "Bot"]
    assert all(m["Chat_Session__c"] == session["Id"] for m in sb.salesforce.records("LINE_Chat_Message__c"))


def test_a_choice_from_the_clarify_menu_is_answered_recorded_and_becomes_a_candidate_example(sb):
    seed_all(sb)
    rt = runtime(sb, bot={"answer_threshold": 1.0, "clarify_threshold": 0.0})  # never sure: always a menu
    knowledge.run_sync(rt)
    send(rt, sb, {"type": "text", "text": "返品したいです"})
    Drainer(rt).run()
    menu = sb.line.delivered(user_id=USER)[-1]["messages"][0]
    offered = [i["action"]["data"] for i in menu["quickReply"]["items"]]
    assert "bot:article:kA0000000000002AAA" in offered and offered[-2:] == ["bot:none", "bot:human"]
    tap = send(rt, sb, postback="bot:article:kA0000000000002AAA")
    Drainer(rt).run()
    rt.store.ingest([(CHANNEL, ev.event_id(tap), ev.conversation_id(CHANNEL, tap), tap)])  # LINE redelivers it
    Drainer(rt).run()
    assert sb.line.delivered(user_id=USER)[-1]["messages"][0]["text"] == ARTICLES["kA0000000000002AAA"][1]
    [answer] = [
        m for m in sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Bot") if m.get("Knowledge_Article_Id__c")
    ]
    assert answer["Knowledge_Article_Id__c"] == "kA0000000000002AAA"
    [case] = sb.salesforce.records("Case")
    [example] = sb.salesforce.records("LINE_Question_Example__c")
    assert example["Question__c"] == "返品したいです" and example["Article_Id__c"] == "kA0000000000002AAA"
    assert example["Source__c"] == "Clarify" and example["Status__c"] == "Candidate"
    assert example["Case__c"] == case["Id"] and example["Example_Key__c"].startswith("clarify:")


def test_outside_hours_the_case_is_marked_for_follow_up_and_the_bot_keeps_the_chat(sb):
    seed_all(sb)
    rt = runtime(sb, bot={"business_hours": {"weekly": {}}})  # never open
    knowledge.run_sync(rt)
    send(rt, sb, {"type": "text", "text": "オペレーターと話したい"})
    Drainer(rt).run()
    [session] = sb.salesforce.records("LINE_Chat_Session__c")
    [case] = sb.salesforce.records("Case")
    assert session["Status__c"] == "Bot" and case["LINE_Follow_Up__c"] is True
    assert "未定" in sb.line.delivered(user_id=USER)[-1]["messages"][0]["text"]


def test_with_the_bot_disabled_the_welcome_text_remains(sb):
    rt = runtime(sb, bot={"enabled": False})
    send(rt, sb, {"type": "text", "text": "返品したいです"})
    Drainer(rt).run()
    assert sb.line.delivered_texts(USER) == ["お問い合わせありがとうございます。内容を確認し、順番にご返信いたします。"]
    assert not sb.line.loading


def test_learn_from_case_turns_an_article_an_operator_sent_into_a_candidate(sb):
    seed_all(sb)
    rt = runtime(sb)
    knowledge.run_sync(rt)
    send(rt, sb, {"type": "text", "text": "こんにちは"})
    send(rt, sb, {"type": "text", "text": "ポイントっていつまで使えるの"})
    Drainer(rt).run()
    [session] = sb.salesforce.records("LINE_Chat_Session__c")
    title, summary, _ = ARTICLES["kA0000000000003AAA"]
    sb.salesforce.insert(
        "LINE_Chat_Message__c",
        {
            "Message_Key__c": "op:1",
            "Chat_Session__c": session["Id"],
            "Direction__c": "Operator",
            "Type__c": "text",
            "Text__c": f"{title}\n{summary}",
            "Sent_At__c": format_datetime(datetime.now(UTC) + timedelta(minutes=1)),
        },
    )
    assert knowledge.run_learn(rt, session["Session_Key__c"]) == 1
    assert knowledge.run_learn(rt, session["Session_Key__c"]) == 0  # idempotent: already a candidate
    [example] = sb.salesforce.find("LINE_Question_Example__c", Source__c="Operator")
    assert example["Question__c"] == "ポイントっていつまで使えるの"
    assert example["Article_Id__c"] == "kA0000000000003AAA" and example["Status__c"] == "Candidate"


def test_a_starting_worker_loads_the_index_before_the_first_customer_asks(sb):
    from connector.jobs import bot

    seed_all(sb)
    rt = runtime(sb)
    knowledge.run_sync(rt)
    rt.knowledge_store._copies.clear()
    bot.warm(rt)
    version, index, _ = rt.knowledge_store._copies["ja"]
    assert version == rt.redis.get(rt.keys.knowledge("ja", "version")) and {a.id for a in index.articles} == set(
        ARTICLES
    )


# -- semantic channel ------------------------------------------------------------------------------
def test_the_sync_stores_article_vectors_so_workers_never_embed_articles(sb):
    from connector.gateways.embedder import get_encoder

    seed_all(sb)
    rt = runtime(sb)
    knowledge.run_sync(rt)
    state = json.loads(rt.redis.get(rt.keys.knowledge("ja")))["index"]
    assert state["encoder"] == get_encoder().name and set(state["vectors"]) == set(ARTICLES)

    class Counting:
        name = get_encoder().name

        def __init__(self):
            self.passages_embedded = 0

        def queries(self, texts):
            return get_encoder().queries(texts)

        def passages(self, texts):
            self.passages_embedded += len(texts)
            return get_encoder().passages(texts)

    worker_encoder = Counting()
    index, _ = rt.knowledge_store.load_index("ja", worker_encoder)
    assert index.search("返品したい", 1)
    assert worker_encoder.passages_embedded == 0


def test_without_the_semantic_channel_the_state_has_no_vectors(sb):
    seed_all(sb)
    rt = runtime(sb, knowledge_settings={"semantic": False})
    knowledge.run_sync(rt)
    state = json.loads(rt.redis.get(rt.keys.knowledge("ja")))["index"]
    assert "vectors" not in state and len(state["articles"]) == len(ARTICLES)
