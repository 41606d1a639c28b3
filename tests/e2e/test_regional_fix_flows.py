"""The whole Slack loop (alert, recommended fix clicked and confirmed, the change in QBO, the
integration syncing the invoice, the alert resolved) for the regional rules that have a fix,
through the same flow as tests/e2e/test_fix_flows.py."""
from __future__ import annotations

import pytest

from .test_fix_flows import customers_with, test_alert_fix_sync_resolved as _whole_loop


def _check_customer_in_eur(sb):
    mine = customers_with(sb, "dana@initech.example")
    assert sorted((c["DisplayName"], c["CurrencyRef"]["value"]) for c in mine) == \
        [("Initech", "USD"), ("Initech (EUR)", "EUR")]
    assert sb.qbo.preferences()["CurrencyPrefs"]["MultiCurrencyEnabled"] is True


def _check_custom_numbers_off(sb):
    assert sb.qbo.preferences()["SalesFormsPrefs"]["CustomTxnNumbers"] is False


@pytest.mark.parametrize("world,invoice,rule,fix_id,changed", [
    ("currency-mismatch", "3001", "currency-mismatch", "create-customer-in-currency", _check_customer_in_eur),
    ("doc-number-too-long", "3001", "doc-number-too-long", "disable-custom-txn-numbers", _check_custom_numbers_off),
], ids=["currency-mismatch", "doc-number-too-long"])
def test_regional_alert_fix_sync_resolved(make_bot, world, invoice, rule, fix_id, changed):
    _whole_loop(make_bot, world, invoice, rule, fix_id, changed)


def test_tax_code_required_alert_offers_no_fix_and_says_where(make_bot):
    bot = make_bot("tax-code-required")
    key = "3001:tax-code-required"
    bot.scan()
    parent = bot.parent_of(key)
    assert not [el for b in parent.blocks if b["type"] == "actions" for el in b["elements"]
                if el["action_id"].startswith("fix")], parent.blocks
    text = " ".join(bot.thread_texts(key))
    assert "GST/HST" in text and "Taxes" in text
