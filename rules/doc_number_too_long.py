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

PREFIX = {
    "en": "In HubSpot's invoice settings, shorten the invoice number prefix so numbers stay within 21 characters.",
    "nl": "Maak in de factuurinstellingen van HubSpot het voorvoegsel van factuurnummers korter, zodat nummers "
          "binnen 21 tekens blijven.",
    "es": "En la configuración de facturas de HubSpot, acorta el prefijo del número de factura para que los números "
          "no pasen de 21 caracteres.",
}


class DocNumberTooLong(Rule):
    id = "doc-number-too-long"
    order = 35
    # 2050 is any string-length fault: rules/classify.py leaves one naming another field, or
    # another maximum than 21, unknown.
    fault_codes = ("2050",)
    GENERIC_TITLES = {"en": "The invoice number is too long for QuickBooks",
                      "nl": "Het factuurnummer is te lang voor QuickBooks",
                      "es": "El número de factura es demasiado largo para QuickBooks"}
    patterns = {
        # QBO's Detail carries the numbers in every language: "Min:0 Max:21 supported".
        "en": (r"max:\s*21 supported", r"docnumber.{0,40}(?:too long|string length)",
               r"string length .{0,120}max:\s*21\b"),
        "nl": (r"(?:tekenreeks|lengte).{0,120}max(?:imaal|imum)?:?\s*21\b",),
        "es": (r"(?:longitud|cadena).{0,120}max(?:imo)?:?\s*21\b",),
    }
    TEXTS = {
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
        "nl": {
            "title": "Factuur {number}: het nummer heeft {length} tekens, QuickBooks neemt er 21",
            "text": "HubSpot kon factuur {number} niet synchroniseren: Custom transaction numbers staat aan in "
                    "QuickBooks Online, dus QuickBooks neemt het nummer van HubSpot over, en {number} is {length} tekens "
                    "lang terwijl QuickBooks er 21 toestaat. " + PREFIX["nl"] + " Of zet Custom transaction numbers "
                    "uit, zodat QuickBooks facturen zelf nummert. " + PATH["nl"],
            "generic": "QuickBooks Online weigerde een te lange waarde. Met de grens van 21 tekens is het het "
                       "factuurnummer (DocNumber): het nummer van HubSpot is langer dan QuickBooks toestaat terwijl "
                       "Custom transaction numbers aan staat.",
            "steps": [PREFIX["nl"], "Of zet Custom transaction numbers uit, zodat QuickBooks facturen zelf nummert. "
                      + PATH["nl"]],
            "fixes": {"disable-custom-txn-numbers": {
                "label": "Zet Custom transaction numbers uit in QBO",
                "confirm": "Zet Custom transaction numbers uit voor het hele QuickBooks-bedrijf: QuickBooks nummert "
                           "voortaan elke nieuwe factuur en elk verkoopformulier zelf, dus de nummers wijken af van "
                           "HubSpot. Factuur {number} synchroniseert daarna met een QuickBooks-nummer."}},
        },
        "es": {
            "title": "Factura {number}: el número tiene {length} caracteres, QuickBooks admite 21",
            "text": "HubSpot no pudo sincronizar la factura {number}: Custom transaction numbers está activado en "
                    "QuickBooks Online, así que QuickBooks toma el número de HubSpot, y {number} tiene {length} "
                    "caracteres cuando QuickBooks admite 21. " + PREFIX["es"] + " O desactiva Custom transaction "
                    "numbers para que QuickBooks numere las facturas. " + PATH["es"],
            "generic": "QuickBooks Online rechazó un valor demasiado largo. Con el límite de 21 caracteres es el "
                       "número de factura (DocNumber): el de HubSpot es más largo de lo que QuickBooks admite mientras "
                       "Custom transaction numbers está activado.",
            "steps": [PREFIX["es"], "O desactiva Custom transaction numbers para que QuickBooks numere las facturas. "
                      + PATH["es"]],
            "fixes": {"disable-custom-txn-numbers": {
                "label": "Desactivar Custom transaction numbers en QBO",
                "confirm": "Desactiva Custom transaction numbers en toda la empresa de QuickBooks: desde ahora "
                           "QuickBooks numera cada factura y formulario de venta nuevo, así que sus números ya no "
                           "coinciden con los de HubSpot. La factura {number} se sincroniza luego con un número de "
                           "QuickBooks."}},
        },
    }

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
