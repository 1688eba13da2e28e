"""Voice jobs: call records, Call to LINE, LINE to Call (offers), the operator's 「LINEで案内」.

* `record_call(sid)`: fold every status event stored for the call (connector/domain/voice.py)
  and upsert its one Task (external id LINE_Call_Sid__c = CallSid) plus, for a call offered
  from a chat, the transcript lines (started, answered, ended) in that session. Under a lease
  per call, from all events known at that moment, so a slower job can never write an older
  status over a newer one; a digest of what was written skips repeats.
* `call_to_line(sealed)`: the caller pressed 1. Their number is matched to a verified LINE friend
  of the channel (exactly one LINE user, or no match: never a guess, never a new link): a LINE
  push (retry key) recorded on the Contact's open Case or a new one; else, where the channel may
  send them, a notification message by phone number (PNP, delivery tag); else the fallback
  (spoken guidance, and an SMS with the friend-add link where enabled). The outcome goes to
  Redis first, so the caller hears it, then to Salesforce.
* `callout(sealed)`: `call.offer` (an operator offers a call: a Flex message with a tel: button
  and a web-call button carrying a one-time code) and `call.line_guide` (the operator's
  「LINEで案内」: the same matching and sending for a Case's or call's number; the result is a Task
  keyed guide:g-<first 24 hex of SHA-256(envelope id)>).
* `on_delivery` (signal of LINE's `delivery` webhook event): a PNP message was delivered.
* `tick(rt)` (the worker's sweeper): Call-to-LINE requests whose job died, calls whose events
  were not written yet (one job, one Salesforce call for up to 200), and PNP messages with no
  delivery after `twilio.pnp_delivery_hours` (marked undelivered).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid

from connector.domain import voice as V
from connector.domain.operator import parse_session_key
from connector.domain.records import CASE, FRIEND, MESSAGE, SESSION, TASK, Upsert, ref, sf_datetime
from connector.gateways import soql
from connector.gateways.errors import GatewayError, Permanent, Retryable
from connector.jobs import CALL_TO_LINE, RECORD_CALL, RECORD_CALLS, delivery, enqueue, job_id, outage
from connector.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)
LEASE_MS = 60_000
PENDING_GRACE_S = 30
LINE_GRACE_S = 20  # a Call-to-LINE job not done by then (its worker was killed) is queued again
SWEEP_BATCH = 200


# --------------------------------------------------------------------------- call records


def record_call(sid: str) -> str:
    """RQ job: write the call's Task (and transcript lines) from every status event known."""
    rt = get_runtime()
    if outage.writes_paused(rt):
        return "paused"  # the call stays pending: the sweep writes it once Salesforce is back
    done = record_calls_now(rt, [sid])
    if sid not in done:  # another job is writing this call: look again when it is done
        enqueue(rt, RECORD_CALL, sid, key=job_id("call-again", f"{sid}:{uuid.uuid4()}"), delay_s=2)
        return "busy"
    return done[sid]


def record_calls(sids: list[str]) -> int:
    """RQ job of the sweep: write many calls' records in one Salesforce call."""
    rt = get_runtime()
    return 0 if outage.writes_paused(rt) else len(record_calls_now(rt, sids))


def record_calls_now(rt: Runtime, sids: list[str], rounds: int = 3) -> dict[str, str]:
    """Write the calls' records (those whose lease is free); returns their status by CallSid.

    Each call is written from all its events known at that moment, under a lease per call, so a
    slower job can never write an older status over a newer one. The calls' upserts go out
    together (one Composite call for up to 25 x 200 records). A call whose events changed while
    it was written is written again (up to `rounds` times, then the next job or the sweep).

    Salesforce failing for a while (5xx, timeout, limits) counts towards the shared pause
    (jobs/outage.py) and leaves the calls pending, as does a record failing for a reason that may
    pass: the sweep writes them later, so a call record is never dead-lettered."""
    leases = {}
    for sid in dict.fromkeys(sids):
        token = rt.leases.acquire(f"call:{sid}", LEASE_MS)
        if token is not None:
            leases[sid] = token
    out: dict[str, str] = {}
    try:
        todo = list(leases)
        try:
            for _ in range(rounds):
                if not todo:
                    break
                todo = _write_round(rt, todo, out)
        except Retryable as exc:
            outage.write_failed(rt, exc)
            log.warning("call records not written yet (%s); the sweep writes them later", exc)
        except NotYetWritten as exc:
            log.warning("call records not written yet (%s); the sweep writes them later", exc)
        for sid in todo:
            out.setdefault(sid, "later")
    finally:
        for sid, token in leases.items():
            rt.leases.release(f"call:{sid}", token)
    return out


