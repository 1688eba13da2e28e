"""HTTP stand-in for the parts of Twilio's REST API (2010-04-01) the connector uses: Calls and
Messages. Resources have the shapes of twilio_api_v2010.yaml; errors use Twilio's JSON error
body ``{"code", "message", "more_info", "status"}``. Calls themselves (TwiML, <Gather>, <Dial>,
signed status callbacks) are played by ``twilio_voice.VoiceSimulator`` (``TwilioState.voice``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import threading
import time
from email.utils import formatdate

import requests
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .ids import twilio_sid
from .server import Service, json_response

DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "sandbox-twilio-auth-token"
API = "/2010-04-01"
FINAL_CALL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


def twilio_error(status: int, code: int, message: str) -> Response:
    return json_response(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
        status,
    )


def twilio_signature(auth_token: str, url: str, params: dict) -> str:
    """X-Twilio-Signature: base64(HMAC-SHA1(token, url + sorted key/value pairs))."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def _date() -> str:
    return formatdate(time.time(), usegmt=False).replace("-0000", "+0000")


class TwilioState:
    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._lock = threading.Lock()
        from .twilio_voice import VoiceSimulator

        self.voice = VoiceSimulator(self)
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._calls: dict[str, dict] = {}
            self._messages: dict[str, dict] = {}
            self._requests: dict[str, dict] = {}  # sid -> form parameters received
            self.callback_log: list[dict] = []
        self.voice.clear()

    @property
    def calls(self) -> list[dict]:
        with self._lock:
            return [
                {**copy.deepcopy(c), "request": dict(self._requests.get(c["sid"], {}))} for c in self._calls.values()
            ]

    @property
    def messages(self) -> list[dict]:
        with self._lock:
            return [
                {**copy.deepcopy(m), "request": dict(self._requests.get(m["sid"], {}))} for m in self._messages.values()
            ]

    def create_call(self, form: dict) -> dict:
        sid = twilio_sid("CA")
        now = _date()
        call = {
            "sid": sid,
            "date_created": now,
            "date_updated": now,
            "parent_call_sid": None,
            "account_sid": self.account_sid,
            "to": form["To"],
            "to_formatted": form["To"],
            "from": form["From"],
            "from_formatted": form["From"],
            "phone_number_sid": None,
            "status": "queued",
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "direction": "outbound-api",
            "answered_by": None,
            "api_version": "2010-04-01",
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": f"{API}/Accounts/{self.account_sid}/Calls/{sid}.json",
            "subresource_uris": {
                name: f"{API}/Accounts/{self.account_sid}/Calls/{sid}/{path}.json"
                for name, path in (
                    ("notifications", "Notifications"),
                    ("recordings", "Recordings"),
                    ("payments", "Payments"),
                    ("events", "Events"),
                    ("siprec", "Siprec"),
                    ("streams", "Streams"),
                    ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
                    ("user_defined_messages", "UserDefinedMessages"),
                    ("transcriptions", "Transcriptions"),
                )
            },
        }
        with self._lock:
            self._calls[sid] = call
            self._requests[sid] = dict(form)
        return copy.deepcopy(call)

    def call(self, sid: str) -> dict | None:
        with self._lock:
            call = self._calls.get(sid)
            return copy.deepcopy(call) if call else None

    def update_call(self, sid: str, form: dict) -> dict | None:
        with self._lock:
            call = self._calls.get(sid)
            if call is None:
                return None
            status = form.get("Status")
            if status in ("completed", "canceled"):
                self._finish(call, "completed" if call["start_time"] else "canceled")
            request = self._requests.setdefault(sid, {})
            for key in ("Twiml", "Url"):
                if key in form:
                    request.setdefault("updates", []).append({key: form[key]})
            call["date_updated"] = _date()
            return copy.deepcopy(call)

    def _finish(self, call: dict, status: str) -> None:
        call["status"] = status
        call["end_time"] = _date()
        started = call.get("_started_at")
        call["duration"] = str(int(time.time() - started)) if started else "0"

    def advance_call(self, sid: str, status: str, *, send_callback: bool = True) -> dict:
        """Move a call to ``status`` (ringing, in-progress, completed, busy, failed, no-answer)
        and POST the StatusCallback the call was created with, signed like Twilio."""
        with self._lock:
            call = self._calls[sid]
            if status == "in-progress":
                call["start_time"] = _date()
                call["_started_at"] = time.time()
            if status in FINAL_CALL_STATUSES:
                self._finish(call, status)
            else:
                call["status"] = status
            call["date_updated"] = _date()
            request = self._requests.get(sid, {})
            sequence = request["_sequence"] = request.get("_sequence", -1) + 1
            snapshot = copy.deepcopy(call)
        callback = request.get("StatusCallback")
        if send_callback and callback:
            params = {
                "CallSid": sid,
                "AccountSid": self.account_sid,
                "From": snapshot["from"],
                "To": snapshot["to"],
                "CallStatus": status,
                "Direction": "outbound-api",
                "ApiVersion": "2010-04-01",
                "SequenceNumber": str(sequence),
                "Timestamp": _date(),
            }
            if status in FINAL_CALL_STATUSES:
                params["CallDuration"] = snapshot["duration"] or "0"
            signature = twilio_signature(self.auth_token, callback, params)
            try:
                response = requests.post(callback, data=params, timeout=10, headers={"X-Twilio-Signature": signature})
                code = response.status_code
            except requests.RequestException as exc:
                code = type(exc).__name__
            with self._lock:
                self.callback_log.append(
                    {"sid": sid, "status": status, "url": callback, "response": code, "params": params}
                )
        snapshot.pop("_started_at", None)
        return snapshot

    def create_message(self, form: dict) -> dict:
        sid = twilio_sid("SM")
        now = _date()
        message = {
            "body": form.get("Body", ""),
            "num_segments": "1",
            "direction": "outbound-api",
            "from": form.get("From"),
            "to": form["To"],
            "date_updated": now,
            "price": None,
            "error_message": None,
            "uri": f"{API}/Accounts/{self.account_sid}/Messages/{sid}.json",
            "account_sid": self.account_sid,
            "num_media": str(len(form.get("MediaUrl", []) or [])),
            "status": "queued",
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "sid": sid,
            "date_sent": None,
            "date_created": now,
            "error_code": None,
            "price_unit": "USD",
            "api_version": "2010-04-01",
            "subresource_uris": {
                "media": f"{API}/Accounts/{self.account_sid}/Messages/{sid}/Media.json",
                "feedback": f"{API}/Accounts/{self.account_sid}/Messages/{sid}/Feedback.json",
            },
        }
        with self._lock:
            self._messages[sid] = message
            self._requests[sid] = dict(form)
        return copy.deepcopy(message)

    def message(self, sid: str) -> dict | None:
        with self._lock:
            message = self._messages.get(sid)
            return copy.deepcopy(message) if message else None


