"""doc-number-too-long: the HubSpot invoice number is longer than QBO's 21 characters for a
DocNumber while Custom transaction numbers is on (so the integration sends HubSpot's number).
QBO refuses with code 2050 "String length is either shorter or longer than supported by
specification", Detail "... Min:0 Max:21 supported. Supplied length:N"
(consolibyte/quickbooks-php#79; quickbooks-ruby PR #436; real-failures.md).

Data: SalesFormsPrefs.CustomTxnNumbers is on and len(hs_number) > 21.
Remedies, both named: a shorter invoice number prefix in HubSpot's invoice settings (HubSpot
article "Set up the HubSpot invoices tool": invoice numbers take the account's prefix), or
Custom transaction numbers off in QuickBooks, which qbsync can do through the Preferences API
(the same write duplicate-doc-number offers), with a confirm text saying what else changes: QBO
numbers every future sales form itself. Renaming the HubSpot invoice is no fix: a finalized
invoice's number does not change.
"""
from __future__ import annotations

from .base import Finding, Rule
from .duplicate_doc_number import DOC_NUMBER_MAX, DONE, PATH, PREF, REFUSED
from .fixes import make_fix
from .revenue_recognition import preference_off_work
from .text import lang_of, request_id
from .catalog import words

PREFIX = words({
    "en": "In HubSpot's invoice settings, shorten the invoice number prefix so numbers stay within 21 characters.",
})


class DocNumberTooLong(Rule):
    id = "doc-number-too-long"
    order = 35
    # 2050 is any string-length fault: rules/classify.py leaves one naming another field, or
    # another maximum than 21, unknown.
    fault_codes = ("2050",)
    GENERIC_TITLES = words({"en": "The invoice number is too long for QuickBooks"})
    patterns = {
        # QBO's Detail carries the numbers in every language: "Min:0 Max:21 supported".
        "en": (r"max:\s*21 supported", r"docnumber.{0,40}(?:too long|string length)",
               r"string length .{0,120}max:\s*21\b"),
        "nl": (r"(?:tekenreeks|lengte).{0,120}max(?:imaal|imum)?:?\s*21\b",),
        "es": (r"(?:longitud|cadena).{0,120}max(?:imo)?:?\s*21\b",),
    }
    TEXTS = words({
        "en": {
            "title": "Invoice {number}: the number is {length} characters, QuickBooks takes 21",
            "text": "HubSpot could not sync invoice {number}: Custom transaction numbers is on in QuickBooks Online, "
                    "so QuickBooks takes HubSpot's number, and {number} is {length} characters long while QuickBooks "
                    "allows 21. " + PREFIX["en"] + " Or turn Custom transaction numbers off, so QuickBooks numbers "
                    "invoices itself. " + PATH["en"],
            "generic": "QuickBooks Online refused a value that is too long. With the 21-character limit it is the "
                       "invoice number (DocNumber): HubSpot's number is longer than QuickBooks allows while Custom "
                       "transaction numbers is on.",
            "steps": [PREFIX["en"], "Or turn Custom transaction numbers off, so QuickBooks numbers invoices itself. "
                      + PATH["en"]],
            "fixes": {"disable-custom-txn-numbers": {
                "label": "Turn off Custom transaction numbers in QBO",
                "confirm": "Turns off Custom transaction numbers for the whole QuickBooks company: from now on "
                           "QuickBooks numbers every new invoice and sales form itself, so QuickBooks numbers no "
                           "longer match HubSpot's. Invoice {number} then syncs with a QuickBooks number."}},
        },
    })

    def check(self, facts):
        inv = facts.invoice
        if facts.counterpart is not None or not facts.pref(".".join(PREF)) or len(inv.number or "") <= DOC_NUMBER_MAX:
            return None
        evidence = {"doc_number": inv.number, "length": len(inv.number), "max": DOC_NUMBER_MAX,
                    "preference": ".".join(PREF), "value": True, "settings_path": PATH["en"],
                    "hubspot_remedy": PREFIX["en"]}
        return Finding(self.id, inv.id, inv.number, {"length": len(inv.number)}, evidence)

    def fixes(self, finding, lang="en"):
        rid = request_id(finding.invoice_id, self.id, "disable-custom-txn-numbers", finding.evidence)
        return [make_fix(self, finding, "disable-custom-txn-numbers", lang, {},
                         preference_off_work(PREF, rid, DONE, REFUSED, PATH),
                         hint=lambda exc, lang: PATH[lang_of(lang)])]


RULE = DocNumberTooLong()
