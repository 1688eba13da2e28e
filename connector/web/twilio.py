"""Twilio webhooks: the IVR (TwiML) and call status callbacks.

    POST /twilio/voice     an incoming call (the number's "A call comes in" URL, and the TwiML
                           App of the web call): the menu, or the operator for a coded web call
    POST /twilio/gather    ?step=menu|code|line-result|dial-done: what the caller keyed, and the
                           waits while a job moves them to LINE
    POST /twilio/status    status callbacks of calls and of <Dial> legs
    POST /twilio/fallback  the number's fallback URL: an apology, never silence

Every request's X-Twilio-Signature is checked against the configured public base URL plus the
path and query string as sent (behind Heroku's router the app sees http://): 403 otherwise,
nothing stored. TwiML is computed from Redis alone (no Salesforce or LINE call), so Twilio's
15-second limit is never near. Status callbacks are stored durably (deduped on CallSid +
SequenceNumber) and acknowledged; a job writes the call's Task. 404 while Twilio is not enabled;
503 on a status callback Redis cannot take. A TwiML request Redis cannot serve gets the apology.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request

from connector.domain import voice as V
from connector.gateways.twilio import render_twiml
from connector.jobs import CALL_TO_LINE, RECORD_CALL, enqueue, job_id
from connector.storage import StorageError

log = logging.getLogger(__name__)
bp = Blueprint("twilio", __name__)


def _rt():
    return current_app.extensions["connector"]


def public_url(rt) -> str:
    """The URL Twilio called: configured public base + the path and query string as received."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        query = request.query_string.decode("latin-1")
        raw = request.path + (f"?{query}" if query else "")
    return rt.settings.public_base_url.rstrip("/") + raw


def _verified(rt) -> bool:
    verifier = rt.twilio_verifier
    return verifier is not None and verifier.valid(
        public_url(rt), request.form, request.headers.get("X-Twilio-Signature", "")
    )


def _guard():
    """None when the request may proceed; else the response (404 disabled, 403 bad signature)."""
    rt = _rt()
    if not rt.settings.twilio.enabled:
        return jsonify(error="not found"), 404
    if not _verified(rt):
        log.warning("twilio %s rejected: bad or missing signature", request.path)
        return jsonify(error="invalid signature"), 403
    return None


def _twiml(plan: V.Plan):
    body = render_twiml(plan.verbs, language=plan.language, voice=plan.voice)
    return current_app.response_class(body, status=200, mimetype="text/xml")


def _url(rt, step: str) -> str:
    return f"{rt.settings.public_base_url.rstrip('/')}/twilio/gather?step={step}"


def ivr_context(rt, channel) -> V.IvrContext:
    tw, v = rt.settings.twilio, channel.settings.voice
    return V.IvrContext(
        text=channel.text,
        language=V.say_language(channel.language, v.say_language),
        voice=v.say_voice,
        call_to_line=v.call_to_line,
        desk_number=v.desk_number,
        caller_id=v.support_number,
        code_rules=V.CodeRules(
            digits=tw.code_digits, ttl_s=tw.code_ttl_minutes * 60, attempts_per_call=tw.code_attempts_per_call
        ),
        gather_timeout_s=tw.gather_timeout_seconds,
        dial_timeout_s=tw.dial_timeout_seconds,
    )


def _channel(rt, link: dict | None):
    if link and link.get("channel_id"):
        try:
            return rt.config.channel(link["channel_id"])
        except KeyError:
            pass
    return rt.config.voice_channel(request.form.get("To"))


# A non-final status waits this long before its Task write, so that the few callbacks of a call's
# first seconds become one Salesforce call (a final status is written at once).
NONFINAL_DELAY_S = 3


def _record(rt, event: dict) -> bool:
    """Store a status event and ask for the call's Task to be written (once per new event)."""
    if not event["sid"] or event["status"] not in V.STATUSES:
        return False
    if event.get("at") is None:
        event["at"] = time.time()
    new = rt.voice_store.ingest(event)
    if new:
        # one job per event: a job id reused while that job runs would be lost when it finishes
        key = job_id("call", f"{event['sid']}:{event['seq']}:{event['status']}")
        delay = None if event["status"] in V.FINAL_STATUSES else NONFINAL_DELAY_S
        enqueue(rt, RECORD_CALL, event["sid"], key=key, delay_s=delay)
    return new


