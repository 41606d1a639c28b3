"""revenue-recognition-service-date: QBO's Revenue Recognition is on, so every invoice line
needs a service date, which HubSpot line items cannot carry (QBO fault 6000, "Business
Validation Error: Enter a service date for the revenue recognition line item").

Data: Preferences ProductAndServicesPrefs.RevenueRecognition is true.
Fix: turn it off through the Preferences API (sparse, current SyncToken). Whether QBO lets
an app change it is not documented; when it refuses, the result gives the settings path from
Intuit's help article "Turn on revenue recognition in QuickBooks Online" (Settings > Account
and settings > Sales > Products and services > Edit > Revenue recognition; QBO Advanced).
"""
from __future__ import annotations

from bot.errors import ValidationFailed

from .base import Finding, FixContext, FixResult, Rule
from .fixes import make_fix, msg
from .text import lang_of, request_id

PREF = ("ProductAndServicesPrefs", "RevenueRecognition")

PATH = {
    "en": "In QuickBooks Online go to Settings ⚙ > Account and settings > Sales > Products and services > Edit ✎, "
          "turn off Revenue recognition, then Save and Done.",
    "nl": "Ga in QuickBooks Online naar Settings ⚙ > Account and settings > Sales > Products and services > Edit ✎, "
          "zet Revenue recognition uit en kies Save en Done.",
    "es": "En QuickBooks Online ve a Settings ⚙ > Account and settings > Sales > Products and services > Edit ✎, "
          "desactiva Revenue recognition y elige Save y Done.",
}
REFUSED = {
    "en": "QuickBooks did not let qbsync turn Revenue Recognition off ({detail}). Please do it yourself: {path}",
    "nl": "QuickBooks stond qbsync niet toe Revenue Recognition uit te zetten ({detail}). Doe het zelf: {path}",
    "es": "QuickBooks no permitió a qbsync desactivar Revenue Recognition ({detail}). Hazlo tú: {path}",
}
DONE = {
    "en": "Revenue Recognition is now off in QuickBooks Online.",
    "nl": "Revenue Recognition staat nu uit in QuickBooks Online.",
    "es": "Revenue Recognition está ahora desactivado en QuickBooks Online.",
}


