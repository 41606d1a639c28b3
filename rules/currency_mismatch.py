"""currency-mismatch: the HubSpot invoice's currency (hs_currency) is one QuickBooks Online
cannot take for it: multicurrency is off and it is not the home currency, or multicurrency is
on and the QBO customer the integration bills (found by the contact's email) is in another
currency. QBO refuses with "The currency of the transaction is invalid for
customer/vendor/account." or, code 6000, "You can only use one foreign currency per
transaction" (Expensify/App#53932); /work/shared/knowledge/real-failures.md.

Data: Preferences CurrencyPrefs.MultiCurrencyEnabled / HomeCurrency (Preferences type in
quickbooks-api on unpkg; Intuit "Manage multiple currencies"), the invoice's currency, and the
CurrencyRef of the active customers with the contact's email. A customer record without
CurrencyRef while multicurrency is on (QBO should always report one then; a mirror row from
before migration 7 has none until the reload it forces) is unknown, not a mismatch: no finding
rather than a wrong one.
Fixes:
  - multicurrency on: create a QBO customer for the contact in the invoice's currency (the
    contact's email, a free name such as "Initech (EUR)"). A QBO customer has one currency, so
    a second customer is the way to bill the same party in another (Connex's help creates one
    for the same error). The simulated integration then takes the customer in the invoice's
    currency among those with the email (sandbox/integration.py: HubSpot's own choice is not
    documented; if it picks the other one the invoice keeps failing and the next scan says so).
  - multicurrency off: no write. Intuit: multicurrency "cannot be disabled once it's been
    enabled" and changes many accounts and balances, so qbsync never turns it on; the
    explanation gives the place (Settings > Account and settings > Advanced > Currency) for
    the finance person to decide, or to invoice in the home currency instead.
"""
from __future__ import annotations

from bot.errors import ValidationFailed

from .base import Finding, FixContext, FixResult, Rule
from .fixes import already, contact_evidence, free_display_name, make_fix
from .text import lang_of, render, request_id
from .view import email_of
from .catalog import words

CURRENCY_PATH = words({
    "en": "Settings ⚙ > Account and settings > Advanced > Currency",
})
NEVER = words({
    "en": "qbsync never turns multicurrency on: once on, QuickBooks can never turn it off again, and it changes "
          "accounts and balances across the company. That is a decision for your accountant.",
})
CREATED = words({
    "en": "Created QBO customer {name} (Id {id}) in {currency} with email {email}.",
})


def _home(prefs: dict) -> str:
    return str(((prefs.get("CurrencyPrefs") or {}).get("HomeCurrency") or {}).get("value") or "").upper()


def _multicurrency(prefs: dict) -> bool | None:
    value = (prefs.get("CurrencyPrefs") or {}).get("MultiCurrencyEnabled")
    return None if value is None else bool(value)


def customer_currency(customer: dict, prefs: dict) -> str | None:
    """A customer's currency: its CurrencyRef; the home currency while multicurrency is off;
    None (unknown) when multicurrency is on and the record carries none."""
    ref = str((customer.get("CurrencyRef") or {}).get("value") or "").upper()
    if ref:
        return ref
    return _home(prefs) if _multicurrency(prefs) is False else None


