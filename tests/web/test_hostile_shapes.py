"""Finding 5 (issue 17): request shapes that gave a 500 now get their documented answer.

Each is signed with the real secret, so it reaches the parsing behind the signature check.
"""

from __future__ import annotations

import json
import time

import pytest

from connector.config import load_config
from connector.entrypoints.app import create_app
from connector.storage.vault import Vault, new_key
from connector.web.line import signature_of
from connector.web.salesforce import sign
from tests.conftest import CHANNEL_SECRET, base_settings

CALLOUT_SECRET = "callout-secret-for-hostile-shapes"


@pytest.fixture
def client(environ):
    environ["CONNECTOR_CALLOUT_SECRETS"] = CALLOUT_SECRET
    return create_app(load_config(data=base_settings(), environ=environ)).test_client()


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def event_with(value: str) -> bytes:
    event = {
        "type": "message",
        "webhookEventId": "01HOSTILE0000000000000000",
        "source": {"type": "user", "userId": "U" + "1" * 32},
        "message": {"id": "1", "type": "text", "text": "hi", "extra": "@@"},
    }
    return json.dumps({"destination": "Ubot", "events": [event]}).replace('"@@"', value).encode()


def post_line(client, body: bytes, signature: str | None = None):
    sig = signature if signature is not None else signature_of(CHANNEL_SECRET, body)
    return client.post("/line/webhook", data=body, headers={"x-line-signature": sig})


def post_callout(client, body: bytes, ts: str | None = None, signature: str | None = None):
    ts = str(int(time.time())) if ts is None else ts
    sig = signature if signature is not None else sign(CALLOUT_SECRET, ts, body)
    return client.post(
        "/salesforce/callout", data=body, headers={"X-Connector-Timestamp": ts, "X-Connector-Signature": sig}
    )


def test_finding5_signed_webhook_nested_1000_deep_is_400_and_nothing_is_stored(client):
    resp = post_line(client, event_with(nested(1000)))
    assert (resp.status_code, resp.get_json()) == (400, {"error": "malformed webhook body"})
    rt = client.application.extensions["connector"]
    assert {k: v for k, v in rt.store.backlog().items() if k != "held"} == {"conversations": 0, "events": 0}


@pytest.mark.parametrize("depth", [60, 61, 300, 1100])
def test_webhook_nesting_beyond_the_limit_is_400_within_it_is_stored(client, depth):
    resp = post_line(client, event_with(nested(depth)))
    assert resp.status_code == (200 if depth + 4 <= 64 else 400)  # the event itself sits 4 deep


def test_finding5_signed_callout_nested_100000_deep_is_400(client):
    body = json.dumps({"type": "session.close", "id": "x1", "data": "@@"}).replace('"@@"', nested(100_000)).encode()
    resp = post_callout(client, body)
    assert (resp.status_code, resp.get_json()) == (400, {"error": "malformed envelope"})


@pytest.mark.parametrize("ts", ["9" * 5000, "²", "١٧٠٠٠٠٠٠٠٠", " 1700000000", "+1700000000", "-1"])
def test_finding5_callout_timestamp_that_is_not_plain_digits_is_401(client, ts):
    body = json.dumps({"type": "session.close", "id": "x1", "data": {}}).encode()
    resp = post_callout(client, body, ts=ts)
    assert resp.status_code == 401


@pytest.mark.parametrize("signature", ["é" * 44, "v1=" + "é" * 64, "v1=" + "0" * 63 + "\u00ff"])
def test_non_ascii_signatures_are_refused_not_compared(client, signature):
    body = json.dumps({"events": []}).encode()
    assert post_line(client, body, signature=signature).status_code == 401
    assert post_callout(client, body, signature=signature).status_code == 401


def test_vault_refuses_to_seal_what_it_cannot_serialise_with_a_value_error():
    vault = Vault([new_key()])
    deep = 1
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="cannot seal"):
        vault.seal_json(deep)
    assert vault.open_json(vault.seal_json({"n": 2**70})) == {"n": 2**70}
