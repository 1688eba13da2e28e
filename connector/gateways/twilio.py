"""Twilio through the official library: REST calls (a timeout, a configurable base URL), webhook
signatures (`RequestValidator`), TwiML (`VoiceResponse`) and access tokens (`VoiceGrant`).

Only this module imports the SDK; the web edge and the jobs hand it plain data.
"""

from __future__ import annotations

import logging

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from connector.gateways.errors import AuthError, GatewayError, Permanent, RateLimited, Retryable

log = logging.getLogger(__name__)
SERVICE = "twilio"
TWILIO_API = "https://api.twilio.com"


class _HttpClient(TwilioHttpClient):
    """The official HTTP client, pointed at a configured base URL (the sandbox in tests)."""

    def __init__(self, base_url: str, timeout_s: float):
        super().__init__(timeout=timeout_s)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url != TWILIO_API and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class TwilioGateway:
    def __init__(self, account_sid: str, auth_token: str, *, base_url: str = TWILIO_API, timeout_s: float = 10.0):
        self.client = Client(account_sid, str(auth_token), http_client=_HttpClient(base_url, timeout_s))

    def create_call(
        self,
        *,
        to: str,
        from_: str,
        twiml: str | None = None,
        url: str | None = None,
        status_callback: str | None = None,
    ) -> str:
        kwargs = {"to": to, "from_": from_}
        if twiml:
            kwargs["twiml"] = twiml
        if url:
            kwargs["url"] = url
        if status_callback:
            kwargs.update(
                status_callback=status_callback, status_callback_event=["initiated", "ringing", "answered", "completed"]
            )
        return self._call("create call", lambda: self.client.calls.create(**kwargs)).sid

    def send_sms(self, *, to: str, from_: str, body: str) -> str:
        return self._call("send sms", lambda: self.client.messages.create(to=to, from_=from_, body=body)).sid

    def _call(self, what: str, fn):
        try:
            return fn()
        except TwilioRestException as exc:
            raise _translate(exc, what) from None
        except OSError as exc:  # requests' errors are OSErrors
            raise Retryable(SERVICE, f"{what}: {type(exc).__name__}") from None


def _translate(exc: TwilioRestException, what: str) -> GatewayError:
    status = exc.status or 0
    if status == 429:
        return RateLimited(SERVICE, f"{what}: rate limited", status=status)
    if status >= 500:
        return Retryable(SERVICE, f"{what}: HTTP {status}", status=status)
    if status in (401, 403):
        return AuthError(SERVICE, f"{what}: HTTP {status} (check the account SID and auth token)", status=status)
    return Permanent(SERVICE, f"{what}: HTTP {status} code {exc.code}", status=status, code=str(exc.code))


# -- webhooks in: signatures -----------------------------------------------------------------------


class SignatureVerifier:
    """X-Twilio-Signature checked with the library's RequestValidator (HMAC-SHA1 of the URL and the
    sorted POST parameters, with or without the default port). The URL must be the public one
    Twilio called (scheme, host, path, query string as sent): the caller builds it from the
    configured public base URL, not from what a proxy passed on."""

    def __init__(self, auth_token: str):
        self._validator = RequestValidator(str(auth_token))

    def valid(self, url: str, params, signature: str) -> bool:
        """`params`: the form (a MultiDict keeps repeated keys) or, for JSON bodies, the raw body."""
        if not signature:
            return False
        if self._validator.validate(url, params, signature):
            return True
        # twilio-node signs a raw apostrophe in the URL percent-encoded; accept that form too.
        return "'" in url and self._validator.validate(url.replace("'", "%27"), params, signature)


def compute_signature(auth_token: str, url: str, params: dict) -> str:
    """What Twilio sends for a form POST (used by the sandbox and tests, never to verify)."""
    return RequestValidator(str(auth_token)).compute_signature(url, params)


# -- TwiML -----------------------------------------------------------------------------------------


def render_twiml(verbs: list[tuple], *, language: str, voice: str | None = None) -> str:
    """TwiML for an IVR plan (connector.domain.voice.Plan verbs)."""
    response = VoiceResponse()
    for verb in verbs:
        _append(response, verb, language, voice)
    return str(response)


def _append(parent, verb: tuple, language: str, voice: str | None) -> None:
    kind = verb[0]
    if kind == "say":
        parent.say(verb[1], language=language, voice=voice)
    elif kind == "gather":
        attrs, nested = verb[1], verb[2]
        gather = Gather(
            action=attrs["action"],
            method="POST",
            num_digits=attrs.get("numDigits"),
            timeout=attrs.get("timeout"),
            input=attrs.get("input", "dtmf"),
            finish_on_key=attrs.get("finishOnKey"),
            language=language,
        )
        for inner in nested:
            _append(gather, inner, language, voice)
        parent.append(gather)
    elif kind == "dial":
        attrs, target_kind, target = verb[1], verb[2], verb[3]
        callbacks = verb[4] if len(verb) > 4 else {}
        dial = Dial(
            action=attrs.get("action"),
            method="POST" if attrs.get("action") else None,
            timeout=attrs.get("timeout"),
            caller_id=attrs.get("callerId"),
        )
        noun = {
            "status_callback": callbacks.get("statusCallback"),
            "status_callback_event": callbacks.get("statusCallbackEvent"),
            "status_callback_method": callbacks.get("statusCallbackMethod"),
        }
        if target_kind == "client":
            # <Identity> as a noun so that <Parameter>s can go with it: the console phone reads them
            client = dial.client(**noun)
            client.identity(target)
            for name, value in (verb[5] if len(verb) > 5 else {}).items():
                client.parameter(name=name, value=value)
        else:
            dial.number(target, **noun)
        parent.append(dial)
    elif kind == "pause":
        parent.pause(length=verb[1])
    elif kind == "redirect":
        parent.redirect(verb[1], method="POST")
    elif kind == "hangup":
        parent.hangup()
    else:
        raise ValueError(f"unknown TwiML verb {kind!r}")


# -- access tokens for the Voice JavaScript SDK ----------------------------------------------------


def voice_access_token(
    *,
    account_sid: str,
    api_key_sid: str,
    api_key_secret: str,
    identity: str,
    application_sid: str,
    ttl_s: int,
    incoming: bool = False,
) -> str:
    """A short-lived JWT letting a browser place calls through the TwiML App; with `incoming`, also
    receive calls dialled to `identity` (an operator's console phone; a customer's page never)."""
    token = AccessToken(account_sid, api_key_sid, str(api_key_secret), identity=identity, ttl=ttl_s)
    token.add_grant(VoiceGrant(outgoing_application_sid=application_sid or None, incoming_allow=incoming))
    jwt = token.to_jwt()
    return jwt.decode() if isinstance(jwt, bytes) else jwt
