"""A worker SIGKILLed while it deletes an identity image: the next worker finishes the deletion,
with nothing left anywhere and exactly one audit record (issue 21)."""

from __future__ import annotations

import redis

from connector.local.demo_operator import _signed
from tests.integration.conftest import inbound

USER = "U" + "d" * 32


def test_a_purge_killed_mid_call_completes_on_the_next_worker_with_one_audit(make_stack):
    import requests

    stack = make_stack(
        workers=1, overrides={"retention": {"identity_image_days": 1, "day_seconds": 2, "check_interval_seconds": 0.5}}
    )
    line, sf, ch = stack.sandbox.line, stack.sandbox.salesforce, stack.channels[0].channel_id
    line.send_user_message(ch, USER, {"type": "text", "text": "本人確認をお願いします"})
    [first] = stack.wait_until(lambda: inbound(sf), what="the first message")
    session_key = sf.get("LINE_Chat_Session__c", first["Chat_Session__c"])["Session_Key__c"]
    secret = stack.env["CONNECTOR_CALLOUT_SECRETS"].split(",")[0]
    body, headers = _signed(secret, "identity.request", session_key, {"sessionKey": session_key})
    assert (
        requests.post(stack.web_url + "/salesforce/callout", data=body, headers=headers, timeout=5).status_code == 202
    )
    r = redis.Redis.from_url(stack.redis_url)
    stack.wait_until(lambda: r.keys("ln:retention:asked:*"), what="the ID request noted")

    # Every call of the purge resource now takes 4 s: the worker is caught inside it.
    stack.sandbox.faults.add("salesforce", "latency", ms=4000, path="^/services/apexrest/")
    line.send_user_message(ch, USER, {"type": "image"})
    photo = stack.wait_until(
        lambda: next((m for m in inbound(sf, Type__c="image") if m.get("Identity_Class__c")), None),
        what="the identity photo stored",
    )
    item = f"ln:retention:item:{photo['Message_Key__c']}"
    stack.wait_until(lambda: r.hget(item, "attempt"), timeout=30, interval=0.02, what="the purge under way")
    stack.kill_worker(stack.worker_procs[0])  # SIGKILL in the middle of the purge call
    assert sf.find("LINE_Data_Deletion__c") == []

    stack.sandbox.faults.clear()
    stack.start_worker()
    audit = stack.wait_until(lambda: sf.find("LINE_Data_Deletion__c"), timeout=60, what="the audit record")
    assert [(a["Deletion_Key__c"], a["Outcome__c"]) for a in audit] == [(photo["Message_Key__c"], "Deleted")]
    document = photo["Content_Document_Id__c"]
    assert not any(d["Id"] == document for d in sf.records("ContentDocument", include_deleted=True))
    assert not any(v.get("ContentDocumentId") == document for v in sf.records("ContentVersion", include_deleted=True))
    stack.wait_until(lambda: r.zcard("ln:retention:due") == 0, what="the schedule emptied")
    [message] = sf.find("LINE_Chat_Message__c", Message_Key__c=photo["Message_Key__c"])
    assert message["Content_Status__c"] == "Deleted" and message["Content_Document_Id__c"] is None