def _start(rt, sid: str, link: V.CallLink) -> None:
    """A call came in: what it belongs to and its start, in one Redis round trip and no job (the
    call's status callbacks, or without them the worker's sweep, write its Task)."""
    event = V.callback_event(request.form)
    if event["status"] not in V.STATUSES:
        event["status"] = "ringing"
    event["at"] = time.time()
    rt.voice_store.start_call(sid, link.to_dict(), event)


# --------------------------------------------------------------------------- the IVR


@bp.post("/twilio/voice")
def voice():
    refused = _guard()
    if refused:
        return refused
    rt, form = _rt(), request.form
    sid, caller = form.get("CallSid", ""), form.get("From", "")
    try:
        if caller.startswith("client:web-"):
            return _web_call(rt, sid, caller[len("client:web-") :])
        channel = rt.config.voice_channel(form.get("To"))
        if channel is None:
            log.warning("twilio voice: no channel has voice enabled")
            return jsonify(error="not found"), 404
        ctx = ivr_context(rt, channel)
        flow = V.FLOW_WEB_CALL if caller.startswith("client:") else V.FLOW_INBOUND
        _start(rt, sid, V.CallLink(flow=flow, channel_id=channel.id))
        withheld = V.normalise(caller, channel.settings.voice.default_region) is None
        return _twiml(V.welcome(ctx, withheld=withheld, url=lambda s: _url(rt, s)))
    except StorageError as exc:
        return _apology(rt, exc)


def _web_call(rt, sid: str, offer_id: str):
    """A browser call placed with a code: the token was issued for this offer, so it is used."""
    offer = rt.voice_store.offer(offer_id)
    channel = _channel(rt, offer)
    if channel is None:
        return jsonify(error="not found"), 404
    ctx = ivr_context(rt, channel)
    if not offer or not offer.get("used_at"):
        log.warning("twilio voice: web call for an unknown or unused offer")
        return _twiml(V.code_refused(ctx, ctx.code_rules.attempts_per_call, lambda s: _url(rt, s)))
    _start(rt, sid, _offer_link(offer, V.FLOW_WEB_CALL))
    return _twiml(_connect(rt, ctx, offer))


def _offer_link(offer: dict, flow: str) -> V.CallLink:
    return V.CallLink(
        flow=flow,
        session_key=offer.get("session_key"),
        case_id=offer.get("case_id"),
        contact_id=offer.get("contact_id"),
        channel_id=offer.get("channel_id"),
        operator_id=offer.get("operator_id"),
    )


def _connect(rt, ctx: V.IvrContext, offer: dict) -> V.Plan:
    operator_id = offer.get("operator_id")
    target = V.operator_target(rt.voice_store.reach(operator_id) if operator_id else None, operator_id)
    operator = rt.routing_store.load().operators.get(operator_id) if operator_id else None
    available = operator is not None and operator.status.value != "Offline"
    base = rt.settings.public_base_url.rstrip("/")
    return V.connect_operator(
        ctx,
        target,
        available=available,
        status_url=f"{base}/twilio/status",
        action_url=_url(rt, "dial-done"),
        case_id=offer.get("case_id"),
    )


