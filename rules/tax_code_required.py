"""tax-code-required: a QuickBooks Online company outside the US that charges tax (GST/HST,
VAT, ...) needs a tax code on every invoice line, and HubSpot's invoice sync sends none, so QBO
refuses the invoice with code 6000:
  "Business Validation Error: Make sure all your transactions have a GST/HST rate before you
  save." (Canada; activepieces/activepieces#8539, ruckus/quickbooks-ruby#351), the same with
  "a VAT rate" (UK; intuit/quickbooks-online-mcp-server#94), or "One or more transaction lines
  do not have a tax code associated with it. Please assign a tax code for those lines"
  (ruckus/quickbooks-ruby#322). /work/shared/knowledge/real-failures.md lists them.
HubSpot's "Set up two way invoice sync with QuickBooks Online" article: "most non-U.S.
QuickBooks Online versions require that synced invoices include tax ... HubSpot invoices can't
be created with tax, so users with non-U.S. QuickBooks Online accounts won't be able to use
this feature", and "If tax is needed on an invoice, it's recommended that the invoices are
created in QuickBooks and synced to HubSpot."

Data: CompanyInfo.Country is known and not US, and Preferences TaxPrefs.UsingSalesTax is not
reported false (absent counts: HubSpot says non-US accounts can't use the feature at all).
Fix: none by API (no tax code can be added to a HubSpot invoice); the explanation says where
to change course: HubSpot's invoice sync, QuickBooks' tax settings.
Localised texts: QBO's Dutch and Spanish wording is not quoted anywhere we found; the nl/es
patterns are our guesses on the words such a text must contain, and a fault body's code 6000
plus the English text is how real answers reach us.
"""
from __future__ import annotations

from .base import Finding, Rule
from .revenue_recognition import preference_state
from .text import lang_of
from .catalog import words

TAX_PREF = ("TaxPrefs", "UsingSalesTax")
TAX_NAMES = {"CA": "GST/HST", "GB": "VAT", "UK": "VAT", "IE": "VAT", "AU": "GST", "NZ": "GST", "IN": "GST",
             "FR": "TVA", "ES": "IVA", "NL": "btw"}

PLACES = words({
    "en": ["In HubSpot, turn off invoice sync in the QuickBooks Online integration's settings (its Invoices "
           "section): HubSpot says non-US QuickBooks Online accounts can't use invoice sync.",
           "Create invoices that need {tax} in QuickBooks Online (it picks the tax code per line); HubSpot recommends "
           "creating them there and syncing them to HubSpot. The company's tax setup is under Taxes in QuickBooks' "
           "left menu."],
})


class TaxCodeRequired(Rule):
    id = "tax-code-required"
    order = 15  # nothing else can make the invoice sync while this holds
    fault_codes = ("6000",)  # with one of the texts: 6000 is every business validation error
    GENERIC_TITLES = words({"en": "QuickBooks needs a tax code on every invoice line"})
    patterns = {
        # "a GST/HST rate" (CA), "a VAT rate" (UK); other regions name their own tax there.
        "en": (r"transactions have an? [a-z/ .-]{2,30} rate before you save",
               r"do(?:es)? not have a tax code associated", r"please assign a tax code"),
        "nl": (r"(?:btw|belasting)[- ]?(?:tarief|code).{0,60}(?:opslaan|voordat)",
               r"(?:regel|regels).{0,60}geen (?:btw|belasting)[- ]?code"),
        "es": (r"(?:tasa|tipo|codigo) de (?:iva|impuesto).{0,60}antes de guardar",
               r"lineas?.{0,60}no tienen? (?:un )?codigo de impuesto"),
    }
    TEXTS = words({
        "en": {
            "title": "Invoice {number}: QuickBooks ({country}) needs {tax} on every line",
            "text": "HubSpot could not sync invoice {number}: the QuickBooks Online company is in {country} and "
                    "charges tax, so QuickBooks wants a {tax} rate on every invoice line, and HubSpot invoices "
                    "cannot carry one. qbsync cannot fix this by itself. " + " ".join(PLACES["en"]),
            "generic": "QuickBooks Online refused the invoice because its lines have no tax code. QuickBooks companies "
                       "outside the US that charge tax (GST/HST, VAT, ...) need one on every line, and HubSpot "
                       "invoices cannot carry one.",
            "steps": PLACES["en"],
        },
    })

    def check(self, facts):
        country = str((facts.company_info or {}).get("Country") or "").strip().upper()
        if facts.counterpart is not None or not country or country in ("US", "USA"):
            return None
        using_tax = preference_state(facts.preferences, TAX_PREF)
        if using_tax is False:
            return None
        inv = facts.invoice
        tax = TAX_NAMES.get(country, "sales tax")
        evidence = {"country": country, "company": (facts.company_info or {}).get("CompanyName", ""),
                    "preference": ".".join(TAX_PREF), "value": using_tax,
                    "lines_without_tax_code": [li.name for li in inv.line_items]}
        return Finding(self.id, inv.id, inv.number, {"country": country, "tax": tax}, evidence)

    def steps(self, lang="en"):
        # No invoice at hand (explain TEXT): the tax's name is not known.
        word = TAX_UNNAMED[lang_of(lang)]
        return [s.replace("{tax}", word) for s in super().steps(lang)]

    def not_offered(self, finding, lang="en"):
        return [NOT_OFFERED[lang_of(lang)]]


# "tax" as the name of a tax QuickBooks wants on every line ("belasting", not the "btw" of a
# line-difference label): its own msgctxt.
TAX_UNNAMED = words({"en": "tax"}, context="tax-code-required: unnamed tax")
NOT_OFFERED = words({"en": "No API fix: a HubSpot invoice cannot carry a tax code, and qbsync never changes "
                           "QuickBooks' tax setup."})

RULE = TaxCodeRequired()
