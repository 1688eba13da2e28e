"""Composite (``/composite``) and sObject Collections (``/composite/sobjects``).

Both run under the org lock with an undo journal, so ``allOrNone`` rolls back cleanly. Each
request counts as one API call (counting happens in the HTTP layer).
"""

from __future__ import annotations

import re

from .salesforce_store import SalesforceError

MAX_SUBREQUESTS = 25
MAX_RECORDS = 200
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }
]
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


# == Composite ==============================================================================


def _lookup(results: dict, ref: str, path: str):
    if ref not in results:
        raise KeyError(ref)
    value = results[ref]
    for name, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        value = value[int(index)] if index else value[name]
    return value


def _substitute(value, results: dict):
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _lookup(results, whole.group(1), whole.group(2))
        return _REFERENCE.sub(lambda m: str(_lookup(results, m.group(1), m.group(2))), value)
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    return value


def composite(service, version: str, body) -> dict:
    from .salesforce import split_url

    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "compositeRequest is required")
    requests = body["compositeRequest"]
    if len(requests) > MAX_SUBREQUESTS:
        raise SalesforceError(
            400, "LIMIT_EXCEEDED", f"The number of subrequests exceeds the limit of {MAX_SUBREQUESTS}."
        )
    all_or_none = bool(body.get("allOrNone"))
    state = service.state
    responses, results = [], {}
    with state.lock:
        savepoint = state.begin()
        try:
            failed = False
            for sub in requests:
                ref_id = sub.get("referenceId")
                if failed and all_or_none:
                    responses.append(_sub_result(400, HALTED, {}, ref_id))
                    continue
                try:
                    url = _substitute(sub.get("url", ""), results)
                    sub_body = _substitute(sub.get("body"), results)
                except (KeyError, IndexError, TypeError) as exc:
                    responses.append(
                        _sub_result(
                            400,
                            [
                                {
                                    "errorCode": "PROCESSING_HALTED",
                                    "message": f"Invalid reference specified. No value for {exc} found.",
                                }
                            ],
                            {},
                            ref_id,
                        )
                    )
                    failed = True
                    continue
                try:
                    sub_version, rest, args = split_url(url)
                except SalesforceError as exc:
                    status, payload, headers = exc.status, exc.rest_body(), {}
                else:
                    status, payload, headers = service.call(
                        sub.get("method", "GET"), sub_version, rest, args, sub_body, sub.get("httpHeaders") or {}
                    )
                if isinstance(payload, bytes):
                    payload = None
                responses.append(_sub_result(status, payload, headers, ref_id))
                if status < 300 and ref_id:
                    results[ref_id] = payload
                if status >= 400:
                    failed = True
            if failed and all_or_none:
                state.rollback(savepoint)
                for response in responses:
                    if response["httpStatusCode"] < 400:
                        response.update(httpStatusCode=400, body=HALTED, httpHeaders={})
        finally:
            state.end(savepoint)
    return {"compositeResponse": responses}


def _sub_result(status, body, headers, ref_id) -> dict:
    return {"body": body, "httpHeaders": dict(headers), "httpStatusCode": status, "referenceId": ref_id}


# == sObject Collections =======================================================================


def sobject_collections(service, method: str, version: str, parts: list[str], args: dict, body):
    state = service.state
    if method == "GET" and len(parts) == 1:
        fields = [f for f in args.get("fields", "").split(",") if f]
        if not fields:
            raise SalesforceError(400, "MALFORMED_QUERY", "fields parameter is required")
        out = []
        with state.lock:
            odef = state.object(parts[0])
            for rid in [i for i in args.get("ids", "").split(",") if i]:
                record = state.record_by_id(odef, rid)
                out.append(state.public(odef, record, fields, version) if record else None)
        return 200, out, {}
    if method == "DELETE" and not parts:
        ids = [i for i in args.get("ids", "").split(",") if i]
        all_or_none = str(args.get("allOrNone", "false")).lower() == "true"
        return 200, _run(state, ids, all_or_none, lambda rid: _delete(state, rid)), {}
    records = (body or {}).get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "records is required")
    if len(records) > MAX_RECORDS:
        raise SalesforceError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    all_or_none = bool(body.get("allOrNone"))
    if method == "POST" and not parts:
        return 200, _run(state, records, all_or_none, lambda r: _create(state, r)), {}
    if method == "PATCH" and not parts:
        return 200, _run(state, records, all_or_none, lambda r: _update(state, r)), {}
    if method == "PATCH" and len(parts) == 2:
        type_name, ext_field = parts
        duplicates = _duplicate_keys(records, ext_field)
        return 200, _run(state, records, all_or_none, lambda r: _upsert(state, type_name, ext_field, r, duplicates)), {}
    raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


