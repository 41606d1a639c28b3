"""unknown: anything no other rule explains. From text: still worth an alert (with the raw
text, escaped by the renderer), never a crash. From data: an invoice that is missing from QBO
past the grace period while no known cause holds."""
from __future__ import annotations

from datetime import timezone

from .base import Finding, Rule
from .revenue_recognition import PREF as REVREC_PREF, preference_state
from .catalog import words


class Unknown(Rule):
    id = "unknown"
    order = 99
    GENERIC_TITLES = words({'en': 'An error qbsync does not recognise'})
    TEXTS = words({
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
    })

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
