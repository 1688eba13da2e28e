"""Calls as Twilio places and receives them: TwiML fetched from the relay, verbs followed, signed
status callbacks posted, and a record of what happened.

A configured number (`configure_number`) is what the Twilio console holds: its "A call comes in"
URL, fallback URL and status callback URL (with the events asked for). `incoming_call` plays a
caller: it POSTs the call's parameters (signed with X-Twilio-Signature, like Twilio) to the voice
URL and follows the TwiML: <Say> and <Pause> are recorded, <Gather> takes the caller's next
scripted key presses (none: it times out and falls through, as in Twilio), <Dial> rings a
<Number> or <Client> whose answer is scripted, posting the leg's own status callbacks (with
`ParentCallSid`) and then the <Dial action>, <Redirect> fetches the next document, <Hangup> ends.
A voice URL that fails (error, timeout, not TwiML) is retried on the fallback URL with
`ErrorCode` 11200, as Twilio does. At the end the call's status callbacks go out, in order or
(`shuffle`, `duplicate`) in the disorder Twilio allows.

Time is simulated (a <Say> takes 2 s, an answered <Dial> the scripted talk time) except <Pause>,
which really waits (`pause_scale` of its length, 1.0 by default): the relay uses pauses to let a
job finish while the caller holds, so they must take the time they say. `realtime` makes every
verb take its time.
"""

from __future__ import annotations

import copy
import random
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import urljoin

import requests

from .ids import twilio_sid

SAY_S = 2
GATHER_WAIT_S = 1
MAX_DOCUMENTS = 50  # a runaway <Redirect> loop ends the call, as Twilio's own limit does


@dataclass
class Answer:
    """How a dialled number or client behaves: answers (and talks `talk_s`) or not."""

    answer: bool = True
    talk_s: int = 30


@dataclass
class CallRecord:
    sid: str
    from_: str
    to: str
    steps: list[dict] = field(default_factory=list)
    callbacks: list[dict] = field(default_factory=list)
    legs: list[dict] = field(default_factory=list)
    status: str = "in-progress"
    duration: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def heard(self) -> list[str]:
        return [s["text"] for s in self.steps if s["verb"] == "Say"]

    def to_dict(self) -> dict:
        return {
            "sid": self.sid,
            "from": self.from_,
            "to": self.to,
            "status": self.status,
            "duration": self.duration,
            "heard": self.heard,
            "steps": copy.deepcopy(self.steps),
            "legs": copy.deepcopy(self.legs),
            "callbacks": copy.deepcopy(self.callbacks),
            "errors": list(self.errors),
        }


def _timestamp(t: float) -> str:
    return formatdate(t, usegmt=False).replace("-0000", "+0000")


class VoiceSimulator:
    def __init__(self, state, *, webhook_timeout_s: float = 15.0, pause_scale: float = 1.0):
        self.state = state  # TwilioState: account sid, auth token, signature
        self.webhook_timeout_s = webhook_timeout_s
        self.pause_scale = pause_scale
        self._lock = threading.Lock()
        self.numbers: dict[str, dict] = {}
        self.calls: list[CallRecord] = []
        self._http = threading.local()

    def clear(self) -> None:
        with self._lock:
            self.calls = []

    def configure_number(
        self,
        number: str,
        *,
        voice_url: str,
        status_callback: str | None = None,
        fallback_url: str | None = None,
        status_events: tuple[str, ...] = ("initiated", "ringing", "answered", "completed"),
    ) -> None:
        with self._lock:
            self.numbers[number] = {
                "voice_url": voice_url,
                "status_callback": status_callback,
                "fallback_url": fallback_url,
                "status_events": tuple(status_events),
            }

    # -- a caller ----------------------------------------------------------------------------------
    def incoming_call(
        self,
        from_: str,
        to: str,
        *,
        digits: list[str | None] | tuple = (),
        answers: dict[str, Answer] | None = None,
        shuffle: bool = False,
        duplicate: bool = False,
        seed: int | None = None,
        realtime: bool = False,
        voice_url: str | None = None,
    ) -> CallRecord:
        """Someone calls `to` from `from_` (a number, "anonymous", or "client:<identity>" for a
        browser call through the TwiML App, then `voice_url` is the App's Voice URL)."""
        number = self.numbers.get(to) or {}
        url = voice_url or number.get("voice_url")
        if not url:
            raise ValueError(f"number {to} has no voice URL configured")
        record = CallRecord(twilio_sid("CA"), from_, to)
        run = _Run(self, record, number, list(digits), answers or {}, realtime, random.Random(seed))
        run.execute(url)
        run.finish(shuffle=shuffle, duplicate=duplicate)
        with self._lock:
            self.calls.append(record)
        return record

    # -- HTTP ----------------------------------------------------------------------------------------
    def session(self) -> requests.Session:
        session = getattr(self._http, "session", None)
        if session is None:
            session = self._http.session = requests.Session()
            session.trust_env = False
        return session

    def post(self, url: str, params: dict, timeout: float | None = None) -> requests.Response:
        from .twilio import twilio_signature

        signature = twilio_signature(self.state.auth_token, url, params)
        return self.session().post(
            url,
            data=params,
            timeout=timeout or self.webhook_timeout_s,
            headers={"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"},
        )