class TwilioService(Service):
    name = "twilio"
    url_map = Map(
        [
            Rule(f"{API}/Accounts/<account>/Calls.json", methods=["POST"], endpoint="create_call"),
            Rule(f"{API}/Accounts/<account>/Calls/<sid>.json", methods=["GET"], endpoint="get_call"),
            Rule(f"{API}/Accounts/<account>/Calls/<sid>.json", methods=["POST"], endpoint="update_call"),
            Rule(f"{API}/Accounts/<account>/Messages.json", methods=["POST"], endpoint="create_message"),
            Rule(f"{API}/Accounts/<account>/Messages/<sid>.json", methods=["GET"], endpoint="get_message"),
        ]
    )

    def __init__(self, state: TwilioState):
        self.state = state
        self._adapter = self.url_map.bind("sandbox")

    def dispatch(self, request: Request) -> Response:
        auth = request.authorization
        if (
            auth is None
            or auth.username != self.state.account_sid
            or not hmac.compare_digest(auth.password or "", self.state.auth_token)
        ):
            return twilio_error(401, 20003, "Authenticate")
        try:
            endpoint, args = self._adapter.match(request.path, method=request.method)
        except HTTPException as exc:
            return twilio_error(exc.code or 404, 20404, f"The requested resource {request.path} was not found")
        if args.pop("account") != self.state.account_sid:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        return getattr(self, endpoint)(request, **args)

    @staticmethod
    def _form(request: Request) -> dict:
        form = {}
        for key in request.form:
            values = request.form.getlist(key)
            form[key] = values if len(values) > 1 or key in ("StatusCallbackEvent", "MediaUrl") else values[0]
        return form

    def create_call(self, request):
        form = self._form(request)
        if not form.get("To"):
            return twilio_error(400, 21201, "No 'To' number is specified")
        if not form.get("From"):
            return twilio_error(400, 21213, "No 'From' number is specified")
        if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
            return twilio_error(400, 21205, "Url parameter is required.")
        return json_response(self.state.create_call(form), 201)

    def get_call(self, request, sid):
        call = self.state.call(sid)
        if call is None:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        call.pop("_started_at", None)
        return json_response(call)

    def update_call(self, request, sid):
        call = self.state.update_call(sid, self._form(request))
        if call is None:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        call.pop("_started_at", None)
        return json_response(call)

    def create_message(self, request):
        form = self._form(request)
        if not form.get("To"):
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            return twilio_error(400, 21602, "Message body is required.")
        return json_response(self.state.create_message(form), 201)

    def get_message(self, request, sid):
        message = self.state.message(sid)
        if message is None:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        return json_response(message)

    def error_response(self, kind, status, fault=None) -> Response:
        if kind == "rate_limit":
            return twilio_error(status, 20429, "Too Many Requests")
        messages = {
            500: (20500, "Internal Server Error"),
            503: (20503, "Service Unavailable"),
            504: (20504, "Gateway Timeout"),
            401: (20003, "Authenticate"),
            404: (20404, "Not Found"),
        }
        code, message = messages.get(status, (20001, "Error"))
        return twilio_error(status, code, message)

    def control(self, request, subpath):
        if subpath == "twilio/calls":
            return json_response(self.state.calls)
        if subpath == "twilio/messages":
            return json_response(self.state.messages)
        if subpath == "twilio/callbacks":
            return json_response(self.state.callback_log)
        if subpath == "twilio/numbers" and request.method == "POST":
            body = request.get_json(silent=True) or {}
            self.state.voice.configure_number(
                body["number"],
                voice_url=body["voiceUrl"],
                status_callback=body.get("statusCallback"),
                fallback_url=body.get("fallbackUrl"),
                status_events=tuple(body.get("statusEvents") or ("initiated", "ringing", "answered", "completed")),
            )
            return json_response(self.state.voice.numbers[body["number"]], 201)
        if subpath == "twilio/voice/calls" and request.method == "POST":
            from .twilio_voice import Answer

            body = request.get_json(silent=True) or {}
            answers = {
                k: Answer(bool(v.get("answer", True)), int(v.get("talkSeconds", 30)))
                for k, v in (body.get("answers") or {}).items()
            }
            record = self.state.voice.incoming_call(
                body["from"],
                body["to"],
                digits=body.get("digits") or [],
                answers=answers,
                shuffle=bool(body.get("shuffle")),
                duplicate=bool(body.get("duplicate")),
                seed=body.get("seed"),
                voice_url=body.get("voiceUrl"),
            )
            return json_response(record.to_dict(), 201)
        if subpath == "twilio/voice/calls":
            return json_response([c.to_dict() for c in self.state.voice.calls])
        if subpath.startswith("twilio/calls/") and request.method == "POST":
            body = request.get_json(silent=True) or {}
            return json_response(self.state.advance_call(subpath.split("/")[2], body["status"]))
        return None
