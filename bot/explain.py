"""`qbsync explain`: say which rule an error text belongs to, or why a HubSpot invoice did not
sync, in en/nl/es, with the fixes qbsync offers.

Output: plain text for a person, or `--json`. JSON for a TEXT is one object with exactly the
keys rule, title, explanation, fixes, locale, evidence; for `--invoice` it is a list of such
objects, one per cause in fix order (empty when the invoice is in QuickBooks).
"""
from __future__ import annotations

import json
import re
import textwrap
from datetime import datetime, timedelta, timezone
from typing import IO

from .config import SPECS_BY_NAME, Problem, Settings
from .errors import ConfigError, QbsyncError
from rules.catalog import words

# What `explain --invoice` needs (config.py's table has no `explain` command: explain TEXT
# reads no configuration, so the check lives here).
INVOICE_SETTINGS = ("hubspot_token", "qbo_client_id", "qbo_client_secret", "qbo_realm_id")
USED_SETTINGS = INVOICE_SETTINGS + ("hubspot_source_property", "hubspot_sync_sources", "qbo_refresh_token",
                                    "qbo_environment", "db_path", "database_url", "grace_minutes", "language",
                                    "hubspot_api_base", "qbo_api_base")


def _clean(text) -> str:
    """Remote text goes to a terminal: no control characters (newlines and tabs stay)."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", " ", str(text))


def entry(rule: str, title: str, explanation: str, fixes: list[dict], locale: str, evidence: dict) -> dict:
    return {"rule": rule, "title": title, "explanation": explanation, "fixes": fixes, "locale": locale,
            "evidence": evidence}


def explain_text(text: str, lang: str = "en") -> dict:
    from rules.classify import classify
    from rules.registry import get

    c = classify(text)
    rule = get(c.rule)
    e = rule.explain(c, lang)
    fixes = [{"id": f"step-{n}", "label": step, "confirm": None} for n, step in enumerate(rule.steps(e.locale), 1)]
    evidence = {"code": c.code, "extracted": c.extracted, "text_language": c.language}
    return entry(c.rule, e.title, e.text, fixes, e.locale, evidence)


def finding_entries(findings, lang: str) -> list[dict]:
    from rules.registry import get

    out = []
    for f in findings:
        rule = get(f.rule)
        e = rule.explain(f, lang)
        fixes = [{"id": x.id, "label": x.label, "confirm": x.confirm} for x in rule.fixes(f, e.locale)]
        evidence = dict(f.evidence, invoice={"id": f.invoice_id, "number": f.invoice_number})
        not_offered = rule.not_offered(f, e.locale)
        if not_offered:
            evidence["fixes_not_offered"] = not_offered
        out.append(entry(f.rule, e.title, e.text, fixes, e.locale, evidence))
    return out


def require_invoice_settings(settings: Settings) -> None:
    problems = [str(p) for p in settings.invalid if p.env in {SPECS_BY_NAME[n].env for n in USED_SETTINGS}]
    for name in INVOICE_SETTINGS:
        if not settings.is_set(name) and not any(SPECS_BY_NAME[name].env in p for p in problems):
            spec = SPECS_BY_NAME[name]
            problems.append(str(Problem(spec.env, f"is missing: {spec.help}", "missing")))
    if problems:
        raise ConfigError(problems)


def explain_invoice(settings: Settings, number: str, lang: str, *, now: datetime | None = None,
                    store=None) -> tuple[list[dict], str]:
    """(entries, note) for the HubSpot invoice with this number, diagnosed live through the
    adapters. The note says why there is nothing to explain (synced, draft, ...)."""
    from rules.diagnose import SYNCABLE, diagnose_live

    from . import wiring
    from .store import Store

    require_invoice_settings(settings)
    hubspot = wiring.hubspot_adapter(settings)
    invoice = hubspot.find_invoice_by_number(number)
    if invoice is None:
        raise QbsyncError(f"no HubSpot invoice has the number {number!r}")
    if not invoice.is_native:
        return [], f"{invoice.number} came from a sync (Invoice Source {invoice.source!r}, listed in " \
                   "QBSYNC_HUBSPOT_SYNC_SOURCES): the integration does not push it."
    if invoice.status not in SYNCABLE:
        return [], f"{invoice.number} is {invoice.status}: the integration pushes only open and paid invoices."
    own_store = store is None
    store = store or Store(settings.store_target)
    try:
        now = now or datetime.now(timezone.utc)
        found = diagnose_live(invoice, wiring.qbo_adapter(settings, store), hubspot, now=now,
                              mapping=store.invoice_pairs([invoice.id]))
    finally:
        if own_store:
            store.close()
    note = ""
    if not found:
        note = f"{invoice.number} is in QuickBooks Online and matches HubSpot: nothing to fix."
    elif now - invoice.created_at < timedelta(minutes=settings.grace_minutes):
        note = (f"{invoice.number} was created less than {settings.grace_minutes} minutes ago; the integration "
                "may simply not have pushed it yet.")
    return finding_entries(found, lang), note


_HEADINGS = words({"en": {"fixes": "Fixes", "steps": "What to do"}})


def print_entries(entries: list[dict], out: IO[str], *, heading: str = "") -> None:
    width = 100
    if heading:
        out.write(_clean(heading) + "\n\n")
    for n, e in enumerate(entries, 1):
        prefix = f"{n}. " if len(entries) > 1 else ""
        out.write(f"{prefix}{_clean(e['title'])}  [{e['rule']}]\n")
        for para in _clean(e["explanation"]).split("\n"):
            out.write(textwrap.fill(para, width, initial_indent="   ", subsequent_indent="   ") + "\n")
        if e["fixes"]:
            kind = "fixes" if e["fixes"][0]["confirm"] else "steps"
            out.write(f"   {_HEADINGS.get(e['locale'], _HEADINGS['en'])[kind]}:\n")
            for f in e["fixes"]:
                label = f"{f['id']}: {f['label']}" if f["confirm"] else f["label"]
                out.write(textwrap.fill(_clean(label), width, initial_indent="   - ", subsequent_indent="     ") + "\n")
                if f["confirm"]:
                    out.write(textwrap.fill(_clean(f["confirm"]), width, initial_indent="     ",
                                            subsequent_indent="     ") + "\n")
        for line in e["evidence"].get("fixes_not_offered", []):
            out.write(textwrap.fill(_clean(line), width, initial_indent="   (", subsequent_indent="    ") + ")\n")
        out.write("\n")


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)
