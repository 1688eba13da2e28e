"""A customer sends the support ID Salesforce issued: attempts are limited, wrong/expired/used IDs
get one answer that says nothing about existence, only the hash is stored, and a valid ID links
the friend to its Contact with priority (issue 21)."""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import pytest

from connector.config import SupportIdSettings
from tests import stack
from tests.jobs.operator_fixtures import *  # noqa: F403
from tests.jobs.operator_fixtures import CHANNEL, CUSTOMER, CUSTOMER2, conv_state, op_config, run_jobs

VALID = "7K4Q-9MX2-PD3R"
CANONICAL = "7K4Q9MX2PD3R"
NOT_CONFIRMED = "サポートIDを確認できませんでした。お手元のIDをご確認のうえ、もう一度お送りください。"
VERIFIED = "サポートIDを確認しました。お客様のご登録内容をもとにご案内します。"
LOCKED = "確認の回数が上限に達しました。しばらくしてからもう一度お試しください。"


@pytest.fixture
def rt(sb, op_redis):
    config = op_config(sb, salesforce={"outage": {"pause_seconds": 0.1}})
    limits = SupportIdSettings(max_attempts_per_user=3, max_attempts_per_id=4)
    config.settings = config.settings.model_copy(update={"support_id": limits})
    yield from stack.installed_runtime(config)


def issue(sb, *, days: float = 30, reusable: bool = False, entitled: bool = True, used: bool = False) -> str:
    """What LineSupportIdService stores: the hash, never the ID."""
    contact = sb.salesforce.insert("Contact", {"LastName": "山田", "Email": "taro@example.com"})
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    sb.salesforce.insert(
        "LINE_Support_Id__c",
        {
            "Id_Hash__c": hashlib.sha256(CANONICAL.encode()).hexdigest(),
            "Contact__c": contact,
            "Expires_At__c": expires.isoformat(),
            "Reusable__c": reusable,
            "Entitled__c": entitled,
            "Used_At__c": dt.datetime.now(dt.UTC).isoformat() if used else None,
        },
    )
    return contact


def sends(rt, sb, text: str, user: str = CUSTOMER) -> dict:
    from connector.domain import events as ev

    event = sb.line.send_user_message(CHANNEL, user, {"type": "text", "text": text}, deliver=False)
    rt.store.ingest([(CHANNEL, event["webhookEventId"], ev.conversation_id(CHANNEL, event), event)])
    run_jobs(rt, rounds=5)
    return event


def answers(sb, user: str = CUSTOMER) -> list[str]:
    return [m["text"] for d in sb.line.delivered() if d["to"] == user for m in d["messages"] if m["type"] == "text"]


def friend(sb, user: str = CUSTOMER) -> dict:
    [f] = sb.salesforce.find("LINE_Friend__c", Friend_Key__c=f"{CHANNEL}:{user}")
    return f


def test_a_valid_id_links_the_friend_to_its_contact_with_priority_and_says_so(rt, sb):
    contact = issue(sb)
    sends(rt, sb, "7k4q 9mx2 pd3r")  # typed on a phone: lower case, spaces
    assert answers(sb)[-1] == VERIFIED
    f = friend(sb)
    assert (f["Contact__c"], f["Verified__c"], f["Verified_By__c"]) == (contact, True, "Support_ID")
    assert f["Verified_At__c"]
    assert conv_state(rt)["friend"]["entitled"] is True  # routed with priority from now on
    [stored] = sb.salesforce.records("LINE_Support_Id__c")
    assert stored["Used_At__c"] and stored["Last_Used_By__c"] == f"{CHANNEL}:{CUSTOMER}"


def test_the_id_is_never_stored_only_its_hash(rt, sb):
    issue(sb)
    sends(rt, sb, VALID)
    texts = [m.get("Text__c") or "" for m in sb.salesforce.records("LINE_Chat_Message__c")]
    assert "[support ID]" in texts
    assert not any(CANONICAL in t or VALID in t for t in texts)
    everything = repr([sb.salesforce.records(t) for t in ("LINE_Support_Id__c", "LINE_Friend__c")])
    assert CANONICAL not in everything and VALID not in everything
    assert not [k for k in rt.redis.keys("*") if CANONICAL.encode() in k]


@pytest.mark.parametrize(
    "stored",
    [
        {"days": -1},  # expired
        {"used": True},  # single use, used by someone else
        None,  # never issued
    ],
    ids=["expired", "used", "unknown"],
)
def test_a_wrong_expired_or_used_id_gets_the_same_answer_and_links_nothing(rt, sb, stored):
    if stored is not None:
        issue(sb, **stored)
    sends(rt, sb, VALID)
    assert answers(sb)[-1] == NOT_CONFIRMED
    assert not friend(sb).get("Verified__c")


def test_a_single_use_id_serves_one_customer_only(rt, sb):
    issue(sb)
    sends(rt, sb, VALID, user=CUSTOMER)
    sends(rt, sb, VALID, user=CUSTOMER2)
    assert answers(sb, CUSTOMER)[-1] == VERIFIED
    assert answers(sb, CUSTOMER2)[-1] == NOT_CONFIRMED
    assert not friend(sb, CUSTOMER2).get("Verified__c")


