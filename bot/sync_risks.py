"""Sync risks: QBO settings that will break HubSpot's invoice sync before any invoice fails,
each with where to change it. `qbsync doctor` (bot/doctor.py) reads them live; `/qbsync status`
(handlers/services.py) from the poller's local data (mirrored Preferences, cached invoices,
the stored CompanyInfo).

Inputs: QBO Preferences and CompanyInfo, and HubSpot's open native invoices as OpenInvoice
(number, currency, invoice date). The risks (real-failures.md; apis.md):
- non-us-tax: CompanyInfo.Country is not US. A non-US company needs a tax code on every line,
  which HubSpot's invoice sync does not send (HubSpot's "Set up two way invoice sync" article:
  non-US accounts cannot use it). QBO reports Country on CompanyInfo (public mocks of real
  answers, e.g. Nytely-Official/quickbooks-api __tests__/__mocks__/company-info-data.ts).
- multicurrency-off: CurrencyPrefs.MultiCurrencyEnabled is false while open invoices are in
  another currency than CurrencyPrefs.HomeCurrency. Never turned on by qbsync: once on, it
  cannot be turned off (Intuit; apis.md).
- books-closed: AccountingInfoPrefs.BookCloseDate on or after open invoices' dates.
- doc-number-too-long: SalesFormsPrefs.CustomTxnNumbers on while HubSpot numbers are longer
  than QBO's 21 characters (fault 2050, consolibyte/quickbooks-php#79).
- revenue-recognition: ProductAndServicesPrefs.RevenueRecognitionEnabled on.
A setting QBO does not report is no risk here: only what is known to break is listed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

from rules.books_closed import PATH as BOOKS_PATH, close_date
from rules.revenue_recognition import PATH as REVREC_PATH
from rules.locale_format import day as local_day
from rules.text import lang_of, render
from rules.catalog import plural, words

DOC_NUMBER_MAX = 21  # QBO's DocNumber limit (apis.md)
EXAMPLES = 3


@dataclass(frozen=True)
class OpenInvoice:
    number: str
    currency: str
    invoice_date: str  # YYYY-MM-DD, or ""


@dataclass(frozen=True)
class Risk:
    id: str
    values: dict  # what the words name (dates, currencies, invoice numbers)

    def text(self, lang: str = "en") -> str:
        values = dict(self.values, books_path=BOOKS_PATH[lang_of(lang)], revrec_path=REVREC_PATH[lang_of(lang)])
        if values.get("close"):  # the closing date is kept ISO; shown in the reader's words
            values["close"] = local_day(values["close"], lang)
        return render(WORDS[lang_of(lang)][self.id], values)

    def where(self, lang: str = "en") -> str:
        return render(WHERE[lang_of(lang)][self.id], dict(books_path=BOOKS_PATH[lang_of(lang)],
                                                          revrec_path=REVREC_PATH[lang_of(lang)]))


WORDS = words({
    "en": {
        "non-us-tax": "The QuickBooks company is in {country}, not the US: QuickBooks wants a tax code on every "
                      "invoice line, and HubSpot's invoice sync sends none, so invoices will fail.",
        "multicurrency-off": plural("Multicurrency is off in QuickBooks (home currency {home}) while {count} open "
                                    "HubSpot invoice is in {currencies} (e.g. {examples}): it will fail.",
                                    "Multicurrency is off in QuickBooks (home currency {home}) while {count} open "
                                    "HubSpot invoices are in {currencies} (e.g. {examples}): those will fail."),
        "books-closed": plural("QuickBooks' books are closed up to {close}, and {count} open HubSpot invoice is dated "
                               "on or before it (e.g. {examples}): QuickBooks refuses it.",
                               "QuickBooks' books are closed up to {close}, and {count} open HubSpot invoices are "
                               "dated on or before it (e.g. {examples}): QuickBooks refuses them."),
        "doc-number-too-long": plural("Custom transaction numbers is on in QuickBooks, and {count} open HubSpot "
                                      "invoice number is longer than 21 characters (e.g. {examples}): QuickBooks "
                                      "refuses it.",
                                      "Custom transaction numbers is on in QuickBooks, and {count} open HubSpot "
                                      "invoice numbers are longer than 21 characters (e.g. {examples}): QuickBooks "
                                      "refuses them."),
        "revenue-recognition": "Revenue Recognition is on in QuickBooks: every invoice line then needs a service "
                               "date, which HubSpot line items cannot carry, so every invoice fails.",
    },
})
WHERE = words({
    "en": {
        "non-us-tax": "No setting fixes this: HubSpot's QuickBooks integration syncs invoices for US companies only; "
                      "create these invoices in QuickBooks with their tax codes.",
        "multicurrency-off": "Bill in the home currency in HubSpot (the invoice's currency), or, with your "
                             "accountant, turn on QuickBooks Settings ⚙ > Account and settings > Advanced > "
                             "Currency > Multicurrency (it can never be turned off again; qbsync never does it).",
        "books-closed": "An accountant's decision: move the closing date under {books_path}, or date the invoices "
                        "after it in HubSpot.",
        "doc-number-too-long": "Use a shorter invoice number prefix in HubSpot's invoice settings, or turn off "
                               "QuickBooks Settings ⚙ > Account and settings > Sales > Sales form content > Custom "
                               "transaction numbers.",
        "revenue-recognition": "{revrec_path}",
    },
})


def _pref(prefs: dict, *path: str):
    node: object = prefs or {}
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _examples(invoices: list[OpenInvoice]) -> str:
    return ", ".join(i.number or "?" for i in invoices[:EXAMPLES])


def risks(preferences: dict, company_info: dict | None, invoices: Iterable[OpenInvoice]) -> list[Risk]:
    """Every risk that holds, in a fixed order (the one that breaks every invoice first)."""
    invoices = sorted(invoices, key=lambda i: (i.invoice_date, i.number))
    out: list[Risk] = []
    if _pref(preferences, "ProductAndServicesPrefs", "RevenueRecognitionEnabled") is True:
        out.append(Risk("revenue-recognition", {}))
    country = str((company_info or {}).get("Country") or "").strip()
    if country and country.upper() not in ("US", "USA", "UNITED STATES"):
        out.append(Risk("non-us-tax", {"country": country}))
    home = str(_pref(preferences, "CurrencyPrefs", "HomeCurrency", "value") or "").upper()
    if home and _pref(preferences, "CurrencyPrefs", "MultiCurrencyEnabled") is not True:
        foreign = [i for i in invoices if i.currency and i.currency.upper() != home]
        if foreign:
            out.append(Risk("multicurrency-off", {
                "home": home, "count": len(foreign), "examples": _examples(foreign),
                "currencies": ", ".join(sorted({i.currency.upper() for i in foreign}))}))
    close = close_date(preferences)
    if close:
        closed = [i for i in invoices if i.invoice_date and i.invoice_date[:10] <= close]
        if closed:
            out.append(Risk("books-closed", {"close": close, "count": len(closed), "examples": _examples(closed)}))
    if _pref(preferences, "SalesFormsPrefs", "CustomTxnNumbers") is True:
        long_ = [i for i in invoices if len(i.number or "") > DOC_NUMBER_MAX]
        if long_:
            out.append(Risk("doc-number-too-long", {"count": len(long_), "examples": _examples(long_)}))
    return out


def open_invoice(number: str | None, currency: str | None, invoice_date) -> OpenInvoice:
    day = invoice_date.isoformat() if isinstance(invoice_date, date) else str(invoice_date or "")[:10]
    return OpenInvoice(str(number or ""), str(currency or ""), day)


def from_search(records: Iterable[dict]) -> list[OpenInvoice]:
    """OpenInvoice from HubSpot search results ({"id", "properties"}), as the doctor reads them."""
    return [open_invoice(r.get("properties", {}).get("hs_number"), r.get("properties", {}).get("hs_currency"),
                         r.get("properties", {}).get("hs_invoice_date")) for r in records]


CACHE_PAGE = 500  # invoice bodies read (and the store's lock held) at a time by from_cache


def from_cache(store, *, page: int = CACHE_PAGE) -> list[OpenInvoice]:
    """Open native invoices from the poller's invoice cache (no API call). Read `page` rows
    at a time (keyset on the primary key): all 50,000 bodies in one list took ~60 MB per
    `/qbsync status` and held the store's lock, and so every ack's replay-ledger write,
    for the whole read."""
    import json
    out: list[OpenInvoice] = []
    after = ""
    while True:
        rows = store.query_rows("SELECT id, body FROM hs_invoices WHERE status = 'open' AND native = 1 AND id > ?"
                                " ORDER BY id LIMIT ?", (after, int(page)))
        for row in rows:
            body = json.loads(row["body"])
            out.append(open_invoice(body.get("number"), body.get("currency"), body.get("invoice_date")))
        if len(rows) < page:
            return out
        after = rows[-1]["id"]
