"""The satisfaction survey after a chat: when it is sent, and what each answer does in Salesforce."""

from __future__ import annotations

import pytest

from connector.domain import conversation
from connector.domain.records import CASE, EXAMPLE, MESSAGE, SESSION, SessionStatus
from connector.domain.survey import SurveyRules
from connector.i18n import DEFAULT_TEXTS

CH = "1000000001"
USER = "U" + "b" * 32
T0 = 1_700_000_000_000
HOUR = 3600 * 1000
JA = DEFAULT_TEXTS["ja"]


def text(key: str, **values) -> str:
    return JA[key].format(**values)


def ctx(rules: SurveyRules | None = SurveyRules(), responder=None) -> conversation.Context:
    return conversation.Context(
        channel_id=CH, text=text, profile={"displayName": "佐藤"}, survey=rules, responder=responder
    )


def line_event(n: int, ts: int, type_: str = "message", **extra) -> dict:
    e = {
        "type": type_,
        "mode": "active",
        "timestamp": ts,
        "webhookEventId": f"EV{n:024d}",
        "replyToken": f"rt{n}",
        "source": {"type": "user", "userId": USER},
    }
    if type_ == "message":
        e["message"] = extra.pop("message", {"id": f"7{n:017d}", "type": "text", "text": "届きません"})
    e.update(extra)
    return e


def internal(n: int, name: str, ts: int, **data) -> dict:
    return {
        "type": f"x-connector.{name}",
        "webhookEventId": f"x{n:024d}",
        "timestamp": ts,
        "source": {"type": "user", "userId": USER},
        "mode": "active",
        "data": data,
    }


def tap(n: int, ts: int, data: str) -> dict:
    return line_event(n, ts, "postback", postback={"data": data})


def closed_by_operator(rules=SurveyRules(), close_applied_ms: int | None = None, state=None):
    """A chat an operator took and closed at T0 + 10 min; returns (state, the close's result)."""
    r = conversation.apply(state, line_event(1, T0), ctx(rules))
    key = r.state["session"]["key"]
    r = conversation.apply(r.state, internal(2, "session.handoff", T0 + 1000, session_key=key), ctx(rules))
    r = conversation.apply(
        r.state, internal(3, "session.assigned", T0 + 2000, session_key=key, operator_id="005OP"), ctx(rules)
    )
    closed_ms = T0 + 10 * 60_000
    event = internal(
        4, "session.closed", close_applied_ms or closed_ms, session_key=key, closed_by="005OP", closed_ms=closed_ms
    )
    return conversation.apply(r.state, event, ctx(rules))


def score_items(res) -> list[str]:
    return [i["action"]["data"] for m in res.replies[-1].messages for i in (m.get("quickReply") or {}).get("items", [])]


def writes(res, sobject: str) -> dict:
    out: dict = {}
    for u in res.upserts:
        if u.sobject == sobject:
            out.setdefault(u.key, {}).update(u.fields)
    return out


def test_closing_a_chat_sends_the_closing_text_and_the_survey_in_one_push():
    res = closed_by_operator()
    [push] = res.replies
    assert [m["text"] for m in push.messages] == [JA["session_closed"], JA["survey_question"]]
    key = res.state["session"]["key"]
    assert score_items(res) == [f"survey:score:{n}:{key}" for n in (5, 4, 3, 2, 1)]
    assert push.record_keys == [f"sys:close:x{4:024d}", f"sys:survey:x{4:024d}"]
    assert "Survey_Sent_At__c" in writes(res, SESSION)[key]


def test_three_point_scale_offers_satisfied_neutral_unsatisfied():
    res = closed_by_operator(SurveyRules(scale="three_point"))
    labels = [i["action"]["label"] for i in res.replies[-1].messages[-1]["quickReply"]["items"]]
    assert labels == ["満足", "普通", "不満"]


def test_no_survey_when_the_channel_has_it_off():
    res = closed_by_operator(rules=None)
    assert [m["text"] for m in res.replies[0].messages] == [JA["session_closed"]]
    assert "survey" not in res.state