class CurrencyMismatch(Rule):
    id = "currency-mismatch"
    order = 25
    fault_codes = ("6000",)  # with the text: 6000 is every business validation error
    GENERIC_TITLES = words({"en": "QuickBooks can't take the invoice's currency"})
    patterns = {
        "en": (r"currency of the transaction is invalid", r"only use one foreign currency per transaction"),
        # Not quoted anywhere we found: the words such a translation must contain.
        "nl": (r"valuta van de transactie is (?:ongeldig|niet geldig)", r"(?:maar )?een vreemde valuta per transactie"),
        "es": (r"moneda de la transaccion no es valida", r"una (?:sola )?moneda extranjera por transaccion"),
    }
    TEXTS = words({
        "en": {
            "title": "Invoice {number}: QuickBooks can't take {currency}",
            "text_off": "HubSpot could not sync invoice {number}: it is in {currency}, but the QuickBooks Online "
                        "company works only in its home currency, {home} (multicurrency is off). Either issue the "
                        "invoice in {home} in HubSpot, or have your accountant decide on multicurrency in QuickBooks "
                        "(" + CURRENCY_PATH["en"] + "). " + NEVER["en"],
            "text": "HubSpot could not sync invoice {number}: it is in {currency}, but the QuickBooks customer it "
                    "bills, {customer} (Id {customer_id}), is in {customer_currency}. A QuickBooks customer has one "
                    "currency, so this contact needs a customer in {currency}.",
            "generic": "QuickBooks Online refused the invoice's currency: either multicurrency is off and the invoice "
                       "is not in the home currency, or the customer is in another currency than the invoice.",
            "steps": ["If multicurrency is off in QuickBooks (" + CURRENCY_PATH["en"] + "), issue the invoice in the "
                      "home currency. " + NEVER["en"],
                      "If it is on, give the contact a QuickBooks customer in the invoice's currency (same email), "
                      "then let the integration try again."],
            "fixes": {"create-customer-in-currency": {
                "label": "Create QBO customer {new_name} in {currency}",
                "confirm": "Creates QuickBooks customer {new_name} in {currency} with email {email} (a name taken "
                           "gets a number). {customer} stays as it is, in {customer_currency}. Invoice {number} then "
                           "syncs to the new customer."}},
        },
    })

    def check(self, facts):
        inv = facts.invoice
        currency = (inv.currency or "").strip().upper()
        home = _home(facts.preferences)
        multi = _multicurrency(facts.preferences)
        if facts.counterpart is not None or not currency or not home or multi is None:
            return None
        base = {"invoice_currency": currency, "home_currency": home, "multicurrency": multi,
                "settings_path": CURRENCY_PATH["en"]}
        if not multi:
            if currency == home:
                return None
            return Finding(self.id, inv.id, inv.number, {"currency": currency, "home": home, "kind": "off"},
                           dict(base, kind="multicurrency-off"))
        if not facts.customers:
            return None  # the integration creates a customer, in the invoice's currency
        currencies = [customer_currency(c, facts.preferences) for c in facts.customers]
        if None in currencies or currency in currencies:
            return None  # unknown, or a customer in the invoice's currency exists
        c = facts.customers[0]
        customer = {"id": str(c["Id"]), "name": c.get("DisplayName", ""), "email": email_of(c),
                    "currency": currencies[0]}
        company = inv.company.name if inv.company and inv.company.name else ""
        summary = {"currency": currency, "home": home, "kind": "customer", "customer": customer["name"],
                   "customer_id": customer["id"], "customer_currency": customer["currency"],
                   "email": facts.email, "new_name": f"{customer['name']} ({currency})"}
        return Finding(self.id, inv.id, inv.number, summary,
                       dict(base, kind="customer-currency", customer=customer, contact=contact_evidence(facts),
                            company=company))

    def text_key(self, finding):
        return "text_off" if finding.evidence.get("kind") == "multicurrency-off" else "text"

    def fixes(self, finding, lang="en"):
        if finding.evidence.get("kind") != "customer-currency":
            return []
        return [make_fix(self, finding, "create-customer-in-currency", lang, {},
                         create_in_currency_work(finding))]

    def not_offered(self, finding, lang="en"):
        if finding.evidence.get("kind") == "multicurrency-off":
            return [NEVER[lang_of(lang)]]
        return []


def create_in_currency_work(finding: Finding):
    """Create the contact's QBO customer in the invoice's currency, checked again at the moment
    of writing: multicurrency still on, and no active customer with the email in that currency
    yet (then nothing is written)."""
    ev = finding.evidence
    currency, email = ev["invoice_currency"], ev["contact"]["email"]

    def work(ctx: FixContext) -> FixResult:
        lang = lang_of(ctx.lang)
        if not (email or "").strip():
            raise ValidationFailed("qbo", "the contact has no email; qbsync never creates a customer with a blank email",
                                   words="no_email_customer")
        prefs = ctx.qbo.preferences()
        if not _multicurrency(prefs):
            raise ValidationFailed("qbo", "multicurrency is off in QuickBooks now; qbsync never turns it on",
                                   words="multicurrency_off")
        for c in ctx.qbo.customers_by_email([email]).get(email.lower(), []):
            if c.get("Active", True) and customer_currency(c, prefs) == currency:
                return FixResult(True, already(lang, "customer_in_currency", name=c.get("DisplayName"), id=c["Id"],
                                               email=email, currency=currency))
        contact = ev["contact"]
        name = free_display_name(ctx.qbo, [f"{ev['customer']['name']} ({currency})"])
        body = {"DisplayName": name, "PrimaryEmailAddr": {"Address": email}, "CurrencyRef": {"value": currency}}
        for key, field in (("GivenName", "firstname"), ("FamilyName", "lastname")):
            if contact.get(field):
                body[key] = contact[field][:100]
        if ev.get("company"):
            body["CompanyName"] = ev["company"][:100]
        created = ctx.qbo.create("Customer", body, request_id=request_id(
            finding.invoice_id, finding.rule, "create-customer-in-currency", finding.evidence))
        return FixResult(True, render(CREATED[lang], {"name": created.get("DisplayName"), "id": created.get("Id"),
                                                      "currency": currency, "email": email}),
                         {"qbo_customer_created": {"id": str(created.get("Id")), "name": created.get("DisplayName"),
                                                   "email": email, "currency": currency}})
    return work


RULE = CurrencyMismatch()
