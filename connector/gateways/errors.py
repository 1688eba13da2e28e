"""The few errors jobs decide on. Gateways translate every SDK/HTTP error into one of these."""

from __future__ import annotations

import re
from collections.abc import Iterable

_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,79}")
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")


def safe_detail(code: str | None, fields: Iterable[str] | None = None) -> str:
    """What may be logged or listed about a Salesforce error: its code and the API names of its
    fields, e.g. "STRING_TOO_LONG (Text__c)". Never the message: it can quote the value written
    (the customer's text). Anything that is not a code or an API name is left out.
    """
    code = code if isinstance(code, str) and _CODE.fullmatch(code) else "UNKNOWN_ERROR"
    names = [f for f in fields or () if isinstance(f, str) and _API_NAME.fullmatch(f)]
    return f"{code} ({', '.join(names)})" if names else code


class GatewayError(Exception):
    """Base: `service` says which edge failed; `status` is the HTTP status when there was one."""

    retryable = False

    def __init__(self, service: str, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status = status
        self.code = code


class Retryable(GatewayError):
    """Worth trying again later: 5xx, timeouts, connection errors, a lock contention.

    `maybe_applied` is False only when the request surely did not take effect (the connection
    was never made, or the service refused it outright); a 5xx or a read timeout may hide a
    request that was applied, which matters for anything that must not happen twice.
    """

    retryable = True

    def __init__(self, service: str, message: str, *, maybe_applied: bool = True, **kw):
        super().__init__(service, message, **kw)
        self.maybe_applied = maybe_applied


class Paused(Retryable):
    """Not sent: the relay's Salesforce writes are paused (an outage, or our share of the org's
    daily API limit is used). Retried after the pause; it is not a failure of Salesforce."""

    def __init__(self, service: str, message: str, **kw):
        kw.setdefault("maybe_applied", False)
        super().__init__(service, message, **kw)


class RateLimited(Retryable):
    """The service asked us to slow down (LINE 429, Salesforce REQUEST_LIMIT_EXCEEDED)."""

    def __init__(self, service: str, message: str, *, retry_after: float | None = None, **kw):
        kw.setdefault("maybe_applied", False)
        super().__init__(service, message, **kw)
        self.retry_after = retry_after


class AuthError(Retryable):
    """Credentials rejected. Retried (an admin may fix it), but loudly logged."""

    def __init__(self, service: str, message: str, **kw):
        kw.setdefault("maybe_applied", False)
        super().__init__(service, message, **kw)


class Permanent(GatewayError):
    """The request itself is wrong; the same request will fail again."""