class _Run:
    """One call being played: the TwiML interpreter."""

    def __init__(self, sim: VoiceSimulator, record: CallRecord, number: dict, digits, answers, realtime, rng):
        self.sim, self.record, self.number = sim, record, number
        self.digits, self.answers, self.realtime, self.rng = digits, answers, realtime, rng
        self.clock = time.time()
        self.started = self.clock
        self.answered_at: float | None = None
        self.pending_callbacks: list[tuple[str, dict]] = []  # (url, params) in firing order
        self.done = False
        self.documents = 0

    def base(self) -> dict:
        r = self.record
        client = r.from_.startswith("client:")
        return {
            "CallSid": r.sid,
            "AccountSid": self.sim.state.account_sid,
            "From": r.from_,
            "To": r.to,
            "Caller": r.from_,
            "Called": r.to,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **({} if client else {"CallerCountry": "JP", "CalledCountry": "JP"}),
        }

    def tick(self, seconds: float) -> None:
        self.clock += seconds
        if self.realtime and seconds:
            time.sleep(seconds)

    # -- documents ---------------------------------------------------------------------------------
    def execute(self, url: str) -> None:
        self.answered_at = self.clock
        document = self.fetch(url, {**self.base(), "CallStatus": "ringing"}, fallback=True)
        while document is not None and not self.done:
            document = self.run_document(document)

    def fetch(self, url: str, params: dict, *, fallback: bool = False) -> tuple[str, ET.Element] | None:
        self.documents += 1
        if self.documents > MAX_DOCUMENTS:
            self.record.errors.append("too many documents")
            return None
        error = None
        sent_at = time.time()
        try:
            resp = self.sim.post(url, params)
            if resp.status_code != 200:
                error = f"HTTP {resp.status_code}"
            else:
                root = ET.fromstring(resp.content)
                if root.tag != "Response":
                    error = "not TwiML"
                else:
                    self.record.steps.append({"verb": "Fetch", "url": url, "status": resp.status_code, "at": sent_at})
                    return url, root
        except (requests.RequestException, ET.ParseError) as exc:
            error = type(exc).__name__
        self.record.errors.append(f"{url}: {error}")
        self.record.steps.append({"verb": "Fetch", "url": url, "error": error})
        fallback_url = self.number.get("fallback_url")
        if fallback and fallback_url:
            return self.fetch(fallback_url, {**params, "ErrorCode": "11200", "ErrorUrl": url})
        return None

    def run_document(self, document: tuple[str, ET.Element]) -> tuple[str, ET.Element] | None:
        url, root = document
        for verb in root:
            nxt = self.run_verb(url, verb)
            if nxt is not None or self.done:
                return nxt
        self.done = True  # the document ran out: Twilio hangs up
        return None

    def run_verb(self, url: str, verb: ET.Element) -> tuple[str, ET.Element] | None:
        tag = verb.tag
        if tag == "Say":
            self.record.steps.append(
                {"verb": "Say", "text": (verb.text or "").strip(), "language": verb.get("language")}
            )
            self.tick(SAY_S)
        elif tag == "Pause":
            length = int(verb.get("length") or 1)
            self.record.steps.append({"verb": "Pause", "length": length})
            if not self.realtime and self.sim.pause_scale:
                time.sleep(length * self.sim.pause_scale)
            self.tick(length)
        elif tag == "Gather":
            return self.gather(url, verb)
        elif tag == "Dial":
            return self.dial(url, verb)
        elif tag == "Redirect":
            target = urljoin(url, (verb.text or "").strip())
            self.record.steps.append({"verb": "Redirect", "url": target})
            return self.fetch(target, {**self.base(), "CallStatus": "in-progress"})
        elif tag == "Hangup":
            self.record.steps.append({"verb": "Hangup"})
            self.done = True
        else:
            self.record.steps.append({"verb": tag, "ignored": True})
        return None

    def gather(self, url: str, verb: ET.Element) -> tuple[str, ET.Element] | None:
        for inner in verb:
            self.run_verb(url, inner)
        pressed = self.digits.pop(0) if self.digits else None
        self.record.steps.append({"verb": "Gather", "digits": pressed, "numDigits": verb.get("numDigits")})
        if pressed is None:
            self.tick(int(verb.get("timeout") or 5))
            return None  # no input: Twilio continues with the next verb
        self.tick(GATHER_WAIT_S)
        action = urljoin(url, verb.get("action") or url)
        return self.fetch(action, {**self.base(), "CallStatus": "in-progress", "Digits": pressed})

    def dial(self, url: str, verb: ET.Element) -> tuple[str, ET.Element] | None:
        nouns = list(verb) or [ET.Element("Number")]
        if not list(verb):
            nouns[0].text = verb.text
        noun = nouns[0]
        kind = noun.tag
        identity = noun.find("Identity")  # <Client><Identity>x</Identity><Parameter .../></Client>
        target = ((identity.text if identity is not None else noun.text) or "").strip()
        parameters = {p.get("name"): p.get("value") for p in noun.findall("Parameter")}
        address = f"client:{target}" if kind == "Client" else target
        behaviour = self.answers.get(address) or self.answers.get(target) or Answer()
        leg = twilio_sid("CA")
        caller_id = verb.get("callerId") or self.record.from_
        events = (noun.get("statusCallbackEvent") or "completed").split()
        callback = noun.get("statusCallback")
        statuses = ["initiated", "ringing"] + (["in-progress", "completed"] if behaviour.answer else ["no-answer"])
        sent = 0
        for status in statuses:
            event = {"in-progress": "answered"}.get(status, status)
            if status == "no-answer":
                event = "completed"  # a final status goes out with the "completed" event
            if callback and event in events:
                params = {
                    "CallSid": leg,
                    "ParentCallSid": self.record.sid,
                    "AccountSid": self.sim.state.account_sid,
                    "From": caller_id,
                    "To": address,
                    "Direction": "outbound-dial",
                    "ApiVersion": "2010-04-01",
                    "CallStatus": status,
                    "SequenceNumber": str(sent),
                    "Timestamp": _timestamp(self.clock),
                    "CallbackSource": "call-progress-events",
                }
                if status == "completed":
                    params["CallDuration"] = str(behaviour.talk_s)
                self.pending_callbacks.append((callback, params))
                sent += 1
            if status == "in-progress":
                self.tick(behaviour.talk_s)
        if not behaviour.answer:
            self.tick(int(verb.get("timeout") or 30))
        dial_status = "completed" if behaviour.answer else "no-answer"
        self.record.legs.append(
            {"sid": leg, "kind": kind, "to": target, "status": dial_status, "duration": behaviour.talk_s}
        )
        self.record.steps.append(
            {"verb": "Dial", "kind": kind, "to": target, "status": dial_status, "parameters": parameters}
        )
        action = verb.get("action")
        if not action:
            return None
        params = {
            **self.base(),
            "CallStatus": "in-progress",
            "DialCallStatus": dial_status,
            "DialCallSid": leg,
            "DialCallDuration": str(behaviour.talk_s if behaviour.answer else 0),
        }
        return self.fetch(urljoin(url, action), params)

    # -- the end of the call -----------------------------------------------------------------------
    def finish(self, *, shuffle: bool, duplicate: bool) -> None:
        record = self.record
        record.status = "completed"
        record.duration = int(round(self.clock - self.started))
        callback = self.number.get("status_callback")
        events = self.number.get("status_events") or ("completed",)
        if callback:
            sent = 0
            times = {
                "initiated": self.started,
                "ringing": self.started,
                "in-progress": self.answered_at,
                "completed": self.clock,
            }
            for status in ("initiated", "ringing", "in-progress", "completed"):
                event = {"in-progress": "answered"}.get(status, status)
                if event not in events:
                    continue
                params = {
                    **self.base(),
                    "CallStatus": status,
                    "SequenceNumber": str(sent),
                    "Timestamp": _timestamp(times[status] or self.clock),
                    "CallbackSource": "call-progress-events",
                }
                if status == "completed":
                    params["CallDuration"] = str(record.duration)
                self.pending_callbacks.append((callback, params))
                sent += 1
        batch = list(self.pending_callbacks)
        if duplicate:
            batch += [self.rng.choice(batch) for _ in range(max(1, len(batch) // 2))] if batch else []
        if shuffle:
            self.rng.shuffle(batch)
        for url, params in batch:
            try:
                code = self.sim.post(url, params).status_code
            except requests.RequestException as exc:
                code = type(exc).__name__
            record.callbacks.append(
                {
                    "url": url,
                    "status": params["CallStatus"],
                    "call": params["CallSid"],
                    "response": code,
                    "params": params,
                }
            )
