"""CRM search semantics for the HubSpot stand-in: request validation, filters, sorting, paging.

Pure functions over property dicts; the HTTP layer (hubspot_http.py) holds the portal lock
while it calls them.

What this follows (HubSpot's CRM search guide, "Limitations" and "Filter search results",
plus the apis.md notes):
- filterGroups are OR-ed, filters inside a group AND-ed; at most 5 groups, 6 filters per
  group and 18 filters in all.
- at most 200 results per page; paging by `after` (an offset, as a string); a query can reach
  at most 10,000 results: asking for a page at offset >= 10,000 answers 400.
- one sort; `sorts` items may be a property name ("-name" for descending) or
  {"propertyName", "direction": "ASCENDING"|"DESCENDING"}.
- datetime filter values may be epoch milliseconds or ISO 8601.
Choices where HubSpot's documentation is silent (kept simple, stated here):
- string comparisons (EQ, NEQ, IN, NOT_IN, CONTAINS_TOKEN) ignore case;
- a record without a value matches NEQ and NOT_IN, and never LT/LTE/GT/GTE/BETWEEN/EQ/IN;
- records with equal sort values come in id order, so paging is stable;
- without `sorts`, results come in id order.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from sandbox.hubspot_schema import ObjectType, to_decimal, to_epoch_ms

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_LIMIT = 200
MAX_RESULTS = 10_000

OPERATORS = {
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
}


class SearchError(ValueError):
    """The search request is invalid; the message is what the 400 answer says."""


@dataclass
class SearchRequest:
    filter_groups: list[list[dict]]
    sort_property: str | None
    descending: bool
    limit: int
    offset: int
    properties: list[str] | None
    query: str | None


def parse_request(body) -> SearchRequest:
    if not isinstance(body, dict):
        raise SearchError("Invalid input JSON: expected an object")
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise SearchError("filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise SearchError(f"Too many filter groups: {len(groups)}. The maximum is {MAX_GROUPS}.")
    parsed_groups: list[list[dict]] = []
    total = 0
    for group in groups:
        filters = (group or {}).get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise SearchError(
                f"Too many filters in a filter group: {len(filters)}. The maximum is {MAX_FILTERS_PER_GROUP}.")
        total += len(filters)
        for f in filters:
            _check_filter(f)
        parsed_groups.append(list(filters))
    if total > MAX_FILTERS:
        raise SearchError(f"Too many filters: {total}. The maximum across all filter groups is {MAX_FILTERS}.")

    sort_property, descending = None, False
    sorts = body.get("sorts") or []
    if len(sorts) > 1:
        raise SearchError("Only one sort is allowed.")
    if sorts:
        s = sorts[0]
        if isinstance(s, str):
            descending = s.startswith("-")
            sort_property = s.lstrip("-")
        elif isinstance(s, dict) and s.get("propertyName"):
            sort_property = s["propertyName"]
            direction = str(s.get("direction") or "ASCENDING").upper()
            if direction not in ("ASCENDING", "DESCENDING"):
                raise SearchError(f"Invalid sort direction: {direction}")
            descending = direction == "DESCENDING"
        else:
            raise SearchError("Invalid sort: expected a property name or {propertyName, direction}")

    limit = body.get("limit", 10)
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise SearchError(f"Invalid limit: {limit!r}") from None
    if limit < 1 or limit > MAX_LIMIT:
        raise SearchError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")

    after = body.get("after")
    offset = 0
    if after not in (None, ""):
        try:
            offset = int(str(after))
        except ValueError:
            raise SearchError(f"Invalid after: {after!r}") from None
        if offset < 0:
            raise SearchError(f"Invalid after: {after!r}")
    if offset >= MAX_RESULTS:
        # HubSpot: "The search endpoints are limited to 10,000 total results for any given query.
        # Attempting to page beyond 10,000 will result in a 400 error." (exact wording of the
        # answer's message is not documented; this one says what happened.)
        raise SearchError(
            f"Cannot page past {MAX_RESULTS} results (after={offset}). The search endpoints are limited "
            f"to {MAX_RESULTS} total results for any given query; narrow the query with filters.")

    properties = body.get("properties")
    if properties is not None and not isinstance(properties, list):
        raise SearchError("properties must be a list of property names")
    query = body.get("query")
    return SearchRequest(parsed_groups, sort_property, descending, limit, offset,
                         [str(p) for p in properties] if properties else None,
                         str(query) if query else None)


def _check_filter(f) -> None:
    if not isinstance(f, dict) or not f.get("propertyName"):
        raise SearchError("Each filter needs a propertyName and an operator")
    op = str(f.get("operator") or "").upper()
    if op not in OPERATORS:
        raise SearchError(f"Invalid filter operator: {f.get('operator')!r}")
    if op in ("IN", "NOT_IN") and not isinstance(f.get("values"), list):
        raise SearchError(f"Operator {op} needs a list of values")
    if op == "BETWEEN" and (f.get("value") is None or f.get("highValue") is None):
        raise SearchError("Operator BETWEEN needs value and highValue")
    if op in ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN") \
            and f.get("value") is None:
        raise SearchError(f"Operator {op} needs a value")


# ---- evaluation --------------------------------------------------------------------------

def _kind(otype: ObjectType, prop: str) -> str:
    return otype.properties.get(prop, "string")


def _norm(kind: str, value):
    """A comparable form of a property or filter value, or None when it has none."""
    if value is None or value == "":
        return None
    if kind == "datetime":
        return to_epoch_ms(str(value))
    if kind == "number":
        return to_decimal(value)
    return str(value).casefold()


_TOKEN_SPLIT = re.compile(r"[^\w]+", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN_SPLIT.split(text.casefold()) if t]


def _contains_token(actual: str, wanted: str) -> bool:
    wanted = wanted.casefold().strip()
    if not wanted:
        return False
    if actual.casefold() == wanted:
        return True
    if "*" in wanted:
        return any(fnmatch.fnmatchcase(t, wanted) for t in _tokens(actual)) or \
            fnmatch.fnmatchcase(actual.casefold(), wanted)
    return wanted in _tokens(actual)


def _match_filter(otype: ObjectType, props: dict, f: dict) -> bool:
    prop = f["propertyName"]
    op = str(f["operator"]).upper()
    raw = props.get(prop)
    has = raw is not None and raw != ""
    if op == "HAS_PROPERTY":
        return has
    if op == "NOT_HAS_PROPERTY":
        return not has
    kind = _kind(otype, prop)
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        hit = has and _contains_token(str(raw), str(f.get("value")))
        return hit if op == "CONTAINS_TOKEN" else not hit
    actual = _norm(kind, raw)
    if op in ("IN", "NOT_IN"):
        wanted = {_norm(kind, v) for v in f.get("values") or []}
        hit = actual is not None and actual in wanted
        return hit if op == "IN" else not hit
    if op == "BETWEEN":
        low, high = _norm(kind, f.get("value")), _norm(kind, f.get("highValue"))
        return actual is not None and low is not None and high is not None and low <= actual <= high
    wanted = _norm(kind, f.get("value"))
    if op == "NEQ":
        return actual is None or actual != wanted
    if actual is None or wanted is None:
        return False
    try:
        if op == "EQ":
            return actual == wanted
        if op == "LT":
            return actual < wanted
        if op == "LTE":
            return actual <= wanted
        if op == "GT":
            return actual > wanted
        if op == "GTE":
            return actual >= wanted
    except TypeError:  # e.g. a number property compared with text
        return False
    return False


def _match_query(otype: ObjectType, props: dict, query: str) -> bool:
    words = _tokens(query)
    if not words:
        return True
    tokens: list[str] = []
    for p in otype.search_text_properties:
        v = props.get(p)
        if v:
            tokens.extend(_tokens(str(v)))
    return all(any(t.startswith(w) for t in tokens) for w in words)


def matches(otype: ObjectType, props: dict, req: SearchRequest) -> bool:
    if req.query and not _match_query(otype, props, req.query):
        return False
    if not req.filter_groups:
        return True
    return any(all(_match_filter(otype, props, f) for f in group) for group in req.filter_groups)


def run(otype: ObjectType, records, req: SearchRequest) -> tuple[int, list[dict], int | None]:
    """Filter, sort and page `records` (dicts with "id" and "properties").

    Returns (total matching, the page, next offset or None). The page never reaches past
    result 10,000; the next offset may equal 10,000, and asking for it answers 400, which is
    how HubSpot behaves for a query with more results than that.
    """
    hits = [r for r in records if matches(otype, r["properties"], req)]
    if req.sort_property:
        kind = _kind(otype, req.sort_property)
        present, missing = [], []
        for r in hits:
            v = _norm(kind, r["properties"].get(req.sort_property))
            (missing if v is None else present).append((v, int(r["id"]), r))
        # id order first, then a stable sort by value: equal values stay in id order both ways
        present.sort(key=lambda t: t[1])
        present.sort(key=lambda t: t[0], reverse=req.descending)
        missing.sort(key=lambda t: t[1])
        ordered = [t[2] for t in present] + [t[2] for t in missing]
    else:
        ordered = sorted(hits, key=lambda r: int(r["id"]))
    total = len(ordered)
    end = min(req.offset + req.limit, total, MAX_RESULTS)
    page = ordered[req.offset:end]
    next_offset = end if end < total else None
    return total, page, next_offset
