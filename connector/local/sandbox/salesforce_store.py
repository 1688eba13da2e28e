"""Salesforce org state: records, sessions, API usage, platform events and files.

``SalesforceState`` is transport-free: its operations raise ``SalesforceError`` carrying the
REST status, errorCode and message; ``salesforce.py`` turns them into HTTP responses. Every
mutation goes through ``_put``/``_remove`` so composite ``allOrNone`` can roll back with an
undo journal, and unique/external-id indexes stay consistent.
"""

from __future__ import annotations

import base64
import collections
import copy
import datetime as dt
import functools
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import ids
from .schema import TEXT_TYPES, FieldDef, ObjectDef, load_custom_metadata_records, load_schema

API_VERSION = "63.0"
RECYCLE_BIN_S = 15 * 24 * 3600.0  # deleted records stay in the recycle bin for 15 days
MAX_EMPTY_RECYCLE_BIN = 200  # ids per emptyRecycleBin call


class SalesforceError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or []

    def rest_body(self) -> list[dict]:
        body = {"message": self.message, "errorCode": self.code}
        if self.fields:
            body["fields"] = self.fields
        return [body]

    def save_error(self) -> dict:
        """The record-level (SaveResult) error form used by sObject Collections."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


@dataclass
class SalesforceUser:
    """An API user the token endpoint accepts (password = password + security token)."""

    username: str
    password: str
    consumer_key: str
    public_key_pem: str | bytes | None = None
    consumer_secret: str | None = None  # None = any secret is accepted


DEFAULT_USER = SalesforceUser("connector@sandbox.example", "sandbox", "sandbox-consumer-key")
SEED_USERS = [
    {"FirstName": "Sandbox", "LastName": "Integration", "Alias": "integ"},
    {"FirstName": "Aiko", "LastName": "Tanaka", "Alias": "atana"},
    {"FirstName": "Ken", "LastName": "Sato", "Alias": "ksato"},
    {"FirstName": "Mei", "LastName": "Suzuki", "Alias": "msuzu"},
]
CLOSED_CASE_STATUSES = {"closed"}


def format_datetime(value: dt.datetime) -> str:
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def now_iso() -> str:
    return format_datetime(dt.datetime.now(dt.UTC))


def parse_datetime(value: str) -> dt.datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _atomic(method):
    """Run a store operation all-or-nothing (under the lock, with an undo journal)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            savepoint = self.begin()
            try:
                return method(self, *args, **kwargs)
            except BaseException:
                self.rollback(savepoint)
                raise
            finally:
                self.end(savepoint)

    return wrapper


def _auto_number(display_format: str | None, n: int) -> str:
    fmt = display_format or "{0}"
    start, end = fmt.find("{"), fmt.find("}")
    if start < 0 or end < 0:
        return f"{fmt}{n}"
    width = end - start - 1
    return fmt[:start] + str(n).zfill(width) + fmt[end + 1 :]