def test_a_reusable_id_serves_again_until_it_expires(rt, sb):
    issue(sb, reusable=True)
    sends(rt, sb, VALID, user=CUSTOMER)
    sends(rt, sb, VALID, user=CUSTOMER2)
    assert answers(sb, CUSTOMER2)[-1] == VERIFIED


def test_guessing_is_stopped_per_line_user_even_before_the_right_id(rt, sb):
    issue(sb)
    for guess in ("AAAA-BBBB-CC11", "AAAA-BBBB-CC22", "AAAA-BBBB-CC33"):
        sends(rt, sb, guess)
    assert answers(sb) == [NOT_CONFIRMED] * 3
    calls = sb.salesforce.api_calls
    sends(rt, sb, VALID)  # the fourth attempt, right this time
    assert answers(sb)[-1] == LOCKED
    assert not friend(sb).get("Verified__c")
    assert sb.salesforce.api_calls - calls <= 2  # the ID was not looked up (only the message records)


def test_one_id_tried_by_many_users_is_locked(rt, sb):
    issue(sb, reusable=True)
    users = [f"U{i:032x}" for i in range(5)]
    for user in users:
        sb.line.add_user(CHANNEL, user, "x")
        sends(rt, sb, "ABCD-EFGH-JK12", user=user)  # the same wrong ID from five accounts
    assert answers(sb, users[-1])[-1] == LOCKED
    assert [answers(sb, u)[-1] for u in users[:4]] == [NOT_CONFIRMED] * 4


def test_an_order_or_phone_number_is_not_taken_for_an_id(rt, sb):
    sends(rt, sb, "0901-2345-6789")
    assert rt.store.metrics().get("support_id_not_confirmed", 0) == 0
    assert "[support ID]" not in [m.get("Text__c") for m in sb.salesforce.records("LINE_Chat_Message__c")]


def test_salesforce_down_while_verifying_counts_one_attempt_and_verifies_when_back(rt, sb):
    from connector.jobs.support_id import verify

    issue(sb)
    outage = sb.faults.add("salesforce", "status", status=503, path="^/services/data/.*/query")
    event = sends(rt, sb, VALID)  # the verification job fails and waits for its retry
    assert not friend(sb).get("Verified__c")
    sb.faults.remove(outage)
    from connector.domain.events import event_id
    from connector.jobs import job_id

    sealed = rt.queue.fetch_job(job_id("support-id", event_id(event))).args[0]
    rt.redis.hset(rt.keys.pause("salesforce"), "until", 0)  # the pause is over: the retry probes first
    assert verify(sealed) == "verified"  # RQ's retry
    time.sleep(0.2)
    from connector.jobs.outage import probe_if_due

    probe_if_due(rt)  # the worker's sweeper lifts the Salesforce pause
    run_jobs(rt)
    assert answers(sb)[-1] == VERIFIED
    assert friend(sb)["Verified__c"] is True
    by_user = rt.redis.get(rt.keys.support_id(f"user:{CHANNEL}:{CUSTOMER}"))
    assert by_user is None  # forgiven after success; and only one attempt was ever counted


PROMPT = "ご契約のお客様は、サポートID（例: 7K4Q-9MX2-PD3R）をこのトークにお送りください。"


@pytest.fixture
def asking_rt(sb, op_redis):
    config = op_config(sb)
    asking = SupportIdSettings(ask_on_channels=[CHANNEL])
    config.settings = config.settings.model_copy(update={"support_id": asking})
    yield from stack.installed_runtime(config)


def test_a_channel_that_requires_it_asks_a_new_inquiry_for_the_support_id(asking_rt, sb):
    sends(asking_rt, sb, "請求書について質問があります")
    assert PROMPT in answers(sb)
    prompts = [m for m in sb.salesforce.records("LINE_Chat_Message__c") if m.get("Text__c") == PROMPT]
    assert [m["Direction__c"] for m in prompts] == ["Bot"]  # recorded in the transcript


def test_a_verified_customer_is_not_asked_again(asking_rt, sb):
    issue(sb, reusable=True)
    sends(asking_rt, sb, VALID)  # starts with the ID: verified, no prompt on top of the answer
    assert answers(sb) == [VERIFIED]
    session = conv_state(asking_rt)["session"]["key"]
    from connector.jobs import submit_internal

    submit_internal(  # the inquiry ends; the customer writes again later
        asking_rt,
        CHANNEL,
        {"type": "user", "userId": CUSTOMER},
        "session.closed",
        {"session_key": session},
        idempotency_key="close-1",
    )
    run_jobs(asking_rt)
    sends(asking_rt, sb, "もう一つ質問です")
    assert conv_state(asking_rt)["session"]["key"] != session  # a new inquiry...
    assert PROMPT not in answers(sb)  # ...and no prompt


def test_a_channel_that_does_not_require_it_does_not_ask(rt, sb):
    sends(rt, sb, "請求書について質問があります")
    assert PROMPT not in answers(sb)
