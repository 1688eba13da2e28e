"""Salesforce REST through simple-salesforce, with timeouts, one session refresh, and batching.

* Auth: OAuth 2.0 JWT bearer (private key from the environment) or username/password+token.
  We request the token ourselves (so the login URL is configurable) and hand the session to
  simple-salesforce. A session expiry (INVALID_SESSION_ID) is refreshed once and the call retried.
* Every request goes through a requests.Session with a default timeout.
* `upsert_many` writes any number of records as Composite calls of sObject Collection upserts:
  up to 25 collections of 200 records in ONE API call.
* `Sforce-Limit-Info` is read on every response, so callers can slow down before the daily limit.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connector import metrics
from connector.domain.records import WRITE_ORDER, Upsert
from connector.gateways.errors import AuthError, GatewayError, Paused, Permanent, RateLimited, Retryable, safe_detail

log = logging.getLogger(__name__)
SERVICE = "salesforce"
COLLECTION_SIZE = 200
COMPOSITE_SIZE = 25
RETRYABLE_CODES = {
    "UNABLE_TO_LOCK_ROW",
    "SERVER_UNAVAILABLE",
    "REQUEST_RUNNING_TOO_LONG",
    "QUERY_TIMEOUT",
    "API_CURRENTLY_DISABLED",
    "PROCESSING_HALTED",
}
# Codes by which Salesforce says it is unavailable (not that the record is wrong): like a 5xx.
SERVICE_DOWN_CODES = RETRYABLE_CODES - {"UNABLE_TO_LOCK_ROW"}


class TimeoutSession(requests.Session):
    """A requests.Session that never waits forever and remembers the org's API usage."""

    def __init__(self, timeout_s: float, verify: str | bool = True):
        super().__init__()
        self.timeout_s = timeout_s
        self.verify = verify
        self.api_usage: tuple[int, int] | None = None

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout_s)
        kwargs.setdefault("verify", self.verify)  # else REQUESTS_CA_BUNDLE in the environment wins
        with metrics.timed_call("salesforce") as call:
            resp = super().request(method, url, **kwargs)
            call.status = metrics.status_of(None, resp.status_code)
        usage = _usage(resp.headers.get("Sforce-Limit-Info", ""))
        if usage:
            self.api_usage = usage
        return resp


_LIMIT_INFO = re.compile(r"api-usage=([0-9]{1,12})/([0-9]{1,12})")  # ASCII digits: "²".isdigit() is True


def _usage(header: str) -> tuple[int, int] | None:
    """(used, limit) from `Sforce-Limit-Info: api-usage=18/5000` (other parts, e.g.
    per-app-api-usage, are not the org's daily limit)."""
    m = _LIMIT_INFO.match(header.strip())
    return (int(m.group(1)), int(m.group(2))) if m and int(m.group(2)) else None


@dataclass
class RecordResult:
    ok: bool
    id: str | None = None
    created: bool | None = None
    code: str | None = None
    message: str | None = None  # errors.safe_detail: the code and field names, never the values
    fields: tuple[str, ...] = ()
    # Failed because a parent it references by external id was not written (worth a retry when
    # that parent failed in the same call); read from Salesforce's message, which is not kept.
    parent_missing: bool = False

    @property
    def retryable(self) -> bool:
        return not self.ok and (self.code in RETRYABLE_CODES or self.service_down)

    @property
    def service_down(self) -> bool:
        """Salesforce was unavailable for this record (a 5xx sub-response or such a code): worth
        waiting for, never a reason to give the record up."""
        return not self.ok and (self.code in SERVICE_DOWN_CODES or str(self.code).startswith("HTTP_5"))

    @property
    def summary(self) -> str:
        """The error as operators may see it: the code and the field names, never a value."""
        return " ".join(x for x in (self.code or "UNKNOWN_ERROR", ",".join(self.fields)) if x)

    @classmethod
    def failed(cls, err: dict, code: str | None = None) -> RecordResult:
        """A failed record from a Salesforce error object ({statusCode|errorCode, message, fields})."""
        code = code or err.get("statusCode") or err.get("errorCode")
        message = str(err.get("message") or "")
        fields = err.get("fields") if isinstance(err.get("fields"), list) else []
        if not fields:  # e.g. "Text__c: data value too large: ..." names the field only in the text
            named = _FIELD_IN_MESSAGE.match(message)
            fields = [named.group(1)] if named else []
        return cls(
            False,
            code=code,
            message=safe_detail(code, fields),
            fields=tuple(f for f in fields if isinstance(f, str)),
            parent_missing=code in ("INVALID_FIELD", "INVALID_CROSS_REFERENCE_KEY")
            and "foreign key" in message.lower(),
        )


