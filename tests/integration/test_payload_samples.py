"""Every official SDK fixture, signed with the channel secret, is accepted and applied without error.

The fixtures reuse message ids across files (they were written one at a time), so each body's
message ids are made unique here; everything else is sent exactly as published.
"""

from __future__ import annotations

import json
from pathlib import Path

import redis

from connector.domain import events as ev
from tests.integration.conftest import drained

SAMPLES = Path(__file__).parents[1] / "data" / "line-payloads"
BODIES = sorted(SAMPLES.glob("java-callback/*.json")) + [
    SAMPLES / "python-sdk-v3-webhook.json",
    SAMPLES / "java-callback-request.json",
]


def unique_ids(body: dict, n: int) -> dict:
    for i, e in enumerate(body.get("events", [])):
        msg = e.get("message")
        if isinstance(msg, dict) and "id" in msg:
            msg["id"] = f"{msg['id']}{n:03d}{i:02d}"
        if isinstance(e.get("unsend"), dict):
            e["unsend"]["messageId"] = f"{e['unsend']['messageId']}{n:03d}{i:02d}"
        if "webhookEventId" in e:
            e["webhookEventId"] = f"{e['webhookEventId'][:-5]}{n:03d}{i:02d}"
    return body


def test_every_sdk_fixture_is_accepted_and_applied_without_a_dead_letter(make_stack):
    stack = make_stack()
    line, sf, ch = stack.sandbox.line, stack.sandbox.salesforce, stack.channels[0].channel_id
    sent = []
    for n, path in enumerate(BODIES):
        body = unique_ids(json.loads(path.read_text()), n)
        status = line.post_raw(ch, json.dumps(body, ensure_ascii=False).encode())
        assert status == 200, path.name
        sent.extend(body["events"])
    drained(stack, timeout=90)
    store_dlq = redis.Redis.from_url(stack.redis_url).hlen("ln:dlq")
    assert store_dlq == 0, stack.logs()

    keys = {m["Message_Key__c"] for m in sf.records("LINE_Chat_Message__c")}
    for e in sent:
        kind = ev.treatment(e)
        if ev.source_key(e) == "-":
            continue  # channel-level or unattributable (e.g. an unknown source type): logged only
        if e["type"] == "message":
            assert str(e["message"]["id"]) in keys, e["message"]["type"]
        elif kind == "record":
            assert f"ev:{ev.event_id(e)}" in keys, e["type"]
    friends = sf.records("LINE_Friend__c")
    assert {"Following", "Unfollowed"} <= {f["Status__c"] for f in friends}
    media = [m for m in sf.records("LINE_Chat_Message__c") if m.get("Type__c") in ("image", "video", "audio", "file")]
    assert media and all(m["Content_Status__c"] in ("Stored", "Expired", "Pending") for m in media)
