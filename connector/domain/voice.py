"""Voice with Twilio, the decisions (pure: no I/O, no clock; callers pass `now`).

* Phone numbers: `normalise` (E.164 with `phonenumbers`, or None for withheld and invalid caller
  ids), `mask`, `pnp_hash` (LINE notification messages address a number by its SHA-256), and
  `pnp_eligible` (only mobile numbers of Japan, Taiwan and Thailand can receive them).
* Call status: `fold` orders status callbacks by `SequenceNumber`, so a call's status never moves
  backward and a repeated callback changes nothing; `task_fields` maps the folded call onto the
  Salesforce `Task` that records it.
* The IVR: each function returns a `Plan` (a list of TwiML verbs as plain data) for one Twilio
  request, computed from what the relay already holds; gateways/twilio.py renders it.
* One-time codes: `offer_status` says whether a code may still connect a call.
* Call to LINE: `route_to_line` decides between a LINE push to a linked friend, a notification
  message by phone number, and the configured fallback. It never guesses: a number matching
  more than one LINE user is not a match.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import phonenumbers

from connector.domain.records import sf_datetime

# -- phone numbers --------------------------------------------------------------------------------

# Caller ids Twilio sends for withheld numbers (community sources); anything that is not a valid
# number is treated the same way, so these are documentation as much as data.
WITHHELD_SENTINELS = frozenset(
    {"+266696687", "+7378742833", "+86282452253", "+2562533", "anonymous", "restricted", "unknown", "private"}
)
PNP_REGIONS = frozenset({"JP", "TW", "TH"})
_MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})


def normalise(raw: str | None, default_region: str = "JP") -> str | None:
    """The E.164 form of a phone number ("090-1234-5678" -> "+819012345678"), or None when the
    caller id is withheld, a client identity, or not a valid number."""
    if not raw or not isinstance(raw, str):
        return None
    raw = raw.strip()
    if raw.lower() in WITHHELD_SENTINELS or raw.startswith(("client:", "sip:")):
        return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_withheld(raw: str | None, default_region: str = "JP") -> bool:
    return normalise(raw, default_region) is None


def pnp_eligible(e164: str) -> bool:
    """LINE delivers notification messages only to mobile numbers issued in Japan, Taiwan, Thailand."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return (
        phonenumbers.region_code_for_number(number) in PNP_REGIONS and phonenumbers.number_type(number) in _MOBILE_TYPES
    )


def pnp_hash(e164: str) -> str:
    """PNP's `to`: SHA-256 hex of the E.164 number without hyphens ("+818000001234")."""
    return hashlib.sha256(e164.encode()).hexdigest()


def last_digits(e164: str, n: int = 4) -> str:
    return "".join(ch for ch in e164 if ch.isdigit())[-n:]


def mask(raw: str | None, mode: str = "last4") -> str:
    """A number as written to Salesforce: "last4" keeps the country code and the last four digits
    (+81******5678), "all" keeps nothing, "none" keeps it whole. Withheld ids stay as sent."""
    if not raw:
        return ""
    if not raw.startswith("+") or mode == "none":
        return raw if mode != "all" or not raw.startswith("+") else "***"
    if mode == "all":
        return "***"
    digits = raw[1:]
    try:
        cc = str(phonenumbers.parse(raw, None).country_code)
    except phonenumbers.NumberParseException:
        cc = ""
    rest = digits[len(cc) :] if cc and digits.startswith(cc) else digits
    keep = rest[-4:] if len(rest) > 4 else ""
    return "+" + cc + "*" * (len(rest) - len(keep)) + keep


# -- call status ----------------------------------------------------------------------------------

FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
STATUSES = ("queued", "initiated", "ringing", "in-progress", *sorted(FINAL_STATUSES))


def callback_event(params: dict) -> dict:
    """The parts of a status callback (or voice webhook) the call record needs, as stored."""
    seq = params.get("SequenceNumber")
    event = {
        "sid": params.get("CallSid") or "",
        "parent": params.get("ParentCallSid") or None,
        "status": (params.get("CallStatus") or "").lower(),
        "seq": count(seq, -1),
        "direction": params.get("Direction") or "",
        "from": params.get("From") or params.get("Caller") or "",
        "to": params.get("To") or params.get("Called") or "",
        "at": _timestamp(params.get("Timestamp")),
    }
    if event["status"] == "completed" and count(params.get("CallDuration")) is not None:
        event["duration"] = count(params["CallDuration"])
    return event


