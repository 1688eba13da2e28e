"""Images, videos, audio and files are fetched promptly and kept as Salesforce files on the Case."""

from tests.integration.conftest import drained

USER = "U" + "e" * 32


def test_a_photo_becomes_a_salesforce_file_linked_to_the_case(make_stack):
    stack = make_stack()
    sf = stack.sandbox.salesforce
    stack.sandbox.line.send_user_message(stack.channels[0].channel_id, USER, {"type": "image"}, content_size=5000)
    stack.wait_until(lambda: sf.find("LINE_Chat_Message__c", Content_Status__c="Stored"), what="the stored photo")
    [msg] = sf.find("LINE_Chat_Message__c", Type__c="image")
    [doc] = sf.records("ContentDocument")
    assert msg["Content_Document_Id__c"] == doc["Id"] and msg["File_Size__c"] == 5000
    [case] = sf.records("Case")
    links = sf.find("ContentDocumentLink", ContentDocumentId=doc["Id"])
    assert case["Id"] in {link["LinkedEntityId"] for link in links}


def test_a_file_over_the_size_limit_is_recorded_as_too_large_and_not_stored(make_stack):
    stack = make_stack(overrides={"line": {"max_content_bytes": 1000}})
    sf = stack.sandbox.salesforce
    stack.sandbox.line.send_user_message(
        stack.channels[0].channel_id, USER, {"type": "file", "fileName": "見積.pdf"}, content_size=5000
    )
    stack.wait_until(lambda: sf.find("LINE_Chat_Message__c", Content_Status__c="Too Large"), what="the too-large mark")
    drained(stack)
    assert sf.records("ContentDocument") == []
    [msg] = sf.find("LINE_Chat_Message__c", Type__c="file")
    assert msg["File_Name__c"] == "見積.pdf"
