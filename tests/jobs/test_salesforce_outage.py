"""A Salesforce outage, however long, loses nothing, dead-letters nothing and keeps each
conversation's order; the bot keeps answering on LINE meanwhile. Drains run in-process against the
sandbox (real HTTP, real Redis database 11); the outage is the sandbox's fault injection, with the
relay's timings compressed through its configuration (retry schedule 0.2 s, first pause 0.3 s).
"""

from __future__ import annotations

import json
import re
import time

import pytest

from connector.config import load_config
from connector.jobs import failed, knowledge, outage
from connector.jobs.inbound import Drainer
from connector.runtime import Runtime
from tests import stack
from tests.conftest import TEST_REDIS_URL, fresh_redis
from tests.stack import CHANNEL

REDIS_URL = re.sub(r"/\d+$", "/11", TEST_REDIS_URL)
USERS = ["U" + c * 32 for c in "abc"]
DATA = r"^/services/data/"


@pytest.fixture(scope="module")
def sandbox():
    with stack.start_sandbox(channel_secret="sec") as sb:  # stopped when the module's tests are done
        yield sb


@pytest.fixture
def sb(sandbox):
    for _ in fresh_redis(REDIS_URL):
        sandbox.reset()
        for i, user in enumerate(USERS):
            sandbox.line.add_user(CHANNEL, user, f"お客様 {i}")
        yield sandbox


def config(sb, *, bot: bool = False, failures_to_pause: int = 2):
    environ = stack.relay_environ(REDIS_URL, channel_secret="sec")
    channel = stack.channel_settings()
    if bot:
        channel["bot"] = {"enabled": True, "business_hours": stack.always_open(japanese_holidays=False)}
    data = {
        "queue": {"retry_intervals_seconds": [0.1, 0.1], "retry_jitter": 0},
        "line": stack.line_settings(sb, channel, timeout_seconds=3),
        "salesforce": stack.salesforce_settings(
            sb,
            timeout_seconds=3,
            outage={"failures_to_pause": failures_to_pause, "pause_seconds": 0.3, "max_pause_seconds": 1},
        ),
    }
    return load_config(data=data, environ=environ)


def send(rt, sb, user: str, text: str) -> dict:
    event = sb.line.send_user_message(CHANNEL, user, {"type": "text", "text": text}, deliver=False)
    stack.store_event(rt, event)
    return event


