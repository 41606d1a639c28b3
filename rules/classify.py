"""Classify error text: which rule does it belong to?

Input: a QBO fault body (JSON, `Fault/Error/Message/Detail/code` or the lower-case
`fault/error/message/detail/code` of a 401), a QBO Detail string, HubSpot's heading in
English, Dutch or Spanish, with or without prefixes such as "Validation Exception was thrown.
Details:" or "QB Exception 6240:".

Order: by QBO fault code first (so a fault in any QBO language is recognised), by text second
(one pass of one combined regex over the case-folded, accent-free text). Some codes need the
text as well: 6000 is every business validation error (only its service-date variant is
revenue recognition), 5010 is a stale SyncToken or "Account Period Closed" (closed books,
python-quickbooks#208), so for those two the code alone decides nothing; and 6240 is also
raised for item/account/tax-code names, which the display-name fixes cannot repair (those
stay `unknown`, with the code). Text that matches nothing is `unknown`.

Extracted: DocNumber, TxnType, TxnId, Id (from "... : Id=58"), element (from fault JSON), and
for 5010 `fault`: "books-closed" or "stale-object" (bot.errors.qbo_5010_kind, the same test
the QBO adapter uses to raise BooksClosed or StaleObject).
"""
from __future__ import annotations

import json
import re
import unicodedata

from bot.errors import qbo_5010_kind

from .base import Classification
from .registry import all_rules

MAX_TEXT = 20_000
# Codes shared by causes that only the words tell apart: a rule listing one in fault_codes
# still needs its text patterns to match (see the module doc).
_CODE_NEEDS_TEXT = frozenset({"6000", "5010"})

_CODE_RES = re.compile(
    r"QB Exception\s+(\d{3,6})|errorCode=0*(\d{3,6})|\bcode[\"']?\s*[=:]?\s*[\"']?(\d{3,6})\b|"
    r"\bError code:?\s*(\d{3,6})|\bfault code:?\s*(\d{3,6})|"
    # python-quickbooks' exception fields, as in {"error_code": "5010", ...} (its issue #208)
    r"\berror_code[\"']?\s*[=:]\s*[\"']?(\d{3,6})", re.I)
_EXTRACT = {
    "DocNumber": re.compile(r"DocNumber\s*=\s*([^\s,;]+?)(?=[\s,;]|\.?\s*$|\.\s)", re.I),
    "TxnType": re.compile(r"TxnType\s*=\s*([A-Za-z]+)", re.I),
    "TxnId": re.compile(r"TxnId\s*=\s*([\w-]+)", re.I),
    "Id": re.compile(r"(?<![A-Za-z])Id\s*=\s*([\w-]+)"),
}
_NOT_A_PARTY_NAME = re.compile(r"product|service|item|account|tax|class|department|location|term")


