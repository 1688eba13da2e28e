"""Queue relief: when a customer's handoff stays with the bot, and what they are told."""

from __future__ import annotations

import pytest

from connector.config import BotSettings
from connector.domain.bot import BotResponder
from connector.domain.knowledge import Answerer, KnowledgeIndex
from connector.domain.queue_relief import NOBODY_AVAILABLE, ReliefRules, relieve, wait_for_newcomer
from connector.domain.records import CASE
from connector.domain.routing import Operator, Presence, QueuedSession, RoutingState
from tests.domain.test_bot import OPEN, Chat, messages, texts, upserts

LIMIT_S = 10 * 60


def bot(relief: ReliefRules | None, wait_s: int | None, calls: list | None = None) -> BotResponder:
    s = BotSettings(enabled=True)

    def queue_wait():
        if calls is not None:
            calls.append(1)
        return wait_s

    return BotResponder(
        Answerer(KnowledgeIndex.build([])), s.hours(), s, texts, lambda: OPEN, relief=relief, queue_wait=queue_wait
    )


def ask_for_a_person(relief, wait_s, entitled=False):
    chat = Chat(bot(relief, wait_s))
    chat.say("こんにちは")
    chat.state["friend"]["entitled"] = entitled
    return chat, chat.say("オペレーターと話したい")


def test_a_wait_at_the_limit_still_queues():
    chat, res = ask_for_a_person(ReliefRules(max_wait_s=LIMIT_S), LIMIT_S)
    assert chat.state["session"]["status"] == "Queued"
    assert messages(res)[0]["text"] == texts("bot_handoff")


def test_a_wait_over_the_limit_keeps_the_chat_with_the_bot_and_says_how_long_it_would_be():
    chat, res = ask_for_a_person(ReliefRules(max_wait_s=LIMIT_S), LIMIT_S + 1)
    assert chat.state["session"]["status"] == "Bot"
    assert res.signals == []
    assert messages(res)[0]["text"] == texts("bot_relief_wait", minutes=11)
    [case] = [u for u in upserts(res, CASE) if "LINE_Handoff_Reason__c" in u.fields]
    assert case.fields["LINE_Follow_Up__c"] is True and case.fields["LINE_Handoff_Reason__c"] == "Requested"


def test_with_a_limit_and_nobody_available_the_bot_says_so():
    chat, res = ask_for_a_person(ReliefRules(max_wait_s=LIMIT_S), None)
    assert chat.state["session"]["status"] == "Bot"
    assert messages(res)[0]["text"] == texts("bot_relief_no_operator")


def test_entitled_customers_keep_their_place_whatever_the_wait():
    chat, res = ask_for_a_person(ReliefRules(max_wait_s=LIMIT_S), 3 * LIMIT_S, entitled=True)
    assert chat.state["session"]["status"] == "Queued"
    assert res.signals[0]["entitled"] is True  # routing gives them the entitled priority


def test_operator_chat_for_entitled_only_keeps_the_others_with_the_bot():
    chat, res = ask_for_a_person(ReliefRules(entitled_only=True), 0)
    assert chat.state["session"]["status"] == "Bot"
    assert messages(res)[0]["text"] == texts("bot_relief_not_entitled")
    assert any(u.fields.get("LINE_Follow_Up__c") for u in upserts(res, CASE))
    chat, _ = ask_for_a_person(ReliefRules(entitled_only=True), 0, entitled=True)
    assert chat.state["session"]["status"] == "Queued"


def test_without_relief_the_queue_is_never_read():
    calls: list = []
    chat = Chat(bot(None, 99 * LIMIT_S, calls))
    chat.say("オペレーターと話したい")
    assert chat.state["session"]["status"] == "Queued" and calls == []


@pytest.mark.parametrize(
    ("minutes", "chat_for", "rules"),
    [
        (None, "everyone", None),
        (10, "everyone", ReliefRules(600.0, False)),
        (None, "entitled_only", ReliefRules(None, True)),
    ],
)
def test_configuration_gives_the_rules(minutes, chat_for, rules):
    assert BotSettings(queue_relief_max_wait_minutes=minutes, operator_chat_for=chat_for).relief() == rules


def test_relieve_only_asks_for_the_wait_when_a_limit_applies():
    def never():
        raise AssertionError("wait read")

    assert relieve(ReliefRules(entitled_only=True), False, never)[0] == "not_entitled"
    assert relieve(ReliefRules(max_wait_s=60), True, never) is None
    assert relieve(ReliefRules(max_wait_s=60), False, lambda: None) == (NOBODY_AVAILABLE, None)


def test_a_newcomers_wait_counts_everyone_queued_ahead_and_the_free_slots():
    ops = {
        "005A": Operator("005A", Presence.AVAILABLE, capacity=2, active=frozenset({"s1", "s2"})),
        "005B": Operator("005B", Presence.AVAILABLE, capacity=1, active=frozenset()),
        "005C": Operator("005C", Presence.OFFLINE, capacity=5),
    }
    queue = tuple(QueuedSession(f"q{i}", "1000000001", queued_at=float(i)) for i in range(4))
    state = RoutingState(operators=ops, queue=queue)
    # 4 ahead, 1 free slot of 3: needs 4 more slots at 3 per 300 s -> 400 s
    assert wait_for_newcomer(state, 300.0) == 400
    assert wait_for_newcomer(RoutingState(operators={}, queue=()), 300.0) is None
