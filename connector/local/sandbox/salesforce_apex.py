"""The connector's own Apex REST resources, as deployed from `sfdc_metadata/` (`/services/apexrest/...`).

Only what the relay calls: `POST /services/apexrest/line/files/purge` (Apex class
`LineFilePurgeResource`) deletes ContentDocuments and empties their recycle-bin entries in one
call. Salesforce's REST API has no emptyRecycleBin (it is a SOAP call and `Database.emptyRecycleBin`
in Apex), so the package ships this resource. Body `{"documentIds": [...]}` (at most 200);
answer `{"results": [{"documentId", "outcome": "purged"|"gone"|"failed", "error"?}]}`:

- purged: the file was live or in the recycle bin, and is now deleted and purged from the bin;
- gone: no such file, live or deleted (purged earlier, or never existed): nothing left to do;
- failed: Salesforce refused (`error` holds its status code).
"""

from __future__ import annotations

import re

from . import ids
from .salesforce_store import MAX_EMPTY_RECYCLE_BIN, SalesforceError, SalesforceState

_DOCUMENT_ID = re.compile(r"^069[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?$")


def call(state: SalesforceState, method: str, path: str, body) -> tuple[int, object]:
    if path.strip("/") == "line/files/purge":
        if method != "POST":
            raise SalesforceError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are POST")
        return 200, purge_files(state, body)
    raise SalesforceError(404, "NOT_FOUND", f"Could not find a match for URL /{path}")


def purge_files(state: SalesforceState, body) -> dict:
    doc_ids = body.get("documentIds") if isinstance(body, dict) else None
    if not isinstance(doc_ids, list) or not all(isinstance(d, str) and _DOCUMENT_ID.match(d) for d in doc_ids):
        raise SalesforceError(400, "INVALID_ID_FIELD", "documentIds: a list of ContentDocument ids (069...)")
    if len(doc_ids) > MAX_EMPTY_RECYCLE_BIN:
        raise SalesforceError(400, "LIMIT_EXCEEDED", f"at most {MAX_EMPTY_RECYCLE_BIN} documentIds per call")
    odef = state.object("ContentDocument")
    results = []
    with state.lock:
        binned = []
        for raw in doc_ids:
            rid = ids.to_id18(raw)
            if state.record_by_id(odef, rid) is not None:
                state.delete("ContentDocument", rid)
            if state.in_recycle_bin(rid):
                binned.append(rid)
        emptied = {r["id"]: r for r in state.empty_recycle_bin(binned)} if binned else {}
        for raw in doc_ids:
            rid = ids.to_id18(raw)
            result = emptied.get(rid)
            if result is None:
                results.append({"documentId": rid, "outcome": "gone"})
            elif result["success"]:
                results.append({"documentId": rid, "outcome": "purged"})
            else:
                results.append({"documentId": rid, "outcome": "failed", "error": result["errors"][0]["statusCode"]})
    return {"results": results}