def _write_round(rt: Runtime, sids: list[str], out: dict[str, str]) -> list[str]:
    store = rt.voice_store
    plans = []  # (sid, call, n events, upserts, digest, written)
    for sid in sids:
        events = store.events(sid)
        if not events:
            out[sid] = "no events"
            continue
        call = V.fold_all(events)
        upserts = call_upserts(rt, call)
        digest = _digest(upserts)
        plans.append((sid, call, len(events), upserts, digest, store.written(sid)))
    due = [p for p in plans if p[5] not in (p[4], "failed:" + p[4])]
    results = {}
    if due:
        results = rt.salesforce.upsert_many([u for p in due for u in p[3]])  # Retryable: the caller pauses
        outage.write_succeeded(rt)
    again = []
    for sid, call, n, upserts, digest, written in plans:
        if written not in (digest, "failed:" + digest):
            written = _outcome(sid, upserts, digest, results)
        if store.mark_written(sid, written, n):
            out[sid] = call.get("status") or "?"
        else:
            again.append(sid)
    return again


class NotYetWritten(Exception):
    """A call's record failed for a reason that may pass (a lock, a parent not written yet)."""


def _outcome(sid: str, upserts: list[Upsert], digest: str, results: dict) -> str:
    """What to remember as written for one call. Raises (the job is retried) when a record
    failed for a reason that may pass; a refused record is logged and not retried until the
    call changes."""
    bad = [(u, results.get(u.ident)) for u in upserts if not (results.get(u.ident) and results[u.ident].ok)]
    if any(r is None or r.retryable or r.parent_missing for _, r in bad):
        raise NotYetWritten(next((r.code for _, r in bad if r), "no result"))
    if bad:
        u, r = bad[0]
        log.error("call record %s: %s refused (%s); not retried until the call changes", sid[-6:], u.sobject, r.code)
        return "failed:" + digest
    return digest


