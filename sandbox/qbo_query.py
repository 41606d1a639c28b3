"""The QuickBooks Online query language, as the sandbox understands it.

    SELECT * | COUNT(*) | f1, f2 FROM Entity
        [WHERE cond AND cond ...] [ORDERBY field [ASC|DESC], ...]
        [STARTPOSITION n] [MAXRESULTS n]

What the real service does, and what this module copies (sources in brackets):
- Operators IN, =, <, >, <=, >=, LIKE; no OR, no JOIN, no GROUP BY; LIKE wildcards are
  limited to "%" [developer.intuit.com "Query operations and syntax"; Intuit blog
  "Deep dive into QuickBooks Online data queries", 2017]. `!=`/`<>` are not in that list, so
  they are parse errors here.
- Backslash escapes special characters in string literals (`\'`, `\\`) [same blog].
- Keywords and property names are case-insensitive (Intuit's own example uses
  `active = true ORDERBY metadata.lastupdatedtime`) [Intuit blog "Supercharge your
  queries", 2023].
- STARTPOSITION is 1-based; MAXRESULTS defaults to 100 and may not exceed 1000; QBO answers a
  larger value with "QueryValidationError: value 1500 is too large. Max allowed value is
  1000" [quickbooks-ruby issue #24]. The fault code for that (4001 "Invalid query") is our
  best reading, not confirmed.
- Parse errors are fault 4000 "Error parsing query" with a "QueryParserError: ..." detail
  [QuickBooks-V3-PHP-SDK issue #8, consolibyte/quickbooks-php issue #129].
- Names-list entities (Customer, Vendor, Employee, Item) return only active records unless
  the WHERE clause says something about `Active` (e.g. `Active IN (true, false)`).
- A reference (`CustomerRef`) compares against its `.value`, an e-mail address
  (`PrimaryEmailAddr`) against its `.Address`.
- String comparison is case-insensitive here. QBO does not document it; its names are
  unique case-insensitively, which suggests a case-insensitive collation. qbsync must not
  depend on it either way (it compares e-mail addresses itself).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 1000

_KEYWORDS = {
    "select", "from", "where", "and", "or", "orderby", "asc", "desc", "startposition",
    "maxresults", "in", "like", "count", "join", "group", "by", "not", "true", "false",
}
# Keywords QBO knows about but does not support; seeing one is a parse error.
_UNSUPPORTED = {"or", "join", "group", "not"}


class QueryError(Exception):
    """A query QBO refuses. `code`/`message`/`detail` are the fault's fields."""

    def __init__(self, code: str, message: str, detail: str):
        self.code = code
        self.message = message
        self.detail = detail
        super().__init__(f"{code} {message}: {detail}")


def _parser_error(detail: str) -> QueryError:
    return QueryError("4000", "Error parsing query", f"QueryParserError: {detail}")


def _validation_error(detail: str) -> QueryError:
    return QueryError("4001", "Invalid query", f"QueryValidationError: {detail}")


