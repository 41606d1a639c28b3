"""The poller's mirror answers the regional rules as a live read does: CompanyInfo (read at
the full load, again only when Preferences change) and customers' currencies."""
from __future__ import annotations

import json

import pytest

from bot.mirror import COMPANY_INFO, MirrorQboView

from .conftest import build


@pytest.mark.parametrize("name,failing", [
    ("tax-code-required", {"INV-1001": ["tax-code-required"]}),
    ("currency-mismatch", {"INV-1001": ["currency-mismatch"]}),
    ("doc-number-too-long", {"INITECH-EUROPE-2026-000017": ["doc-number-too-long"]}),
])
def test_incremental_scan_finds_what_the_full_scan_finds(sandbox, tmp_path, name, failing):
    sandbox.load(name)
    full = build(sandbox, tmp_path / "full.db", incremental=False)
    assert full.scanner.scan().failing == failing
    inc = build(sandbox, tmp_path / "inc.db")
    assert inc.scanner.scan().failing == failing


def test_company_info_is_read_again_only_when_preferences_change(sandbox, tmp_path):
    sb = sandbox
    sb.load("tax-code-required")
    inc = build(sb, tmp_path / "inc.db")
    inc.scanner.scan()
    view = MirrorQboView(inc.store)
    assert view.company_info()["Country"] == "CA"
    customer = view.customers_by_email(["dana@initech.example"])["dana@initech.example"][0]
    assert "CurrencyRef" not in customer  # multicurrency off: QBO reports none, nor does the mirror
    sb.log.reset()
    inc.scanner.scan()
    assert sb.log.count("qbo") == 1, sb.log.snapshot()  # one CDC call, no CompanyInfo read
    # The company moves its books to the US (a person changes settings): CompanyInfo is read
    # again with the Preferences change, and the tax rule no longer holds.
    with sb.qbo.lock:
        sb.qbo.entities["CompanyInfo"]["1"]["Country"] = "US"
    sb.qbo.set_preference("TaxPrefs.UsingSalesTax", False)
    sb.integration.run_once(force=True)
    assert "3001" in sb.integration.synced
    sb.clock.advance(1)
    sb.log.reset()
    result = inc.scanner.scan()
    assert sb.log.snapshot()["qbo"].get("GET /v3/company/{realmId}/companyinfo/{id}") == 1
    assert result.failing == {}
    assert MirrorQboView(inc.store).company_info()["Country"] == "US"
    assert json.loads(inc.store.get_cursor(COMPANY_INFO))["body"]["Country"] == "US"
