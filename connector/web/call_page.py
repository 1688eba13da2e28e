"""The web-call page: talk to the operator from the phone's browser (LINE to Call), or call the
support desk from the company's website (an anonymous web call into the IVR).

    GET  /call?c=<token>        the page (the offer's web button opens it in the external browser)
    GET  /call                  the same page without a code: an anonymous call into the IVR
    POST /call/token            {"c": token} or {}: a short-lived access token (VoiceGrant)
    GET  /call/static/<file>    the page's script and the Twilio Voice SDK (bundled, no CDN)

The token is issued only for a valid one-time code, and using it for a token uses the code (single
use); its identity `web-<offer id>` tells the IVR which operator to dial. Without a code the
identity is `anon-<random>` and the call gets the menu. Both are limited per client address
(`twilio.web_calls_per_ip_per_hour`), anonymous calls also overall
(`twilio.anonymous_calls_per_minute`). The page checks WebRTC first and offers the tel: button when
the browser cannot call. 404 while `twilio.web_call` is off · 410 invalid, expired or used code
(one answer for all three) · 429 over a limit · 503 Redis unavailable.
"""

from __future__ import annotations

import logging
import os
import secrets
import time

from flask import Blueprint, current_app, jsonify, render_template, request, send_from_directory

from connector.domain import voice as V
from connector.gateways.twilio import voice_access_token
from connector.storage import StorageError

log = logging.getLogger(__name__)
bp = Blueprint("call_page", __name__, template_folder="templates", static_folder=None)
STATIC = {"call.js", "twilio-voice-sdk.min.js"}
STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
TEXT_KEYS = (
    "callpage_title",
    "callpage_intro",
    "callpage_anonymous_intro",
    "callpage_call",
    "callpage_hangup",
    "callpage_connecting",
    "callpage_in_call",
    "callpage_ended",
    "callpage_invalid",
    "callpage_no_webrtc",
    "callpage_tel",
    "callpage_busy",
)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self' https://*.twilio.com wss://*.twilio.com; media-src 'self' https://*.twilio.com; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _rt():
    return current_app.extensions["connector"]


def _enabled(rt) -> bool:
    return rt.settings.twilio.enabled and rt.settings.twilio.web_call


@bp.get("/call")
def page():
    rt = _rt()
    if not _enabled(rt):
        return jsonify(error="not found"), 404
    token = request.args.get("c") or ""
    offer, status = None, "anonymous"
    try:
        if token:
            offer = rt.voice_store.offer_by_token(token)
            status = V.offer_status(offer, time.time())
    except StorageError:
        status = "unavailable"
    channel = _channel(rt, offer)
    if channel is None:
        return jsonify(error="not found"), 404
    support = channel.settings.voice.support_number
    valid = status in ("ok", "anonymous")
    tel = f"tel:{support},,{V.MENU_CODE},,{offer['code']}" if status == "ok" else f"tel:{support}"
    cfg = {
        "mode": "code" if token else "anonymous",
        "valid": valid,
        "code": token if status == "ok" else None,
        "tel": tel,
        "texts": {k[len("callpage_") :]: channel.text(k) for k in TEXT_KEYS},
        "tokenUrl": "/call/token",
    }
    html = render_template(
        "call.html",
        cfg=cfg,
        title=channel.text("callpage_title"),
        intro=channel.text("callpage_intro" if token else "callpage_anonymous_intro"),
        lang=channel.language,
    )
    resp = current_app.response_class(html, status=200 if valid or not token else 410, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Permissions-Policy"] = "microphone=(self)"
    return resp


def _channel(rt, offer: dict | None):
    if offer and offer.get("channel_id"):
        try:
            return rt.config.channel(offer["channel_id"])
        except KeyError:
            return None
    return rt.config.voice_channel(None)


@bp.post("/call/token")
def token():
    rt = _rt()
    if not _enabled(rt):
        return jsonify(error="not found"), 404
    tw, store, now = rt.settings.twilio, rt.voice_store, time.time()
    body = request.get_json(silent=True)
    code = body.get("c") if isinstance(body, dict) and isinstance(body.get("c"), str) else ""
    client = request.remote_addr or "-"
    try:
        if not store.hit(f"webcall-ip:{client}", 3600, tw.web_calls_per_ip_per_hour, now):
            log.warning("web call refused: too many from one address")
            return jsonify(error="too many requests"), 429
        if code:
            offer = store.offer_by_token(code)
            if V.offer_status(offer, now) != "ok" or not store.use_offer(offer["id"], now, tw.code_ttl_minutes * 60):
                log.info("web call refused: invalid, expired or used code")
                return jsonify(error="invalid code"), 410
            identity = f"web-{offer['id']}"
        else:
            if tw.anonymous_calls_per_minute == 0 or not store.hit(
                "webcall-anonymous", 60, tw.anonymous_calls_per_minute, now
            ):
                log.warning("anonymous web call refused: over the limit")
                return jsonify(error="too many requests"), 429
            identity = f"anon-{secrets.token_hex(8)}"
    except StorageError as exc:
        log.error("web call token: redis unavailable (%s)", type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503
    jwt = voice_access_token(
        account_sid=rt.config.twilio_account_sid,
        api_key_sid=rt.config.twilio_api_key_sid,
        api_key_secret=rt.config.twilio_api_key_secret,
        identity=identity,
        application_sid=tw.twiml_app_sid,
        ttl_s=tw.web_token_ttl_seconds,
    )
    resp = jsonify(token=jwt, identity=identity, ttl=tw.web_token_ttl_seconds)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/call/static/<name>")
def static(name: str):
    if name not in STATIC or not _enabled(_rt()):
        return jsonify(error="not found"), 404
    return send_from_directory(STATIC_DIR, name, max_age=3600)