class SalesforceState:
    def __init__(
        self,
        metadata_dir: str | None = None,
        users: list[SalesforceUser] | None = None,
        api_limit: int = 100_000,
        session_ttl_s: float = 7200.0,
        recycle_bin_s: float = RECYCLE_BIN_S,
    ):
        self.metadata_dir = metadata_dir
        self.users = list(users or [DEFAULT_USER])
        self._configured_api_limit = api_limit
        self._configured_recycle_bin_s = recycle_bin_s
        self.session_ttl_s = session_ttl_s
        self.instance_url = "https://127.0.0.1"
        self.org_id = "00D5g00000SbxOrgAA"
        self.request_log_source = None  # set by Sandbox: the service's RequestLog
        self._lock = threading.RLock()
        self._ids = ids.SalesforceIdFactory()
        self.reset()

    # == lifecycle, sessions, limits ======================================================
    def reset(self) -> None:
        """Back to a fresh org: seeded users and custom metadata records, nothing else."""
        with self._lock:
            self.schema = load_schema(self.metadata_dir)
            self._records: dict[str, dict[str, dict]] = {}
            self._deleted: dict[str, dict[str, dict]] = {}  # the recycle bin, by type then Id
            self._deleted_at: dict[str, float] = {}  # when each record went to the recycle bin
            # How long a deleted record stays in the recycle bin (and visible to queryAll) before
            # the org purges it for good; a test compresses the 15 days.
            self.recycle_bin_s = self._configured_recycle_bin_s
            self._index: dict[tuple[str, str], dict] = {}
            self._counters: dict[tuple[str, str], int] = {}
            self._blobs: dict[str, bytes] = {}
            self._sessions: dict[str, dict] = {}
            self._cursors: dict[str, dict] = {}
            self._journal: list[Callable[[], None]] | None = None
            self.events: list[dict] = []
            self._api_calls = 0  # every call since the reset
            self._api_base = 0  # usage set by set_api_usage, outside the window's own calls
            self._api_times: collections.deque[float] = collections.deque()  # calls in the window
            self.api_limit = self._configured_api_limit  # a test's set_api_usage(limit=) ends here
            self.api_window_s = None
            self.user_ids = [
                self.insert(
                    "User",
                    {
                        **u,
                        "Email": f"{u['Alias']}@sandbox.example",
                        "Username": f"{u['Alias']}@sandbox.example",
                        "IsActive": True,
                    },
                )
                for u in SEED_USERS
            ]
            self.integration_user_id = self.user_ids[0]
            for type_name, fields in load_custom_metadata_records(self.metadata_dir):
                self.insert(type_name, fields)

    def issue_session(self, username: str | None = None) -> str:
        """A new access token (what the token endpoint returns); no OAuth round-trip."""
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        with self._lock:
            self._sessions[token] = {
                "username": username or self.users[0].username,
                "expires_at": time.time() + self.session_ttl_s,
            }
        return token

    def session_valid(self, token: str) -> bool:
        with self._lock:
            session = self._sessions.get(token)
            return session is not None and session["expires_at"] > time.time()

    def expire_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    # Salesforce counts the org's API requests over a rolling 24 hours; `api_window_s` compresses
    # that day for benchmarks (None: nothing ages out, the usage only grows).
    api_window_s: float | None

    def count_call(self) -> bool:
        """Count one API request; False (not counted) when the daily limit is used up."""
        with self._lock:
            if self.api_used >= self.api_limit:
                return False
            self._api_calls += 1
            self._api_times.append(time.monotonic())
            return True

    @property
    def api_calls(self) -> int:
        """Every API request since the reset (or since set_api_usage), for counting calls per message."""
        return self._api_calls

    @property
    def api_used(self) -> int:
        """The usage the limit applies to (what Sforce-Limit-Info reports): the calls of the last
        `api_window_s` when a window is set, plus what set_api_usage put there."""
        with self._lock:
            if self.api_window_s is None:
                return self._api_base + len(self._api_times)
            horizon = time.monotonic() - self.api_window_s
            while self._api_times and self._api_times[0] < horizon:
                self._api_times.popleft()
            return self._api_base + len(self._api_times)

    def set_api_usage(self, used: int, limit: int | None = None) -> None:
        with self._lock:
            self._api_calls = used
            self._api_base = used
            self._api_times.clear()
            if limit is not None:
                self.api_limit = limit

    @property
    def request_log(self) -> list[dict]:
        return self.request_log_source.entries() if self.request_log_source else []

    # == transactions ======================================================================
    def begin(self) -> tuple[int, bool]:
        """Start (or nest in) an undo journal. Call with the lock held (``with state.lock``)."""
        owner = self._journal is None
        if owner:
            self._journal = []
        return len(self._journal), owner

    def rollback(self, savepoint: tuple[int, bool]) -> None:
        position, _ = savepoint
        while self._journal and len(self._journal) > position:
            self._journal.pop()()

    def end(self, savepoint: tuple[int, bool]) -> None:
        if savepoint[1]:
            self._journal = None

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # == low-level storage =================================================================
    def _table(self, type_name: str) -> dict[str, dict]:
        return self._records.setdefault(type_name, {})

    def _indexed_fields(self, odef: ObjectDef) -> list[FieldDef]:
        return [f for f in odef.fields.values() if f.unique or f.external_id]

    def _index_for(self, odef: ObjectDef, fdef: FieldDef) -> dict:
        key = (odef.name, fdef.name)
        index = self._index.get(key)
        if index is None:
            index = {}
            for rid, rec in self._table(odef.name).items():
                value = rec.get(fdef.name)
                if value is not None:
                    index.setdefault(value, rid)
            self._index[key] = index
        return index

    def _reindex(self, odef: ObjectDef, rid: str, old: dict | None, new: dict | None) -> None:
        for (type_name, field_name), index in self._index.items():
            if type_name != odef.name:
                continue
            if old is not None and old.get(field_name) is not None and index.get(old[field_name]) == rid:
                del index[old[field_name]]
            if new is not None and new.get(field_name) is not None:
                index.setdefault(new[field_name], rid)

    def _put(self, odef: ObjectDef, rid: str, new: dict) -> None:
        table = self._table(odef.name)
        old = table.get(rid)
        for fdef in self._indexed_fields(odef):
            self._index_for(odef, fdef)
        self._reindex(odef, rid, old, new)
        table[rid] = new
        if self._journal is not None:
            self._journal.append(lambda: self._restore(odef, rid, old))

    def _restore(self, odef: ObjectDef, rid: str, old: dict | None) -> None:
        table = self._table(odef.name)
        self._reindex(odef, rid, table.get(rid), old)
        if old is None:
            table.pop(rid, None)
        else:
            table[rid] = old
        self._deleted.get(odef.name, {}).pop(rid, None)
        self._deleted_at.pop(rid, None)

    def _remove(self, odef: ObjectDef, rid: str) -> None:
        table = self._table(odef.name)
        old = table.pop(rid)
        self._reindex(odef, rid, old, None)
        self._deleted.setdefault(odef.name, {})[rid] = {**old, "IsDeleted": True}
        self._deleted_at[rid] = time.time()
        if self._journal is not None:
            self._journal.append(lambda: self._restore(odef, rid, old))

    # == lookups ============================================================================
    def object(self, type_name: str) -> ObjectDef:
        odef = self.schema.resolve(type_name)
        if odef is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return odef

    def field(self, odef: ObjectDef, name: str, *, create: bool = False) -> FieldDef:
        fdef = odef.field(name)
        if fdef is None and self.schema.lenient(odef) and create and name.replace("_", "").isalnum():
            fdef = FieldDef(name, "string", custom=name.endswith("__c"))
            odef.add(fdef)
        if fdef is None:
            raise SalesforceError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {odef.name}")
        return fdef

    def record_by_id(self, odef: ObjectDef, rid: str) -> dict | None:
        return self._table(odef.name).get(ids.to_id18(rid))

    def find_by_id(self, rid: str) -> tuple[ObjectDef, dict] | None:
        """Any live record by Id (its key prefix names the object)."""
        rid = ids.to_id18(rid) if isinstance(rid, str) else rid
        if not isinstance(rid, str) or len(rid) != 18:
            return None
        for odef in self.schema.objects.values():
            if odef.key_prefix == rid[:3]:
                rec = self._table(odef.name).get(rid)
                if rec is not None:
                    return odef, rec
        return None

    def find_by_external(self, odef: ObjectDef, fdef: FieldDef, value) -> str | None:
        if value is None:
            return None
        return self._index_for(odef, fdef).get(self._coerce(odef, fdef, value))

    def iter_records(self, type_name: str, include_deleted: bool = False) -> Iterable[dict]:
        odef = self.object(type_name)
        yield from list(self._table(odef.name).values())
        if include_deleted:
            self._age_recycle_bin()
            yield from list(self._deleted.get(odef.name, {}).values())

    # == the recycle bin ====================================================================
    def _age_recycle_bin(self) -> None:
        """Purge for good what has sat in the recycle bin longer than `recycle_bin_s`."""
        with self._lock:
            horizon = time.time() - self.recycle_bin_s
            for rid in [r for r, at in self._deleted_at.items() if at <= horizon]:
                self._hard_delete(rid)

    def _hard_delete(self, rid: str) -> None:
        for table in self._deleted.values():
            table.pop(rid, None)
        self._deleted_at.pop(rid, None)
        self._blobs.pop(rid, None)

    def in_recycle_bin(self, rid: str) -> bool:
        with self._lock:
            self._age_recycle_bin()
            return ids.to_id18(rid) in self._deleted_at

    def empty_recycle_bin(self, record_ids: list[str]) -> list[dict]:
        """`emptyRecycleBin()` / Apex `Database.emptyRecycleBin`: purge deleted records for good
        (at most 200 ids a call). A file's versions and links deleted with it go too. One result per
        id; an id not in the recycle bin (live, never existed or already purged) fails alone."""
        if len(record_ids) > MAX_EMPTY_RECYCLE_BIN:
            raise SalesforceError(
                400, "LIMIT_EXCEEDED", f"emptyRecycleBin accepts at most {MAX_EMPTY_RECYCLE_BIN} ids per call"
            )
        results = []
        with self._lock:
            self._age_recycle_bin()
            for raw in record_ids:
                rid = ids.to_id18(raw) if isinstance(raw, str) else raw
                if rid not in self._deleted_at:
                    error = {"statusCode": "INVALID_ID_FIELD", "message": "record is not in the recycle bin"}
                    results.append({"id": raw, "success": False, "errors": [error]})
                    continue
                if str(rid).startswith("069"):
                    for child_type in ("ContentVersion", "ContentDocumentLink"):
                        for cid, rec in list(self._deleted.get(child_type, {}).items()):
                            if rec.get("ContentDocumentId") == rid:
                                self._hard_delete(cid)
                self._hard_delete(rid)
                results.append({"id": rid, "success": True, "errors": []})
        return results

    # == value handling =====================================================================
    def _coerce(self, odef: ObjectDef, fdef: FieldDef, value):
        if value is None:
            return None
        kind = fdef.type
        try:
            if kind == "boolean":
                if isinstance(value, str):
                    return value.lower() == "true"
                return bool(value)
            if kind == "datetime":
                return format_datetime(parse_datetime(str(value)))
            if kind == "date":
                return dt.date.fromisoformat(str(value)[:10]).isoformat()
            if kind in ("double", "currency", "percent"):
                return float(value) if not isinstance(value, (int, float)) else value
            if kind == "int":
                return int(value)
        except (ValueError, TypeError):
            raise SalesforceError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {kind} from VALUE_STRING value {value!r} for field {fdef.name}",
            ) from None
        if kind in ("id", "reference") and isinstance(value, str):
            return ids.to_id18(value)
        if isinstance(value, (dict, list)):
            raise SalesforceError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {kind} from START_OBJECT value for field {fdef.name}",
            )
        if kind in TEXT_TYPES and not isinstance(value, str):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, str) and fdef.length and kind not in ("id", "reference") and len(value) > fdef.length:
            raise SalesforceError(
                400,
                "STRING_TOO_LONG",
                f"{fdef.name}: data value too large: {value[:40]}... (max length={fdef.length})",
                [fdef.name],
            )
        return value

    def _resolve_relationship(self, odef: ObjectDef, key: str, ref: dict) -> tuple[FieldDef, str]:
        fdef = odef.relationship(key, self.schema.lenient(odef))
        if fdef is None:
            raise SalesforceError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {odef.name}")
        if fdef.name.lower() not in odef.fields:
            odef.add(fdef)  # schemaless: learn X__c from X__r
        ref = {k: v for k, v in ref.items() if k != "attributes"}
        target_type = ref and (ref.get("attributes") or {}).get("type")
        if len(ref) != 1:
            raise SalesforceError(400, "INVALID_FIELD", f"Relationship {key} needs exactly one external id field")
        ((ext_name, ext_value),) = ref.items()
        targets = [target_type] if target_type else list(fdef.reference_to)
        if not targets:
            targets = [o.name for o in self.schema.objects.values() if o.field(ext_name) is not None]
        for target in targets:
            todef = self.schema.get(target)
            if todef is None or todef.field(ext_name) is None:
                continue
            tfdef = todef.field(ext_name)
            if not (tfdef.external_id or tfdef.unique or tfdef.type == "id" or self.schema.lenient(todef)):
                raise SalesforceError(
                    400, "INVALID_FIELD", f"{ext_name} is not an External ID or indexed field for {todef.name}"
                )
            rid = ids.to_id18(ext_value) if tfdef.type == "id" else self.find_by_external(todef, tfdef, ext_value)
            if rid and self.record_by_id(todef, rid):
                return fdef, rid
        entity = targets[0] if targets else key
        raise SalesforceError(
            400,
            "INVALID_FIELD",
            f"Foreign key external ID: {ext_value} not found for field {ext_name} in entity {entity}",
            [fdef.name],
        )

    def _prepare(self, odef: ObjectDef, body: dict, creating: bool) -> dict:
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be an object")
        values: dict = {}
        blocked = []
        for key, value in body.items():
            if key == "attributes":
                continue
            if isinstance(value, dict) and odef.field(key) is None:
                fdef, rid = self._resolve_relationship(odef, key, value)
                values[fdef.name] = rid
                continue
            fdef = self.field(odef, key, create=True)
            if fdef.auto_number or not (fdef.createable if creating else fdef.updateable):
                blocked.append(fdef.name)
                continue
            values[fdef.name] = self._coerce(odef, fdef, value)
        if blocked:
            raise SalesforceError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(blocked)}. Please "
                "check the security settings of this field and verify that it "
                "is read/write for your profile or permission set.",
                blocked,
            )
        for name, value in values.items():
            fdef = odef.field(name)
            if fdef.type == "reference" and value and fdef.name not in ("OwnerId",):
                target = self.find_by_id(value)
                if target is None and self.schema.by_prefix(value[:3]) is not None:
                    raise SalesforceError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fdef.name])
        return values

    def _check_unique(self, odef: ObjectDef, rid: str, record: dict) -> None:
        for fdef in self._indexed_fields(odef):
            if not fdef.unique:
                continue
            value = record.get(fdef.name)
            if value is None:
                continue
            other = self._index_for(odef, fdef).get(value)
            if other is not None and other != rid:
                raise SalesforceError(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {fdef.name} duplicates value on record with id: {other}",
                    [],
                )

    def _derive(self, odef: ObjectDef, record: dict, now: str) -> None:
        name = odef.name
        if name == "Contact":
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
        elif name == "User":
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
        elif name == "Case":
            closed = str(record.get("Status") or "").lower() in CLOSED_CASE_STATUSES
            if closed and not record.get("IsClosed"):
                record["ClosedDate"] = now
            elif not closed:
                record["ClosedDate"] = None
            record["IsClosed"] = closed
        elif name == "Task":
            record["IsClosed"] = str(record.get("Status") or "").lower() == "completed"

    # == operations =========================================================================
    @_atomic
    def create(self, type_name: str, body: dict, *, trusted: bool = False) -> str:
        odef = self.object(type_name)
        with self._lock:
            if odef.name.endswith("__e"):
                return self._publish_event(odef, body)
            if odef.name == "ContentVersion" and not trusted:
                return self._create_content_version(odef, body)
            values = self._prepare(odef, body, creating=True) if not trusted else self._trusted_values(odef, body)
            return self._insert(odef, values, enforce_required=not trusted)

    def _trusted_values(self, odef: ObjectDef, body: dict) -> dict:
        values = {}
        for key, value in body.items():
            if key == "attributes":
                continue
            fdef = self.field(odef, key, create=True)
            values[fdef.name] = self._coerce(odef, fdef, value)
        return values

    def _insert(self, odef: ObjectDef, values: dict, enforce_required: bool = True) -> str:
        rid = values.pop("Id", None) or self._ids.new(odef.key_prefix)
        now = now_iso()
        record = {}
        for fdef in odef.fields.values():
            if fdef.default is not None:
                record[fdef.name] = fdef.default
            elif fdef.type == "boolean":
                record[fdef.name] = False
            if fdef.auto_number:
                key = (odef.name, fdef.name)
                self._counters[key] = self._counters.get(key, 0) + 1
                record[fdef.name] = _auto_number(
                    fdef.display_format, self._counters[key] + (1000 if odef.name == "Case" else 0)
                )
        user = getattr(self, "integration_user_id", None)
        record.update(
            {
                "Id": rid,
                "IsDeleted": False,
                "CreatedDate": now,
                "LastModifiedDate": now,
                "SystemModstamp": now,
                "CreatedById": user,
                "LastModifiedById": user,
            }
        )
        if odef.field("OwnerId") is not None:
            record["OwnerId"] = user
        record.update(values)
        if enforce_required:
            missing = [f.name for f in odef.fields.values() if f.required and record.get(f.name) in (None, "")]
            if missing:
                raise SalesforceError(
                    400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
                )
        self._derive(odef, record, now)
        self._check_unique(odef, rid, record)
        self._put(odef, rid, record)
        return rid

    @_atomic
    def update(self, type_name: str, rid: str, body: dict) -> None:
        odef = self.object(type_name)
        with self._lock:
            current = self.record_by_id(odef, rid)
            if current is None:
                raise self._missing(odef, rid)
            values = self._prepare(odef, body, creating=False)
            self._apply_update(odef, current, values)

    def _apply_update(self, odef: ObjectDef, current: dict, values: dict) -> None:
        record = {**current, **values}
        now = now_iso()
        record["LastModifiedDate"] = record["SystemModstamp"] = now
        missing = [
            f.name for f in odef.fields.values() if f.required and f.name in values and values[f.name] in (None, "")
        ]
        if missing:
            raise SalesforceError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        self._derive(odef, record, now)
        self._check_unique(odef, record["Id"], record)
        self._put(odef, record["Id"], record)

    @_atomic
    def upsert(self, type_name: str, ext_field: str, value, body: dict) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created)."""
        odef = self.object(type_name)
        with self._lock:
            fdef = odef.field(ext_field)
            if fdef is None and self.schema.lenient(odef):
                fdef = self.field(odef, ext_field, create=True)
            if fdef is not None and self.schema.lenient(odef) and fdef.custom:
                fdef.external_id = True
            if fdef is None or not (fdef.external_id or fdef.type == "id"):
                raise SalesforceError(
                    404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {ext_field}"
                )
            body = {k: v for k, v in (body or {}).items() if k != "attributes"}
            if any(k.lower() == fdef.name.lower() for k in body) and fdef.type != "id":
                body_value = next(v for k, v in body.items() if k.lower() == fdef.name.lower())
                if str(body_value) != str(value):
                    raise SalesforceError(
                        400,
                        "INVALID_FIELD",
                        f"The value of the external ID field in the URL ({value}) does not match the value in the body",
                    )
            if fdef.type == "id":
                rid = ids.to_id18(value) if self.record_by_id(odef, value) else None
            else:
                rid = self.find_by_external(odef, fdef, value)
            if rid is not None:
                values = self._prepare(odef, body, creating=False)
                self._apply_update(odef, self.record_by_id(odef, rid), values)
                return rid, False
            values = self._prepare(odef, body, creating=True)
            if fdef.type != "id":
                values[fdef.name] = self._coerce(odef, fdef, value)
            return self._insert(odef, values), True

    @_atomic
    def delete(self, type_name: str, rid: str) -> None:
        odef = self.object(type_name)
        with self._lock:
            if odef.name == "ContentVersion":
                raise SalesforceError(
                    400,
                    "INVALID_TYPE_FOR_OPERATION",
                    "entity type cannot be deleted: ContentVersion (delete the ContentDocument instead)",
                )
            if self.record_by_id(odef, rid) is None:
                raise self._missing(odef, rid)
            self._cascade_delete(odef, ids.to_id18(rid))

    def _cascade_delete(self, odef: ObjectDef, rid: str) -> None:
        if odef.name == "ContentDocument":
            for child_type, field in (
                ("ContentVersion", "ContentDocumentId"),
                ("ContentDocumentLink", "ContentDocumentId"),
            ):
                cdef = self.schema.get(child_type)
                for cid, rec in list(self._table(cdef.name).items()):
                    if rec.get(field) == rid:
                        self._remove(cdef, cid)
        for cdef in list(self.schema.objects.values()):
            for fdef in cdef.fields.values():
                if fdef.master_detail and odef.name in fdef.reference_to:
                    for cid, rec in list(self._table(cdef.name).items()):
                        if rec.get(fdef.name) == rid:
                            self._cascade_delete(cdef, cid)
        self._remove(odef, rid)

    def _missing(self, odef: ObjectDef, rid: str) -> SalesforceError:
        if rid and ids.to_id18(rid) in self._deleted.get(odef.name, {}):
            return SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")

    def read(self, type_name: str, rid: str, fields: list[str] | None = None, version: str = API_VERSION) -> dict:
        odef = self.object(type_name)
        with self._lock:
            record = self.record_by_id(odef, rid)
            if record is None:
                raise self._missing(odef, rid)
            return self.public(odef, record, fields, version)

    def read_by_external(self, type_name: str, ext_field: str, value, fields=None, version: str = API_VERSION) -> dict:
        odef = self.object(type_name)
        with self._lock:
            fdef = odef.field(ext_field)
            if fdef is None or not (fdef.external_id or fdef.unique or fdef.type == "id" or self.schema.lenient(odef)):
                raise SalesforceError(
                    404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {ext_field}"
                )
            rid = self.find_by_external(odef, fdef, value)
            if rid is None:
                raise SalesforceError(
                    404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {value}"
                )
            return self.public(odef, self.record_by_id(odef, rid), fields, version)

    def public(
        self, odef: ObjectDef, record: dict, fields: list[str] | None = None, version: str = API_VERSION
    ) -> dict:
        out = {
            "attributes": {"type": odef.name, "url": f"/services/data/v{version}/sobjects/{odef.name}/{record['Id']}"}
        }
        if fields:
            for name in fields:
                fdef = self.field(odef, name.strip())
                out[fdef.name] = copy.deepcopy(record.get(fdef.name))
        elif odef.schemaless:
            out.update(copy.deepcopy(record))
        else:
            for fdef in odef.fields.values():
                out[fdef.name] = copy.deepcopy(record.get(fdef.name))
        return out

    # -- platform events and files ---------------------------------------------------------
    def _publish_event(self, odef: ObjectDef, body: dict) -> str:
        values = self._prepare(odef, body, creating=True)
        rid = self._ids.new(odef.key_prefix)
        event = {"type": odef.name, "id": rid, "fields": values, "at": time.time()}
        self.events.append(event)
        if self._journal is not None:
            self._journal.append(lambda: self.events.remove(event))
        return rid

    def _create_content_version(self, odef: ObjectDef, body: dict) -> str:
        body = dict(body)
        raw = body.pop("VersionData", None)
        if raw is None:
            raise SalesforceError(
                400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [VersionData]", ["VersionData"]
            )
        try:
            data = base64.b64decode(raw, validate=True)
        except (ValueError, TypeError):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Cannot deserialize VersionData: not base64") from None
        values = self._prepare(odef, body, creating=True)
        path = values.get("PathOnClient")
        if not path:
            raise SalesforceError(
                400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [PathOnClient]", ["PathOnClient"]
            )
        ext = os.path.splitext(path)[1].lstrip(".").lower()
        title = values.get("Title") or os.path.splitext(os.path.basename(path))[0]
        doc_def = self.schema.get("ContentDocument")
        doc_id = values.get("ContentDocumentId")
        version_number = "1"
        if doc_id:
            doc = self.record_by_id(doc_def, doc_id)
            versions = [r for r in self._table("ContentVersion").values() if r.get("ContentDocumentId") == doc_id]
            version_number = str(len(versions) + 1)
            for version in versions:
                self._put(odef, version["Id"], {**version, "IsLatest": False})
        else:
            doc_id = self._insert(
                doc_def,
                {"Title": title, "FileExtension": ext, "FileType": ext.upper() or "UNKNOWN", "ContentSize": len(data)},
            )
            doc = self.record_by_id(doc_def, doc_id)
        vid = self._ids.new(odef.key_prefix)
        values.update(
            {
                "Id": vid,
                "Title": title,
                "ContentDocumentId": doc_id,
                "FileExtension": ext,
                "FileType": ext.upper() or "UNKNOWN",
                "ContentSize": len(data),
                "IsLatest": True,
                "VersionNumber": version_number,
                "VersionData": f"/services/data/v{API_VERSION}/sobjects/ContentVersion/{vid}/VersionData",
            }
        )
        self._insert(odef, values)
        self._blobs[vid] = data
        if self._journal is not None:
            self._journal.append(lambda: self._blobs.pop(vid, None))
        self._put(doc_def, doc_id, {**doc, "LatestPublishedVersionId": vid, "Title": title, "ContentSize": len(data)})
        location = values.get("FirstPublishLocationId")
        if location:
            self._insert(
                self.schema.get("ContentDocumentLink"),
                {"ContentDocumentId": doc_id, "LinkedEntityId": location, "ShareType": "I", "Visibility": "AllUsers"},
            )
        return vid

    def version_data(self, rid: str) -> bytes:
        with self._lock:
            rid = ids.to_id18(rid)
            if rid not in self._blobs or self.record_by_id(self.schema.get("ContentVersion"), rid) is None:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            return self._blobs[rid]

    # == query cursors ======================================================================
    def save_cursor(self, rows: list[dict], batch: int) -> str:
        locator = "01g" + secrets.token_hex(6).upper()
        with self._lock:
            self._cursors[locator] = {"rows": rows, "batch": batch, "created": time.time()}
        return locator

    def cursor(self, locator: str) -> dict | None:
        with self._lock:
            return self._cursors.get(locator)

    def drop_cursor(self, locator: str) -> None:
        with self._lock:
            self._cursors.pop(locator, None)

    # == inspection and seeding (no API usage) ================================================
    def insert(self, type_name: str, fields: dict) -> str:
        """Seed a record directly (read-only fields allowed, no required checks, not counted)."""
        return self.create(type_name, fields, trusted=True)

    def records(self, type_name: str, include_deleted: bool = False) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(r) for r in self.iter_records(type_name, include_deleted)]

    def find(self, type_name: str, **field_equals) -> list[dict]:
        return [r for r in self.records(type_name) if all(r.get(k) == v for k, v in field_equals.items())]

    def count(self, type_name: str, **field_equals) -> int:
        """How many records match, without copying them (cheap enough to poll)."""
        with self._lock:
            return sum(1 for r in self.iter_records(type_name) if all(r.get(k) == v for k, v in field_equals.items()))

    def get(self, type_name: str, rid: str) -> dict | None:
        with self._lock:
            record = self.record_by_id(self.object(type_name), rid)
            return copy.deepcopy(record) if record else None