def _digest(upserts: list[Upsert]) -> str:
    body = json.dumps([[u.sobject, u.key, u.fields] for u in upserts], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def call_link(rt: Runtime, call: dict) -> V.CallLink:
    """What the call belongs to; a <Dial> leg belongs to what its parent call belongs to."""
    store = rt.voice_store
    link = store.link(call.get("sid", "")) or (store.link(call["parent"]) if call.get("parent") else None)
    return V.CallLink.from_dict(link)


def _channel_of(rt: Runtime, link: V.CallLink, call: dict):
    if link.channel_id:
        try:
            return rt.config.channel(link.channel_id)
        except KeyError:
            pass
    return rt.config.voice_channel(call.get("to")) or rt.config.channels[0]


def call_upserts(rt: Runtime, call: dict) -> list[Upsert]:
    link = call_link(rt, call)
    channel = _channel_of(rt, link, call)
    fields = V.task_fields(
        call,
        link,
        subject=channel.text("call_task_subject", flow=link.flow),
        mask_mode=rt.settings.twilio.mask_numbers,
    )
    upserts = [Upsert(TASK, call["sid"], fields)]
    if link.session_key and not call.get("parent"):
        upserts += transcript(channel, call, link.session_key)
    return upserts


def transcript(channel, call: dict, session_key: str) -> list[Upsert]:
    """The call in the chat: System lines started / answered / ended (duration) in the session."""
    out = []
    for step, at in V.transcript_steps(call):
        if step == "ended":
            text = channel.text("call_ended", duration=V.duration_text(call.get("duration"), channel.language))
        elif step == "not_connected":
            text = channel.text("call_not_connected", status=call.get("status"))
        else:
            text = channel.text(f"call_{step}")
        fields = {
            "Chat_Session__r": ref(SESSION, session_key),
            "Direction__c": "System",
            "Type__c": "call",
            "Text__c": text,
        }
        if at is not None:
            fields["Sent_At__c"] = sf_datetime(at * 1000)
        out.append(Upsert(MESSAGE, f"call:{call['sid']}:{step}", fields))
    return out


# --------------------------------------------------------------------------- Call to LINE


def call_to_line(sealed: bytes) -> str:
    """RQ job: the caller pressed 1 (see the module doc). Safe to run twice: the outcome is kept."""
    rt = get_runtime()
    data = rt.vault.open_json(sealed)
    sid, channel = data["sid"], rt.config.channel(data["channel_id"])
    store = rt.voice_store
    done = store.line_outcome(sid)
    if done and done.get("final"):
        store.line_done(sid)
        return done["route"]
    outcome = guide(rt, channel, data.get("caller"), key=f"c2l:{sid}", tag=f"c2l-{sid}", sms=True)
    store.set_line_outcome(sid, {**outcome, "final": True})
    link = {**(store.link(sid) or {}), "flow": V.FLOW_CALL_TO_LINE, "channel_id": channel.id}
    link.update({k: outcome[k] for k in ("contact_id", "case_id", "line_result") if outcome.get(k)})
    store.set_link(sid, link)
    if outcome.get("tag"):
        store.pnp_sent(outcome["tag"], {"sid": sid, "channel_id": channel.id}, time.time())
    store.line_done(sid)
    if store.events(sid):
        write_call_soon(rt, sid)
    log.info("call to LINE: %s (%s)", outcome["route"], outcome.get("line_result"))
    return outcome["route"]


def guide(rt: Runtime, channel, e164: str | None, *, key: str, tag: str, sms: bool) -> dict:
    """Match a number to a LINE friend and send (push, PNP or fallback). Returns the outcome:
    {route, status, line_result, sms, contact_id?, case_id?, tag?}."""
    v = channel.settings.voice
    friends = []
    if e164:
        rows = soql.friends_by_phone_suffix(rt.salesforce, channel.id, V.last_digits(e164))
        friends = V.matching_friends(e164, rows, channel.id, v.default_region)
    route = V.route_to_line(e164, friends, pnp_enabled=v.pnp)
    text = channel.text("call_to_line_message")
    if route == V.LINE_PUSH:
        friend = friends[0]
        result = delivery.push_once(rt, channel.id, friend.user_id, [{"type": "text", "text": text}], key)
        ok = result["status"] == "Sent"
        outcome = {
            "route": route,
            "status": result["status"],
            "line_result": V.RESULT_LINE_SENT if ok else V.RESULT_LINE_FAILED,
            "contact_id": friend.contact_id,
        }
        outcome["case_id"] = _case_for(rt, channel, friend, key, text, result)
        return outcome
    if route == V.PNP:
        status = _pnp(rt, channel, e164, text, key, tag)
        if status == "Sent":
            return {"route": route, "status": status, "line_result": V.RESULT_PNP_SENT, "tag": tag}
        return _fallback(rt, channel, e164, V.RESULT_PNP_UNAVAILABLE, key, sms)
    return _fallback(rt, channel, e164, V.RESULT_WITHHELD if e164 is None else V.RESULT_UNMATCHED, key, sms)


def _pnp(rt: Runtime, channel, e164: str, text: str, key: str, tag: str) -> str:
    """One PNP push per key (PNP has no retry key: a marker stands in). "Sent" or "Unavailable"."""
    marker = rt.store.marker("pnp:" + key)
    if marker:
        return marker["status"]
    try:
        rt.line.pnp_push(channel.id, V.pnp_hash(e164), [{"type": "text", "text": text}], delivery_tag=tag)
        status = "Sent"
    except Permanent as exc:  # 422: nobody on LINE has that number, or it is not served
        log.info("pnp: not sent (%s)", exc.status)
        status = "Unavailable"
    except Retryable as exc:
        if exc.maybe_applied:  # it may have gone out: the delivery event (or its absence) will say
            log.warning("pnp: outcome unknown (%s); waiting for the delivery event", type(exc).__name__)
            status = "Sent"
        else:
            raise
    rt.store.set_marker("pnp:" + key, {"status": status, "at": time.time()})
    return status


def _fallback(rt: Runtime, channel, e164: str | None, result: str, key: str, sms: bool) -> dict:
    v = channel.settings.voice
    sent_sms = False
    if sms and e164 and v.sms_fallback and v.friend_url:
        sent_sms = _sms(rt, channel, e164, key)
    return {"route": "fallback", "status": "Fallback", "line_result": result, "sms": sent_sms}


def _sms(rt: Runtime, channel, e164: str, key: str) -> bool:
    v = channel.settings.voice
    marker = rt.store.marker("sms:" + key)
    if marker:
        return marker["status"] == "Sent"
    try:
        rt.twilio.send_sms(
            to=e164, from_=v.sms_from or v.support_number, body=channel.text("call_sms_text", url=v.friend_url)
        )
        status = "Sent"
    except Permanent as exc:
        log.warning("sms fallback not sent: %s", exc.code)
        status = "Failed"
    rt.store.set_marker("sms:" + key, {"status": status, "at": time.time()})
    return status == "Sent"


def _case_for(rt: Runtime, channel, friend: V.Friend, key: str, text: str, result: dict) -> str | None:
    """The Contact's open Case, else a new one for this call; the message is recorded in the
    friend's open chat session when there is one."""
    state = rt.store.get_state(f"{channel.id}:{friend.user_id}") or {}
    session = state.get("session") or {}
    upserts = []
    if session and session.get("status") != "Closed":
        upserts.append(
            Upsert(
                MESSAGE,
                "sys:" + job_id("c2l", key),
                {
                    "Chat_Session__r": ref(SESSION, session["key"]),
                    "Direction__c": "System",
                    "Type__c": "text",
                    "Text__c": text,
                    **delivery.delivery_fields(result),
                },
            )
        )
    case_id = soql.open_case_of_contact(rt.salesforce, friend.contact_id)
    if case_id is None:
        case_key = "call:" + key.split(":", 1)[-1]
        upserts.append(
            Upsert(
                CASE,
                case_key,
                {
                    "Subject": channel.text("call_task_subject", flow=V.FLOW_CALL_TO_LINE)[:255],
                    "Origin": "Phone",
                    "Status": "New",
                    "ContactId": friend.contact_id,
                    "LINE_Friend__r": ref(FRIEND, friend.friend_key),
                },
            )
        )
    if upserts:
        results = rt.salesforce.upsert_many(upserts)
        if case_id is None:
            r = results.get((CASE, case_key))
            if not (r and r.ok):
                raise RuntimeError(f"case for the call not written: {r.code if r else 'no result'}")
            case_id = r.id
    return case_id


def write_call_soon(rt: Runtime, sid: str) -> None:
    enqueue(rt, RECORD_CALL, sid, key=job_id("call-link", f"{sid}:{uuid.uuid4()}"))


# --------------------------------------------------------------------------- callouts


def callout(sealed: bytes) -> str:
    """RQ job for `call.offer` and `call.line_guide` callouts (verified and deduped by the web)."""
    rt = get_runtime()
    env = rt.vault.open_json(sealed)
    data = env.get("data") or {}
    if env["type"] == "call.offer":
        return offer(rt, env["id"], data)
    if env["type"] == "call.line_guide":
        return line_guide(rt, env["id"], data)
    return "ignored"


def offer(rt: Runtime, envelope_id: str, data: dict) -> str:
    """An operator offers a call in a chat: a one-time code, a Flex message with a tel: button
    and a web-call button, and a System line in the transcript (the code itself is never stored
    in Salesforce)."""
    try:
        channel_id, _, to = parse_session_key(data.get("sessionKey") or "")
        channel = rt.config.channel(channel_id)
    except (ValueError, KeyError):
        log.warning("call.offer ignored: not a session of a configured channel")
        return "ignored"
    if not channel.settings.voice.enabled:
        log.warning("call.offer ignored: voice is not enabled on channel %s", channel.name)
        return "ignored"
    key = f"offer:{envelope_id}"
    done = rt.store.marker(key)
    if done:
        return done["status"]
    tw, store = rt.settings.twilio, rt.voice_store
    session_key = data["sessionKey"]
    if not store.hit(f"offer:{session_key}", 3600, tw.offers_per_session_per_hour):
        log.warning("call.offer refused: too many offers in this session")
        _offer_line(rt, channel, session_key, envelope_id, channel.text("call_offer_limited"), {"status": "Failed"})
        rt.store.set_marker(key, {"status": "limited", "at": time.time()})
        return "limited"
    ttl = tw.code_ttl_minutes * 60
    now = time.time()
    offer_id, code, token = store.create_offer(
        {
            "session_key": session_key,
            "channel_id": channel.id,
            "case_id": _sf_id(data.get("caseId"), "500"),
            "contact_id": _sf_id(data.get("contactId"), "003"),
            "operator_id": _sf_id(data.get("userId"), "005"),
            "created_at": now,
            "expires_at": now + ttl,
        },
        digits=tw.code_digits,
        ttl_s=ttl,
    )
    message = offer_message(rt, channel, code, token)
    result = delivery.push_once(rt, channel.id, to, [message], key)
    _offer_line(rt, channel, session_key, envelope_id, channel.text("call_offered"), result)
    log.info("call.offer %s: code issued, message %s", offer_id[:6], result["status"])
    return result["status"]


def _sf_id(value, prefix: str) -> str | None:
    value = str(value or "")
    return value if value.startswith(prefix) and len(value) in (15, 18) and value.isalnum() else None


def offer_message(rt: Runtime, channel, code: str, token: str) -> dict:
    """The Flex message of an offer: the code in the text, a tel: button that dials the support
    number and keys 2 and the code after pauses, and (with the web call) a button opening the
    call page in the phone's own browser."""
    v, tw = channel.settings.voice, rt.settings.twilio
    text = channel.text("call_offer_text", code=code, minutes=tw.code_ttl_minutes)
    buttons = [
        {
            "type": "button",
            "style": "primary",
            "action": {
                "type": "uri",
                "label": channel.text("call_offer_phone_label")[:40],
                "uri": f"tel:{v.support_number},,{V.MENU_CODE},,{code}",
            },
        }
    ]
    if tw.web_call:
        base = rt.settings.public_base_url.rstrip("/")
        buttons.append(
            {
                "type": "button",
                "style": "secondary",
                "action": {
                    "type": "uri",
                    "label": channel.text("call_offer_web_label")[:40],
                    "uri": f"{base}/call?c={token}&openExternalBrowser=1",
                },
            }
        )
    return {
        "type": "flex",
        "altText": channel.text("call_offer_alt")[:400],
        "contents": {
            "type": "bubble",
            "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": text, "wrap": True}]},
            "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": buttons},
        },
    }


