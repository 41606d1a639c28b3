"""Diagnosis from data: for each HubSpot-native invoice that is open or paid and older than
the grace period, find its QBO counterpart (rules/facts.py explains how) and report every
cause that holds, in the order a person should fix them (Rule.order). An invoice that synced
gets no finding; one that is missing past the grace period with no known cause gets an
`unknown` finding that says so.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Mapping

from .base import Finding
from .facts import InvoiceFacts, gather
from .registry import all_rules

SYNCABLE = ("open", "paid")


def eligible(invoice, now: datetime, grace: timedelta) -> bool:
    if not invoice.is_native or invoice.status not in SYNCABLE:
        return False
    created = invoice.created_at if invoice.created_at.tzinfo else invoice.created_at.replace(tzinfo=timezone.utc)
    return created <= now - grace


def findings_for(facts: InvoiceFacts) -> list[Finding]:
    out = []
    for rule in all_rules():
        finding = rule.check(facts)
        if finding is not None:
            out.append(finding)
    if not out and facts.counterpart is None:
        from .unknown import missing_finding
        out.append(missing_finding(facts))
    return out


def diagnose(invoices, view, *, now: datetime, grace: timedelta | float, directory=None,
             mapping: Mapping[str, str] | None = None, taken=None,
             paired: dict[str, tuple[str, str]] | None = None) -> dict[str, list[Finding]]:
    """{invoice id: [findings in fix order]} for invoices with at least one finding.
    `grace` is a timedelta or minutes; `directory` finds HubSpot contacts by email
    (rules.view.LiveContactDirectory); `mapping` is a learned HubSpot -> QBO invoice id map.
    `paired`, when given, receives {HubSpot id: (QBO id, how)} for invoices seen synced (a
    counterpart and no finding) that the mapping did not know yet: what to remember.
    `taken`: see rules.facts.gather."""
    if not isinstance(grace, timedelta):
        grace = timedelta(minutes=float(grace))
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    batch = [inv for inv in invoices if eligible(inv, now, grace)]
    facts = gather(batch, view, directory, mapping=mapping, taken=taken)
    result: dict[str, list[Finding]] = {}
    for inv in batch:
        found = findings_for(facts[inv.id])
        if found:
            result[inv.id] = found
        elif paired is not None and (f := facts[inv.id]).counterpart is not None and f.counterpart_how != "mapping":
            paired[inv.id] = (str(f.counterpart["Id"]), f.counterpart_how)
    return result


def diagnose_live(invoice, qbo, hubspot, *, now: datetime, mapping: Mapping[str, str] | None = None) -> list[Finding]:
    """Every cause that holds for one invoice right now, read through the adapters (explain,
    Re-check). A person asking wants the answer now: no grace period. `mapping`: the
    remembered pairings (store.invoice_pairs), so an invoice changed in QBO is still paired."""
    from .view import LiveContactDirectory, LiveQboView

    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    found = diagnose([invoice], LiveQboView(qbo), now=now, grace=timedelta(0),
                     directory=LiveContactDirectory(hubspot), mapping=mapping)
    return found.get(invoice.id, [])


def counterparts(invoices, view, *, directory=None, mapping=None) -> dict[str, str]:
    """{HubSpot invoice id: QBO invoice id} for the invoices whose counterpart was found (what
    a poller would remember as the learned mapping)."""
    facts = gather(list(invoices), view, directory, mapping=mapping)
    return {k: str(f.counterpart["Id"]) for k, f in facts.items() if f.counterpart is not None}
