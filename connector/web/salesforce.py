"""Callouts from Salesforce (Apex `LineConnectorCallout`): verify, dedupe, enqueue, answer 202.

Contract (docs/salesforce.md): `POST /salesforce/callout`, JSON envelope
`{"type", "id", "sentAt", "data"}`, headers `X-Connector-Timestamp` (unix seconds) and
`X-Connector-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`.

* The signature is checked on the raw bytes against every secret in CONNECTOR_CALLOUT_SECRETS
  (comma-separated, newest first), so a rotation never rejects a callout.
* The timestamp must be within `routing.callout_max_skew_seconds` (300) of our clock: an old
  captured request is useless.
* Replays: the envelope id is remembered (SET NX) for longer than the skew window; the same id
  again is answered 409, which Apex counts as success (nothing is done twice).
* Then the work is only ENQUEUED (sealed: operator texts are personal data): one outbound job per
  message record, one routing job for any other type. No Salesforce or LINE call happens here.

202 accepted · 400 malformed (signed, but not an envelope we understand) · 401 bad/missing/stale
signature · 409 replay · 413 too large · 503 Redis unavailable (Apex leaves the message Pending;
the relay's sweeper delivers it later).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time

from flask import Blueprint, current_app, jsonify, request

from connector.domain.operator import is_internal
from connector.domain.voice import client_identity
from connector.gateways.twilio import voice_access_token
from connector.jobs import (
    DELIVER_OPERATOR_MESSAGE,
    RETENTION_CALLOUT,
    ROUTING_CALLOUT,
    VOICE_CALLOUT,
    enqueue,
    job_id,
)
from connector.storage import StorageError
from connector.web.edge import parse_json

log = logging.getLogger(__name__)
bp = Blueprint("salesforce", __name__)

TYPES = {
    "message.send",
    "session.close",
    "session.transfer",
    "session.decline",
    "session.hold",  # put a chat on hold with a memo (docs/supervision.md)
    "session.resume",  # take a held chat back
    "session.read",
    "presence.update",
    "identity.link",
    "call.offer",  # voice: offer the customer a call (docs/voice.md)
    "call.line_guide",  # voice: 「LINEで案内」, move a caller to LINE
    "identity.request",  # retention: an operator asked the customer for an ID document
    "media.identity",  # retention: an operator marks an image as an ID document, or deletes it now
    "settings.changed",  # an admin changed custom metadata: sync the settings now (docs/configuration.md)
}
IDENTITY_ACTIONS = {"mark", "delete"}
MESSAGE_TYPES = {"text", "sticker", "image"}
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # unix seconds, ASCII digits only (str.isdigit() takes "²")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """What Apex sends: "v1=" + lowercase hex HMAC-SHA256(secret, timestamp + "." + body)."""
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secrets, timestamp: str, body: bytes, signature: str) -> bool:
    if not signature.startswith("v1=") or not signature.isascii():
        return False
    return any(hmac.compare_digest(sign(s, timestamp, body), signature) for s in secrets)


def _envelope(body: bytes) -> dict:
    env = parse_json(body)
    if not isinstance(env, dict):
        raise ValueError("not an object")
    if env.get("type") not in TYPES:
        raise ValueError("unknown type")
    if not isinstance(env.get("id"), str) or not 0 < len(env["id"]) <= 200:
        raise ValueError("bad id")
    if not isinstance(env.get("data"), dict):
        raise ValueError("bad data")
    if env["type"] == "message.send":
        records = env["data"].get("records")
        if not isinstance(records, list) or not records:
            raise ValueError("no records")
        for r in records:
            if (
                not isinstance(r, dict)
                or not str(r.get("messageKey") or "").startswith("op:")
                or not isinstance(r.get("sessionKey"), str)
                or r.get("messageType") not in MESSAGE_TYPES
            ):
                raise ValueError("bad record")
            if is_internal(r) or r.get("direction", "Operator") != "Operator":
                raise ValueError("internal record: never sent to LINE")
    if env["type"] == "identity.request" and not isinstance(env["data"].get("sessionKey"), str):
        raise ValueError("no session key")
    if env["type"] == "media.identity" and (
        not isinstance(env["data"].get("messageKey"), str)
        or not 0 < len(env["data"]["messageKey"]) <= 80
        or env["data"].get("action") not in IDENTITY_ACTIONS
    ):
        raise ValueError("bad media.identity")
    return env


def _signed_body(rt):
    """(raw body, None) when the request is signed by Apex within the skew window; else (None, answer)."""
    settings = rt.settings.routing
    if (request.content_length or 0) > settings.callout_max_body_bytes:
        return None, (jsonify(error="request body too large"), 413)
    body = request.get_data(cache=False)
    if len(body) > settings.callout_max_body_bytes:
        return None, (jsonify(error="request body too large"), 413)
    secrets = rt.config.callout_secrets
    timestamp = request.headers.get("X-Connector-Timestamp", "")
    signature = request.headers.get("X-Connector-Signature", "")
    if not secrets:
        log.error("salesforce callout rejected: CONNECTOR_CALLOUT_SECRETS is not set")
        return None, (jsonify(error="invalid signature"), 401)
    if not _TIMESTAMP.fullmatch(timestamp) or not signature or not verify(secrets, timestamp, body, signature):
        log.warning(
            "salesforce callout rejected: %s signature (%d bytes)", "bad" if signature else "missing", len(body)
        )
        return None, (jsonify(error="invalid signature"), 401)
    skew = abs(time.time() - int(timestamp))
    if skew > settings.callout_max_skew_seconds:
        log.warning("salesforce callout rejected: timestamp %.0f s off", skew)
        return None, (jsonify(error="stale timestamp"), 401)
    return body, None


def _first_time(rt, env: dict) -> bool:
    """Remember the envelope id for longer than the skew window: False for a replay."""
    seen = f"callout-seen:{hashlib.sha256(env['id'].encode()).hexdigest()}"
    ttl = max(600, 2 * rt.settings.routing.callout_max_skew_seconds + 60)
    return rt.leases.once(seen, ttl), seen


@bp.post("/salesforce/callout")
def callout():
    rt = current_app.extensions["connector"]
    body, refused = _signed_body(rt)
    if refused:
        return refused
    try:
        env = _envelope(body)
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("salesforce callout rejected: signed body is not an envelope (%s)", exc)
        return jsonify(error="malformed envelope"), 400

    try:
        first, seen = _first_time(rt, env)
        if not first:
            log.info("salesforce callout %s: replay of an envelope already accepted", env["type"])
            return jsonify(error="replay", accepted=False), 409
        try:
            _enqueue(rt, env)
        except Exception:
            rt.leases.forget(seen)  # not accepted: a retry of this envelope must not count as a replay
            raise
    except StorageError as exc:
        log.error("salesforce callout: redis unavailable (%s); answering 503", type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503
    log.info("salesforce callout %s accepted", env["type"])
    return jsonify(accepted=True), 202


def _enqueue(rt, env: dict) -> None:
    seal = rt.vault.seal_json
    if env["type"] == "message.send":
        for record in env["data"]["records"]:
            enqueue(rt, DELIVER_OPERATOR_MESSAGE, seal(record), key=job_id("op", record["messageKey"]))
        return
    if env["type"].startswith("call."):
        enqueue(rt, VOICE_CALLOUT, seal(env), key=job_id("callout", env["id"]))
        return
    if env["type"] in ("identity.request", "media.identity"):
        enqueue(rt, RETENTION_CALLOUT, seal(env), key=job_id("callout", env["id"]))
        return
    if env["type"] == "settings.changed":
        from connector.jobs.settings_sync import request as sync_settings

        sync_settings(rt)
        return
    enqueue(rt, ROUTING_CALLOUT, seal(env), key=job_id("callout", env["id"]))


# --------------------------------------------------------------------------- the operator's phone
DEVICE_TYPE = "voice.device"
_USER_ID = re.compile(r"005[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?")


@bp.post("/salesforce/voice-token")
def voice_token():
    """A Voice SDK access token for the console's phone (LWC lineVoiceDevice), so a call an operator
    offered rings in their browser: identity `operator-<user id>`, which the IVR dials from now on
    (until a presence.update gives a phone number). Signed like a callout; answered synchronously.

    200 {token, identity, ttl} · 400 not a voice.device envelope with a user id · 401 signature ·
    404 `twilio.console_phone` is off · 409 replay · 503 Redis unavailable (the replay check).
    """
    rt = current_app.extensions["connector"]
    tw = rt.settings.twilio
    if not (tw.enabled and tw.console_phone):
        return jsonify(error="not found"), 404
    body, refused = _signed_body(rt)
    if refused:
        return refused
    try:
        env = parse_json(body)
        user_id = env["data"]["userId"] if env.get("type") == DEVICE_TYPE else None
        if not isinstance(env.get("id"), str) or not 0 < len(env["id"]) <= 200:
            raise ValueError("bad id")
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            raise ValueError("no user id")
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        log.warning("voice token refused: signed body is not a voice.device envelope (%s)", exc)
        return jsonify(error="malformed envelope"), 400
    identity = client_identity(user_id)
    try:
        first, _ = _first_time(rt, env)
        if first:
            # The operator chose to take calls in the browser: offered calls ring there from now on
            # (a later presence.update with a phone number moves them back to the phone).
            rt.voice_store.set_reach(user_id, {"client": identity})
    except StorageError as exc:
        log.error("voice token: redis unavailable (%s); answering 503", type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503
    if not first:
        return jsonify(error="replay"), 409
    jwt = voice_access_token(
        account_sid=rt.config.twilio_account_sid,
        api_key_sid=rt.config.twilio_api_key_sid,
        api_key_secret=rt.config.twilio_api_key_secret,
        identity=identity,
        application_sid=tw.twiml_app_sid,
        ttl_s=tw.operator_token_ttl_seconds,
        incoming=True,
    )
    log.info("voice token issued for an operator's console phone")
    resp = jsonify(token=jwt, identity=identity, ttl=tw.operator_token_ttl_seconds)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --------------------------------------------------------------------------- the supervisor view
SNAPSHOT_TYPE = "presence.snapshot"


@bp.post("/salesforce/presence")
def presence_snapshot():
    """The operators' presence as routing knows it, for the supervisor view (LineSupervisorController):
    status, capacity, live chats (load) and chats on hold per operator, and how many chats are queued.
    Signed like a callout; answered synchronously; reads Redis only (docs/supervision.md).

    200 {operators: [{userId, status, capacity, load, onHold}], queued} · 400 not a presence.snapshot
    envelope · 401 signature · 409 replay · 503 Redis unavailable.
    """
    rt = current_app.extensions["connector"]
    body, refused = _signed_body(rt)
    if refused:
        return refused
    try:
        env = parse_json(body)
        if not isinstance(env, dict) or env.get("type") != SNAPSHOT_TYPE:
            raise ValueError("not a presence.snapshot")
        if not isinstance(env.get("id"), str) or not 0 < len(env["id"]) <= 200:
            raise ValueError("bad id")
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("presence snapshot refused: signed body is not a presence.snapshot envelope (%s)", exc)
        return jsonify(error="malformed envelope"), 400
    try:
        first, _ = _first_time(rt, env)
        state = rt.routing_store.load() if first else None
    except StorageError as exc:
        log.error("presence snapshot: redis unavailable (%s); answering 503", type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503
    if state is None:
        return jsonify(error="replay"), 409
    operators = [
        {
            "userId": op.id,
            "status": op.status.value,
            "capacity": op.capacity,
            "load": op.load,
            "onHold": sum(1 for k in op.active if (state.assigned.get(k) and state.assigned[k].held_until)),
        }
        for op in sorted(state.operators.values(), key=lambda o: o.id)
    ]
    resp = jsonify(operators=operators, queued=len(state.queue))
    resp.headers["Cache-Control"] = "no-store"
    return resp
