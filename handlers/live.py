"""Diagnose one HubSpot invoice now, through the adapters (explain, Re-check)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rules.base import Finding
from rules.diagnose import diagnose
from rules.view import LiveContactDirectory, LiveQboView


def diagnose_now(services, invoice) -> list[Finding]:
    """Every cause that holds for `invoice` right now, in fix order ([] when it synced, or
    when it is not one the integration pushes). A person asking wants the answer now: no
    grace period."""
    now = datetime.fromtimestamp(services.scanner.clock(), tz=timezone.utc)
    found = diagnose([invoice], LiveQboView(services.qbo), now=now, grace=timedelta(0),
                     directory=LiveContactDirectory(services.hubspot))
    return found.get(invoice.id, [])
