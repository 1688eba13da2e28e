"""Identity-verification images are deleted everywhere when their retention ends, exactly once
audited, whatever fails on the way; other images are never touched (issue 21)."""

from __future__ import annotations

import time

import pytest

from connector.config import RetentionSettings
from connector.storage.blobs import CONTENT
from tests import stack
from tests.jobs.operator_fixtures import *  # noqa: F403
from tests.jobs.operator_fixtures import CHANNEL, CUSTOMER, op_config, run_jobs

DAY_S = 0.5  # a compressed day: an identity image of a 1-day channel is due half a second after it came


@pytest.fixture
def rt(sb, op_redis):
    config = op_config(sb)
    retention = RetentionSettings(identity_image_days=1, day_seconds=DAY_S, check_interval_seconds=0.01)
    config.settings = config.settings.model_copy(update={"retention": retention})
    yield from stack.installed_runtime(config)


def sends_image(rt, sb) -> dict:
    """The customer sends an image; it is recorded and its file stored in Salesforce."""
    from connector.domain import events as ev

    event = sb.line.send_user_message(CHANNEL, CUSTOMER, {"type": "image"}, deliver=False)
    rt.store.ingest([(CHANNEL, event["webhookEventId"], ev.conversation_id(CHANNEL, event), event)])
    run_jobs(rt)
    [record] = [
        m
        for m in sb.salesforce.records("LINE_Chat_Message__c")
        if m.get("LINE_Message_Id__c") == event["message"]["id"]
    ]
    assert record["Content_Status__c"] == "Stored"
    return record


def operator_asks_for_an_id(rt, sb) -> None:
    from connector.jobs.retention import handle_callout
    from tests.jobs.operator_fixtures import session_key

    handle_callout(rt, "identity.request", {"sessionKey": session_key(rt)})


def identity_image(rt, sb) -> dict:
    from tests.jobs.operator_fixtures import customer_writes

    customer_writes(rt, "本人確認ですね")
    operator_asks_for_an_id(rt, sb)
    return sends_image(rt, sb)


def after_retention(rt, rounds: int = 2) -> None:
    """Let the compressed retention pass, then let the worker's periodic task and jobs run."""
    from connector.jobs.retention import tick

    time.sleep(DAY_S * 1.2)
    for _ in range(rounds):
        rt.redis.delete(rt.keys.lease("retention:check"), rt.keys.lease("retention:sweep"))
        tick(rt)
        run_jobs(rt)


def file_exists_anywhere(sb, document_id: str) -> bool:
    docs = sb.salesforce.records("ContentDocument", include_deleted=True)
    return any(d["Id"] == document_id for d in docs)


def audits(sb) -> list[dict]:
    return sb.salesforce.records("LINE_Data_Deletion__c")


def test_an_image_sent_after_an_id_request_is_scheduled_in_redis_and_salesforce(rt, sb):
    record = identity_image(rt, sb)
    assert record["Identity_Class__c"] is True and record["Retention_Until__c"]
    assert rt.retention_store.due(time.time() + 2 * DAY_S) == [record["Message_Key__c"]]


def test_when_retention_ends_the_file_is_gone_everywhere_with_one_audit(rt, sb):
    record = identity_image(rt, sb)
    doc = record["Content_Document_Id__c"]
    after_retention(rt)
    assert not file_exists_anywhere(sb, doc)  # not in the org, not in its recycle bin
    [message] = sb.salesforce.find("LINE_Chat_Message__c", Message_Key__c=record["Message_Key__c"])
    assert message["Content_Status__c"] == "Deleted" and message["Content_Document_Id__c"] is None
    assert message["Text__c"].startswith("[identity image deleted on ") and message["Content_Deleted_At__c"]
    [audit] = audits(sb)
    assert audit["Deletion_Key__c"] == record["Message_Key__c"] and audit["Content_Document_Id__c"] == doc
    assert (audit["Trigger__c"], audit["Outcome__c"], audit["Data_Class__c"]) == (
        "Retention",
        "Deleted",
        "Identity_Image",
    )
    assert audit["Rule__c"] == f"Identity_Image: 1 days (channel {CHANNEL})"
    assert rt.retention_store.scheduled() == 0


