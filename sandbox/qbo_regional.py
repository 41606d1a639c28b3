"""The sandbox QBO company's regional rules: sales tax outside the US and currencies. Kept out
of sandbox/qbo.py so the company model only calls three hooks (load, customer write, invoice
create). Real texts and sources: /work/shared/knowledge/real-failures.md.

Tax. QBO outside the US demands a tax code on every sales line once the company charges tax
(GST/HST in Canada, VAT in the UK); HubSpot's invoice sync sends none, and HubSpot's article
"Set up two way invoice sync with QuickBooks Online" says non-US QuickBooks Online accounts
can't use the feature for that reason. The refusal is code 6000 with:
  - Canada: "Business Validation Error: Make sure all your transactions have a GST/HST rate
    before you save." (activepieces/activepieces#8539 shows the whole fault body, code 6000;
    ruckus/quickbooks-ruby#351);
  - UK: the same with "a VAT rate" (intuit/quickbooks-online-mcp-server#94, code 6000);
  - other regions: "One or more transaction lines do not have a tax code associated with it.
    Please assign a tax code for those lines" (ruckus/quickbooks-ruby#322, a Canada company).
Which text a region gets beyond CA/GB is not documented: the sandbox uses the generic one.
Whether QBO checks a company that charges no tax at all is not documented either: the sandbox
checks only while TaxPrefs.UsingSalesTax is true (the Preferences field; quickbooks-api's
Preferences type on unpkg lists TaxPrefs {TaxGroupCodeRef, UsingSalesTax}).

Currency. CurrencyPrefs {MultiCurrencyEnabled, HomeCurrency} (the same Preferences type).
Intuit's "Manage multiple currencies": multicurrency is off by default, must be on for any
currency other than the home currency, and can never be turned off once on. A transaction in
a currency the company or its customer cannot take is refused with "The currency of the
transaction is invalid for customer/vendor/account." (real-failures.md; its code is not
quoted anywhere we found, so the sandbox uses 6000, the business-validation code QBO gives
the sibling text "You can only use one foreign currency per transaction", Expensify/App#53932).
A customer has one currency (CurrencyRef; Connex's help "The currency of the account must be
either in home currency or the transaction currency" creates a second customer to bill in
another currency): the sandbox gives a customer without one the home currency.
"""
from __future__ import annotations

TAX_DETAIL = {
    "CA": "Business Validation Error: Make sure all your transactions have a GST/HST rate before you save.",
    "GB": "Business Validation Error: Make sure all your transactions have a VAT rate before you save.",
}
TAX_DETAIL_OTHER = ("Business Validation Error: One or more transaction lines do not have a tax code associated "
                    "with it. Please assign a tax code for those lines")
CURRENCY_DETAIL = "The currency of the transaction is invalid for customer/vendor/account."
BUSINESS_VALIDATION = "A business validation error has occurred while processing your request"


def _fault(detail: str):
    from .qbo import QboFault  # qbo.py imports this module: import its fault type when used
    return QboFault("6000", BUSINESS_VALIDATION, detail)


def tax_fault(country: str):
    return _fault(TAX_DETAIL.get(country.upper(), TAX_DETAIL_OTHER))


def currency_fault():
    return _fault(CURRENCY_DETAIL)


def apply_scenario(prefs: dict, info: dict, section: dict) -> None:
    """Scenario keys (docs/scenarios.md): qbo.country, qbo.preferences.using_sales_tax,
    .multicurrency, .home_currency."""
    p = section.get("preferences") or {}
    if section.get("country"):
        info["Country"] = section["country"]
    if "using_sales_tax" in p:
        prefs.setdefault("TaxPrefs", {})["UsingSalesTax"] = bool(p["using_sales_tax"])
    currency = prefs.setdefault("CurrencyPrefs", {})
    if "multicurrency" in p:
        currency["MultiCurrencyEnabled"] = bool(p["multicurrency"])
    if p.get("home_currency"):
        currency["HomeCurrency"] = {"value": p["home_currency"]}


def _home(prefs: dict) -> str:
    return str(((prefs.get("CurrencyPrefs") or {}).get("HomeCurrency") or {}).get("value") or "USD")


def _multicurrency(prefs: dict) -> bool:
    return bool((prefs.get("CurrencyPrefs") or {}).get("MultiCurrencyEnabled"))


def currency_of(record: dict, prefs: dict) -> str:
    return str((record.get("CurrencyRef") or {}).get("value") or _home(prefs))


def check_customer(record: dict, prefs: dict) -> None:
    """A customer in another currency than the home one needs multicurrency; with it on, a
    customer without CurrencyRef is in the home currency."""
    if currency_of(record, prefs) != _home(prefs) and not _multicurrency(prefs):
        raise currency_fault()
    if _multicurrency(prefs):
        record.setdefault("CurrencyRef", {"value": _home(prefs)})


def check_new_sale(record: dict, customer: dict, prefs: dict, info: dict) -> None:
    """What a new invoice must satisfy beyond the US rules: tax codes and its currency."""
    country = str(info.get("Country") or "US").upper()
    if country != "US" and (prefs.get("TaxPrefs") or {}).get("UsingSalesTax"):
        for line in record.get("Line") or []:
            if line.get("DetailType") == "SalesItemLineDetail" and \
                    not (line.get("SalesItemLineDetail") or {}).get("TaxCodeRef"):
                raise tax_fault(country)
    currency = currency_of(record, prefs)
    if currency != _home(prefs) and not _multicurrency(prefs):
        raise currency_fault()
    if _multicurrency(prefs) and currency != currency_of(customer, prefs):
        raise currency_fault()
