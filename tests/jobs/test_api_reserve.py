"""The org's daily API limit is shared: the connector stops writing at its reserve line, before
Salesforce refuses anyone; LINE answers go on, and the records follow, in order, once the usage
is below the line again. In-process drains against the sandbox, whose Sforce-Limit-Info counts
every call and which refuses calls past its limit (REQUEST_LIMIT_EXCEEDED)."""

from __future__ import annotations

import re
import time

import pytest

from connector.jobs import outage
from connector.jobs.inbound import Drainer
from connector.runtime import Runtime
from tests import stack
from tests.jobs.operator_fixtures import CHANNEL, op_config, op_redis, op_sandbox  # noqa: F401 - fixtures

USERS = ["U" + c * 32 for c in "abcd"]
LIMIT = 1000


@pytest.fixture
def sb(op_sandbox):
    op_sandbox.reset()
    op_sandbox.salesforce.set_api_usage(0, LIMIT)
    return op_sandbox


@pytest.fixture
def rt(sb, op_redis):
    return Runtime(op_config(sb, salesforce={"api_reserve_share": 0.2, "api_reserve_pause_seconds": 0.2}))


def write(rt, sb, user: str, text: str) -> None:
    event = sb.line.send_user_message(CHANNEL, user, {"type": "text", "text": text}, deliver=False)
    stack.store_event(rt, event)


def refused(sb) -> int:
    return sum(1 for e in sb.request_log("salesforce") if e.get("status") == 403)


def texts(sb, user: str) -> list[str]:
    rows = sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound")
    return [
        m["Text__c"]
        for m in sorted(rows, key=lambda m: (m["CreatedDate"], m["Id"]))
        if m["Text__c"].startswith(user[-3:])
    ]


def test_at_the_reserve_line_writes_pause_and_line_answers_go_on(rt, sb):
    write(rt, sb, USERS[0], f"{USERS[0][-3:]} first")
    assert Drainer(rt).run() == 1  # a normal day: written at once
    sb.salesforce.set_api_usage(int(LIMIT * 0.8) - 1, LIMIT)  # one call left before the line

    for user in USERS:
        write(rt, sb, user, f"{user[-3:]} during")
    Drainer(rt).run()
    Drainer(rt).run()

    pause = rt.store.outage()
    assert pause is not None and pause["code"] == outage.RESERVE
    assert sb.salesforce.api_calls <= int(LIMIT * 0.8) + 2  # the write that crossed the line, a probe
    assert refused(sb) == 0  # Salesforce never had to refuse the connector
    assert all(sb.line.delivered(user_id=u) for u in USERS[1:])  # new friends were welcomed meanwhile
    assert rt.store.metrics().get("salesforce_reserve_pauses") == 1


def test_what_waited_is_written_in_order_once_usage_is_below_the_line(rt, sb):
    sb.salesforce.set_api_usage(int(LIMIT * 0.8), LIMIT)
    for user in USERS:
        write(rt, sb, user, f"{user[-3:]} hello")
    Drainer(rt).run()  # the first write crosses the line
    for i in range(3):
        for user in USERS:
            write(rt, sb, user, f"{user[-3:]} more {i}")
        Drainer(rt).run()
    assert rt.store.outage() is not None

    sb.salesforce.set_api_usage(100, LIMIT)  # Salesforce's 24-hour window moved on
    time.sleep(0.3)  # the pause (0.2 s) is over: the next drain looks at the usage again
    Drainer(rt).run()
    Drainer(rt).run()

    assert rt.store.outage() is None and rt.store.pending() == 0
    for user in USERS:
        assert texts(sb, user) == [f"{user[-3:]} hello"] + [f"{user[-3:]} more {i}" for i in range(3)]
    assert refused(sb) == 0


def test_the_usage_is_reported_for_metrics(rt, sb):
    sb.salesforce.set_api_usage(500, LIMIT)
    write(rt, sb, USERS[0], "hi")
    Drainer(rt).run()
    api = outage.status(rt)["salesforce_api"]
    assert api["limit"] == LIMIT and api["used"] > 500
    assert api["budget_share"] == pytest.approx(api["used"] / (LIMIT * 0.8), abs=0.01)


def test_no_report_no_pause(rt, sb):
    assert outage.check_budget(rt) is None and rt.store.outage() is None


@pytest.mark.parametrize("header", ["api-usage=²/1000", "api-usage=5/", "per-app-api-usage=1/2", ""])
def test_a_limit_header_that_is_not_two_numbers_is_ignored(header):
    from connector.gateways.salesforce import _usage

    assert _usage(header) is None


def test_the_limit_header_is_read():
    from connector.gateways.salesforce import _usage

    assert _usage("api-usage=18/5000") == (18, 5000)
    assert re.fullmatch(r"api-usage=\d+/\d+", "api-usage=18/5000")


def test_another_workers_usage_counts_before_this_one_writes(rt, sb):
    write(rt, sb, USERS[0], "hi")
    Drainer(rt).run()  # this process has seen a low usage
    rt.store.note_api_usage(int(LIMIT * 0.8), LIMIT, time.time())  # another worker's last answer
    assert outage.writes_paused(rt) and rt.store.outage()["code"] == outage.RESERVE


def test_an_old_note_does_not_keep_writes_paused(rt, sb):
    rt.store.note_api_usage(int(LIMIT * 0.9), LIMIT, time.time() - 3600)  # yesterday's
    write(rt, sb, USERS[0], "hi")
    assert Drainer(rt).run() == 1 and rt.store.outage() is None


def test_no_job_spends_the_reserve_while_writes_pause(rt, sb):
    from connector.domain.records import MESSAGE, Upsert
    from connector.gateways.errors import Paused

    write(rt, sb, USERS[0], "hi")
    Drainer(rt).run()
    rt.store.note_api_usage(int(LIMIT * 0.8), LIMIT, time.time())  # at the line
    calls = sb.salesforce.api_calls

    with pytest.raises(Paused) as err:  # e.g. a delivery status, a routing record, a file upload
        rt.salesforce.upsert_many([Upsert(MESSAGE, "1:x", {"Content_Status__c": "Stored"})])
    with pytest.raises(Paused):
        rt.salesforce.query("SELECT Id FROM Contact")

    assert err.value.code == outage.RESERVE
    assert sb.salesforce.api_calls == calls  # nothing reached the org
    assert outage.write_failed(rt, err.value) > 0  # not counted as Salesforce failing


def test_the_probe_still_looks_while_writes_pause(rt, sb):
    rt.store.note_api_usage(int(LIMIT * 0.8), LIMIT, time.time())
    assert outage.writes_paused(rt)
    sb.salesforce.set_api_usage(10, LIMIT)  # the rolling day freed calls
    rt.store.note_api_usage(10, LIMIT, time.time())
    time.sleep(0.25)  # api_reserve_pause_seconds
    assert outage.pause_reason(rt) is None  # the probe's own call went through and lifted the pause
