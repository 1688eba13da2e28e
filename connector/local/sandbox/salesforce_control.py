"""``/__sandbox__/salesforce/...``: inspect and seed the org over HTTP.

| method | path | body / query | does |
|---|---|---|---|
| GET | salesforce/records/{Type} | ?field=value... | records of a type (filtered by equality) |
| POST | salesforce/records/{Type} | {field: value} | seed a record (no API usage), returns {"id"} |
| GET | salesforce/events | | platform events published |
| GET | salesforce/usage | | {"api_calls", "api_used", "api_limit"} |
| POST | salesforce/usage | {"used"?, "limit"?, "window_s"?} | set API usage / daily limit / a compressed 24-hour window |
| POST | salesforce/sessions | {"username"?} | issue an access token without OAuth |
| POST | salesforce/expire_sessions | | invalidate every access token |
| GET | salesforce/requests | | request log (method, path, status, counted, at) |
| POST | salesforce/reset | | fresh org |
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from .salesforce_store import SalesforceError, SalesforceState
from .server import json_response, read_json


def handle(state: SalesforceState, request: Request, subpath: str) -> Response | None:
    if not subpath.startswith("salesforce/"):
        return None
    parts = subpath.split("/")[1:]
    method = request.method
    try:
        if parts[0] == "records" and len(parts) == 2:
            if method == "POST":
                return json_response({"id": state.insert(parts[1], read_json(request) or {})}, 201)
            return json_response(state.find(parts[1], **request.args.to_dict()))
        if parts == ["events"]:
            return json_response(state.events)
        if parts == ["usage"] and method == "POST":
            body = read_json(request) or {}
            state.set_api_usage(int(body.get("used", state.api_used)), body.get("limit"))
            if "window_s" in body:
                state.api_window_s = body["window_s"]
        if parts == ["usage"]:
            return json_response(
                {"api_calls": state.api_calls, "api_used": state.api_used, "api_limit": state.api_limit}
            )
        if parts == ["sessions"] and method == "POST":
            body = read_json(request) or {}
            return json_response(
                {"access_token": state.issue_session(body.get("username")), "instance_url": state.instance_url}, 201
            )
        if parts == ["expire_sessions"] and method == "POST":
            state.expire_sessions()
            return json_response({"expired": True})
        if parts == ["requests"]:
            return json_response(state.request_log)
        if parts == ["reset"] and method == "POST":
            state.reset()
            return json_response({"reset": True})
    except SalesforceError as exc:
        return json_response(exc.rest_body(), exc.status)
    return None