def test_no_survey_for_a_friend_who_unfollowed_or_blocked():
    r = conversation.apply(None, line_event(1, T0), ctx())
    key = r.state["session"]["key"]
    r = conversation.apply(r.state, line_event(2, T0 + 1000, "unfollow"), ctx())
    res = conversation.apply(r.state, internal(3, "session.closed", T0 + 2000, session_key=key), ctx())
    assert all(m["text"] != JA["survey_question"] for rep in res.replies for m in rep.messages)
    assert "unfollowed or blocked" in res.note


def test_no_survey_when_the_close_is_applied_after_the_window():
    late = T0 + 10 * 60_000 + 25 * HOUR  # e.g. replayed a day later
    res = closed_by_operator(close_applied_ms=late)
    assert [m["text"] for m in res.replies[0].messages] == [JA["session_closed"]]
    assert "window passed" in res.note


def test_a_session_gets_its_survey_once():
    first = closed_by_operator()
    key = first.state["session"]["key"]
    again = conversation.apply(first.state, internal(5, "session.closed", T0 + HOUR, session_key=key), ctx())
    assert again.replies == [] and again.upserts == []


def test_a_score_goes_to_the_session_and_the_case_and_asks_for_a_comment():
    closed = closed_by_operator()
    key = closed.state["session"]["key"]
    res = conversation.apply(closed.state, tap(5, T0 + HOUR, f"survey:score:4:{key}"), ctx())
    session = writes(res, SESSION)[key]
    assert session["Survey_Score__c"] == 4 and session["Survey_Late__c"] is False
    assert session["Survey_Unsatisfied__c"] is False
    assert writes(res, CASE)[key]["LINE_Survey_Score__c"] == 4
    assert res.replies[0].messages[0]["text"] == JA["survey_comment"]
    assert res.replies[0].reply_token == "rt5"
    assert res.state["session"]["key"] == key  # the answer opened no new session


def test_the_comment_is_the_next_text_and_is_thanked():
    closed = closed_by_operator()
    key = closed.state["session"]["key"]
    scored = conversation.apply(closed.state, tap(5, T0 + HOUR, f"survey:score:5:{key}"), ctx())
    comment = {"id": "800", "type": "text", "text": "丁寧に対応してもらえました"}
    res = conversation.apply(scored.state, line_event(6, T0 + HOUR + 60_000, message=comment), ctx())
    assert writes(res, SESSION)[key]["Survey_Comment__c"] == "丁寧に対応してもらえました"
    assert writes(res, CASE)[key]["LINE_Survey_Comment__c"] == "丁寧に対応してもらえました"
    assert writes(res, MESSAGE)["800"]["Chat_Session__r"] == {"Session_Key__c": key}
    assert res.replies[0].messages[0]["text"] == JA["survey_thanks"]
    # ... and the customer's next message is a new inquiry again
    after = conversation.apply(res.state, line_event(7, T0 + 2 * HOUR), ctx())
    assert after.state["session"]["key"] != key


def test_skip_thanks_and_records_no_comment():
    closed = closed_by_operator()
    key = closed.state["session"]["key"]
    scored = conversation.apply(closed.state, tap(5, T0 + HOUR, f"survey:score:3:{key}"), ctx())
    res = conversation.apply(scored.state, tap(6, T0 + HOUR + 1, f"survey:skip:{key}"), ctx())
    assert writes(res, SESSION) == {} and writes(res, CASE) == {}
    assert res.replies[0].messages[0]["text"] == JA["survey_thanks"]


def test_without_a_comment_question_the_score_is_thanked_at_once():
    closed = closed_by_operator(SurveyRules(ask_comment=False))
    key = closed.state["session"]["key"]
    res = conversation.apply(
        closed.state, tap(5, T0 + HOUR, f"survey:score:5:{key}"), ctx(SurveyRules(ask_comment=False))
    )
    assert res.replies[0].messages[0]["text"] == JA["survey_thanks"]


def test_an_answer_after_the_window_is_recorded_as_late():
    closed = closed_by_operator()
    key = closed.state["session"]["key"]
    res = conversation.apply(closed.state, tap(5, T0 + 30 * HOUR, f"survey:score:5:{key}"), ctx())
    assert writes(res, SESSION)[key]["Survey_Score__c"] == 5
    assert writes(res, SESSION)[key]["Survey_Late__c"] is True
    assert res.replies[0].messages[0]["text"] == JA["survey_thanks"]  # no comment asked that late