def _offer_line(rt: Runtime, channel, session_key: str, envelope_id: str, text: str, result: dict) -> None:
    fields = {
        "Chat_Session__r": ref(SESSION, session_key),
        "Direction__c": "System",
        "Type__c": "text",
        "Text__c": text,
        **delivery.delivery_fields(result),
    }
    res = rt.salesforce.upsert_many([Upsert(MESSAGE, "sys:" + job_id("offer", envelope_id), fields)])
    r = next(iter(res.values()), None)
    if not (r and r.ok):
        raise RuntimeError(f"offer not recorded: {r.code if r else 'no result'}")


def line_guide(rt: Runtime, envelope_id: str, data: dict) -> str:
    """The operator's 「LINEで案内」: the caller's or Case's number -> the same matching and sending
    as the IVR's option 1; the result is a completed Task on the Case (key guide:<envelope id>)."""
    channel = _guide_channel(rt, data)
    if channel is None:
        log.warning("call.line_guide ignored: no voice channel")
        return "ignored"
    region = channel.settings.voice.default_region
    raw = data.get("phone")
    if not raw and data.get("callSid"):
        events = rt.voice_store.events(str(data["callSid"]))
        raw = V.fold_all(events).get("from") if events else None
    e164 = V.normalise(raw, region)
    key = f"guide:{job_id('g', envelope_id)}"  # Apex LineVoiceController.guideKey computes the same
    outcome = guide(rt, channel, e164, key=key, tag=f"g-{job_id('g', envelope_id)}", sms=False)
    if outcome.get("tag"):
        rt.voice_store.pnp_sent(outcome["tag"], {"guide": key, "channel_id": channel.id}, time.time())
    fields = {
        "Subject": channel.text("call_task_subject", flow=V.FLOW_CALL_TO_LINE)[:255],
        "Status": "Completed",
        "LINE_Call_Flow__c": V.FLOW_CALL_TO_LINE,
        "LINE_Guide_Result__c": outcome["line_result"],
        "LINE_Call_To__c": V.mask(e164 or raw, rt.settings.twilio.mask_numbers)[:40] or None,
        "ActivityDate": sf_datetime(time.time() * 1000)[:10],
    }
    case_id = _sf_id(data.get("caseId"), "500") or outcome.get("case_id")
    contact_id = _sf_id(data.get("contactId"), "003") or outcome.get("contact_id")
    if case_id:
        fields["WhatId"] = case_id
    if contact_id:
        fields["WhoId"] = contact_id
    res = rt.salesforce.upsert_many([Upsert(TASK, key, fields)])
    r = res.get((TASK, key))
    if not (r and r.ok):
        raise RuntimeError(f"guide result not recorded: {r.code if r else 'no result'}")
    log.info("call.line_guide: %s", outcome["line_result"])
    return outcome["line_result"]


