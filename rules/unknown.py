"""unknown: anything no other rule explains. From text: still worth an alert (with the raw
text, escaped by the renderer), never a crash. From data: an invoice that is missing from QBO
past the grace period while no known cause holds."""
from __future__ import annotations

from datetime import timezone

from .base import Finding, Rule
from .revenue_recognition import PREF as REVREC_PREF, preference_state


class Unknown(Rule):
    id = "unknown"
    order = 99
    GENERIC_TITLES = {'en': 'An error qbsync does not recognise', 'nl': 'Een fout die qbsync niet herkent', 'es': 'Un error que qbsync no reconoce'}
    TEXTS = {
        "en": {"title": "Invoice {number} is not in QuickBooks, for a reason qbsync does not recognise",
               "text": "Invoice {number} ({contact}) should be in QuickBooks Online by now but is not, and none of "
                       "the known causes holds: the contact has a QuickBooks customer, no other document uses the "
                       "number, Revenue Recognition is off. Check the invoice's Integrations sync card in HubSpot "
                       "for the error text and run `qbsync explain` on it.",
               "text_revrec_unread": "Invoice {number} ({contact}) should be in QuickBooks Online by now but is "
                       "not, and none of the known causes holds: the contact has a QuickBooks customer, no other "
                       "document uses the number. Whether Revenue Recognition is on is unknown: QuickBooks' "
                       "Preferences do not report it (ProductAndServicesPrefs.RevenueRecognitionEnabled); look under "
                       "Settings > Account and settings > Sales > Products and services. Check the invoice's "
                       "Integrations sync card in HubSpot for the error text and run `qbsync explain` on it.",
               "generic": "qbsync does not recognise this error. It is kept as is so a person can look at it.",
               "code": "QuickBooks fault code: {code}.",
               "steps": ["Check the invoice's Integrations sync card in HubSpot for the full error text.",
                         "Correct the record QuickBooks or HubSpot names, then let the integration try again."]},
        "nl": {"title": "Factuur {number} staat niet in QuickBooks, om een reden die qbsync niet kent",
               "text": "Factuur {number} ({contact}) had al in QuickBooks Online moeten staan maar staat er niet, en "
                       "geen van de bekende oorzaken geldt: de contactpersoon heeft een QuickBooks-klant, geen ander "
                       "document gebruikt het nummer, Revenue Recognition staat uit. Bekijk de Integrations sync-kaart "
                       "van de factuur in HubSpot voor de fouttekst en voer `qbsync explain` daarop uit.",
               "text_revrec_unread": "Factuur {number} ({contact}) had al in QuickBooks Online moeten staan maar "
                       "staat er niet, en geen van de bekende oorzaken geldt: de contactpersoon heeft een "
                       "QuickBooks-klant, geen ander document gebruikt het nummer. Of Revenue Recognition aan staat is "
                       "onbekend: de Preferences van QuickBooks melden het niet "
                       "(ProductAndServicesPrefs.RevenueRecognitionEnabled); kijk onder Settings > Account and "
                       "settings > Sales > Products and services. Bekijk de Integrations sync-kaart van de factuur in "
                       "HubSpot voor de fouttekst en voer `qbsync explain` daarop uit.",
               "generic": "qbsync herkent deze fout niet. Hij wordt bewaard zoals hij is, zodat iemand ernaar kan kijken.",
               "code": "QuickBooks-foutcode: {code}.",
               "steps": ["Bekijk de Integrations sync-kaart van de factuur in HubSpot voor de volledige fouttekst.",
                         "Corrigeer het record dat QuickBooks of HubSpot noemt en laat de integratie het opnieuw proberen."]},
        "es": {"title": "La factura {number} no está en QuickBooks, por un motivo que qbsync no reconoce",
               "text": "La factura {number} ({contact}) ya debería estar en QuickBooks Online y no está, y no se cumple "
                       "ninguna causa conocida: el contacto tiene cliente en QuickBooks, ningún otro documento usa el "
                       "número, Revenue Recognition está desactivado. Revisa la tarjeta de sincronización de "
                       "integraciones de la factura en HubSpot y ejecuta `qbsync explain` con el texto del error.",
               "text_revrec_unread": "La factura {number} ({contact}) ya debería estar en QuickBooks Online y no "
                       "está, y no se cumple ninguna causa conocida: el contacto tiene cliente en QuickBooks, ningún "
                       "otro documento usa el número. No se sabe si Revenue Recognition está activado: las "
                       "Preferences de QuickBooks no lo informan (ProductAndServicesPrefs.RevenueRecognitionEnabled); "
                       "mira en Settings > Account and settings > Sales > Products and services. Revisa la tarjeta "
                       "de sincronización de integraciones de la factura en HubSpot y ejecuta `qbsync explain` con "
                       "el texto del error.",
               "generic": "qbsync no reconoce este error. Se conserva tal cual para que alguien lo revise.",
               "code": "Código de error de QuickBooks: {code}.",
               "steps": ["Revisa la tarjeta de sincronización de integraciones de la factura en HubSpot para ver el texto completo.",
                         "Corrige el registro que indica QuickBooks o HubSpot y deja que la integración lo reintente."]},
    }

    def text_key(self, finding):
        # "Revenue Recognition is off" only when QBO said so (rules/revenue_recognition.py).
        return "text_revrec_unread" if finding.evidence.get("revenue_recognition") == "unknown" else "text"

    def generic_details(self, classification, lang):
        return [self.texts(lang)["code"].replace("{code}", classification.code)] if classification.code else []


def missing_finding(facts) -> Finding:
    inv = facts.invoice
    created = inv.created_at if inv.created_at.tzinfo else inv.created_at.replace(tzinfo=timezone.utc)
    contact = facts.contact
    evidence = {"reason": "missing from QuickBooks past the grace period; no known cause holds",
                "created_at": created.isoformat(),
                "contact": {"id": contact.id, "name": contact.name, "email": contact.email} if contact else None,
                "qbo_customers_with_email": [str(c["Id"]) for c in facts.customers],
                "revenue_recognition": {True: "on", False: "off", None: "unknown"}[
                    preference_state(facts.preferences, REVREC_PREF)]}
    return Finding("unknown", inv.id, inv.number, {"contact": contact.name if contact else "-"}, evidence)


RULE = Unknown()
