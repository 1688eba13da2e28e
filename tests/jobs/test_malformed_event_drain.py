"""Finding 10 (issue 17), through the drain: a signed event with "type": null is ignored with a
log line and is no dead letter; the customer's next message is recorded as usual."""

from __future__ import annotations

import logging

from connector.jobs.inbound import Drainer
from connector.runtime import Runtime
from tests import stack
from tests.jobs.operator_fixtures import CHANNEL, CUSTOMER, op_config, op_redis, op_sandbox, sb  # noqa: F401


def test_finding10_an_event_of_type_null_is_ignored_not_dead_lettered(sb, op_redis, caplog):
    rt = Runtime(op_config(sb))
    bad = sb.line.send_user_message(CHANNEL, CUSTOMER, {"type": "text", "text": "null type"}, deliver=False)
    bad["type"] = None
    good = sb.line.send_user_message(CHANNEL, CUSTOMER, {"type": "text", "text": "こんにちは"}, deliver=False)
    for event in (bad, good):
        stack.store_event(rt, event)

    with caplog.at_level(logging.INFO, logger="connector.jobs.inbound"):
        assert Drainer(rt).run() == 2

    assert rt.store.dead_letters() == []
    assert any("malformed event ignored: type is null" in r.getMessage() for r in caplog.records)
    [message] = sb.salesforce.find("LINE_Chat_Message__c", Direction__c="Inbound")
    assert message["Text__c"] == "こんにちは"
