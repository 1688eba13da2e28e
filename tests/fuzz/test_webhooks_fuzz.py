"""Fuzzing the relay's HTTP edges with hypothesis: no input gives a 500 or an exception, and each
answer is one of the statuses the endpoint documents (docs/openapi.yaml).

Signed variants get past the signature check, so the parsing behind it is fuzzed too.
"""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.domain import events as ev
from connector.web.line import signature_of
from connector.web.salesforce import sign as callout_sign
from tests.conftest import CHANNEL_SECRET
from tests.domain.card_strategies import cards
from tests.fuzz.conftest import CALLOUT_SECRET

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
LINE_STATUSES = {200, 400, 401, 413, 503}
CALLOUT_STATUSES = {202, 400, 401, 409, 413, 503}

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=5),
    max_leaves=20,
)

# webhook-shaped events whose fields take any JSON value (types LINE never sends included)
field = lambda good: st.one_of(good, json_values)
line_event = st.fixed_dictionaries(
    {},
    optional={
        "type": field(
            st.sampled_from(
                [
                    "message",
                    "follow",
                    "unfollow",
                    "postback",
                    "unsend",
                    "join",
                    "leave",
                    "accountLink",
                    "memberJoined",
                    "videoPlayComplete",
                    "beacon",
                    "x-connector.bogus",
                ]
            )
        ),
        "mode": field(st.sampled_from(["active", "standby"])),
        "timestamp": field(st.integers(0, 2**45)),
        "webhookEventId": field(st.text(min_size=1, max_size=30)),
        "replyToken": field(st.text(max_size=40)),
        "deliveryContext": field(st.fixed_dictionaries({"isRedelivery": st.booleans()})),
        "source": field(
            st.fixed_dictionaries(
                {"type": field(st.sampled_from(["user", "group", "room"])), "userId": field(st.text(max_size=40))},
                optional={"groupId": field(st.text(max_size=20)), "roomId": field(st.text(max_size=20))},
            )
        ),
        "message": field(
            st.fixed_dictionaries(
                {
                    "type": field(st.sampled_from(["text", "sticker", "image", "location", "file"])),
                    "id": field(st.text(max_size=20)),
                },
                optional={
                    "text": field(st.text(max_size=300)),
                    "emojis": json_values,
                    "mention": json_values,
                    "fileName": field(st.text(max_size=30)),
                },
            )
        ),
        "unsend": json_values,
        "postback": json_values,
        "follow": json_values,
    },
)


def post_line(client, body: bytes, *, sign: bool = True, path: str = "/line/webhook", headers=None):
    h = {"Content-Type": "application/json"}
    if sign:
        h["x-line-signature"] = signature_of(CHANNEL_SECRET, body)
    h.update(headers or {})
    return client.post(path, data=body, headers=h)


@FUZZ
@given(body=st.binary(max_size=2000), sign=st.booleans())
def test_line_webhook_any_bytes(app, body, sign):
    r = post_line(app.test_client(), body, sign=sign)
    assert r.status_code in (LINE_STATUSES if sign else {401}), (r.status_code, body[:200])


@FUZZ
@given(payload=json_values)
def test_line_webhook_any_signed_json(app, payload):
    r = post_line(app.test_client(), json.dumps(payload).encode())
    assert r.status_code in {200, 400}, (r.status_code, payload)


@FUZZ
@given(events=st.lists(line_event, max_size=4), destination=field(st.text(max_size=40)))
def test_line_webhook_any_signed_events(app, events, destination):
    body = json.dumps({"destination": destination, "events": events}, ensure_ascii=False).encode()
    r = post_line(app.test_client(), body)
    assert r.status_code in {200, 400}, (r.status_code, events)


@FUZZ
@given(
    signature=st.text(max_size=100),
    name=st.text(min_size=1, max_size=30).filter(lambda s: "/" not in s and "?" not in s and "#" not in s),
)
def test_line_webhook_bad_signature_or_unknown_channel(app, signature, name):
    body = json.dumps({"events": []}).encode()
    client = app.test_client()
    headers = {"Content-Type": "application/json"}
    if signature.isascii() and "\n" not in signature and "\r" not in signature:
        headers["x-line-signature"] = signature
    r = client.post("/line/webhook", data=body, headers=headers)
    assert r.status_code in ({200} if headers.get("x-line-signature") == signature_of(CHANNEL_SECRET, body) else {401})
    r = client.post(
        f"/line/webhook/{name}", data=body, headers={"x-line-signature": signature_of(CHANNEL_SECRET, body)}
    )
    assert r.status_code in ({200} if name == "main" else {404}), name


