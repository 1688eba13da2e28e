"""Operator -> LINE: one push per record whatever happens, status written back, the sweep."""

from __future__ import annotations

import base64
import time
import uuid

import pytest

from connector.gateways.line import retry_key
from connector.jobs import outbound
from tests.jobs.operator_fixtures import (  # noqa: F401
    CHANNEL,
    CUSTOMER,
    customer_writes,
    op_redis,
    op_sandbox,
    rt,
    run_jobs,
    sb,
    session_key,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def operator_message(sb, key: str, **fields) -> dict:
    """A record as LineChatController.sendMessage + the trigger leave it: Pending, key op:<Id>."""
    session = sb.salesforce.find("LINE_Chat_Session__c", Session_Key__c=key)[0]
    base = {
        "Chat_Session__c": session["Id"],
        "Direction__c": "Operator",
        "Delivery_Status__c": "Pending",
        "Type__c": "text",
        "Text__c": "お待たせしました。確認いたします。",
        "Message_Key__c": f"op:pending:{uuid.uuid4()}",
    }
    rid = sb.salesforce.insert("LINE_Chat_Message__c", {**base, **fields})
    sb.salesforce.update("LINE_Chat_Message__c", rid, {"Message_Key__c": "op:" + rid})
    rec = sb.salesforce.get("LINE_Chat_Message__c", rid)
    return {
        "id": rid,
        "messageKey": "op:" + rid,
        "sessionKey": key,
        "messageType": rec["Type__c"],
        "text": rec.get("Text__c"),
        "stickerPackageId": rec.get("Sticker_Package_Id__c"),
        "stickerId": rec.get("Sticker_Id__c"),
        "contentVersionId": None,
    }


def record_of(sb, rec):
    return sb.salesforce.get("LINE_Chat_Message__c", rec["id"])


def deliver(rt, rec):
    return outbound.deliver(rt.vault.seal_json(rec))


def pushes(sb):
    return [
        d
        for d in sb.line.delivered(user_id=CUSTOMER, method="push")
        if d["messages"][0]["type"] != "text" or not d["messages"][0]["text"].startswith("お問い合わせありがとう")
    ]


@pytest.fixture
def key(rt, sb):
    customer_writes(rt, "注文の件で相談です")
    return session_key(rt)


def test_text_is_pushed_with_a_retry_key_from_the_record_and_status_written_back(rt, sb, key):
    rec = operator_message(sb, key)
    assert deliver(rt, rec) == "Sent"
    [push] = pushes(sb)
    assert push["retry_key"] == retry_key("op:" + rec["id"])
    assert push["messages"] == [{"type": "text", "text": "お待たせしました。確認いたします。"}]
    r = record_of(sb, rec)
    assert r["Delivery_Status__c"] == "Sent" and r["LINE_Message_Id__c"] == push["sent_messages"][0]["id"]
    assert r["Sent_At__c"] and not r.get("Delivery_Error__c")


def test_a_repeated_job_delivers_once(rt, sb, key):
    rec = operator_message(sb, key)
    deliver(rt, rec)
    deliver(rt, rec)
    assert len(pushes(sb)) == 1


def test_409_counts_as_delivered_when_the_marker_is_lost(rt, sb, key):
    rec = operator_message(sb, key)
    deliver(rt, rec)
    first_id = record_of(sb, rec)["LINE_Message_Id__c"]
    rt.redis.delete(rt.keys.marker(rec["messageKey"]))  # e.g. Redis restarted without AOF
    sb.salesforce.update("LINE_Chat_Message__c", rec["id"], {"Delivery_Status__c": "Pending"})
    assert deliver(rt, rec) == "Sent"  # LINE answered 409 to the same retry key
    assert len(pushes(sb)) == 1
    r = record_of(sb, rec)
    assert r["Delivery_Status__c"] == "Sent" and r["LINE_Message_Id__c"] == first_id


def test_line_unavailable_retries_and_the_record_stays_pending(rt, sb, key):
    from connector.gateways.errors import Retryable

    rec = operator_message(sb, key)
    sb.faults.add("line", "status", status=500, path="/v2/bot/message/push", count=1)
    with pytest.raises(Retryable):
        deliver(rt, rec)
    assert record_of(sb, rec)["Delivery_Status__c"] == "Pending"
    assert deliver(rt, rec) == "Sent"
    assert len(pushes(sb)) == 1


def test_permanent_failure_is_written_back_with_the_reason(rt, sb, key):
    rec = operator_message(sb, key)
    sb.faults.add("line", "status", status=400, path="/v2/bot/message/push", count=1)
    assert deliver(rt, rec) == "Failed"
    r = record_of(sb, rec)
    assert r["Delivery_Status__c"] == "Failed" and "HTTP 400" in r["Delivery_Error__c"]


def test_undeliverable_record_fails_with_a_clear_reason(rt, sb, key):
    rec = dict(operator_message(sb, key), text="あ" * 5001)
    assert deliver(rt, rec) == "Failed"
    assert "5000" in record_of(sb, rec)["Delivery_Error__c"]
    assert pushes(sb) == []


def test_sticker(rt, sb, key):
    rec = operator_message(sb, key, Type__c="sticker", Text__c=None, Sticker_Package_Id__c="446", Sticker_Id__c="1988")
    assert deliver(rt, rec) == "Sent"
    assert pushes(sb)[0]["messages"] == [{"type": "sticker", "packageId": "446", "stickerId": "1988"}]


def test_image_is_served_to_line_from_a_short_lived_signed_url(rt, sb, key):
    from connector.entrypoints.app import create_app

    version_id = rt.salesforce.call(
        "file",
        lambda sf: sf.ContentVersion.create(
            {"Title": "map", "PathOnClient": "map.png", "VersionData": base64.b64encode(PNG).decode()}
        ),
    )["id"]
    rec = dict(operator_message(sb, key, Type__c="image", Text__c=None), contentVersionId=version_id)
    assert deliver(rt, rec) == "Sent"
    [msg] = pushes(sb)[0]["messages"]
    assert msg["type"] == "image" and msg["originalContentUrl"] == msg["previewImageUrl"]
    assert msg["originalContentUrl"].startswith("https://relay.example.com/media/")
    token = msg["originalContentUrl"].rsplit("/", 1)[1]
    client = create_app(rt.config).test_client()
    calls = sb.salesforce.api_calls
    resp = client.get(f"/media/{token}")
    assert resp.status_code == 200 and resp.data == PNG and resp.mimetype == "image/png"
    assert sb.salesforce.api_calls == calls  # served from Redis
    assert client.get(f"/media/{token[:-1]}{'0' if token[-1] != '0' else '1'}").status_code == 404  # tampered
    from connector.domain import media

    expired = media.make_token(rt.config.encryption_keys, version_id, int(time.time()) - 1)
    assert client.get(f"/media/{expired}").status_code == 404
    assert b"PNG" not in rt.redis.get(rt.keys.blob("media", version_id))  # sealed at rest


def test_image_that_is_not_jpeg_or_png_fails(rt, sb, key):
    version_id = rt.salesforce.call(
        "file",
        lambda sf: sf.ContentVersion.create(
            {"Title": "doc", "PathOnClient": "doc.pdf", "VersionData": base64.b64encode(b"%PDF-1.4").decode()}
        ),
    )["id"]
    rec = dict(operator_message(sb, key, Type__c="image", Text__c=None), contentVersionId=version_id)
    assert deliver(rt, rec) == "Failed"
    assert "JPEG or PNG" in record_of(sb, rec)["Delivery_Error__c"]


def test_sweeper_delivers_a_pending_record_whose_callout_was_lost(rt, sb, key):
    lost = operator_message(sb, key)
    delay = rt.settings.routing.outbound_sweep_delay_seconds
    assert outbound.sweep(rt) == 0  # too recent: its callout may still be on the way
    assert outbound.sweep(rt, now=time.time() + delay + 5) == 1
    run_jobs(rt)
    assert len(pushes(sb)) == 1
    assert pushes(sb)[0]["retry_key"] == retry_key(lost["messageKey"])
    assert record_of(sb, lost)["Delivery_Status__c"] == "Sent"
    assert outbound.sweep(rt, now=time.time() + delay + 5) == 0  # nothing Pending any more


def test_sweep_racing_the_callout_still_delivers_once(rt, sb, key):
    rec = operator_message(sb, key)
    outbound.sweep(rt, now=time.time() + 3600)  # the sweep found it Pending...
    deliver(rt, rec)  # ...while the callout's job delivered it
    run_jobs(rt)
    assert len(pushes(sb)) == 1


def test_sweeper_image_record_resolves_the_latest_file_version(rt, sb, key):
    created = rt.salesforce.call(
        "file",
        lambda sf: sf.ContentVersion.create(
            {"Title": "p", "PathOnClient": "p.png", "VersionData": base64.b64encode(PNG).decode()}
        ),
    )
    doc = sb.salesforce.get("ContentVersion", created["id"])["ContentDocumentId"]
    operator_message(sb, key, Type__c="image", Text__c=None, Content_Document_Id__c=doc)
    assert outbound.sweep(rt, now=time.time() + 3600) == 1
    run_jobs(rt)
    assert pushes(sb)[0]["messages"][0]["type"] == "image"


def test_sweep_runs_at_most_once_per_interval(rt):
    assert outbound.sweep_due(rt) is True
    assert outbound.sweep_due(rt) is False


def test_callout_to_delivery_end_to_end(rt, sb, key):
    """The signed callout, exactly as Apex sends it, through the web app, then the job."""
    from connector.entrypoints.app import create_app
    from tests.jobs.operator_fixtures import CALLOUT_SECRET, sign_like_apex

    rec = operator_message(sb, key)
    client = create_app(rt.config).test_client()
    body, headers = sign_like_apex(CALLOUT_SECRET, "message.send", rec["id"], {"records": [rec]})
    assert client.post("/salesforce/callout", data=body, headers=headers).status_code == 202
    assert client.post("/salesforce/callout", data=body, headers=headers).status_code == 409
    run_jobs(rt)
    assert len(pushes(sb)) == 1 and record_of(sb, rec)["Delivery_Status__c"] == "Sent"
