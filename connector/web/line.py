"""LINE webhook: verify on the raw bytes, store durably, answer in milliseconds.

401 bad or missing signature (nothing stored) · 400 signed but not a webhook body · 413 over the
size limit · 503 Redis cannot take it (LINE redelivers) · 200 with an empty body: stored, or a
duplicate, or LINE's URL verification (empty `events`). LINE reads only the status, so no body is
sent: a body costs gunicorn a second send() per request (docs/benchmarks.md).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import time

from flask import Blueprint, current_app, jsonify, request

from connector import metrics
from connector.domain import events as ev
from connector.jobs import enqueue_drains
from connector.storage import StorageError
from connector.web.edge import parse_json

log = logging.getLogger(__name__)
bp = Blueprint("line", __name__)


def signature_of(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verified_channel(channels, body: bytes, signature: str):
    """The channel whose current or previous secret signed this body, or None."""
    if not signature.isascii():  # a base64 digest is ASCII; compare_digest refuses anything else
        return None
    for channel in channels:
        for secret in channel.secrets:
            if hmac.compare_digest(signature_of(secret, body), signature):
                return channel
    return None


def _observed(view):
    """Counts each answer by status and times it (/metrics)."""

    @functools.wraps(view)
    def observed(*args, **kwargs):
        start, status = time.perf_counter(), 500
        try:
            resp = view(*args, **kwargs)
            status = resp[1] if isinstance(resp, tuple) else resp.status_code
            return resp
        finally:
            metrics.webhook_answered(status, time.perf_counter() - start)

    return observed


@bp.post("/line/webhook")
@bp.post("/line/webhook/<name>")
@_observed
def webhook(name: str | None = None):
    rt = current_app.extensions["connector"]
    channels = rt.config.channels
    if name is not None:
        channel = rt.config.channel_by_name(name)
        if channel is None:
            return jsonify(error="unknown channel"), 404
        channels = [channel]
    body = request.get_data(cache=False)
    signature = request.headers.get("x-line-signature", "")
    channel = verified_channel(channels, body, signature) if signature else None
    if channel is None:
        log.warning("line webhook rejected: %s signature (%d bytes)", "bad" if signature else "missing", len(body))
        return jsonify(error="invalid signature"), 401
    try:
        payload = parse_json(body)
        events = payload["events"]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise ValueError("events must be a list of objects")
    except (ValueError, KeyError, TypeError) as exc:
        log.warning(
            "line webhook rejected: signed body is not a webhook (%s) channel=%s", type(exc).__name__, channel.name
        )
        return jsonify(error="malformed webhook body"), 400
    if not events:
        return _ack()  # LINE's URL verification

    redact = rt.redactor.redact
    items = []
    for e in events:
        eid = ev.event_id(e)  # older payloads have none: derived from the raw event, then stamped in
        items.append(
            (channel.id, eid, ev.conversation_id(channel.id, e), {**ev.redacted(e, redact), "webhookEventId": eid})
        )
    try:
        wake, duplicates = rt.store.ingest(items)
    except StorageError as exc:
        log.error("line webhook: redis unavailable (%s); answering 503 so LINE redelivers", type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503
    if wake:
        try:
            enqueue_drains(rt, 1)
        except StorageError as exc:  # stored: the workers' sweeper finds ready conversations by itself
            log.warning("line webhook: stored, but no drain job queued (%s)", type(exc).__name__)
    # A line per webhook at INFO cost about a fifth of the relay's CPU (docs/benchmarks.md, item 16):
    # the ordinary case is DEBUG; a redelivery is worth seeing.
    log.log(
        logging.INFO if duplicates else logging.DEBUG,
        "line webhook channel=%s events=%d duplicates=%d",
        channel.name,
        len(events),
        duplicates,
    )
    return _ack()


def _ack():
    return current_app.response_class(status=200)