def test_an_image_that_is_not_identity_class_is_never_deleted(rt, sb):
    record = sends_image(rt, sb)  # nobody asked for an ID document
    after_retention(rt)
    assert not record.get("Identity_Class__c")
    assert file_exists_anywhere(sb, record["Content_Document_Id__c"])
    assert sb.salesforce.get("ContentDocument", record["Content_Document_Id__c"]) is not None
    assert audits(sb) == []


class Killed(BaseException):
    """What a SIGKILL leaves: the job stops dead, nothing after this point runs, no handler."""


def test_a_purge_killed_after_deleting_the_file_completes_on_the_next_check_with_one_audit(rt, sb, monkeypatch):
    record = identity_image(rt, sb)
    doc = record["Content_Document_Id__c"]
    gateway = rt.salesforce
    real_upsert = gateway.upsert_many

    def dies_before_the_audit(upserts):
        upserts = list(upserts)
        if any(u.sobject == "LINE_Data_Deletion__c" for u in upserts):
            raise Killed()
        return real_upsert(upserts)

    monkeypatch.setattr(gateway, "upsert_many", dies_before_the_audit)
    from connector.jobs.retention import purge

    time.sleep(DAY_S * 1.2)
    with pytest.raises(Killed):
        purge([record["Message_Key__c"]])
    assert not file_exists_anywhere(sb, doc) and audits(sb) == []  # deleted, not yet audited
    monkeypatch.setattr(gateway, "upsert_many", real_upsert)
    after_retention(rt)  # the entry is still in Redis: the next check finds it
    [audit] = audits(sb)
    assert audit["Outcome__c"] == "Deleted"  # our own first attempt deleted it
    assert rt.retention_store.scheduled() == 0
    after_retention(rt)
    assert len(audits(sb)) == 1


def test_a_purge_while_salesforce_is_down_completes_when_it_is_back(rt, sb):
    record = identity_image(rt, sb)
    outage = sb.faults.add("salesforce", "status", status=503, path="^/services/")
    after_retention(rt)
    assert file_exists_anywhere(sb, record["Content_Document_Id__c"]) and audits(sb) == []
    assert rt.store.metrics().get("retention_purge_failed", 0) >= 1
    assert rt.retention_store.scheduled() == 1  # still on the schedule
    sb.faults.remove(outage)
    rt.redis.hset(rt.keys.pause("salesforce"), "until", 0)  # the pause is over: the next call probes first
    after_retention(rt)
    assert not file_exists_anywhere(sb, record["Content_Document_Id__c"])
    assert len(audits(sb)) == 1


def test_the_daily_sweep_finds_an_identity_file_redis_lost(rt, sb):
    record = identity_image(rt, sb)
    rt.retention_store.done(record["Message_Key__c"])  # Redis lost its half of the schedule
    after_retention(rt, rounds=3)
    assert not file_exists_anywhere(sb, record["Content_Document_Id__c"])
    [audit] = audits(sb)
    assert audit["Outcome__c"] == "Deleted"


def test_an_operator_marks_an_image_and_deletes_it_now_with_the_same_audit(rt, sb):
    from connector.jobs.retention import handle_callout
    from tests.jobs.operator_fixtures import operators

    record = sends_image(rt, sb)
    key = record["Message_Key__c"]
    rt.blobs.put(CONTENT, key, b"sealed copy", 600)
    assert handle_callout(rt, "media.identity", {"messageKey": key, "action": "mark"}) == "marked"
    [message] = sb.salesforce.find("LINE_Chat_Message__c", Message_Key__c=key)
    assert message["Identity_Class__c"] is True and message["Retention_Until__c"]
    operator = operators(sb)[0]
    handle_callout(rt, "media.identity", {"messageKey": key, "action": "delete", "userId": operator})
    assert not file_exists_anywhere(sb, record["Content_Document_Id__c"])
    assert rt.blobs.get(CONTENT, key) is None
    [audit] = audits(sb)
    assert (audit["Trigger__c"], audit["Requested_By__c"], audit["Outcome__c"]) == ("Operator", operator, "Deleted")