def _guide_channel(rt: Runtime, data: dict):
    if data.get("channelId"):
        try:
            channel = rt.config.channel(str(data["channelId"]))
            return channel if channel.settings.voice.enabled else None
        except KeyError:
            return None
    return rt.config.voice_channel(None)


# --------------------------------------------------------------------------- delivery, presence, sweep


def on_delivery(rt: Runtime, signal: dict) -> None:
    """Signal handler: LINE's `delivery` event for a notification message (delivery.data = tag)."""
    tag = str(signal.get("data") or "")
    record = rt.voice_store.pnp_record(tag)
    if not record:
        log.info("delivery event for an unknown tag; ignored")
        return
    _pnp_result(rt, tag, record, V.RESULT_PNP_DELIVERED)


def _pnp_result(rt: Runtime, tag: str, record: dict, result: str) -> None:
    store = rt.voice_store
    if record.get("sid"):
        sid = record["sid"]
        store.set_link(sid, {**(store.link(sid) or {}), "line_result": result})
        write_call_soon(rt, sid)
    elif record.get("guide"):
        res = rt.salesforce.upsert_many([Upsert(TASK, record["guide"], {"LINE_Guide_Result__c": result})])
        r = res.get((TASK, record["guide"]))
        if not (r and r.ok):
            raise RuntimeError(f"pnp result not recorded: {r.code if r else 'no result'}")
    store.pnp_done(tag)