def plain(text: str) -> str:
    """Case-folded, accents dropped, whitespace collapsed."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(text.casefold().split())


def _literal(pattern: str) -> str:
    """The longest run of characters a match of this regex must contain: groups (which may
    hold alternatives or be optional) and character classes are cut out first. Quantifiers
    make the character before them optional, so it goes too."""
    outside, before = pattern, None
    while outside != before:  # innermost groups first, until none is left
        before = outside
        outside = re.sub(r"\([^()]*\)[?*]?|\[[^\]]*\]|[^()\[\]\\][?*]|.\{0,?\d*,?\d*\}", "|", outside)
    runs = re.split(r"\\.|[][(){}?*+|^$.]", outside)
    return max(runs, key=len) if runs else ""


class _Index:
    def __init__(self) -> None:
        self.rules = all_rules()
        self.by_id = {r.id: r for r in self.rules}
        self.code_rule: dict[str, str] = {}
        for r in self.rules:
            for c in r.fault_codes:
                self.code_rule[c.lstrip("0") or "0"] = r.id
        # Each pattern has a literal it cannot match without (its longest run of plain
        # characters): a C-speed `in` test picks the few patterns worth running, and the
        # earliest match among them wins, as one alternation would decide.
        self.patterns: list[tuple[str, re.Pattern, str, str]] = []
        for r in self.rules:
            for lang, pats in r.patterns.items():
                for p, rx in zip(pats, r.compiled[lang], strict=True):
                    self.patterns.append((_literal(p), rx, r.id, lang))
        # For the language of a text: nl and es first (their headings reuse English words,
        # e.g. the Dutch "Duplicate Document Number Error : Je moet ..."), then en.
        self.by_rule_lang: dict[str, list] = {}
        for r in self.rules:
            self.by_rule_lang[r.id] = [
                (lang, [(lit, rx) for lit, rx, rid, lg in self.patterns if rid == r.id and lg == lang])
                for lang in ("nl", "es", "en") if lang in r.patterns]

    def by_text(self, norm: str) -> tuple[str, str] | None:
        best = None
        for literal, rx, rule_id, lang in self.patterns:
            if literal in norm:
                m = rx.search(norm)
                if m and (best is None or m.start() < best[0]):
                    best = (m.start(), rule_id, lang)
        return (best[1], best[2]) if best else None

    def language(self, rule_id: str, norm: str) -> str | None:
        for lang, pats in self.by_rule_lang.get(rule_id, ()):
            if any(literal in norm and rx.search(norm) for literal, rx in pats):
                return lang
        return None


_INDEX: _Index | None = None


def _index() -> _Index:
    global _INDEX
    if _INDEX is None:
        _INDEX = _Index()
    return _INDEX


def _fault(raw: str) -> tuple[str | None, str, dict]:
    """(code, message + detail, {element}) from a QBO fault body, or (None, "", {})."""
    start = raw.find("{")
    if start < 0 or "ault" not in raw:
        return None, "", {}
    try:
        body = json.loads(raw[start:])
    except ValueError:
        return None, "", {}
    if not isinstance(body, dict):
        return None, "", {}
    fault = body.get("Fault") or body.get("fault") or {}
    errors = (fault.get("Error") or fault.get("error") or []) if isinstance(fault, dict) else []
    if not errors or not isinstance(errors[0], dict):
        return None, "", {}
    e = errors[0]
    code = str(e.get("code") or e.get("Code") or "") or None
    words = " : ".join(str(x) for x in (e.get("Message") or e.get("message"), e.get("Detail") or e.get("detail")) if x)
    extra = {"element": e.get("element")} if e.get("element") else {}
    if code is None:
        m = re.search(r"errorCode=0*(\d+)", words)
        code = m.group(1) if m else None
    return code, words, extra


def _names_something_else(norm: str) -> bool:
    """A 6240 about an item, account, tax code ... (QBO's Detail says what holds the name
    after "already exists"); a customer/vendor/employee clash or no detail is ours."""
    if "already exists" not in norm or "customer, vendor or employee" in norm:
        return False
    return bool(_NOT_A_PARTY_NAME.search(norm.split("already exists", 1)[1]))


def _another_length_limit(norm: str, extracted: dict) -> bool:
    """A 2050 (string length) about another field than DocNumber: the fault's element names
    one, or the Detail's maximum is not DocNumber's 21 (DisplayName's is 500). A bare 2050 is
    taken for DocNumber, the only length HubSpot's invoice sync can exceed by itself."""
    element = str(extracted.get("element") or "")
    if element and element.casefold() != "docnumber":
        return True
    m = re.search(r"max:\s*(\d+)", norm)
    return bool(m and m.group(1) != "21")


def classify(text: str | bytes | None) -> Classification:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    raw = (text or "")[:MAX_TEXT]
    ix = _index()
    code, words, extracted = _fault(raw)
    if code is None:
        m = _CODE_RES.search(raw)
        if m:
            code = next(g for g in m.groups() if g)
    source = words or raw  # a parsed fault: its Message and Detail are the text
    if "=" in source:
        for key, rx in _EXTRACT.items():
            m = rx.search(source)
            if m:
                extracted[key] = m.group(1).rstrip(".")
    norm = plain(source)
    hit = ix.by_text(norm)
    code_key = code.lstrip("0") if code else None
    rule_id = None
    if code_key == "5010":
        extracted["fault"] = qbo_5010_kind(source)
    if code_key and code_key not in _CODE_NEEDS_TEXT:
        rule_id = ix.code_rule.get(code_key)
    if rule_id is None:
        rule_id = hit[0] if hit else "unknown"
    if rule_id == "duplicate-display-name" and _names_something_else(norm):
        rule_id = "unknown"
    if rule_id == "doc-number-too-long" and _another_length_limit(norm, extracted):
        rule_id = "unknown"
    lang = ix.language(rule_id, norm) if rule_id != "unknown" else None
    return Classification(rule_id, code_key if code_key else None, extracted, lang)