# --------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------
@dataclass
class Token:
    kind: str  # word | string | number | op | punct | eof
    text: str  # as written (for words: original case); strings: the unescaped value
    column: int  # 1-based

    @property
    def keyword(self) -> str | None:
        if self.kind == "word" and self.text.lower() in _KEYWORDS:
            return self.text.lower()
        return None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
            continue
        if ch == "'":
            value, i = _read_string(text, i)
            tokens.append(Token("string", value, col))
            continue
        m = _NUMBER.match(text, i)
        if m and (ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit())):
            tokens.append(Token("number", m.group(0), col))
            i = m.end()
            continue
        m = _WORD.match(text, i)
        if m:
            tokens.append(Token("word", m.group(0), col))
            i = m.end()
            continue
        two = text[i:i + 2]
        if two in ("<=", ">=", "!=", "<>"):
            tokens.append(Token("op", two, col))
            i += 2
            continue
        if ch in "=<>":
            tokens.append(Token("op", ch, col))
            i += 1
            continue
        if ch in "(),*":
            tokens.append(Token("punct", ch, col))
            i += 1
            continue
        raise _parser_error(
            f'Invalid content. Lexical error at line 1, column {col}.  Encountered: "{ch}" ({ord(ch)}), after : ""')
    tokens.append(Token("eof", "", n + 1))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a single-quoted literal starting at `start`; a backslash escapes the next character."""
    out = []
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n:
                break
            out.append(text[i + 1])
            i += 2
            continue
        if ch == "'":
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise _parser_error(
        f"Invalid content. Lexical error at line 1, column {n + 1}.  Encountered: <EOF> after : "
        f"\"{text[start:]}\"")


# --------------------------------------------------------------------------------------
# Parsed query
# --------------------------------------------------------------------------------------
@dataclass
class Literal:
    value: Any  # str | Decimal | bool
    quoted: bool


@dataclass
class Condition:
    field: str
    op: str  # = < > <= >= IN LIKE
    values: list[Literal]


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] | None = None  # None: SELECT *
    conditions: list[Condition] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS

    def mentions(self, field_name: str) -> bool:
        return any(c.field.lower() == field_name.lower() for c in self.conditions)


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.pos = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        t = self.tokens[self.pos]
        if t.kind != "eof":
            self.pos += 1
        return t

    def fail(self, expecting: str = "") -> QueryError:
        t = self.tok
        shown = "<EOF>" if t.kind == "eof" else t.text
        kind = f"<{t.keyword.upper()}>" if t.keyword else ("<EOF>" if t.kind == "eof" else f'"{shown}"')
        detail = f'Encountered " {kind} "{shown} "" at line 1, column {t.column}.'
        if expecting:
            detail += f"\nWas expecting:\n    {expecting} ..."
        return _parser_error(detail)

    def expect_keyword(self, kw: str) -> Token:
        if self.tok.keyword != kw:
            raise self.fail(f'"{kw}"')
        return self.advance()

    def expect_punct(self, p: str) -> Token:
        if self.tok.kind != "punct" or self.tok.text != p:
            raise self.fail(f'"{p}"')
        return self.advance()

    def check_unsupported(self) -> None:
        if self.tok.keyword in _UNSUPPORTED:
            raise self.fail()

    def identifier(self) -> str:
        t = self.tok
        if t.kind != "word" or (t.keyword and t.keyword not in ("count",)):
            self.check_unsupported()
            raise self.fail("<ID>")
        self.advance()
        return t.text

    def integer(self) -> int:
        t = self.tok
        if t.kind != "number" or "." in t.text:
            raise self.fail("<INTEGER>")
        self.advance()
        return int(t.text)

    def parse(self) -> Query:
        if self.tok.kind == "eof":
            raise _parser_error("The query provided was empty")
        self.expect_keyword("select")
        count, fields = False, None
        if self.tok.kind == "punct" and self.tok.text == "*":
            self.advance()
        elif self.tok.keyword == "count":
            self.advance()
            self.expect_punct("(")
            self.expect_punct("*")
            self.expect_punct(")")
            count = True
        else:
            fields = [self.identifier()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.advance()
                fields.append(self.identifier())
        self.expect_keyword("from")
        entity = self.identifier()
        if "." in entity:
            raise _parser_error(f'Encountered "{entity}" at line 1, column {self.tokens[self.pos - 1].column}.')
        query = Query(entity=entity, count=count, fields=fields)
        self.check_unsupported()
        if self.tok.keyword == "where":
            self.advance()
            query.conditions.append(self.condition())
            while True:
                self.check_unsupported()
                if self.tok.keyword != "and":
                    break
                self.advance()
                query.conditions.append(self.condition())
        self.check_unsupported()
        if self.tok.keyword == "orderby":
            self.advance()
            query.order_by.append(self.order_item())
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.advance()
                query.order_by.append(self.order_item())
        seen = set()
        while self.tok.keyword in ("startposition", "maxresults") and self.tok.keyword not in seen:
            kw = self.advance().keyword
            seen.add(kw)
            value = self.integer()
            if kw == "startposition":
                if value < 0:
                    raise _validation_error(f"value {value} is too small. Min allowed value is 1")
                query.start_position = max(1, value)  # QBO treats STARTPOSITION 0 like 1
            else:
                if value > MAX_RESULTS_LIMIT:
                    raise _validation_error(
                        f"value {value} is too large. Max allowed value is {MAX_RESULTS_LIMIT}")
                if value < 0:
                    raise _validation_error(f"value {value} is too small. Min allowed value is 0")
                query.max_results = value
        if self.tok.kind != "eof":
            self.check_unsupported()
            raise self.fail("<EOF>")
        return query

    def order_item(self) -> tuple[str, bool]:
        name = self.identifier()
        desc = False
        if self.tok.keyword in ("asc", "desc"):
            desc = self.advance().keyword == "desc"
        return name, desc

    def literal(self) -> Literal:
        t = self.tok
        if t.kind == "string":
            self.advance()
            return Literal(t.text, True)
        if t.kind == "number":
            self.advance()
            return Literal(Decimal(t.text), False)
        if t.keyword in ("true", "false"):
            self.advance()
            return Literal(t.keyword == "true", False)
        if t.kind == "word" and not t.keyword:  # value_without_quote
            self.advance()
            return Literal(t.text, False)
        raise self.fail("<STRING>")

    def condition(self) -> Condition:
        name = self.identifier()
        t = self.tok
        if t.kind == "op":
            if t.text in ("!=", "<>"):
                raise self.fail('"="')
            self.advance()
            return Condition(name, t.text, [self.literal()])
        if t.keyword == "like":
            self.advance()
            lit = self.literal()
            if not lit.quoted:
                raise self.fail("<STRING>")
            return Condition(name, "LIKE", [lit])
        if t.keyword == "in":
            self.advance()
            self.expect_punct("(")
            values = [self.literal()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.advance()
                values.append(self.literal())
            self.expect_punct(")")
            return Condition(name, "IN", values)
        self.check_unsupported()
        raise self.fail('"="')


def parse(text: str) -> Query:
    """Parse a query; raises QueryError (4000 parse error, 4001 validation error)."""
    return _Parser(text).parse()


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------
def resolve(record: dict, path: str) -> Any:
    """A property's value by (case-insensitive, dotted) name; a reference or address object
    stands for its value the way QBO compares it."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        key = part if part in value else next((k for k in value if k.lower() == part.lower()), None)
        if key is None:
            return None
        value = value[key]
    if isinstance(value, dict):
        for k in ("value", "Address", "FreeFormNumber", "URI"):
            if k in value:
                return value[k]
        return None
    return value


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except (InvalidOperation, ValueError):
            return None
    return None


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10 or value[4:5] != "-":
        return None
    text = value.strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:  # QBO would read it in the company's zone; the sandbox keeps UTC
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _compare(actual: Any, lit: Literal) -> int | None:
    """-1/0/1 comparing a record's value with a literal, or None when they can't be compared."""
    if actual is None:
        return None
    if isinstance(lit.value, bool) or isinstance(actual, bool):
        a, b = _as_bool(actual), _as_bool(lit.value)
        if a is None or b is None:
            return None
        return (a > b) - (a < b)
    if isinstance(actual, str) and isinstance(lit.value, str):
        da, db = _as_datetime(actual), _as_datetime(lit.value)
        if da is not None and db is not None:
            return (da > db) - (da < db)
        if actual.strip().lower() == lit.value.strip().lower():
            return 0
        na, nb = _as_decimal(actual), _as_decimal(lit.value)
        if na is not None and nb is not None:
            return (na > nb) - (na < nb)
        a, b = actual.lower(), lit.value.lower()
        return (a > b) - (a < b)
    na, nb = _as_decimal(actual), _as_decimal(lit.value)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    a, b = str(actual).lower(), str(lit.value).lower()
    return (a > b) - (a < b)


