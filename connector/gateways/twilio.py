"""Twilio REST through the official client, with a timeout and a configurable base URL."""

from __future__ import annotations

import logging

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

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