def work(rt, seconds: float) -> None:
    """What a worker does for a while: drain what is ready, probe when a pause is over."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        Drainer(rt).run()
        outage.probe_if_due(rt)
        time.sleep(0.05)


def work_until_written(rt, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        work(rt, 0.2)
        if rt.store.outage() is None and rt.store.backlog()["events"] == 0:
            return
    raise AssertionError(f"not written in {timeout} s: {rt.store.backlog()} {rt.store.outage()}")


def inbound_texts(sb, user: str) -> list[str]:
    """The customer's messages in Salesforce, in the order they were created."""
    rows = [m for m in sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound") if user[-3:] in m["Text__c"]]
    return [m["Text__c"] for m in sorted(rows, key=lambda m: (m["CreatedDate"], m["Id"]))]


def composite_calls(sb) -> int:
    return sum(1 for e in sb.request_log("salesforce") if e["path"].endswith("/composite"))


def test_a_5xx_outage_longer_than_the_retry_schedule_dead_letters_nothing_and_writes_everything_in_order(sb):
    rt = Runtime(config(sb))
    sb.faults.add("salesforce", "status", status=503, path=DATA, duration_s=3)  # the schedule ends after 0.2 s
    sent = {user: [] for user in USERS}
    for i in range(4):
        for user in USERS:
            sent[user].append(f"{user[-3:]} #{i}")
            send(rt, sb, user, sent[user][-1])
        work(rt, 0.5)
    assert rt.store.outage() is not None  # still down: everything waits
    assert sb.salesforce.find("LINE_Chat_Message__c") == []

    work_until_written(rt)

    assert rt.store.dead_letters() == []
    for user in USERS:
        assert inbound_texts(sb, user) == sent[user]
        assert len(sb.line.delivered(user_id=user)) == 1  # the welcome, once, sent during the outage
    assert rt.store.metrics().get("salesforce_pauses_lifted") == 1


def test_the_pause_is_shared_by_workers(sb):
    cfg = config(sb, failures_to_pause=1)
    worker_a, worker_b = Runtime(cfg), Runtime(cfg)  # two processes' worth: own gateways, same Redis
    sb.faults.add("salesforce", "status", status=503, path=DATA)
    send(worker_a, sb, USERS[0], "first")
    Drainer(worker_a).run()
    assert worker_b.store.outage() is not None
    calls = composite_calls(sb)

    send(worker_b, sb, USERS[1], "second")
    Drainer(worker_b).run()

    assert composite_calls(sb) == calls  # worker B did not try to write
    assert len(sb.line.delivered(user_id=USERS[1])) == 1  # but it answered on LINE
    assert worker_b.store.backlog() == {"conversations": 2, "events": 2, "held": 2}


def test_the_probe_keeps_the_pause_while_salesforce_fails_and_lifts_it_with_one_cheap_call(sb):
    rt = Runtime(config(sb, failures_to_pause=1))
    fault = sb.faults.add("salesforce", "status", status=503, path=DATA)
    send(rt, sb, USERS[0], f"{USERS[0][-3:]} hello")
    Drainer(rt).run()
    first = rt.store.outage()
    assert first["level"] == 1

    time.sleep(max(0.0, first["until"] - time.time()) + 0.05)
    outage.probe_if_due(rt)
    second = rt.store.outage()
    assert second["level"] == 2 and second["until"] - time.time() > 0.3  # the pause doubled
    assert sb.salesforce.find("LINE_Chat_Message__c") == []

    sb.faults.remove(fault)
    before = len(sb.request_log("salesforce"))
    time.sleep(max(0.0, second["until"] - time.time()) + 0.05)
    outage.probe_if_due(rt)

    probes = sb.request_log("salesforce")[before:]
    assert [(e["method"], e["path"].rsplit("/", 2)[-2]) for e in probes] == [("GET", "limits")]
    assert rt.store.outage() is None
    assert rt.store.pending() == 1  # the held conversation is ready again
    Drainer(rt).run()
    assert inbound_texts(sb, USERS[0]) == [f"{USERS[0][-3:]} hello"]


def test_bot_answers_continue_during_the_outage_and_their_records_land_after(sb):
    sb.salesforce.insert(
        "Knowledge__kav",
        {
            "KnowledgeArticleId": "kA0000000000001AAA",
            "Title": "返品・交換について",
            "Summary": "商品到着後8日以内であれば、マイページの注文履歴から返品を申請できます。",
            "UrlName": "returns",
            "Language": "ja",
            "PublishStatus": "Online",
        },
    )
    rt = Runtime(config(sb, bot=True, failures_to_pause=1))
    knowledge.run_sync(rt)
    user = USERS[0]
    sb.faults.add("salesforce", "status", status=503, path=DATA)
    answers = []
    for question in ("返品したいです", "返品の期限は？", "交換もできますか"):
        send(rt, sb, user, question)
        work(rt, 0.3)
        answers.append(len(sb.line.delivered(user_id=user)))
    assert answers == [1, 2, 3]  # each question answered on LINE while Salesforce was down
    assert sb.salesforce.find("LINE_Chat_Message__c") == []

    sb.faults.clear()
    work_until_written(rt)

    records = sorted(sb.salesforce.find("LINE_Chat_Message__c"), key=lambda m: (m["CreatedDate"], m["Id"]))
    assert [m["Direction__c"] for m in records] == ["Inbound", "Bot"] * 3
    assert [m["Text__c"] for m in records if m["Direction__c"] == "Inbound"] == [
        "返品したいです",
        "返品の期限は？",
        "交換もできますか",
    ]
    assert {m["Delivery_Status__c"] for m in records if m["Direction__c"] == "Bot"} == {"Sent"}
    assert len(sb.line.delivered(user_id=user)) == 3  # nothing answered twice when the records were written


def test_a_replayed_event_lands_in_its_own_session_in_line_order_and_is_not_answered_again(sb):
    rt = Runtime(config(sb))
    user = USERS[0]
    send(rt, sb, user, f"{user[-3:]} #0")
    Drainer(rt).run()
    sb.faults.add("salesforce", "status", status=400, path=r"/composite$", count=1)  # refused: a permanent error
    send(rt, sb, user, f"{user[-3:]} #1")
    Drainer(rt).run()
    [dead] = rt.store.dead_letters()
    send(rt, sb, user, f"{user[-3:]} #2")
    work_until_written(rt)
    replies = len(sb.line.delivered(user_id=user))

    assert failed.replay(rt, dead["id"])
    work_until_written(rt)

    rows = sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound")
    assert len({m["Chat_Session__c"] for m in rows}) == 1
    transcript = sorted(rows, key=lambda m: (m["Sent_At__c"], m["CreatedDate"]))  # as the console orders it
    assert [m["Text__c"] for m in transcript] == [f"{user[-3:]} #{i}" for i in range(3)]
    assert len(sb.line.delivered(user_id=user)) == replies
    assert rt.store.dead_letters() == []


def test_a_permanent_error_still_dead_letters_with_its_code_and_field_only(sb, caplog):
    rt = Runtime(config(sb))
    text = "my order 1234 " + "x" * 40_000  # longer than Text__c (32,768): Salesforce quotes it back
    send(rt, sb, USERS[0], text)
    with caplog.at_level("DEBUG"):
        Drainer(rt).run()

    listed = rt.store.dead_letters()  # what `connector failed list` prints
    assert [d["error"] for d in listed] == ["STRING_TOO_LONG Text__c"]
    assert "xxxx" not in json.dumps(listed) and "1234" not in json.dumps(listed)
    assert "xxxx" not in caplog.text and "1234" not in caplog.text
    assert rt.store.outage() is None  # bad data is not an outage


def test_failures_below_the_threshold_retry_the_conversation_without_pausing_anyone(sb):
    rt = Runtime(config(sb, failures_to_pause=2))
    sb.faults.add("salesforce", "status", status=503, path=r"/composite$", count=1)
    send(rt, sb, USERS[0], f"{USERS[0][-3:]} #0")
    Drainer(rt).run()
    assert rt.store.outage() is None and rt.store.pending() == 0  # backing off on its own

    work_until_written(rt, timeout=5)

    assert inbound_texts(sb, USERS[0]) == [f"{USERS[0][-3:]} #0"]
    assert rt.store.dead_letters() == [] and rt.store.metrics().get("salesforce_pauses_lifted") is None


def test_waiting_events_near_redis_maxmemory_are_warned_in_the_log_and_metrics_show_the_pause(sb, caplog, monkeypatch):
    from connector.entrypoints.app import create_app

    cfg = config(sb, failures_to_pause=1)
    rt = Runtime(cfg)
    sb.faults.add("salesforce", "status", status=503, path=DATA)
    send(rt, sb, USERS[0], "hello")
    Drainer(rt).run()
    used = rt.store.memory()["used"]
    monkeypatch.setattr(rt.store, "memory", lambda: {"used": used, "max": 0})
    assert outage.check_memory(rt) is None  # no maxmemory configured: nothing to measure against

    monkeypatch.setattr(rt.store, "memory", lambda: {"used": used, "max": int(used / 0.9)})
    with caplog.at_level("WARNING"):
        assert outage.check_memory(rt)["ratio"] == pytest.approx(0.9, abs=0.01)
    assert "redis memory at 90% of maxmemory" in caplog.text and "salesforce paused" in caplog.text
    assert rt.store.metrics()["redis_memory_warnings"] == 1

    body = create_app(cfg).test_client().get("/metrics?format=json").get_json()
    assert body["salesforce_paused"] is True and body["salesforce_outage"]["held"] == 1
    assert body["backlog"] == {"conversations": 1, "events": 1, "held": 1}
    assert set(body["redis_memory"]) == {"used", "max", "ratio", "warn_ratio"}