def _like(actual: Any, pattern: str) -> bool:
    if actual is None or isinstance(actual, (dict, list)):
        return False
    rx = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(rx, str(actual), flags=re.IGNORECASE | re.DOTALL) is not None


def _plain_strings(cond: Condition) -> frozenset[str] | None:
    """For = / IN against quoted literals that are neither numbers nor dates, equality is just
    case-insensitive string equality: precompute the set once (a 50,000-record company gets
    queried with 50-value IN lists)."""
    cached = getattr(cond, "_plain", False)
    if cached is not False:
        return cached
    plain = None
    if cond.op in ("=", "IN") and all(v.quoted and isinstance(v.value, str) and _as_decimal(v.value) is None
                                      and _as_datetime(v.value) is None for v in cond.values):
        plain = frozenset(v.value.strip().lower() for v in cond.values)
    cond._plain = plain
    return plain


def condition_holds(record: dict, cond: Condition) -> bool:
    actual = resolve(record, cond.field)
    plain = _plain_strings(cond)
    if plain is not None and isinstance(actual, str):
        return actual.strip().lower() in plain
    if cond.op == "LIKE":
        return _like(actual, cond.values[0].value)
    if cond.op == "IN":
        return any(_compare(actual, v) == 0 for v in cond.values)
    c = _compare(actual, cond.values[0])
    if c is None:
        return False
    return {"=": c == 0, "<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0}[cond.op]


def matches(query: Query, record: dict, *, names_list: bool) -> bool:
    if names_list and not query.mentions("Active") and record.get("Active", True) is False:
        return False
    return all(condition_holds(record, c) for c in query.conditions)


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (1, 0, "")
    if isinstance(value, bool):
        return (0, 0, int(value))
    dec = _as_decimal(value)
    if dec is not None:
        return (0, 1, dec)
    dt = _as_datetime(value)
    if dt is not None:
        return (0, 2, dt.timestamp())
    return (0, 3, str(value).lower())


def order(query: Query, records: list[dict]) -> list[dict]:
    """Sort by the ORDERBY fields; without one, by Id (numerically) so paging is stable."""
    out = sorted(records, key=lambda r: _sort_key(r.get("Id")))
    for name, desc in reversed(query.order_by):
        present = [r for r in out if resolve(r, name) is not None]
        missing = [r for r in out if resolve(r, name) is None]
        present.sort(key=lambda r: _sort_key(resolve(r, name)), reverse=desc)
        out = present + missing  # records without the property come last either way
    return out


def page(query: Query, records: list[dict]) -> list[dict]:
    start = query.start_position - 1
    return records[start:start + query.max_results]


def project(query: Query, record: dict) -> dict:
    """SELECT f1, f2: only those top-level properties (QBO then marks the object sparse)."""
    if query.fields is None:
        return record
    wanted = {f.split(".")[0].lower() for f in query.fields}
    out = {k: v for k, v in record.items() if k.lower() in wanted}
    out["sparse"] = True
    return out


def run(query: Query, records: Iterable[dict], *, names_list: bool) -> list[dict] | int:
    """Filter, sort and page; COUNT(*) gives the number of matches (paging ignored)."""
    hits = [r for r in records if matches(query, r, names_list=names_list)]
    if query.count:
        return len(hits)
    return [project(query, r) for r in page(query, order(query, hits))]
