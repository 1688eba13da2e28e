"""Issue 2's thin path through the real processes: signed webhook -> Salesforce -> LINE reply."""

from tests.integration.conftest import drained, inbound

USER = "U" + "d" * 32


def test_a_new_friends_first_message_becomes_contact_case_session_message_and_a_reply(make_stack):
    stack = make_stack()
    sf, line, ch = stack.sandbox.salesforce, stack.sandbox.line, stack.channels[0].channel_id
    event = line.send_user_message(ch, USER, {"type": "text", "text": "返品したいです"}, display_name="佐藤 健")
    assert event["status"] == 200
    replies = stack.wait_until(lambda: line.delivered(user_id=USER), what="the reply")
    drained(stack)

    [contact] = sf.records("Contact")
    assert contact["LastName"] == "佐藤 健"
    [case] = sf.records("Case")
    assert case["Origin"] == "LINE" and case["ContactId"] == contact["Id"]
    [session] = sf.records("LINE_Chat_Session__c")
    assert session["Case__c"] == case["Id"] and session["Status__c"] == "Bot"
    [message] = inbound(sf)
    assert message["Text__c"] == "返品したいです" and message["Chat_Session__c"] == session["Id"]
    assert message["Message_Key__c"] == event["message"]["id"]
    assert [r["method"] for r in replies] == ["reply"]
    [bot] = sf.find("LINE_Chat_Message__c", Direction__c="Bot")
    assert bot["Delivery_Status__c"] == "Sent" and bot["LINE_Message_Id__c"]


def test_a_redelivered_event_is_recorded_once_and_answered_once(make_stack):
    stack = make_stack()
    sf, line, ch = stack.sandbox.salesforce, stack.sandbox.line, stack.channels[0].channel_id
    event = line.send_user_message(ch, USER, {"type": "text", "text": "こんにちは"})
    assert line.redeliver(ch, event)["status"] == 200
    stack.wait_until(lambda: line.delivered(user_id=USER), what="the reply")
    drained(stack)
    assert len(inbound(sf)) == 1
    assert len(line.delivered(user_id=USER)) == 1


def test_ops_endpoints_report_health_and_readiness(make_stack):
    import requests

    stack = make_stack()
    assert requests.get(stack.web_url + "/healthz", timeout=5).json() == {"status": "alive"}
    ready = requests.get(stack.web_url + "/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"] == {"redis": "ok", "salesforce": "ok"}