_FIELD_IN_MESSAGE = re.compile(r"([A-Za-z][A-Za-z0-9_]*__c):")


# In `create_file(then_update=...)` fields: the new file's ContentDocumentId, filled in by Salesforce.
CONTENT_DOCUMENT_ID = "@{doc.ContentDocumentId}"


class SalesforceGateway:
    def __init__(self, config):
        s = config.settings.salesforce
        self.settings = s
        self.config = config
        self.http = TimeoutSession(s.timeout_seconds, verify=s.ca_bundle or True)
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()
        self.calls = 0
        # Asked before every call but the probe: the reason calls are paused now (None: go). The
        # runtime sets it (jobs/outage.py), so that no job spends the org's API while writes pause.
        self.gate: Callable[[], str | None] | None = None

    # -- auth -----------------------------------------------------------------------------------
    def _token_request(self) -> dict:
        s, c = self.settings, self.config
        url = s.login_url.rstrip("/") + "/services/oauth2/token"
        if s.auth == "jwt":
            claims = {
                "iss": c.sf_consumer_key,
                "sub": c.sf_username,
                "aud": s.login_url.rstrip("/"),
                "exp": int(time.time()) + 180,
            }
            try:
                assertion = jwt.encode(claims, str(c.sf_private_key), algorithm="RS256")
            except (ValueError, TypeError) as exc:
                raise AuthError(
                    SERVICE, f"the private key in {s.private_key_env} is not a usable RSA key ({type(exc).__name__})"
                ) from None
            data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        else:
            data = {
                "grant_type": "password",
                "client_id": c.sf_consumer_key,
                "client_secret": str(c.sf_consumer_secret),
                "username": c.sf_username,
                "password": str(c.sf_password),
            }
        try:
            resp = self.http.post(url, data=data)
        except requests.RequestException as exc:
            raise Retryable(SERVICE, f"login: {type(exc).__name__}") from None
        if resp.status_code >= 500:
            raise Retryable(SERVICE, f"login: HTTP {resp.status_code}", status=resp.status_code)
        if resp.status_code != 200:
            body = _json(resp) or {}
            raise AuthError(
                SERVICE,
                f"login refused: {body.get('error', resp.status_code)} {body.get('error_description', '')}".strip(),
                status=resp.status_code,
            )
        return resp.json()

    def _login(self) -> Salesforce:
        token = self._token_request()
        instance = token["instance_url"]
        sf = Salesforce(
            instance_url=instance,
            session_id=token["access_token"],
            session=self.http,
            version=self.settings.api_version,
        )
        log.info("salesforce session opened instance=%s", instance)
        return sf

    def client(self) -> Salesforce:
        with self._lock:
            if self._sf is None:
                self._sf = self._login()
            return self._sf

    def _refresh(self, stale: Salesforce) -> Salesforce:
        with self._lock:
            if self._sf is stale:  # one refresh for all threads that saw the expiry
                self._sf = self._login()
            return self._sf

    def call(self, what: str, fn: Callable[[Salesforce], Any], *, gated: bool = True) -> Any:
        """Run fn(client), refreshing an expired session once, translating errors. Raises Paused,
        without calling, while the gate says calls are paused."""
        if gated and self.gate is not None:
            reason = self.gate()
            if reason:
                raise Paused(SERVICE, f"{what}: not sent, calls paused", code=reason)
        sf = self.client()
        for attempt in (1, 2):
            try:
                self.calls += 1
                return fn(sf)
            except SalesforceExpiredSession:
                if attempt == 2:
                    raise AuthError(SERVICE, f"{what}: session still invalid after refresh", status=401) from None
                log.info("salesforce session expired; refreshing once")
                sf = self._refresh(sf)
            except SalesforceError as exc:
                raise _translate(exc, what) from None
            except requests.RequestException as exc:
                raise Retryable(SERVICE, f"{what}: {type(exc).__name__}") from None
        raise AssertionError("unreachable")

    @property
    def api_usage(self) -> tuple[int, int] | None:
        return self.http.api_usage

    # -- operations -----------------------------------------------------------------------------
    def query(self, soql: str) -> list[dict]:
        return self.call("query", lambda sf: sf.query_all(soql))["records"]

    def composite(self, subrequests: list[dict], *, all_or_none: bool = False) -> list[dict]:
        body = {"allOrNone": all_or_none, "compositeRequest": subrequests}
        return self.call("composite", lambda sf: sf.restful("composite", method="POST", json=body))["compositeResponse"]

    def upsert_many(self, upserts: Iterable[Upsert]) -> dict[tuple[str, str], RecordResult]:
        """Upsert records (already merged: one per key) in as few API calls as possible.

        Raises a GatewayError only when a whole call failed; per-record failures are returned.
        """
        upserts = list(upserts)
        order = {name: i for i, name in enumerate(WRITE_ORDER)}
        by_type: dict[str, list[Upsert]] = {}
        for u in sorted(upserts, key=lambda u: order.get(u.sobject, len(order))):
            by_type.setdefault(u.sobject, []).append(u)
        subs: list[tuple[dict, list[Upsert]]] = []
        for sobject, items in by_type.items():
            for i in range(0, len(items), COLLECTION_SIZE):
                chunk = items[i : i + COLLECTION_SIZE]
                key_field = chunk[0].key_field
                records = [{"attributes": {"type": sobject}, key_field: u.key, **u.fields} for u in chunk]
                subs.append(
                    (
                        {
                            "method": "PATCH",
                            "referenceId": f"r{len(subs)}",
                            "url": f"/services/data/v{self.settings.api_version}/composite/sobjects/{sobject}/{key_field}",
                            "body": {"allOrNone": False, "records": records},
                        },
                        chunk,
                    )
                )
        results: dict[tuple[str, str], RecordResult] = {}
        for i in range(0, len(subs), COMPOSITE_SIZE):
            group = subs[i : i + COMPOSITE_SIZE]
            responses = self.composite([s for s, _ in group])
            for (_, chunk), resp in zip(group, responses):
                body = resp.get("body")
                if (
                    resp.get("httpStatusCode", 500) >= 300
                    or not isinstance(body, list)
                    or len(body) != len(chunk)
                    or (body and "success" not in body[0])
                ):
                    err = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
                    code = err.get("errorCode", f"HTTP_{resp.get('httpStatusCode')}")
                    for u in chunk:
                        results[u.ident] = RecordResult.failed(err, code)
                    continue
                for u, r in zip(chunk, body):
                    if r.get("success"):
                        results[u.ident] = RecordResult(True, id=r.get("id"), created=r.get("created"))
                    else:
                        err = (r.get("errors") or [{}])[0]
                        results[u.ident] = RecordResult.failed(err if isinstance(err, dict) else {})
        return results

    def create_file(
        self,
        *,
        title: str,
        path_on_client: str,
        data_b64: str,
        parent: tuple[str, str, str],
        then_update: tuple[str, str, str, dict] | None = None,
    ) -> dict:
        """Store a Salesforce file linked to a record found by external id, in ONE call.

        Composite: look up the record's Id, insert the ContentVersion with FirstPublishLocationId,
        read back its ContentDocumentId, and optionally write it onto another record.
        """
        v = self.settings.api_version
        link_sobject, link_key_field, link_key = parent
        subs = [
            {
                "method": "GET",
                "referenceId": "parent",
                "url": f"/services/data/v{v}/sobjects/{link_sobject}/{link_key_field}/{_quote(link_key)}?fields=Id",
            },
            {
                "method": "POST",
                "referenceId": "version",
                "url": f"/services/data/v{v}/sobjects/ContentVersion",
                "body": {
                    "Title": title,
                    "PathOnClient": path_on_client,
                    "VersionData": data_b64,
                    "FirstPublishLocationId": "@{parent.Id}",
                },
            },
            {
                "method": "GET",
                "referenceId": "doc",
                "url": f"/services/data/v{v}/sobjects/ContentVersion/@{{version.id}}?fields=ContentDocumentId",
            },
        ]
        if then_update:
            sobject, key_field, key, fields = then_update
            subs.append(
                {
                    "method": "PATCH",
                    "referenceId": "record",
                    "url": f"/services/data/v{v}/sobjects/{sobject}/{key_field}/{_quote(key)}",
                    "body": fields,
                }
            )
        responses = self.composite(subs, all_or_none=True)
        for r in responses:
            if r.get("httpStatusCode", 500) >= 300:
                body = r.get("body")
                err = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
                code = err.get("errorCode", "")
                cls = Retryable if code in RETRYABLE_CODES or r.get("httpStatusCode", 500) >= 500 else Permanent
                fields = err.get("fields") if isinstance(err.get("fields"), list) else []
                raise cls(
                    SERVICE,
                    f"file: {r.get('referenceId')} {safe_detail(code or None, fields)}",
                    status=r.get("httpStatusCode"),
                    code=code,
                )
        return {
            "content_document_id": responses[2]["body"].get("ContentDocumentId"),
            "content_version_id": responses[1]["body"].get("id"),
        }

    def probe(self) -> int | None:
        """One cheap call that proves Salesforce answers: the org's limits. Returns the daily API
        requests remaining (None if not reported). Raises like any call."""
        limits = self.call("limits", lambda sf: sf.limits(), gated=False)
        daily = (limits or {}).get("DailyApiRequests") or {}
        return daily.get("Remaining")

    def content_version_data(self, version_id: str) -> bytes:
        """The bytes of one ContentVersion (a file an operator attached)."""
        return self.call(
            "content",
            lambda sf: (
                sf._call_salesforce(
                    "GET", f"{sf.base_url}sobjects/ContentVersion/{_quote(version_id)}/VersionData"
                ).content
            ),
        )

    def delete(self, sobject: str, record_id: str) -> None:
        self.call("delete", lambda sf: getattr(sf, sobject).delete(record_id))

    def purge_files(self, document_ids: list[str]) -> dict[str, str]:
        """Delete files (ContentDocuments) and empty their recycle-bin entries, in one call of the
        package's Apex REST resource `LineFilePurgeResource` (Salesforce's REST API has no
        emptyRecycleBin). At most 200 ids. Returns {document id: "purged" | "gone" | "failed"}."""
        if not document_ids:
            return {}
        if len(document_ids) > COLLECTION_SIZE:
            raise ValueError(f"at most {COLLECTION_SIZE} files per purge")
        answer = self.call(
            "purge files",
            lambda sf: sf.apexecute("line/files/purge", method="POST", data={"documentIds": list(document_ids)}),
        )
        results = (answer or {}).get("results") if isinstance(answer, dict) else None
        out = {}
        for r in results if isinstance(results, list) else []:
            if isinstance(r, dict) and isinstance(r.get("documentId"), str):
                out[r["documentId"][:15]] = str(r.get("outcome") or "failed")
        # Ids may come back as 18 characters: match on the 15-character form.
        return {d: out.get(d[:15], "failed") for d in document_ids}


