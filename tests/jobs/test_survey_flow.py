"""The survey end to end on the sandbox: an operator closes the chat, the customer answers on LINE,
the score and comment reach the session and the Case in Salesforce."""

from __future__ import annotations

import time
import uuid

import pytest

from connector.domain import events as ev
from connector.jobs import routing
from tests import stack
from tests.jobs.operator_fixtures import *  # noqa: F403 - its fixtures: op_sandbox, op_redis, sb, rt
from tests.jobs.operator_fixtures import CHANNEL, CUSTOMER, customer_writes, handoff, op_config, operators, run_jobs


@pytest.fixture
def rt(sb, op_redis):
    yield from stack.installed_runtime(op_config(sb, channel={"survey": {"enabled": True}}))


def callout(rt, type_: str, data: dict) -> None:
    routing.callout(
        rt.vault.seal_json({"type": type_, "id": f"x:{type_}:{time.time_ns()}", "sentAt": None, "data": data})
    )
    run_jobs(rt)


def taps(rt, data: str) -> None:
    """The customer taps a quick reply (a postback event, as the webhook ingests it)."""
    eid = "01J" + uuid.uuid4().hex[:23].upper()
    event = {
        "type": "postback",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "webhookEventId": eid,
        "replyToken": "rt" + eid,
        "source": {"type": "user", "userId": CUSTOMER},
        "postback": {"data": data},
    }
    rt.store.ingest([(CHANNEL, eid, ev.conversation_id(CHANNEL, event), event)])
    run_jobs(rt)


def line_texts(sb) -> list[str]:
    return [m.get("text") for d in sb.line.delivered(user_id=CUSTOMER) for m in d["messages"]]


def test_a_closed_chat_is_surveyed_and_score_and_comment_reach_session_and_case(rt, sb):
    a = operators(sb)[0]
    callout(rt, "presence.update", {"userId": a, "status": "Available", "capacity": 3})
    customer_writes(rt, "注文した商品が届きません")
    key = handoff(rt)
    callout(rt, "session.close", {"sessionKey": key, "userId": a, "reason": "案内済み"})
    texts = rt.config.channel(CHANNEL).text
    assert texts("survey_question") in line_texts(sb)

    taps(rt, f"survey:score:2:{key}")
    customer_writes(rt, "もう少し早く対応してほしかったです")
    session = sb.salesforce.find("LINE_Chat_Session__c", Session_Key__c=key)[0]
    case = sb.salesforce.find("Case", LINE_Inquiry_Key__c=key)[0]
    assert (session["Survey_Score__c"], session["Survey_Unsatisfied__c"], session["Survey_Late__c"]) == (2, True, False)
    assert session["Survey_Comment__c"] == "もう少し早く対応してほしかったです"
    assert (case["LINE_Survey_Score__c"], case["LINE_Survey_Unsatisfied__c"]) == (2, True)
    assert case["LINE_Survey_Comment__c"] == "もう少し早く対応してほしかったです"
    assert line_texts(sb)[-1] == texts("survey_thanks")
    # the comment stayed in the closed session: no new inquiry was opened for it
    assert len(sb.salesforce.find("LINE_Chat_Session__c")) == 1
