"""Issue 12 part 3: amounts and dates reach Slack in the reader's words (rules/locale_format.py,
Babel/CLDR), through the Slack stand-in with the whole bot: the channel language
(QBSYNC_LANGUAGE) decides the locale of alerts, the asker's Slack locale that of answers;
the currency is the invoice's."""
from __future__ import annotations

import re

import pytest

from .conftest import ALICE, BRAM, CARMEN, scenario

NBSP = "\u00a0"  # Babel's space between symbol and number in nl/es: kept, not folded


def priced(currency: str) -> dict:
    """missing-customer with INV-1001 (one line, 1 x 1450) billed in `currency`."""
    world = scenario("missing-customer")
    world["name"] = f"missing-customer-{currency}"
    for li in world["hubspot"]["line_items"]:
        if li["id"] == "4001":
            li.update(quantity=1, price=1450.0)
    for inv in world["hubspot"]["invoices"]:
        if inv["id"] == "3001":
            inv["currency"] = currency
    return world


@pytest.mark.parametrize("language,currency,shown", [
    ("nl", "EUR", f"€{NBSP}1.450,00"),
    ("es", "EUR", f"1.450,00{NBSP}€"),
    ("en", "USD", "$1,450.00"),
    ("en", "JPY", "¥1,450"),      # yen have no minor unit (CLDR): no decimals
    ("nl", "JPY", f"JP¥{NBSP}1.450"),
])
def test_the_alert_shows_the_amount_in_the_channel_language(make_bot, language, currency, shown):
    bot = make_bot(priced(currency), transport="http", env={"QBSYNC_LANGUAGE": language})
    bot.scan()
    # one parent per invoice, however many causes (a foreign currency can add currency-mismatch)
    key = next(a["key"] for a in bot.store.open_alerts() if a["invoice_id"] == "3001")
    text = bot.parent_of(key).visible_text()
    assert shown in text, text
    assert "1450.00" not in text and f"{currency} 1" not in text  # not the old f"{:,.2f}" form
    if currency == "JPY":
        assert "1.450,00" not in text and "1,450.00" not in text


def test_list_details_use_the_askers_locale(make_bot):
    # The same EUR alert, listed with record details: Dutch for Bram, Spanish for Carmen.
    bot = make_bot(priced("EUR"), transport="http", allowed=f"{ALICE},{BRAM},{CARMEN}")
    bot.scan()
    assert f"€{NBSP}1.450,00" in bot.command(BRAM, "list")[0]
    assert f"1.450,00{NBSP}€" in bot.command(CARMEN, "list")[0]
    assert "€1,450.00" in bot.command(ALICE, "list")[0]


@pytest.mark.parametrize("language,close,dated", [
    ("nl", "31 oktober 2026", "15 oktober 2026"),
    ("es", "31 de octubre de 2026", "15 de octubre de 2026"),
])
def test_books_closed_names_its_dates_in_the_channel_language(make_bot, language, close, dated):
    bot = make_bot("books-closed", transport="http", env={"QBSYNC_LANGUAGE": language})
    bot.scan()
    key = "3001:books-closed"
    parent = bot.parent_of(key).visible_text()
    assert close in parent and "2026-10-31" not in parent, parent
    thread = " ".join(bot.thread_texts(key))
    assert dated in thread and close in thread, thread
    assert "2026-10-15" not in thread and "2026-10-31" not in thread, thread


# decimal comma, grouping dot; unit prices and amounts in the invoice's currency (USD), quantities plain
ROW = {"nl": r"Consulting\s+10 × US\$\xa0120,00 = US\$\xa01\.200,00\s+8 × US\$\xa0120,00 = US\$\xa0960,00",
       "es": r"Consulting\s+10 × 120,00\xa0US\$ = 1\.200,00\xa0US\$\s+8 × 120,00\xa0US\$ = 960,00\xa0US\$"}


@pytest.mark.parametrize("language,totals", [
    ("nl", f"*Totalen*\nHubSpot US${NBSP}1.450,00 · QuickBooks US${NBSP}1.310,00"),
    ("es", f"*Totales*\nHubSpot 1.450,00{NBSP}US$ · QuickBooks 1.310,00{NBSP}US$")])
def test_evidence_totals_and_line_differences_in_the_channel_language(make_bot, language, totals):
    bot = make_bot("mixed", transport="http", env={"QBSYNC_LANGUAGE": language})
    bot.scan()
    alert = bot.alert("3005:native-invoice-modified")
    explanation = bot.sb.slack.driver.thread(alert["channel"], alert["ts"])[1]
    fields = [f["text"] for b in explanation.blocks for f in b.get("fields", [])]
    assert totals in fields, fields
    table = next(b["text"]["text"] for b in explanation.blocks if b.get("text", {}).get("text", "").startswith("```"))
    assert re.search(ROW[language], table), table
    # the rule's own text and its fix's confirm say the differences in the same money
    thread = " ".join(bot.thread_texts("3005:native-invoice-modified"))
    row = ("8 x US$\xa0120,00 = US$\xa0960,00" if language == "nl" else "8 x 120,00\xa0US$ = 960,00\xa0US$")
    assert row in thread, thread
    # the parent's amount too: the invoice is in USD
    assert ("US$" + NBSP + "1.450,00" if language == "nl" else "1.450,00" + NBSP + "US$") in \
        bot.parent_of("3005:native-invoice-modified").visible_text()


def test_status_names_the_closing_date_in_the_askers_language(make_bot):
    # /qbsync status lists the sync risks; the answer is in the asker's Slack locale.
    bot = make_bot("books-closed", transport="http")
    bot.scan()
    assert "31 oktober 2026" in bot.command(BRAM, "status")[0]
    assert "31 de octubre de 2026" in bot.command(CARMEN, "status")[0]
    english = bot.command(ALICE, "status")[0]
    assert "October 31, 2026" in english and "2026-10-31" not in english