def remember_reach(rt: Runtime, data: dict) -> None:
    """presence.update may say where an operator takes calls: a phone, or a Voice SDK identity."""
    user = data.get("userId")
    if not user or not (data.get("phone") or data.get("voiceClient")):
        return
    reach = {"phone": V.normalise(data.get("phone")), "client": data.get("voiceClient")}
    rt.voice_store.set_reach(user, {k: v for k, v in reach.items() if v})


def tick(rt: Runtime, now: float | None = None) -> None:
    """Periodic: calls with unwritten events, and PNP messages past their delivery window."""
    if not rt.settings.twilio.enabled or not rt.leases.once("voice-sweep", rt.settings.queue.sweep_interval_seconds):
        return
    now = time.time() if now is None else now
    store = rt.voice_store
    for sid, sealed in store.line_due(now - LINE_GRACE_S):
        if sealed is None:  # older than an hour: nobody waits for it any more
            store.line_done(sid)
            continue
        enqueue(rt, CALL_TO_LINE, sealed, key=job_id("c2l-sweep", f"{sid}:{int(now)}"), at_front=True)
    pending = store.pending(now - PENDING_GRACE_S, limit=SWEEP_BATCH)
    if pending and not outage.writes_paused(rt):  # one job, one Salesforce call for the lot
        enqueue(rt, RECORD_CALLS, pending, key=job_id("calls-sweep", str(int(now))), retry=False, failure_ttl_s=3600)
    for tag in store.pnp_due(now - rt.settings.twilio.pnp_delivery_hours * 3600):
        record = store.pnp_record(tag)
        if record is None:
            store.pnp_done(tag)
            continue
        try:
            _pnp_result(rt, tag, record, V.RESULT_PNP_UNDELIVERED)
        except (GatewayError, RuntimeError) as exc:
            log.warning("pnp sweep: %s not recorded yet (%s)", tag[:8], type(exc).__name__)
