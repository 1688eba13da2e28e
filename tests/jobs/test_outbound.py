"""Operator -> LINE: one push per record whatever happens, status written back, the sweep."""

from __future__ import annotations

import base64
import time
import uuid

import pytest

from connector.gateways.line import retry_key
from connector.jobs import outbound
from tests.jobs.operator_fixtures import *  # noqa: F403 - its fixtures: op_sandbox, op_redis, sb, rt
from tests.jobs.operator_fixtures import CUSTOMER, customer_writes, run_jobs, session_key

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


def png(width: int, height: int, noise: bool = False, mode: str = "RGB") -> bytes:
    import io
    import os as _os

    from PIL import Image

    channels = len(mode)
    img = (
        Image.frombytes(mode, (width, height), _os.urandom(width * height * channels))
        if noise
        else Image.new(mode, (width, height), (30, 120, 200, 128)[:channels])
    )
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def upload(rt, data: bytes, name: str = "map.png") -> str:
    return rt.salesforce.call(
        "file",
        lambda sf: sf.ContentVersion.create(
            {"Title": name, "PathOnClient": name, "VersionData": base64.b64encode(data).decode()}
        ),
    )["id"]


def sent_image(rt, sb, key, data: bytes):
    from connector.entrypoints.app import create_app

    version_id = upload(rt, data)
    rec = dict(operator_message(sb, key, Type__c="image", Text__c=None), contentVersionId=version_id)
    assert deliver(rt, rec) == "Sent"
    [msg] = pushes(sb)[0]["messages"]
    return version_id, msg, create_app(rt.config).test_client()


def path(url: str) -> str:
    return "/media/" + url.rsplit("/", 1)[1]


def test_image_is_served_to_line_from_signed_links(rt, sb, key):
    image = png(200, 100)
    version_id, msg, client = sent_image(rt, sb, key, image)
    assert msg["type"] == "image" and msg["originalContentUrl"].startswith("https://relay.example.com/media/")
    calls = sb.salesforce.api_calls
    resp = client.get(path(msg["originalContentUrl"]))
    assert resp.status_code == 200 and resp.data == image and resp.mimetype == "image/png"
    assert sb.salesforce.api_calls == calls  # the first fetches come from Redis
    token = path(msg["originalContentUrl"])
    assert client.get(f"{token[:-1]}{'0' if token[-1] != '0' else '1'}").status_code == 404  # tampered
    assert image[16:48] not in rt.redis.get(rt.keys.blob("media", version_id))  # sealed at rest


def test_finding11_links_work_as_long_as_the_chat_may_be_read(rt, sb, key):
    from connector.domain import media

    _, msg, _ = sent_image(rt, sb, key, png(200, 100))
    keys, now, days = rt.config.encryption_keys, time.time(), rt.settings.routing.operator_image_link_days
    for url in (msg["originalContentUrl"], msg["previewImageUrl"]):
        token = url.rsplit("/", 1)[1]
        assert media.open_token(keys, token, now + 7 * 86400) is not None  # opened next week
        assert media.open_token(keys, token, now + days * 86400 + 60) is None  # not for ever


def test_finding11_after_the_first_hour_the_image_comes_from_salesforce_not_redis(rt, sb, key):
    image = png(200, 100)
    version_id, msg, client = sent_image(rt, sb, key, image)
    rt.blobs.delete("media", version_id)  # media_url_ttl_seconds later: Redis let it go
    calls = sb.salesforce.api_calls
    resp = client.get(path(msg["originalContentUrl"]))
    assert resp.status_code == 200 and resp.data == image
    assert sb.salesforce.api_calls == calls + 1
    assert client.get(path(msg["originalContentUrl"])).data == image
    assert sb.salesforce.api_calls == calls + 1  # kept again for the next fetches


def test_finding11_the_preview_meets_lines_size_rules(rt, sb, key):
    from PIL import Image

    from connector.domain import media

    big = png(1500, 1000, noise=True)  # a photo-sized image: 4.5 MB
    assert len(big) > media.MAX_PREVIEW_BYTES
    _, msg, client = sent_image(rt, sb, key, big)
    assert msg["previewImageUrl"] != msg["originalContentUrl"]
    resp = client.get(path(msg["previewImageUrl"]))
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    assert len(resp.data) <= media.MAX_PREVIEW_BYTES
    import io

    with Image.open(io.BytesIO(resp.data)) as img:
        assert max(img.size) == media.PREVIEW_EDGE_PX and img.size[0] / img.size[1] == pytest.approx(1.5, abs=0.01)
    assert client.get(path(msg["originalContentUrl"])).data == big  # the original is untouched


def test_finding11_a_transparent_image_keeps_its_transparency_in_the_preview(rt, sb, key):
    _, msg, client = sent_image(rt, sb, key, png(1200, 800, mode="RGBA"))
    resp = client.get(path(msg["previewImageUrl"]))
    assert resp.status_code == 200 and resp.mimetype == "image/png"


def test_finding11_an_image_deleted_in_salesforce_is_gone_from_its_links(rt, sb, key):
    version_id, msg, client = sent_image(rt, sb, key, png(200, 100))
    doc = sb.salesforce.get("ContentVersion", version_id)["ContentDocumentId"]
    rt.salesforce.delete("ContentDocument", doc)  # retention, or an operator
    rt.blobs.delete("media", version_id)
    assert client.get(path(msg["originalContentUrl"])).status_code == 404
    assert client.get(path(msg["previewImageUrl"])).status_code == 404


def test_finding11_salesforce_down_answers_503_so_line_asks_again(rt, sb, key):
    version_id, msg, client = sent_image(rt, sb, key, png(200, 100))
    rt.blobs.delete("media", version_id)
    sb.faults.add("salesforce", "status", status=503, count=3)
    resp = client.get(path(msg["originalContentUrl"]))
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "60"
    sb.faults.clear()
    assert client.get(path(msg["originalContentUrl"])).status_code == 200


def test_a_link_of_the_first_format_still_opens(rt, sb, key):
    import hashlib
    import hmac

    image = png(200, 100)
    version_id, _, client = sent_image(rt, sb, key, image)
    exp = int(time.time()) + 600
    k = hashlib.sha256(b"connector-media-url:" + rt.config.encryption_keys[0].encode()).digest()
    mac = hmac.new(k, f"{version_id}.{exp}".encode(), hashlib.sha256).hexdigest()[:32]
    assert client.get(f"/media/{version_id}.{exp}.{mac}").data == image  # sent before this change


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