class RevenueRecognition(Rule):
    id = "revenue-recognition-service-date"
    order = 20
    GENERIC_TITLES = {'en': "QuickBooks' Revenue Recognition needs a service date", 'nl': 'Revenue Recognition in QuickBooks vraagt een servicedatum', 'es': 'El reconocimiento de ingresos de QuickBooks exige fecha de servicio'}
    fault_codes = ("6000",)  # only with the service-date text: 6000 is every business validation error
    patterns = {
        "en": (r"service date for the revenue recognition", r"revenue recognition line item"),
        "nl": (r"servicedatum in voor de regel voor (?:opbrengsterkenning|inkomstenherkenning)",
               r"servicedatum.{0,40}(?:opbrengsterkenning|inkomstenherkenning)"),
        "es": (r"fecha de servicio para el elemento de pedido de reconocimiento de ingresos",
               r"fecha de servicio.{0,60}reconocimiento de ingresos"),
    }
    TEXTS = {
        "en": {
            "title": "Invoice {number}: QuickBooks' Revenue Recognition needs a service date",
            "text": "HubSpot could not sync invoice {number}: Revenue Recognition is on in QuickBooks Online, so "
                    "every invoice line needs a service date, and HubSpot line items cannot carry one. Turn Revenue "
                    "Recognition off and do revenue-recognition reporting separately. " + PATH["en"],
            "generic": "QuickBooks Online's Revenue Recognition is on, so every invoice line needs a service date; "
                       "HubSpot line items cannot carry one, so HubSpot invoices cannot sync.",
            "steps": ["Turn Revenue Recognition off and do revenue-recognition reporting separately. " + PATH["en"]],
            "fixes": {"disable-revenue-recognition": {
                "label": "Turn off Revenue Recognition in QBO",
                "confirm": "Turns off Revenue Recognition for the whole QuickBooks company (Preferences: "
                           "RevenueRecognition true -> false). Existing schedules stay; new invoices need no "
                           "service date. Invoice {number} then syncs."}},
        },
        "nl": {
            "title": "Factuur {number}: Revenue Recognition in QuickBooks vraagt een servicedatum",
            "text": "HubSpot kon factuur {number} niet synchroniseren: Revenue Recognition (opbrengsterkenning) "
                    "staat aan in QuickBooks Online, dus elke factuurregel heeft een servicedatum nodig, en "
                    "HubSpot-regelitems kunnen die niet hebben. Zet het uit en doe de rapportage over "
                    "opbrengsterkenning apart. " + PATH["nl"],
            "generic": "Revenue Recognition (opbrengsterkenning) staat aan in QuickBooks Online, dus elke factuurregel "
                       "heeft een servicedatum nodig; HubSpot-regelitems kunnen die niet hebben.",
            "steps": ["Zet Revenue Recognition uit en doe de rapportage over opbrengsterkenning apart. " + PATH["nl"]],
            "fixes": {"disable-revenue-recognition": {
                "label": "Zet Revenue Recognition uit in QBO",
                "confirm": "Zet Revenue Recognition uit voor het hele QuickBooks-bedrijf (voorkeur "
                           "RevenueRecognition waar -> onwaar). Bestaande schema's blijven; nieuwe facturen hebben "
                           "geen servicedatum nodig. Factuur {number} synchroniseert daarna."}},
        },
        "es": {
            "title": "Factura {number}: el reconocimiento de ingresos de QuickBooks exige fecha de servicio",
            "text": "HubSpot no pudo sincronizar la factura {number}: Revenue Recognition (reconocimiento de "
                    "ingresos) está activado en QuickBooks Online, así que cada línea necesita una fecha de servicio, "
                    "y los elementos de pedido de HubSpot no pueden tenerla. Desactívalo y haz los informes de "
                    "reconocimiento de ingresos por separado. " + PATH["es"],
            "generic": "Revenue Recognition (reconocimiento de ingresos) está activado en QuickBooks Online, así que "
                       "cada línea de factura necesita una fecha de servicio; las de HubSpot no pueden tenerla.",
            "steps": ["Desactiva Revenue Recognition y haz los informes de reconocimiento de ingresos por separado. "
                      + PATH["es"]],
            "fixes": {"disable-revenue-recognition": {
                "label": "Desactivar Revenue Recognition en QBO",
                "confirm": "Desactiva Revenue Recognition en toda la empresa de QuickBooks (preferencia "
                           "RevenueRecognition verdadero -> falso). Los calendarios existentes se mantienen. "
                           "La factura {number} se sincroniza luego."}},
        },
    }

    def check(self, facts):
        if facts.counterpart is not None or not facts.pref(".".join(PREF)):
            return None
        inv = facts.invoice
        evidence = {"preference": ".".join(PREF), "value": True, "settings_path": PATH["en"],
                    "lines": [li.name for li in inv.line_items]}
        return Finding(self.id, inv.id, inv.number, {"lines": len(inv.line_items)}, evidence)

    def fixes(self, finding, lang="en"):
        rid = request_id(finding.invoice_id, self.id, "disable-revenue-recognition", finding.evidence)
        return [make_fix(self, finding, "disable-revenue-recognition", lang, {},
                         preference_off_work(PREF, rid, DONE, REFUSED, PATH),
                         hint=lambda exc, lang: PATH[lang_of(lang)])]


def preference_off_work(path: tuple[str, str], rid: str, done: dict, refused: dict, where: dict):
    """Turn a boolean preference off (sparse update with the current SyncToken); when QBO
    refuses, say where in QBO to do it by hand."""
    section, name = path

    def work(ctx: FixContext) -> FixResult:
        lang = lang_of(ctx.lang)
        prefs = ctx.qbo.preferences()
        if not (prefs.get(section) or {}).get(name):
            return FixResult(True, msg(lang, "already", what=f"{section}.{name} is off"))
        body = {"SyncToken": prefs.get("SyncToken"), "sparse": True, section: {name: False}}
        try:
            ctx.qbo.update_preferences(body, request_id=rid)
        except ValidationFailed as exc:
            detail = "; ".join(x for x in (exc.message, exc.detail, f"code {exc.code}" if exc.code else "") if x)
            return FixResult(False, refused[lang].format(detail=detail, path=where[lang]))
        return FixResult(True, done[lang], {"qbo_preference": {"path": f"{section}.{name}", "from": True, "to": False}})
    return work


RULE = RevenueRecognition()