def count(value, default=None):
    """A non-negative integer Twilio sent as text (ASCII digits only: "²".isdigit() is True and
    int("²") raises), else `default`."""
    text = str(value or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else default


def _timestamp(value: str | None) -> float | None:
    """Twilio's `Timestamp` (RFC 2822) as epoch seconds."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def fold(state: dict | None, event: dict) -> dict:
    """The call after one more status event. Pure and order-independent: every field is a max or
    a min over the events seen, so any arrival order (and any repeat) of the same events ends in
    the same state. The status is the one of the latest event by `SequenceNumber`, a final status
    always winning over a non-final one, so it never moves backward; the duration comes only from
    `completed`."""
    state = dict(state or {})
    if event.get("sid"):
        state["sid"] = event["sid"]
    for key in ("parent", "direction", "from", "to"):
        value = event.get(key)
        if value and (not state.get(key) or value < state[key]):
            state[key] = value
    status, at = event.get("status"), event.get("at")
    if status in ("initiated", "ringing", "in-progress"):
        state["started_at"] = _earliest(state.get("started_at"), at)
    if status == "in-progress":
        state["answered_at"] = _earliest(state.get("answered_at"), at)
    if status in FINAL_STATUSES:
        state["ended_at"] = _earliest(state.get("ended_at"), at)
        if status == "completed" and event.get("duration") is not None:
            state["duration"] = max(int(event["duration"]), int(state.get("duration") or 0))
    if status in STATUSES:
        new = _rank(status, event.get("seq", -1))
        if state.get("status") is None or new > _rank(state["status"], state.get("seq", -1)):
            state["status"], state["seq"] = status, event.get("seq", -1)
    return state


def _rank(status: str, seq: int) -> tuple[bool, int, int]:
    return (status in FINAL_STATUSES, seq, STATUSES.index(status))


def fold_all(events: Iterable[dict], state: dict | None = None) -> dict:
    for event in events:
        state = fold(state, event)
    return state or {}


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else (a if b is None else min(a, b))


def is_final(call: dict) -> bool:
    return call.get("status") in FINAL_STATUSES


# -- the Task that records a call -----------------------------------------------------------------

FLOW_INBOUND = "Inbound"
FLOW_LINE_TO_CALL = "LINE to Call"
FLOW_CALL_TO_LINE = "Call to LINE"
FLOW_WEB_CALL = "Web Call"


@dataclass(frozen=True)
class CallLink:
    """What the relay knows a call belongs to (an offer, a chat session, a Case, a Contact)."""

    flow: str = FLOW_INBOUND
    session_key: str | None = None
    case_id: str | None = None
    contact_id: str | None = None
    channel_id: str | None = None
    operator_id: str | None = None
    line_result: str | None = None  # Call to LINE: how the caller was moved (Task.LINE_Guide_Result__c)

    @classmethod
    def from_dict(cls, d: dict | None) -> "CallLink":
        d = d or {}
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__ if d.get(k) is not None})

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def call_type(direction: str) -> str:
    """Task.CallType from Twilio's Direction: the caller reached us (inbound) or we dialled out."""
    return "Inbound" if (direction or "").startswith("inbound") else "Outbound"


def task_fields(call: dict, link: CallLink, *, subject: str, mask_mode: str = "last4") -> dict:
    """The Task fields of one call leg (upserted on LINE_Call_Sid__c = its CallSid)."""
    final = is_final(call)
    fields = {
        "Subject": subject[:255],
        "CallObject": call.get("sid", "")[:255],
        "CallType": call_type(call.get("direction", "")),
        "Status": "Completed" if final else "In Progress",
        "LINE_Call_Status__c": call.get("status") or None,
        "LINE_Call_Sequence__c": call.get("seq") if call.get("seq", -1) >= 0 else None,
        "LINE_Call_Direction__c": (call.get("direction") or "")[:40] or None,
        "LINE_Call_Flow__c": link.flow,
        "LINE_Call_From__c": mask(call.get("from"), mask_mode)[:40] or None,
        "LINE_Call_To__c": mask(call.get("to"), mask_mode)[:40] or None,
        "LINE_Parent_Call_Sid__c": call.get("parent"),
        "LINE_Session_Key__c": link.session_key,
        "LINE_Guide_Result__c": link.line_result,
    }
    if call.get("started_at") is None and call.get("ended_at") is not None and call.get("duration") is not None:
        call = {**call, "started_at": call["ended_at"] - int(call["duration"])}
    for name, key in (
        ("LINE_Call_Started_At__c", "started_at"),
        ("LINE_Call_Answered_At__c", "answered_at"),
        ("LINE_Call_Ended_At__c", "ended_at"),
    ):
        if call.get(key) is not None:
            fields[name] = sf_datetime_s(call[key])
    if call.get("started_at") is not None:
        fields["ActivityDate"] = sf_date_s(call["started_at"])
    if final:
        fields["CallDisposition"] = call["status"]
        if call["status"] == "completed" and call.get("duration") is not None:
            fields["CallDurationInSeconds"] = int(call["duration"])
    if link.contact_id:
        fields["WhoId"] = link.contact_id
    if link.case_id:
        fields["WhatId"] = link.case_id
    return fields


def sf_datetime_s(epoch_s: float) -> str:
    return sf_datetime(epoch_s * 1000)


def sf_date_s(epoch_s: float) -> str:
    return sf_datetime_s(epoch_s)[:10]


def duration_text(seconds: int | None, language: str = "ja") -> str:
    seconds = int(seconds or 0)
    minutes, secs = divmod(seconds, 60)
    if language == "ja":
        return f"{minutes}分{secs:02d}秒" if minutes else f"{secs}秒"
    return f"{minutes}:{secs:02d}"


def transcript_steps(call: dict) -> list[tuple[str, float | None]]:
    """What the chat transcript shows of a call, in order: started, answered, ended."""
    steps: list[tuple[str, float | None]] = []
    if call.get("started_at") is not None or call.get("status"):
        steps.append(("started", call.get("started_at")))
    if call.get("answered_at") is not None:
        steps.append(("answered", call["answered_at"]))
    if is_final(call):
        steps.append(("ended" if call["status"] == "completed" else "not_connected", call.get("ended_at")))
    return steps


# -- one-time codes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRules:
    digits: int = 6
    ttl_s: int = 1800
    attempts_per_call: int = 3

    def well_formed(self, code: str | None) -> bool:
        return bool(code) and len(code) == self.digits and code.isascii() and code.isdigit()


def offer_status(offer: dict | None, now: float) -> str:
    """ "ok", "unknown", "expired" or "used". Callers tell the customer only ok / not ok, so a
    guesser learns nothing about which codes exist."""
    if not offer:
        return "unknown"
    if offer.get("used_at"):
        return "used"
    if now >= float(offer.get("expires_at") or 0):
        return "expired"
    return "ok"


# -- call to LINE ---------------------------------------------------------------------------------

LINE_PUSH = "line"
PNP = "pnp"
# Task.LINE_Guide_Result__c values
RESULT_LINE_SENT = "LINE Sent"
RESULT_LINE_FAILED = "LINE Failed"
RESULT_PNP_SENT = "PNP Sent"
RESULT_PNP_DELIVERED = "PNP Delivered"
RESULT_PNP_UNDELIVERED = "PNP Undelivered"
RESULT_PNP_UNAVAILABLE = "PNP Unavailable"
RESULT_WITHHELD = "Withheld"
RESULT_UNMATCHED = "No Match"
FALLBACK_WITHHELD = "withheld"
FALLBACK_UNMATCHED = "unmatched"


@dataclass(frozen=True)
class Friend:
    """A LINE friend linked to a Contact, found by the caller's number."""

    user_id: str
    friend_key: str
    contact_id: str
    channel_id: str


def route_to_line(e164: str | None, friends: list[Friend], *, pnp_enabled: bool) -> str:
    """How to move a caller to LINE. One linked friend: push to them. Several LINE users with
    that number, or none: a notification message by phone number when the channel may send
    them and the number can receive them; else the configured fallback. Never a guess."""
    if e164 is None:
        return FALLBACK_WITHHELD
    if len({f.user_id for f in friends}) == 1:
        return LINE_PUSH
    if pnp_enabled and pnp_eligible(e164):
        return PNP
    return FALLBACK_UNMATCHED


def matching_friends(e164: str, rows: list[dict], channel_id: str, default_region: str = "JP") -> list[Friend]:
    """Friends (rows of LINE_Friend__c with Contact__r phones) whose Contact's phone or mobile
    normalises to exactly `e164`, verified and following on `channel_id`."""
    out = []
    for row in rows:
        contact = row.get("Contact__r") or {}
        numbers = {
            normalise(contact.get("MobilePhone"), default_region),
            normalise(contact.get("Phone"), default_region),
        }
        if (
            e164 in numbers
            and row.get("Channel_Id__c") == channel_id
            and row.get("Verified__c")
            and row.get("Status__c") != "Unfollowed"
            and row.get("Contact__c")
            and row.get("LINE_User_Id__c")
        ):
            out.append(Friend(row["LINE_User_Id__c"], row.get("Friend_Key__c") or "", row["Contact__c"], channel_id))
    return out


# -- the IVR --------------------------------------------------------------------------------------


@dataclass
class Plan:
    """TwiML verbs as data: ("say", text), ("gather", {attrs}, [nested verbs]), ("dial", {attrs},
    kind, target), ("pause", seconds), ("redirect", url), ("hangup",)."""

    verbs: list[tuple] = field(default_factory=list)
    language: str = "ja-JP"
    voice: str | None = None

    def say(self, text: str) -> "Plan":
        if text:
            self.verbs.append(("say", text))
        return self


@dataclass(frozen=True)
class IvrContext:
    """One channel's IVR settings and texts, as the web edge hands them to the domain."""

    text: Callable[..., str]
    language: str = "ja-JP"
    voice: str | None = None
    call_to_line: bool = True
    desk_number: str | None = None
    caller_id: str | None = None
    code_rules: CodeRules = CodeRules()
    gather_timeout_s: int = 5
    dial_timeout_s: int = 20

    def plan(self) -> Plan:
        return Plan(language=self.language, voice=self.voice)


MENU_LINE = "1"
MENU_CODE = "2"


def welcome(ctx: IvrContext, *, withheld: bool, url: Callable[[str], str]) -> Plan:
    """An incoming call: the menu (LINE / code), then the desk or goodbye if nothing is pressed."""
    offer_line = ctx.call_to_line and not withheld
    plan = ctx.plan()
    prompt = ctx.text("voice_menu") if offer_line else ctx.text("voice_menu_code_only")
    plan.verbs.append(
        (
            "gather",
            {"action": url("menu"), "numDigits": 1, "timeout": ctx.gather_timeout_s, "input": "dtmf"},
            [("say", prompt)],
        )
    )
    return _no_choice(ctx, plan)


def _no_choice(ctx: IvrContext, plan: Plan) -> Plan:
    if ctx.desk_number:
        plan.say(ctx.text("voice_desk"))
        plan.verbs.append(("dial", {"timeout": ctx.dial_timeout_s, "callerId": None}, "number", ctx.desk_number))
        return plan
    plan.say(ctx.text("voice_goodbye"))
    plan.verbs.append(("hangup",))
    return plan


def menu_choice(ctx: IvrContext, digits: str, *, withheld: bool, url: Callable[[str], str]) -> tuple[str, Plan]:
    """The caller pressed a key in the menu: ("line", plan) starts Call to LINE (the caller
    waits while a job sends); ("code", plan) asks for the code; ("other", plan) otherwise."""
    plan = ctx.plan()
    if digits == MENU_LINE and ctx.call_to_line:
        if withheld:
            plan.say(ctx.text("voice_line_withheld"))
            plan.say(ctx.text("voice_goodbye"))
            plan.verbs.append(("hangup",))
            return "withheld", plan
        plan.say(ctx.text("voice_line_wait"))
        plan.verbs.append(("pause", 1))
        plan.verbs.append(("redirect", url("line-result&try=1")))
        return "line", plan
    if digits == MENU_CODE:
        return "code", code_prompt(ctx, url)
    plan.say(ctx.text("voice_no_input"))
    return "other", _no_choice(ctx, plan)


def code_prompt(ctx: IvrContext, url: Callable[[str], str], *, again: bool = False) -> Plan:
    plan = ctx.plan()
    nested = []
    if again:
        nested.append(("say", ctx.text("voice_code_wrong")))
    nested.append(("say", ctx.text("voice_code_prompt", digits=ctx.code_rules.digits)))
    plan.verbs.append(
        (
            "gather",
            {
                "action": url("code"),
                "numDigits": ctx.code_rules.digits,
                "timeout": max(ctx.gather_timeout_s, 8),
                "input": "dtmf",
                "finishOnKey": "#",
            },
            nested,
        )
    )
    plan.say(ctx.text("voice_no_input"))
    return _no_choice(ctx, plan)


def code_refused(ctx: IvrContext, attempts: int, url: Callable[[str], str]) -> Plan:
    """A wrong, expired or used code: ask again until the attempts run out, then goodbye."""
    if attempts < ctx.code_rules.attempts_per_call:
        return code_prompt(ctx, url, again=True)
    plan = ctx.plan()
    plan.say(ctx.text("voice_code_wrong"))
    plan.say(ctx.text("voice_goodbye"))
    plan.verbs.append(("hangup",))
    return plan


@dataclass(frozen=True)
class DialTarget:
    """Where an operator answers: a phone number ("number") or a Voice SDK identity ("client")."""

    kind: str
    value: str


def operator_target(reach: dict | None, operator_id: str | None) -> DialTarget | None:
    """The operator's phone from their presence when they gave one, else their client identity."""
    if not operator_id:
        return None
    reach = reach or {}
    phone = normalise(reach.get("phone"))
    if phone:
        return DialTarget("number", phone)
    return DialTarget("client", reach.get("client") or client_identity(operator_id))


def client_identity(operator_id: str) -> str:
    return f"operator-{operator_id}"


def connect_operator(
    ctx: IvrContext,
    target: DialTarget | None,
    *,
    available: bool,
    status_url: str,
    action_url: str,
    case_id: str | None = None,
) -> Plan:
    """A valid code: dial the operator who offered the call (their leg reports its status too).
    A console phone (a client) also gets the Case, so it can open it when the call rings."""
    plan = ctx.plan()
    if target is None or not available:
        plan.say(ctx.text("voice_operator_unavailable"))
        plan.verbs.append(("hangup",))
        return plan
    plan.say(ctx.text("voice_connecting"))
    plan.verbs.append(
        (
            "dial",
            {"timeout": ctx.dial_timeout_s, "action": action_url, "callerId": ctx.caller_id},
            target.kind,
            target.value,
            {
                "statusCallback": status_url,
                "statusCallbackEvent": "initiated ringing answered completed",
                "statusCallbackMethod": "POST",
            },
            {"caseId": case_id} if case_id and target.kind == "client" else {},
        )
    )
    return plan


def dial_finished(ctx: IvrContext, dial_status: str) -> Plan:
    """After <Dial>: the operator did not answer -> say so; otherwise the call simply ends."""
    plan = ctx.plan()
    if (dial_status or "").lower() not in ("completed", "answered"):
        plan.say(ctx.text("voice_operator_unavailable"))
    plan.verbs.append(("hangup",))
    return plan


def line_result(
    ctx: IvrContext, outcome: dict | None, *, tries: int, max_tries: int, url: Callable[[str], str]
) -> Plan:
    """Say how the caller was moved to LINE, once the job has decided; wait a little longer while
    it has not (each wait is one more Twilio request, answered from Redis)."""
    plan = ctx.plan()
    if outcome is None:
        if tries < max_tries:
            plan.verbs.append(("pause", 1))
            plan.verbs.append(("redirect", url(f"line-result&try={tries + 1}")))
            return plan
        plan.say(ctx.text("voice_line_pending"))
    else:
        route = outcome.get("route")
        if route == LINE_PUSH and outcome.get("status") == "Sent":
            plan.say(ctx.text("voice_line_sent"))
        elif route == PNP and outcome.get("status") == "Sent":
            plan.say(ctx.text("voice_line_pnp"))
        else:
            plan.say(ctx.text("voice_line_fallback"))
            if outcome.get("sms"):
                plan.say(ctx.text("voice_line_sms"))
    plan.say(ctx.text("voice_goodbye"))
    plan.verbs.append(("hangup",))
    return plan


def unavailable(ctx: IvrContext) -> Plan:
    """The fallback URL's answer (the relay failed or was too slow): apologise, never hang silent."""
    plan = ctx.plan()
    plan.say(ctx.text("voice_error"))
    plan.verbs.append(("hangup",))
    return plan


def say_language(channel_language: str, configured: str | None = None) -> str:
    """`<Say language>`: configured per channel, else from the channel's language."""
    if configured:
        return configured
    return {"ja": "ja-JP", "en": "en-US"}.get(channel_language, "ja-JP")