@bp.post("/twilio/gather")
def gather():
    refused = _guard()
    if refused:
        return refused
    rt, form = _rt(), request.form
    sid, step = form.get("CallSid", ""), request.args.get("step", "")
    try:
        store = rt.voice_store
        link = store.link(sid) or {}
        channel = _channel(rt, link)
        if channel is None:
            return jsonify(error="not found"), 404
        ctx = ivr_context(rt, channel)
        url = lambda s: _url(rt, s)
        region = channel.settings.voice.default_region
        caller = V.normalise(form.get("From"), region)
        if step == "menu":
            choice, plan = V.menu_choice(ctx, form.get("Digits", ""), withheld=caller is None, url=url)
            if choice == "line":
                store.set_link(sid, {**link, "flow": V.FLOW_CALL_TO_LINE, "channel_id": channel.id})
                sealed = rt.vault.seal_json({"sid": sid, "channel_id": channel.id, "caller": caller, "at": time.time()})
                store.line_requested(sid, sealed, time.time())
                enqueue(
                    rt,
                    CALL_TO_LINE,
                    sealed,
                    key=job_id("c2l", sid),
                    at_front=True,  # the caller is holding the line
                )
            elif choice == "withheld":
                store.set_line_outcome(sid, {"route": V.FALLBACK_WITHHELD, "status": "Fallback"})
                store.set_link(
                    sid,
                    {**link, "flow": V.FLOW_CALL_TO_LINE, "channel_id": channel.id, "line_result": V.RESULT_WITHHELD},
                )
            return _twiml(plan)
        if step == "code":
            return _twiml(_code(rt, ctx, sid, caller or form.get("From", ""), form.get("Digits", "")))
        if step == "line-result":
            tries = V.count(request.args.get("try"), 1)
            wait = rt.settings.twilio.line_result_wait_seconds
            return _twiml(V.line_result(ctx, store.line_outcome(sid), tries=tries, max_tries=wait, url=url))
        if step == "dial-done":
            return _twiml(V.dial_finished(ctx, form.get("DialCallStatus", "")))
        return jsonify(error="unknown step"), 400
    except StorageError as exc:
        return _apology(rt, exc)


def _code(rt, ctx: V.IvrContext, sid: str, caller: str, digits: str) -> V.Plan:
    """The caller keyed a code: connect them to the operator who offered the call, or refuse
    (wrong, expired, used, or too many wrong codes from this number: all sound the same)."""
    tw, store, now = rt.settings.twilio, rt.voice_store, time.time()
    url = lambda s: _url(rt, s)
    blocked = store.count(f"code-fail:{caller}", 3600, now) >= tw.code_failures_per_caller_per_hour
    offer = store.offer_by_code(digits) if ctx.code_rules.well_formed(digits) and not blocked else None
    if V.offer_status(offer, now) == "ok" and store.use_offer(offer["id"], now, tw.code_ttl_minutes * 60):
        link = _offer_link(offer, V.FLOW_LINE_TO_CALL)
        store.set_link(sid, link.to_dict())
        log.info("twilio: code accepted; connecting the operator who offered the call")
        return _connect(rt, ctx, offer)
    store.hit(f"code-fail:{caller}", 3600, tw.code_failures_per_caller_per_hour, now)
    tries = store.code_tries(sid)
    log.info("twilio: code refused (try %d)", tries)
    return V.code_refused(ctx, tries, url)


# --------------------------------------------------------------------------- status and fallback


@bp.post("/twilio/status")
def status():
    refused = _guard()
    if refused:
        return refused
    rt = _rt()
    event = V.callback_event(request.form)
    if not event["sid"] or event["status"] not in V.STATUSES:
        return jsonify(error="not a call status callback"), 400
    try:
        new = _record(rt, event)
    except StorageError as exc:
        log.error("twilio status: redis unavailable (%s); answering 503", type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503
    log.log(
        logging.DEBUG if new else logging.INFO, "twilio status %s seq=%s new=%s", event["status"], event["seq"], new
    )
    return current_app.response_class(status=200)


@bp.post("/twilio/fallback")
def fallback():
    refused = _guard()
    if refused:
        return refused
    rt = _rt()
    log.error("twilio fallback called: error %s", request.form.get("ErrorCode", "?"))
    channel = rt.config.voice_channel(request.form.get("To"))
    if channel is None:
        return jsonify(error="not found"), 404
    return _twiml(V.unavailable(ivr_context(rt, channel)))


def _apology(rt, exc: Exception):
    log.error("twilio: redis unavailable (%s); answering with the apology", type(exc).__name__)
    channel = rt.config.voice_channel(request.form.get("To"))
    if channel is None:
        return jsonify(error="temporarily unavailable"), 503
    return _twiml(V.unavailable(ivr_context(rt, channel)))
