"""HTTP stand-in for the Salesforce REST API (``/services/oauth2/token``, ``/services/data/``).

``SalesforceService.call`` is the transport-free core: (method, path, query, body) -> (status,
body, headers). The HTTP layer adds authentication, API-usage counting and
``Sforce-Limit-Info``; Composite subrequests call ``call`` directly, so one Composite request
counts as one API call, as in Salesforce.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

from werkzeug.wrappers import Request, Response

from . import salesforce_apex as apex
from . import salesforce_collections as collections
from . import salesforce_control
from . import salesforce_oauth as oauth
from .salesforce_store import API_VERSION, SalesforceError, SalesforceState
from .server import Service, json_response
from .soql import run_query, run_search

_DATA = re.compile(r"^/services/data/v(\d+\.\d+)(?:/(.*))?$")
_APEX = re.compile(r"^/services/apexrest/(.*)$")
MAX_BATCH = 2000

INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
LIMIT_EXCEEDED = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


class SalesforceService(Service):
    name = "salesforce"

    def __init__(self, state: SalesforceState):
        self.state = state

    # == HTTP layer ==========================================================================
    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.rstrip("/") == "/services/oauth2/token" and request.method == "POST":
            try:
                return json_response(oauth.token(self.state, request.form.to_dict()))
            except oauth.OAuthError as exc:
                return json_response(exc.body, 400)
        if path.rstrip("/") == "/services/data":
            return json_response(
                [{"label": "Spring '25", "url": f"/services/data/v{v}", "version": v} for v in ("61.0", "62.0", "63.0")]
            )
        match = _DATA.match(path)
        apex_match = _APEX.match(path)
        if not match and not apex_match:
            return json_response([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 404)
        header = request.headers.get("Authorization", "")
        token = header.split(" ", 1)[1].strip() if " " in header else ""
        if not self.state.session_valid(token):
            return json_response(INVALID_SESSION, 401)
        if not self.state.count_call():
            return json_response(LIMIT_EXCEEDED, 403)
        request.environ["sandbox.counted"] = True
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return json_response(
                [{"message": "Unexpected character in request body", "errorCode": "JSON_PARSER_ERROR"}], 400
            )
        if apex_match:
            try:
                status, payload = apex.call(self.state, request.method, apex_match.group(1), body)
            except SalesforceError as exc:
                status, payload = exc.status, exc.rest_body()
            return json_response(payload, status)
        status, payload, headers = self.call(
            request.method,
            match.group(1),
            (match.group(2) or "").rstrip("/"),
            request.args.to_dict(),
            body,
            request.headers,
        )
        if isinstance(payload, bytes):
            return Response(payload, status, headers=headers, content_type="application/octet-stream")
        return json_response(payload, status, headers)

    def decorate(self, request: Request, response: Response) -> None:
        if request.path.startswith(("/services/data/v", "/services/apexrest/")):
            response.headers["Sforce-Limit-Info"] = f"api-usage={self.state.api_used}/{self.state.api_limit}"

    def error_response(self, kind, status, fault=None) -> Response:
        if kind == "invalid_session":
            return json_response(INVALID_SESSION, 401)
        if kind == "limit_exceeded":
            return json_response(LIMIT_EXCEEDED, 403)
        if kind == "rate_limit":
            return json_response(
                [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}], status
            )
        if status == 500:
            return json_response(
                [
                    {
                        "message": "An unexpected error occurred. Please include "
                        "this ErrorId if you contact support: 1234567890-12345 "
                        "(-1234567890)",
                        "errorCode": "UNKNOWN_EXCEPTION",
                    }
                ],
                500,
            )
        if status >= 500:
            return json_response(
                [{"message": "Server temporarily unavailable. Please try again.", "errorCode": "SERVER_UNAVAILABLE"}],
                status,
            )
        if status == 404:
            return json_response([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], 404)
        if status == 401:
            return json_response(INVALID_SESSION, 401)
        return json_response([{"message": "Bad request", "errorCode": "BAD_REQUEST"}], status)

    def control(self, request, subpath):
        return salesforce_control.handle(self.state, request, subpath)

    # == transport-free core ==================================================================
    def call(self, method: str, version: str, rest: str, args: dict, body, headers=None):
        """Run one REST operation; returns (status, body, headers)."""
        try:
            return self._route(method.upper(), version, rest, args, body, headers or {})
        except SalesforceError as exc:
            return exc.status, exc.rest_body(), {}

    def _route(self, method, version, rest, args, body, headers):
        parts = [unquote(p) for p in rest.split("/")] if rest else []
        state = self.state
        head = parts[0] if parts else ""
        if not parts and method == "GET":
            base = f"/services/data/v{version}"
            return (
                200,
                {k: f"{base}/{k}" for k in ("sobjects", "query", "queryAll", "search", "composite", "limits")},
                {},
            )
        if head == "sobjects":
            return self._sobjects(method, version, parts[1:], args, body)
        if head in ("query", "queryAll") and method == "GET":
            if len(parts) == 2:
                return self._query_more(version, parts[1])
            return self._query(version, args.get("q", ""), head == "queryAll", headers)
        if head == "search" and method == "GET":
            return 200, run_search(state, args.get("q", ""), version), {}
        if head == "parameterizedSearch" and method == "GET":
            sobject = args.get("sobject", "")
            fields = args.get("fields", "Id")
            query = f"FIND {{{args.get('q', '')}}} RETURNING {sobject}({fields})"
            return 200, run_search(state, query, version), {}
        if head == "composite" and len(parts) == 1 and method == "POST":
            return 200, collections.composite(self, version, body), {}
        if head == "composite" and len(parts) >= 2 and parts[1] == "sobjects":
            return collections.sobject_collections(self, method, version, parts[2:], args, body)
        if head == "limits" and method == "GET":
            return (
                200,
                {"DailyApiRequests": {"Max": state.api_limit, "Remaining": state.api_limit - state.api_used}},
                {},
            )
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")

    def _sobjects(self, method, version, parts, args, body):
        state = self.state
        fields = [f for f in args.get("fields", "").split(",") if f] or None
        if not parts:
            return (
                200,
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [self._describe_global(o, version) for o in state.schema.objects.values()],
                },
                {},
            )
        odef = state.object(parts[0])
        if len(parts) == 1:
            if method == "POST":
                rid = state.create(odef.name, body or {})
                location = f"/services/data/v{version}/sobjects/{odef.name}/{rid}"
                return 201, {"id": rid, "success": True, "errors": []}, {"Location": location}
            if method == "GET":
                return 200, {"objectDescribe": self._describe_global(odef, version), "recentItems": []}, {}
        elif len(parts) == 2 and parts[1] == "describe" and method == "GET":
            return (
                200,
                {**self._describe_global(odef, version), "fields": [f.describe() for f in odef.fields.values()]},
                {},
            )
        elif len(parts) == 2:
            rid = parts[1]
            if method == "GET":
                return 200, state.read(odef.name, rid, fields, version), {}
            if method == "PATCH":
                state.update(odef.name, rid, body or {})
                return 204, None, {}
            if method == "DELETE":
                state.delete(odef.name, rid)
                return 204, None, {}
        elif len(parts) == 3 and odef.name == "ContentVersion" and parts[2] == "VersionData":
            return 200, state.version_data(parts[1]), {}
        elif len(parts) == 3:
            ext_field, value = parts[1], parts[2]
            if method == "PATCH":
                rid, created = state.upsert(odef.name, ext_field, value, body or {})
                result = {"id": rid, "success": True, "errors": [], "created": created}
                return (201 if created else 200), result, {}
            if method == "GET":
                return 200, state.read_by_external(odef.name, ext_field, value, fields, version), {}
            if method == "DELETE":
                found = state.read_by_external(odef.name, ext_field, value)
                state.delete(odef.name, found["Id"])
                return 204, None, {}
        raise SalesforceError(
            405 if len(parts) <= 3 else 404,
            "METHOD_NOT_ALLOWED" if len(parts) <= 3 else "NOT_FOUND",
            f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,DELETE"
            if len(parts) <= 3
            else "The requested resource does not exist",
        )

    @staticmethod
    def _describe_global(odef, version: str) -> dict:
        base = f"/services/data/v{version}/sobjects/{odef.name}"
        return {
            "name": odef.name,
            "label": odef.name,
            "labelPlural": odef.name,
            "custom": odef.custom,
            "keyPrefix": odef.key_prefix,
            "createable": True,
            "updateable": True,
            "deletable": odef.name != "ContentVersion",
            "queryable": True,
            "searchable": True,
            "retrieveable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }

    def _query(self, version, text, include_deleted, headers):
        result = run_query(self.state, text, version, include_deleted)
        batch = MAX_BATCH
        options = headers.get("Sforce-Query-Options", "") if headers else ""
        match = re.search(r"batchSize=(\d+)", options)
        if match:
            batch = max(200, min(MAX_BATCH, int(match.group(1))))
        return 200, self._page(version, result, result["records"], 0, batch), {}

    def _page(self, version, result, rows, start, batch, locator=None):
        page = rows[start : start + batch]
        out = {"totalSize": result["totalSize"], "done": start + batch >= len(rows), "records": page}
        if not out["done"]:
            locator = locator or self.state.save_cursor(rows, batch)
            out["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{start + batch}"
        elif locator:
            self.state.drop_cursor(locator)
        return out

    def _query_more(self, version, token):
        locator, _, offset = token.partition("-")
        cursor = self.state.cursor(locator)
        if cursor is None or not offset.isdigit():
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        rows = cursor["rows"]
        return 200, self._page(version, {"totalSize": len(rows)}, rows, int(offset), cursor["batch"], locator), {}


def split_url(url: str) -> tuple[str, str, dict]:
    """A subrequest URL -> (version, rest, query args)."""
    parts = urlsplit(url)
    match = _DATA.match(parts.path)
    if not match:
        raise SalesforceError(400, "INVALID_URL", f"The URL {url} is not a valid REST URL")
    args = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return match.group(1), (match.group(2) or "").rstrip("/"), args


__all__ = ["SalesforceService", "API_VERSION", "split_url"]