def _quote(value: str) -> str:
    return requests.utils.quote(value, safe="")


def _json(resp) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _translate(exc: SalesforceError, what: str) -> GatewayError:
    content = exc.content if isinstance(getattr(exc, "content", None), list) else []
    code = (content[0] or {}).get("errorCode") if content and isinstance(content[0], dict) else None
    status = getattr(exc, "status", None)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RateLimited(
            SERVICE, f"{what}: daily API request limit exceeded", status=status, code=code, retry_after=900
        )
    if isinstance(exc, SalesforceRefusedRequest):
        return AuthError(SERVICE, f"{what}: refused ({code})", status=status, code=code)
    if isinstance(exc, (SalesforceMalformedRequest, SalesforceResourceNotFound)):
        return Permanent(SERVICE, f"{what}: {code or status}", status=status, code=code)
    if isinstance(exc, SalesforceGeneralError) and status == 429:
        return RateLimited(SERVICE, f"{what}: HTTP 429", status=status, code=code)
    if code in RETRYABLE_CODES or (status or 500) >= 500 or isinstance(exc, SalesforceGeneralError):
        return Retryable(SERVICE, f"{what}: HTTP {status} {code or ''}".strip(), status=status, code=code)
    return Permanent(SERVICE, f"{what}: {code or status}", status=status, code=code)