def test_a_second_answer_changes_nothing():
    closed = closed_by_operator()
    key = closed.state["session"]["key"]
    first = conversation.apply(closed.state, tap(5, T0 + HOUR, f"survey:score:5:{key}"), ctx())
    second = conversation.apply(first.state, tap(6, T0 + HOUR + 5, f"survey:score:1:{key}"), ctx())
    assert second.upserts == [] and second.replies == []
    assert second.state["survey"]["score"] == 5


def test_an_answer_to_an_older_sessions_survey_changes_nothing():
    closed = closed_by_operator()
    res = conversation.apply(closed.state, tap(5, T0 + HOUR, f"survey:score:1:{CH}:{USER}:EVold"), ctx())
    assert res.upserts == [] and res.replies == []


@pytest.mark.parametrize(("score", "flagged"), [(1, True), (2, True), (3, False), (5, False)])
def test_a_score_at_or_below_the_limit_is_flagged_on_session_and_case(score, flagged):
    closed = closed_by_operator()
    key = closed.state["session"]["key"]
    res = conversation.apply(closed.state, tap(5, T0 + HOUR, f"survey:score:{score}:{key}"), ctx())
    assert writes(res, SESSION)[key]["Survey_Unsatisfied__c"] is flagged
    assert writes(res, CASE)[key]["LINE_Survey_Unsatisfied__c"] is flagged


def test_on_the_three_point_scale_only_unsatisfied_is_flagged():
    rules = SurveyRules(scale="three_point")
    closed = closed_by_operator(rules)
    key = closed.state["session"]["key"]
    neutral = conversation.apply(closed.state, tap(5, T0 + HOUR, f"survey:score:2:{key}"), ctx(rules))
    assert writes(neutral, SESSION)[key]["Survey_Unsatisfied__c"] is False


def test_an_operator_chat_rated_unsatisfied_is_no_learning_candidate():
    closed = closed_by_operator()
    key = closed.state["session"]["key"]
    res = conversation.apply(closed.state, tap(5, T0 + HOUR, f"survey:score:1:{key}"), ctx())
    assert writes(res, EXAMPLE) == {}


# --------------------------------------------------------------------------- the bot's 「解決した」
class SolvingBot:
    """A responder that answered with article kA0 and now hears "solved"."""

    def __call__(self, state, event, opened):
        if event.get("type") == "postback":
            return conversation.Turn(
                [{"type": "text", "text": JA["bot_solved"]}],
                solved={"article": "kA0000000000001", "question": "送料はいくらですか"},
            )
        return conversation.Turn([{"type": "text", "text": "送料は無料です"}])


def solved_by_bot(rules=SurveyRules()):
    bot = SolvingBot()
    r = conversation.apply(None, line_event(1, T0), ctx(rules, bot))
    return conversation.apply(r.state, tap(2, T0 + 60_000, "bot:solved:kA0000000000001"), ctx(rules, bot))


def test_solved_closes_the_bot_session_and_sends_the_survey_with_the_bot_text():
    res = solved_by_bot()
    key = res.state["session"]["key"]
    assert res.state["session"]["status"] == SessionStatus.CLOSED
    assert writes(res, SESSION)[key]["Status__c"] == SessionStatus.CLOSED
    assert [m["text"] for m in res.replies[0].messages] == [JA["bot_solved"], JA["survey_question"]]
    assert res.replies[0].reply_token == "rt2"


def test_solved_without_the_survey_keeps_the_session_with_the_bot():
    res = solved_by_bot(rules=None)
    assert res.state["session"]["status"] == SessionStatus.BOT
    assert [m["text"] for m in res.replies[0].messages] == [JA["bot_solved"]]


def test_an_unsatisfied_bot_only_chat_becomes_a_learning_candidate():
    solved = solved_by_bot()
    key = solved.state["session"]["key"]
    res = conversation.apply(solved.state, tap(3, T0 + HOUR, f"survey:score:1:{key}"), ctx(responder=SolvingBot()))
    [example] = writes(res, EXAMPLE).values()
    assert example["Question__c"] == "送料はいくらですか"
    assert example["Article_Id__c"] == "kA0000000000001"
    assert example["Source__c"] == "Unsatisfied" and example["Status__c"] == "Candidate"
