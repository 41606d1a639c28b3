"""Money and calendar dates in the words of a language, with Babel (CLDR data).

One job: turn an amount + currency, or a date, into what a reader of en/nl/es expects:
`€ 1.450,00` in Dutch, `1.450,00 €` in Spanish, `¥1,450` (yen have no minor unit, so no
decimals). It lives in rules/ because the rules' texts show amounts and dates and rules/ does
not depend on bot/; bot/ and handlers/ use it too.

Not for machine-readable output: the /qbsync export CSV keeps ISO dates and plain decimals.
Babel puts a NO-BREAK SPACE (U+00A0) between symbol and number in nl/es (CLDR's patterns).
To Slack it is plain text: only `&`, `<` and `>` have a meaning in message text and need
escaping (https://api.slack.com/reference/surfaces/formatting#escaping, quoted in
github.com/tryfabric/mack/pull/21). bot/slack/mrkdwn.py's stripping of invisible characters
keeps it (it drops categories Cf and Cc; U+00A0 is Zs), and it keeps the amount on one line.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from .text import lang_of

# The language of a message decides the locale. A language alone has no number or date
# conventions, so each gets one full locale: en -> en_US (HubSpot says non-US QuickBooks
# Online accounts cannot use invoice sync: rules/tax_code_required.py; and in en_US every
# currency but USD gets an unambiguous symbol: CA$, A$, €), nl -> nl_NL and es -> es_ES (the
# Netherlands' and Spain's conventions, `€ 1.450,00` and `1.450,00 €`, the forms the issue
# asks for). No setting: a reader of the language reads these forms without trouble.
LOCALES = {"en": "en_US", "nl": "nl_NL", "es": "es_ES"}
# CLDR's "long" date format: the month as a word, so 03/04 is never read the wrong way round
# ("October 31, 2026", "31 oktober 2026", "31 de octubre de 2026").
DATE_FORMAT = "long"


def locale_of(lang: str | None) -> str:
    return LOCALES[lang_of(lang)]


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except (InvalidOperation, ValueError):
        return None


def money(value: Any, currency: str | None = "", lang: str | None = "en") -> str:
    """An amount in `currency` (ISO 4217, the invoice's) as a reader of `lang` writes it.
    The number of decimals is the currency's (CLDR: JPY 0, EUR 2, ...). Without a currency:
    a plain localised number with two decimals. A value that is no number comes back as is."""
    amount = _decimal(value)
    if amount is None:
        return str(value)
    locale = locale_of(lang)
    code = (currency or "").strip().upper()
    if code:
        return format_currency(amount, code, locale=locale)
    return format_decimal(amount.quantize(Decimal("0.01")), format="#,##0.00", locale=locale)


def number(value: Any, lang: str | None = "en") -> str:
    """A quantity or price as a reader of `lang` writes it, with the decimals it has
    (`1.5` -> `1,5` in nl/es; `1450.00` -> `1,450.00` in en). Not a number: as is."""
    amount = _decimal(value)
    if amount is None or value in (None, ""):
        return "" if value is None else str(value)
    places = max(0, -int(amount.as_tuple().exponent)) if amount.is_finite() else 0
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(amount, format=pattern, locale=locale_of(lang))


def day(value: Any, lang: str | None = "en") -> str:
    """A calendar date (a date, a datetime or an ISO `YYYY-MM-DD...` string) in the words of
    `lang`. Empty stays empty; a text that is no date comes back as is."""
    if value in (None, ""):
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    return format_date(value, DATE_FORMAT, locale=locale_of(lang))