def test_line_webhook_too_large(app):
    body = b'{"events": []}' + b" " * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert post_line(app.test_client(), body).status_code == 413


def callout(client, body: bytes, *, ts: str | None = None, secret: str = CALLOUT_SECRET, signature: str | None = None):
    ts = ts if ts is not None else str(int(time.time()))
    sig = signature if signature is not None else callout_sign(secret, ts, body)
    return client.post(
        "/salesforce/callout",
        data=body,
        headers={"Content-Type": "application/json", "X-Connector-Timestamp": ts, "X-Connector-Signature": sig},
    )


envelope = st.fixed_dictionaries(
    {},
    optional={
        "type": field(
            st.sampled_from(
                [
                    "message.send",
                    "session.close",
                    "session.transfer",
                    "session.decline",
                    "session.read",
                    "presence.update",
                ]
            )
        ),
        "id": field(st.text(min_size=1, max_size=60)),
        "sentAt": json_values,
        "data": field(
            st.fixed_dictionaries(
                {},
                optional={
                    "records": field(
                        st.lists(
                            st.fixed_dictionaries(
                                {},
                                optional={
                                    "messageKey": field(st.text(max_size=20).map(lambda s: "op:" + s)),
                                    "sessionKey": field(st.text(max_size=20)),
                                    "messageType": field(st.sampled_from(["text", "sticker", "image"])),
                                    "text": json_values,
                                    "contentVersionId": json_values,
                                },
                            ),
                            max_size=3,
                        )
                    ),
                    "sessionKey": json_values,
                    "operatorId": json_values,
                    "status": json_values,
                },
            )
        ),
    },
)


@FUZZ
@given(body=st.binary(max_size=1000), signed=st.booleans(), ts=st.one_of(st.none(), st.text(max_size=12)))
def test_callout_any_bytes(app, body, signed, ts):
    ts_ok = ts is None
    if ts is not None and not (ts.isascii() and ts.isprintable()):
        ts = "x"
    r = callout(app.test_client(), body, ts=ts, signature=None if signed else "v1=" + "0" * 64)
    assert r.status_code in (CALLOUT_STATUSES if signed and ts_ok else {401, 400} if signed else {401}), r.status_code


@FUZZ
@given(env=envelope)
def test_callout_any_signed_envelope(app, env):
    r = callout(app.test_client(), json.dumps(env).encode())
    assert r.status_code in CALLOUT_STATUSES - {413}, (r.status_code, env)


@FUZZ
@given(token=st.text(max_size=80).filter(lambda s: "/" not in s and "?" not in s and "#" not in s and s))
def test_media_any_token(app, token):
    r = app.test_client().get(f"/media/{token}")
    assert r.status_code == 404


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
    path=st.sampled_from(
        [
            "/line/webhook",
            "/line/webhook/main",
            "/salesforce/callout",
            "/media/x",
            "/healthz",
            "/readyz",
            "/metrics",
            "/twilio/voice",
            "/twilio/status",
            "/",
            "/line",
        ]
    ),
    body=st.binary(max_size=200),
)
def test_every_route_any_method(app, method, path, body):
    if path == "/readyz":
        return  # /readyz logs in to Salesforce (no Salesforce here); covered by the schemathesis run
    r = app.test_client().open(path, method=method, data=body)
    assert r.status_code < 500 or r.status_code == 503, (method, path, r.status_code)


@settings(max_examples=300, deadline=None)
@given(event=line_event)
def test_edge_redaction_of_any_event(event):
    """ev.redacted runs on every event at the webhook: it must take anything LINE could send."""
    from connector.domain.redaction import Redactor

    out = ev.redacted(event, Redactor().redact)
    assert isinstance(out, dict)
    ev.event_id(event)
    ev.conversation_id("1000000001", event)


@settings(max_examples=300, deadline=None)
@given(before=st.text(max_size=200), card=cards(), after=st.text(max_size=200))
def test_redaction_never_leaves_a_card_number(before, card, after):
    """A card number in any format, between any text, loses its middle digits at the edge."""
    from connector.domain.redaction import Redactor

    # a digit touching the number would make it a different (longer) number
    before += " " if before[-1:].isdecimal() else ""
    after = (" " if after[:1].isdecimal() else "") + after
    text = before + card.rendered + after
    r = Redactor()
    out = r.redact(text)
    assert len(out) == len(text)
    span = out[len(before) : len(before) + len(card.rendered)]
    assert all(span[k] == "*" for k in card.middle_offsets()), (card.rendered, span)
    assert r.redact(out) == out