def _run(state, items: list, all_or_none: bool, operation) -> list[dict]:
    results = []
    with state.lock:
        savepoint = state.begin()
        try:
            for item in items:
                item_point = state.begin()
                try:
                    results.append({**operation(item), "success": True, "errors": []})
                except SalesforceError as exc:
                    state.rollback(item_point)
                    results.append({"id": _id_of(item), "success": False, "errors": [exc.save_error()]})
            if all_or_none and any(not r["success"] for r in results):
                state.rollback(savepoint)
                for result in results:
                    if result["success"]:
                        result.update(success=False, errors=[dict(ROLLED_BACK)])
                        result["id"] = None
                        result.pop("created", None)
        finally:
            state.end(savepoint)
    return [_ordered(r) for r in results]


def _ordered(result: dict) -> dict:
    out = {"id": result.get("id"), "success": result["success"], "errors": result["errors"]}
    if "created" in result:
        out["created"] = result["created"]
    return out


def _id_of(item):
    if isinstance(item, dict):
        return item.get("Id") or item.get("id")
    return item if isinstance(item, str) else None


def _record_type(record) -> str:
    if not isinstance(record, dict):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "each record must be an object")
    type_name = (record.get("attributes") or {}).get("type")
    if not type_name:
        raise SalesforceError(400, "INVALID_FIELD", "No type was specified in the attributes of the record")
    return type_name


def _create(state, record) -> dict:
    type_name = _record_type(record)
    if record.get("Id"):
        raise SalesforceError(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
    return {"id": state.create(type_name, record)}


def _update(state, record) -> dict:
    type_name = _record_type(record)
    rid = record.get("Id") or record.get("id")
    if not rid:
        raise SalesforceError(400, "MISSING_ARGUMENT", "Id not specified in an update call")
    state.update(type_name, rid, {k: v for k, v in record.items() if k not in ("Id", "id")})
    return {"id": rid}


def _duplicate_keys(records: list, ext_field: str) -> set:
    seen, duplicates = set(), set()
    for record in records:
        value = _ext_value(record, ext_field)
        if value is not None:
            (duplicates if value in seen else seen).add(value)
    return duplicates


def _ext_value(record, ext_field: str):
    if not isinstance(record, dict):
        return None
    for key, value in record.items():
        if key.lower() == ext_field.lower():
            return value
    return None


def _upsert(state, type_name: str, ext_field: str, record, duplicates: set) -> dict:
    if isinstance(record, dict) and (record.get("attributes") or {}).get("type") is None:
        record = {**record, "attributes": {"type": type_name}}
    record_type = _record_type(record)
    value = _ext_value(record, ext_field)
    if value is None:
        raise SalesforceError(400, "MISSING_ARGUMENT", f"{ext_field} not specified", [ext_field])
    if value in duplicates:
        raise SalesforceError(400, "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [ext_field])
    rid, created = state.upsert(record_type, ext_field, value, record)
    return {"id": rid, "created": created}


def _delete(state, rid: str) -> dict:
    found = state.find_by_id(rid)
    if found is None:
        odef = state.schema.by_prefix(rid[:3]) if isinstance(rid, str) else None
        if odef is not None:
            raise state._missing(odef, rid)
        raise SalesforceError(404, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    state.delete(found[0].name, rid)
    return {"id": found[1]["Id"]}


__all__ = ["composite", "sobject_collections"]
