"""Diagnose one HubSpot invoice now, through the adapters (explain, Re-check)."""
from __future__ import annotations

from datetime import datetime, timezone

from rules.base import Finding
from rules.diagnose import diagnose_live


def diagnose_now(services, invoice) -> list[Finding]:
    """Every cause that holds for `invoice` right now, in fix order ([] when it synced, or
    when it is not one the integration pushes)."""
    now = datetime.fromtimestamp(services.scanner.clock(), tz=timezone.utc)
    mapping = services.store.invoice_pairs([invoice.id])
    return diagnose_live(invoice, services.qbo, services.hubspot, now=now, mapping=mapping)
