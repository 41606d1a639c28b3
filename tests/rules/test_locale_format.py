"""rules/locale_format.py: money, numbers and dates in the reader's words (Babel, CLDR)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from bot.slack.mrkdwn import escape, one_line
from rules.locale_format import day, money, number

NBSP = "\u00a0"


@pytest.mark.parametrize("value,currency,lang,shown", [
    (1450, "EUR", "nl", f"€{NBSP}1.450,00"),
    ("1450.00", "EUR", "es", f"1.450,00{NBSP}€"),
    (Decimal("1450"), "USD", "en", "$1,450.00"),
    (1450, "JPY", "en", "¥1,450"),            # no minor unit
    (1450.4, "JPY", "es", f"1.450{NBSP}JPY"),  # rounded to the currency's digits
    (1450, "eur", "nl", f"€{NBSP}1.450,00"),    # a code in lower case (HubSpot stores upper)
    ("1450.5", "", "nl", "1.450,50"),          # no currency: a plain localised number
    (None, None, "es", "0,00"),
    ("n/a", "EUR", "nl", "n/a"),               # not a number: shown as it came
    (1450, "EUR", "pt-BR", "€1,450.00"),       # a language qbsync does not speak: English
])
def test_money(value, currency, lang, shown):
    assert money(value, currency, lang) == shown


def test_numbers_keep_their_decimals():
    assert [number(v, "nl") for v in ("1200.00", "1.5", "2", "?")] == ["1.200,00", "1,5", "2", "?"]
    assert number("1200.00", "en") == "1,200.00"


def test_dates_in_words():
    assert day("2026-10-31", "en") == "October 31, 2026"
    assert day(date(2026, 3, 4), "nl") == "4 maart 2026"
    assert day(datetime(2026, 3, 4, 23, 0), "es") == "4 de marzo de 2026"
    assert day("2026-10-31T00:00:00Z", "nl") == "31 oktober 2026"
    assert (day("", "nl"), day(None, "es"), day("soon", "nl")) == ("", "", "soon")


def test_the_no_break_space_survives_slack_escaping():
    amount = money(1450, "EUR", "nl")
    assert one_line(amount) == amount and escape(amount) == amount and NBSP in escape(amount)
