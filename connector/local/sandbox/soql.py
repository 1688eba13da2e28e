"""A small SOQL engine: tokenizer, recursive-descent parser and evaluator.

Supported subset::

    SELECT f1, Parent__r.Field, COUNT() | COUNT(f) [alias] FROM Object
    [WHERE cond] [WITH SECURITY_ENFORCED|USER_MODE] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n] [FOR VIEW|REFERENCE|UPDATE]

Conditions: ``= != <> < <= > >= LIKE IN (...) NOT IN (...)``, ``AND OR NOT`` and parentheses.
Literals: 'strings' (backslash escapes), numbers, true/false/null, dates, datetimes (Z, offset,
fractions) and the date literals TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n,
N_DAYS_AGO:n (evaluated in UTC). Text comparisons are case-insensitive, as in Salesforce.
Not supported: child subqueries, GROUP BY, aggregate functions other than COUNT, TYPEOF.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from .ids import to_id18
from .salesforce_store import SalesforceError, parse_datetime


class SoqlError(SalesforceError):
    def __init__(self, message: str, code: str = "MALFORMED_QUERY"):
        super().__init__(400, code, message)


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),.])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?::\d+)?)
""",
    re.VERBOSE,
)

_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "'": "'",
    '"': '"',
    "\\": "\\",
    "%": "\\%",
    "_": "\\_",
}


@dataclass
class Token:
    kind: str
    value: Any
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise SoqlError(f"unexpected token: '{text[pos : pos + 10]}' at column {pos + 1}")
        kind, raw = match.lastgroup, match.group()
        pos = match.end()
        if kind == "ws":
            continue
        value: Any = raw
        if kind == "string":
            value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])
        elif kind == "number":
            value = float(raw) if "." in raw else int(raw)
        elif kind == "datetime":
            value = parse_datetime(raw)
        elif kind == "date":
            value = dt.date.fromisoformat(raw)
        tokens.append(Token(kind, value, raw, match.start()))
    tokens.append(Token("eof", None, "", len(text)))
    return tokens


# -- AST --------------------------------------------------------------------------------


@dataclass
class DateRange:
    start: dt.datetime
    end: dt.datetime  # exclusive


@dataclass
class Compare:
    path: list[str]
    op: str
    value: Any


@dataclass
class BoolOp:
    op: str  # AND, OR, NOT
    items: list


@dataclass
class SelectItem:
    path: list[str] | None  # None for COUNT()
    count: bool = False
    alias: str | None = None


@dataclass
class Query:
    select: list[SelectItem]
    sobject: str
    where: Any = None
    order: list[tuple[list[str], bool, bool]] = field(default_factory=list)  # path, desc, nulls_last
    limit: int | None = None
    offset: int | None = None


_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "WITH",
    "FOR",
    "GROUP",
}


class Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0

    # token helpers
    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_kw(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.value.upper() in words

    def expect_kw(self, word: str) -> None:
        token = self.next()
        if token.kind != "ident" or token.value.upper() != word:
            raise SoqlError(f"unexpected token: '{token.text or 'EOF'}', expected {word}")

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise SoqlError(f"unexpected token: '{token.text or 'EOF'}', expected '{text}'")

    def ident(self) -> str:
        token = self.next()
        if token.kind != "ident":
            raise SoqlError(f"unexpected token: '{token.text or 'EOF'}'")
        return token.value

    # grammar
    def parse(self) -> Query:
        self.expect_kw("SELECT")
        select = [self.select_item()]
        while self.peek().text == ",":
            self.next()
            select.append(self.select_item())
        self.expect_kw("FROM")
        query = Query(select=select, sobject=self.ident())
        if self.is_kw("WHERE"):
            self.next()
            query.where = self.or_expr()
        if self.is_kw("WITH"):
            self.next()
            self.ident()
        if self.is_kw("GROUP"):
            raise SoqlError("GROUP BY is not supported by the sandbox")
        if self.is_kw("ORDER"):
            self.next()
            self.expect_kw("BY")
            query.order.append(self.order_item())
            while self.peek().text == ",":
                self.next()
                query.order.append(self.order_item())
        if self.is_kw("LIMIT"):
            self.next()
            query.limit = self.integer()
        if self.is_kw("OFFSET"):
            self.next()
            query.offset = self.integer()
        if self.is_kw("FOR"):
            self.next()
            self.ident()
        if self.peek().kind != "eof":
            raise SoqlError(f"unexpected token: '{self.peek().text}'")
        return query

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not isinstance(token.value, int) or token.value < 0:
            raise SoqlError(f"unexpected token: '{token.text or 'EOF'}', expected an integer")
        return token.value

    def path(self) -> list[str]:
        parts = [self.ident()]
        while self.peek().text == ".":
            self.next()
            parts.append(self.ident())
        return parts

    def select_item(self) -> SelectItem:
        if self.peek().text == "(":
            raise SoqlError("child relationship subqueries are not supported by the sandbox")
        if self.is_kw("COUNT") and self.tokens[self.i + 1].text == "(":
            self.next()
            self.next()
            path = None if self.peek().text == ")" else self.path()
            self.expect(")")
            item = SelectItem(path, count=True)
            if self.peek().kind == "ident" and self.peek().value.upper() not in _KEYWORDS:
                item.alias = self.ident()
            return item
        return SelectItem(self.path())

    def order_item(self) -> tuple[list[str], bool, bool]:
        path = self.path()
        desc = False
        if self.is_kw("ASC", "DESC"):
            desc = self.next().value.upper() == "DESC"
        nulls_last = desc
        if self.is_kw("NULLS"):
            self.next()
            nulls_last = self.ident().upper() == "LAST"
        return path, desc, nulls_last

    def or_expr(self):
        items = [self.and_expr()]
        while self.is_kw("OR"):
            self.next()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("OR", items)

    def and_expr(self):
        items = [self.not_expr()]
        while self.is_kw("AND"):
            self.next()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("AND", items)

    def not_expr(self):
        if self.is_kw("NOT"):
            self.next()
            return BoolOp("NOT", [self.not_expr()])
        if self.peek().text == "(":
            self.next()
            expr = self.or_expr()
            self.expect(")")
            return expr
        return self.comparison()

    def comparison(self) -> Compare:
        path = self.path()
        token = self.next()
        if token.kind == "op":
            return Compare(path, "!=" if token.text == "<>" else token.text, self.literal())
        word = token.value.upper() if token.kind == "ident" else ""
        if word == "LIKE":
            value = self.literal()
            if not isinstance(value, str):
                raise SoqlError("LIKE needs a string literal")
            return Compare(path, "LIKE", value)
        if word == "NOT" and self.is_kw("IN"):
            self.next()
            return Compare(path, "NOT IN", self.literal_list())
        if word == "IN":
            return Compare(path, "IN", self.literal_list())
        raise SoqlError(f"unexpected token: '{token.text or 'EOF'}'")

    def literal_list(self) -> list:
        self.expect("(")
        values = [self.literal()]
        while self.peek().text == ",":
            self.next()
            values.append(self.literal())
        self.expect(")")
        return values

    def literal(self):
        token = self.next()
        if token.kind in ("string", "number", "datetime", "date"):
            return token.value
        if token.kind == "ident":
            word = token.value.upper()
            if word in ("TRUE", "FALSE"):
                return word == "TRUE"
            if word == "NULL":
                return None
            date_range = date_literal(word)
            if date_range is not None:
                return date_range
        raise SoqlError(f"unexpected token: '{token.text or 'EOF'}'")


def date_literal(word: str, now: dt.datetime | None = None) -> DateRange | None:
    now = now or dt.datetime.now(dt.UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day = dt.timedelta(days=1)
    name, _, arg = word.partition(":")
    n = int(arg) if arg else None
    if name == "TODAY":
        return DateRange(today, today + day)
    if name == "YESTERDAY":
        return DateRange(today - day, today)
    if name == "TOMORROW":
        return DateRange(today + day, today + 2 * day)
    if name == "LAST_N_DAYS" and n is not None:
        return DateRange(today - n * day, today + day)
    if name == "NEXT_N_DAYS" and n is not None:
        return DateRange(today + day, today + (n + 1) * day)
    if name == "N_DAYS_AGO" and n is not None:
        return DateRange(today - n * day, today - (n - 1) * day)
    return None


def parse(text: str) -> Query:
    return Parser(text).parse()


# -- evaluation ---------------------------------------------------------------------------


def _norm(value):
    """A comparable form of a stored or literal value."""
    if isinstance(value, str):
        if len(value) >= 19 and value[4] == "-" and value[10] == "T":
            try:
                return parse_datetime(value)
            except ValueError:
                return value.lower()
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return value.lower()
        return value.lower()
    if isinstance(value, bool):
        return int(value)
    return value


def _as_datetime(value):
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value


def _compare(left, op: str, right) -> bool:
    if op in ("IN", "NOT IN"):
        hit = any(_compare(left, "=", r) for r in right)
        return hit if op == "IN" else not hit
    if right is None:
        return (left is None) if op == "=" else (left is not None) if op == "!=" else False
    if left is None:
        return op == "!="
    if op == "LIKE":
        pattern = _like_regex(right)
        return re.fullmatch(pattern, str(left), re.IGNORECASE | re.DOTALL) is not None
    lnorm = _norm(left)
    if isinstance(right, (DateRange, dt.date)) and not isinstance(lnorm, (dt.date, dt.datetime)):
        return False
    if isinstance(right, DateRange) or (
        isinstance(right, dt.date) and isinstance(lnorm, dt.datetime) and not isinstance(right, dt.datetime)
    ):
        if not isinstance(right, DateRange):
            start = _as_datetime(right)
            right = DateRange(start, start + dt.timedelta(days=1))
        value = _as_datetime(lnorm)
        return {
            "=": right.start <= value < right.end,
            "!=": not right.start <= value < right.end,
            "<": value < right.start,
            "<=": value < right.end,
            ">": value >= right.end,
            ">=": value >= right.start,
        }[op]
    rnorm = _norm(right) if not isinstance(right, (dt.date, dt.datetime)) else right
    if isinstance(lnorm, dt.date) and not isinstance(lnorm, dt.datetime) and isinstance(rnorm, dt.datetime):
        lnorm = _as_datetime(lnorm)
    if isinstance(lnorm, str) and isinstance(rnorm, str) and len(right) == 15 and right.isalnum() and len(left) == 18:
        rnorm = to_id18(right).lower()
    try:
        return {
            "=": lnorm == rnorm,
            "!=": lnorm != rnorm,
            "<": lnorm < rnorm,
            "<=": lnorm <= rnorm,
            ">": lnorm > rnorm,
            ">=": lnorm >= rnorm,
        }[op]
    except TypeError:
        return False


def _like_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return "".join(out)


class Executor:
    """Runs a parsed query against a ``SalesforceState`` (call with its lock held)."""

    def __init__(self, state, version: str):
        self.state = state
        self.version = version

    def resolve(self, odef, record, path: list[str]):
        """(value, target odef/record of the last hop) for a dotted path; checks the schema."""
        if len(path) == 1:
            fdef = odef.field(path[0])
            if fdef is None:
                if self.state.schema.lenient(odef):
                    return record.get(path[0]) if record else None
                raise SoqlError(
                    f"No such column '{path[0]}' on entity '{odef.name}'. If you are attempting "
                    "to use a custom field, be sure to append the '__c' after the custom field "
                    "name. Please reference your WSDL or the describe call for the appropriate "
                    "names.",
                    "INVALID_FIELD",
                )
            return record.get(fdef.name) if record else None
        rel = odef.relationship(path[0], self.state.schema.lenient(odef))
        if rel is None:
            raise SoqlError(
                f"Didn't understand relationship '{path[0]}' in field path. If you "
                "are attempting to use a custom relationship, be sure to append the "
                "'__r' after the custom relationship name.",
                "INVALID_FIELD",
            )
        parent_id = record.get(rel.name) if record else None
        target = self.state.find_by_id(parent_id) if parent_id else None
        if target is None:
            tdef = self._target_def(rel)
            if tdef is not None:
                self.resolve(tdef, None, path[1:])  # still validate the rest of the path
            return None
        return self.resolve(target[0], target[1], path[1:])

    def _target_def(self, rel):
        for name in rel.reference_to:
            tdef = self.state.schema.get(name)
            if tdef is not None:
                return tdef
        return None

    def matches(self, odef, record, cond) -> bool:
        if cond is None:
            return True
        if isinstance(cond, BoolOp):
            if cond.op == "AND":
                return all(self.matches(odef, record, c) for c in cond.items)
            if cond.op == "OR":
                return any(self.matches(odef, record, c) for c in cond.items)
            return not self.matches(odef, record, cond.items[0])
        return _compare(self.resolve(odef, record, cond.path), cond.op, cond.value)

    def project(self, odef, record, select: list[SelectItem]) -> dict:
        out = self.state.public(odef, record, fields=["Id"], version=self.version)
        del out["Id"]
        for item in select:
            self._project_path(odef, record, item.path, out)
        return out

    def _project_path(self, odef, record, path, out) -> None:
        if len(path) == 1:
            fdef = odef.field(path[0])
            name = fdef.name if fdef else path[0]
            out[name] = self.resolve(odef, record, path)
            return
        rel = odef.relationship(path[0], self.state.schema.lenient(odef))
        if rel is None:
            self.resolve(odef, record, path)  # raises INVALID_FIELD
        target = self.state.find_by_id(record.get(rel.name)) if record.get(rel.name) else None
        if target is None:
            tdef = self._target_def(rel)
            if tdef is not None:
                self.resolve(tdef, None, path[1:])
            out.setdefault(rel.relationship_name, None)
            return
        tdef, trecord = target
        nested = out.get(rel.relationship_name)
        if nested is None:
            nested = self.state.public(tdef, trecord, fields=["Id"], version=self.version)
            del nested["Id"]
            out[rel.relationship_name] = nested
        self._project_path(tdef, trecord, path[1:], nested)

    def sort(self, odef, rows: list[dict], order) -> list[dict]:
        if not order:
            return rows
        keyed = [([_norm(self.resolve(odef, r, path)) for path, _, _ in order], r) for r in rows]

        def cmp(a, b) -> int:
            for value_a, value_b, (_, desc, nulls_last) in zip(a[0], b[0], order):
                if value_a is None or value_b is None:
                    if value_a is None and value_b is None:
                        continue
                    return (1 if nulls_last else -1) * (1 if value_a is None else -1)
                try:
                    result = (value_a > value_b) - (value_a < value_b)
                except TypeError:
                    result = (str(value_a) > str(value_b)) - (str(value_a) < str(value_b))
                if result:
                    return -result if desc else result
            return 0

        keyed.sort(key=functools.cmp_to_key(cmp))
        return [r for _, r in keyed]

    def run(self, query: Query, include_deleted: bool = False) -> dict:
        """{"totalSize", "done", "records": [...]} with every matching row (paging is done by
        the caller)."""
        odef = self.state.schema.get(query.sobject)
        if odef is None and not self.state.schema.strict:
            odef = self.state.schema.resolve(query.sobject)
        if odef is None:
            raise SoqlError(
                f"sObject type '{query.sobject}' is not supported. If you are "
                "attempting to use a custom object, be sure to append the '__c' "
                "after the entity name. Please reference your WSDL or the describe "
                "call for the appropriate names.",
                "INVALID_TYPE",
            )
        for item in query.select:
            if item.path:
                self.resolve(odef, None, item.path)  # INVALID_FIELD before any row is read
        rows = [r for r in self.state.iter_records(odef.name, include_deleted) if self.matches(odef, r, query.where)]
        rows = self.sort(odef, rows, query.order)
        if query.offset:
            rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        counts = [item for item in query.select if item.count]
        if counts:
            if len(counts) != len(query.select):
                raise SoqlError("Field must be grouped or aggregated", "MALFORMED_QUERY")
            if counts[0].path is None:
                return {"totalSize": len(rows), "done": True, "records": []}
            record = {"attributes": {"type": "AggregateResult"}}
            for n, item in enumerate(counts):
                name = item.alias or f"expr{n}"
                record[name] = sum(1 for r in rows if self.resolve(odef, r, item.path) is not None)
            return {"totalSize": 1, "done": True, "records": [record]}
        records = [self.project(odef, r, query.select) for r in rows]
        return {"totalSize": len(records), "done": True, "records": records}


def run_query(state, text: str, version: str, include_deleted: bool = False) -> dict:
    query = parse(text)
    with state.lock:
        return Executor(state, version).run(query, include_deleted)


# -- SOSL (minimal) -------------------------------------------------------------------------

_FIND = re.compile(
    r"^\s*FIND\s*\{((?:\\.|[^}\\])*)\}\s*(?:IN\s+(\w+)\s+FIELDS\s*)?"
    r"(?:RETURNING\s+(.*))?$",
    re.IGNORECASE | re.DOTALL,
)


def run_search(state, text: str, version: str) -> dict:
    """FIND {term} [IN ALL FIELDS] RETURNING T(f1, f2 [WHERE ...] [ORDER BY ...] [LIMIT n]), ..."""
    match = _FIND.match(text or "")
    if not match:
        raise SalesforceError(
            400, "MALFORMED_SEARCH", "No search term found. The search term must be enclosed in braces."
        )
    term = re.sub(r"\\(.)", r"\1", match.group(1)).replace("*", "").strip().strip('"')
    words = [w.lower() for w in term.split() if w.upper() not in ("AND", "OR")]
    if not words or len(term) < 2:
        raise SalesforceError(400, "MALFORMED_SEARCH", "search term must be longer than one character")
    scope = (match.group(2) or "ALL").upper()
    results = []
    with state.lock:
        for spec in _split_returning(match.group(3) or ""):
            results.extend(_search_object(state, spec, words, scope, version))
    return {"searchRecords": results}


def _split_returning(text: str) -> list[str]:
    specs, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            specs.append(current.strip())
            current = ""
            continue
        depth += char == "("
        depth -= char == ")"
        current += char
    if current.strip():
        specs.append(current.strip())
    return specs


def _search_object(state, spec: str, words: list[str], scope: str, version: str) -> list[dict]:
    name, _, rest = spec.partition("(")
    name = name.strip()
    inner = rest.rstrip().rstrip(")")
    fields_text, clause = inner, ""
    keyword = re.search(r"\s(WHERE|ORDER\s+BY|LIMIT)\s", " " + inner + " ", re.IGNORECASE)
    if keyword:
        fields_text, clause = inner[: keyword.start()], inner[keyword.start() :]
    fields = [f.strip() for f in fields_text.split(",") if f.strip()] or ["Id"]
    query = parse(f"SELECT {', '.join(fields)} FROM {name} {clause}")
    limit, query.limit = query.limit, None
    executor = Executor(state, version)
    odef = state.object(name)
    searchable = [
        f
        for f in odef.fields.values()
        if f.type in ("string", "textarea", "email", "phone", "url", "picklist", "combobox")
        and (scope != "NAME" or f.name == "Name")
    ]
    rows = []
    for record in executor.sort(odef, list(state.iter_records(odef.name)), query.order):
        haystack = " ".join(str(record.get(f.name) or "") for f in searchable).lower()
        if all(w in haystack for w in words) and executor.matches(odef, record, query.where):
            rows.append(executor.project(odef, record, query.select))
            if limit is not None and len(rows) >= limit:
                break
    return rows
