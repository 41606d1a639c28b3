"""missing-customer: the invoice's contact has no active QBO customer with its email.

HubSpot's heading (en): "An invoice should have an associated customer. Make sure the
associated customer is present in both HubSpot & QuickBooks Online to sync this invoice"
(older: "An invoice must have an associated customer ..."). The integration looks the
contact up in QBO by email only; usually the customer exists under another email.
"""
from __future__ import annotations

from .base import Finding, FixContext, FixResult, Rule
from .fixes import (contact_evidence, create_customer_work, make_fix, msg, switch_contact_work,
                    switch_target)
from .text import lang_of, render
from .view import email_of

WHY = {
    "en": {"same name": "same name", "same company": "same company", "same email domain": "same email domain",
           "holds the name the integration would give this contact": "holds the name the integration would give this contact"},
    "nl": {"same name": "zelfde naam", "same company": "zelfde bedrijf", "same email domain": "zelfde e-maildomein",
           "holds the name the integration would give this contact": "draagt de naam die de integratie deze contactpersoon zou geven"},
    "es": {"same name": "mismo nombre", "same company": "misma empresa", "same email domain": "mismo dominio de correo",
           "holds the name the integration would give this contact": "tiene el nombre que la integración daría a este contacto"},
}


class MissingCustomer(Rule):
    id = "missing-customer"
    order = 10
    GENERIC_TITLES = {'en': "No QuickBooks customer has the contact's email", 'nl': 'Geen QuickBooks-klant heeft het e-mailadres van de contactpersoon', 'es': 'Ningún cliente de QuickBooks tiene el correo del contacto'}
    patterns = {
        "en": (r"an invoice (?:should|must) have an associated customer",
               r"make sure the associated customer is present in both hubspot"),
        "nl": (r"een factuur moet een gekoppelde klant hebben",
               r"zorg ervoor dat de gekoppelde klant aanwezig is"),
        "es": (r"una factura debe tener un cliente asociado",
               r"asegurate de que el cliente asociado esta presente"),
    }
    TEXTS = {
        "en": {
            "title": "Invoice {number}: no QuickBooks customer has the email of {contact}",
            "text": "HubSpot could not sync invoice {number}: its contact {contact} ({email}) has no customer in "
                    "QuickBooks Online with that email, and the integration finds customers by email only. "
                    "The likely match in QuickBooks is customer {customer} (Id {customer_id}, email "
                    "{customer_email}): {why}.",
            "text_none": "HubSpot could not sync invoice {number}: its contact {contact} ({email}) has no customer "
                         "in QuickBooks Online with that email, and the integration finds customers by email only. "
                         "No QuickBooks customer looks like a match.",
            "generic": "HubSpot could not find a QuickBooks Online customer with the email of the invoice's contact. "
                       "The integration matches customers by email only; usually the customer exists in QuickBooks "
                       "under another email.",
            "steps": ["Change the invoice's contact in HubSpot to the contact whose email the QuickBooks customer has.",
                      "Or set the matching QuickBooks customer's email to the contact's email.",
                      "Or create the customer in QuickBooks from the HubSpot contact.",
                      "`qbsync explain --invoice NUMBER` names the records involved."],
            "fixes": {
                "set-customer-email": {
                    "label": "Give QBO customer {customer} the email {email}",
                    "confirm": "QuickBooks customer {customer} (Id {customer_id}): email {customer_email} becomes "
                               "{email}. Nothing else changes. HubSpot then syncs invoice {number} to this customer."},
                "create-customer": {
                    "label": "Create a QBO customer for {contact}",
                    "confirm": "Creates QuickBooks customer {new_name} (or the next free name) with email {email} "
                               "for {contact}. HubSpot then syncs invoice {number} to it."},
                "switch-contact": {
                    "label": "Bill invoice {number} to {target_name} instead",
                    "confirm": "Invoice {number} in HubSpot: contact {contact} ({email}) is replaced by "
                               "{target_name} ({target_email}), who matches QuickBooks customer {customer}."},
            },
            "not_offered": {"paid": "Switching the contact is not offered: invoice {number} is paid, and HubSpot "
                                    "does not change the contact of a paid invoice.",
                            "no-contact": "Switching the contact is not offered: no other HubSpot contact has the "
                                          "email of a matching QuickBooks customer."},
        },
        "nl": {
            "title": "Factuur {number}: geen QuickBooks-klant heeft het e-mailadres van {contact}",
            "text": "HubSpot kon factuur {number} niet synchroniseren: de contactpersoon {contact} ({email}) heeft "
                    "geen klant in QuickBooks Online met dat e-mailadres, en de integratie zoekt klanten alleen op "
                    "e-mailadres. De waarschijnlijke klant in QuickBooks is {customer} (Id {customer_id}, e-mail "
                    "{customer_email}): {why}.",
            "text_none": "HubSpot kon factuur {number} niet synchroniseren: de contactpersoon {contact} ({email}) "
                         "heeft geen klant in QuickBooks Online met dat e-mailadres, en de integratie zoekt klanten "
                         "alleen op e-mailadres. Geen QuickBooks-klant lijkt erop.",
            "generic": "HubSpot vond geen klant in QuickBooks Online met het e-mailadres van de contactpersoon op de "
                       "factuur. De integratie koppelt klanten alleen op e-mailadres; meestal bestaat de klant in "
                       "QuickBooks onder een ander e-mailadres.",
            "steps": ["Wijzig in HubSpot de contactpersoon op de factuur in de contactpersoon met het e-mailadres van de QuickBooks-klant.",
                      "Of geef de bijpassende QuickBooks-klant het e-mailadres van de contactpersoon.",
                      "Of maak de klant in QuickBooks aan vanuit de HubSpot-contactpersoon.",
                      "`qbsync explain --invoice NUMMER` noemt de betrokken records."],
            "fixes": {
                "set-customer-email": {
                    "label": "Geef QBO-klant {customer} het e-mailadres {email}",
                    "confirm": "QuickBooks-klant {customer} (Id {customer_id}): e-mailadres {customer_email} wordt "
                               "{email}. Verder verandert er niets. HubSpot synchroniseert factuur {number} dan naar deze klant."},
                "create-customer": {
                    "label": "Maak een QBO-klant voor {contact}",
                    "confirm": "Maakt QuickBooks-klant {new_name} (of de eerstvolgende vrije naam) met e-mailadres "
                               "{email} voor {contact}. HubSpot synchroniseert factuur {number} daarna naar die klant."},
                "switch-contact": {
                    "label": "Factureer {number} aan {target_name}",
                    "confirm": "Factuur {number} in HubSpot: contactpersoon {contact} ({email}) wordt vervangen door "
                               "{target_name} ({target_email}), die past bij QuickBooks-klant {customer}."},
            },
            "not_offered": {"paid": "Contactpersoon wisselen wordt niet aangeboden: factuur {number} is betaald, en "
                                    "HubSpot wijzigt de contactpersoon van een betaalde factuur niet.",
                            "no-contact": "Contactpersoon wisselen wordt niet aangeboden: geen andere HubSpot-"
                                          "contactpersoon heeft het e-mailadres van een passende QuickBooks-klant."},
        },
        "es": {
            "title": "Factura {number}: ningún cliente de QuickBooks tiene el correo de {contact}",
            "text": "HubSpot no pudo sincronizar la factura {number}: su contacto {contact} ({email}) no tiene un "
                    "cliente en QuickBooks Online con ese correo, y la integración busca clientes solo por correo. "
                    "El cliente probable en QuickBooks es {customer} (Id {customer_id}, correo {customer_email}): {why}.",
            "text_none": "HubSpot no pudo sincronizar la factura {number}: su contacto {contact} ({email}) no tiene "
                         "un cliente en QuickBooks Online con ese correo, y la integración busca clientes solo por "
                         "correo. Ningún cliente de QuickBooks parece coincidir.",
            "generic": "HubSpot no encontró un cliente de QuickBooks Online con el correo del contacto de la factura. "
                       "La integración relaciona clientes solo por correo; normalmente el cliente existe en "
                       "QuickBooks con otro correo.",
            "steps": ["Cambia en HubSpot el contacto de la factura por el contacto cuyo correo tiene el cliente de QuickBooks.",
                      "O pon en el cliente de QuickBooks correspondiente el correo del contacto.",
                      "O crea el cliente en QuickBooks a partir del contacto de HubSpot.",
                      "`qbsync explain --invoice NÚMERO` indica los registros implicados."],
            "fixes": {
                "set-customer-email": {
                    "label": "Poner el correo {email} al cliente {customer}",
                    "confirm": "Cliente de QuickBooks {customer} (Id {customer_id}): el correo {customer_email} pasa "
                               "a ser {email}. Nada más cambia. HubSpot sincroniza luego la factura {number} con este cliente."},
                "create-customer": {
                    "label": "Crear un cliente de QBO para {contact}",
                    "confirm": "Crea el cliente de QuickBooks {new_name} (o el siguiente nombre libre) con el correo "
                               "{email} para {contact}. HubSpot sincroniza luego la factura {number} con él."},
                "switch-contact": {
                    "label": "Facturar {number} a {target_name}",
                    "confirm": "Factura {number} en HubSpot: el contacto {contact} ({email}) se sustituye por "
                               "{target_name} ({target_email}), que coincide con el cliente de QuickBooks {customer}."},
            },
            "not_offered": {"paid": "No se ofrece cambiar el contacto: la factura {number} está pagada y HubSpot no "
                                    "cambia el contacto de una factura pagada.",
                            "no-contact": "No se ofrece cambiar el contacto: ningún otro contacto de HubSpot tiene el "
                                          "correo de un cliente de QuickBooks que coincida."},
        },
    }

    def check(self, facts):
        if facts.counterpart is not None or facts.customers or facts.contact is None:
            return None
        if facts.customer_problem != self.id:
            return None
        inv = facts.invoice
        likely = facts.likely
        target = switch_target(facts, [c["email"] for c in likely])
        not_offered = []
        if target is None:
            not_offered.append("no-contact")
        elif inv.status == "paid":
            not_offered.append("paid")
        company = inv.company.name if inv.company else ""
        top = likely[0] if likely else None
        evidence = {
            "contact": contact_evidence(facts),
            "company": company,
            "likely_customers": likely,
            "switch_contact": target if target and inv.status != "paid" else None,
            "not_offered": not_offered,
            "integration_name": facts.integration_name,
        }
        summary = {"contact": facts.contact.name, "email": facts.email, "company": company,
                   "customer": top["name"] if top else "", "customer_id": top["id"] if top else "",
                   "customer_email": (top["email"] or "-") if top else "", "why_codes": top["why"] if top else [],
                   "target_name": target["name"] if target else "", "target_email": target["email"] if target else "",
                   "new_name": facts.integration_name}
        return Finding(self.id, inv.id, inv.number, summary, evidence)

    def text_key(self, finding):
        return "text" if finding.summary_facts.get("customer_id") else "text_none"

    def explain(self, subject, lang="en"):
        if isinstance(subject, Finding):
            words = WHY[lang_of(lang)]
            why = ", ".join(words.get(w, w) for w in subject.summary_facts.get("why_codes", []))
            subject = Finding(subject.rule, subject.invoice_id, subject.invoice_number,
                              dict(subject.summary_facts, why=why), subject.evidence)
        return super().explain(subject, lang)

    def not_offered(self, finding, lang="en"):
        t = self.texts(lang)["not_offered"]
        return [render(t[code], {"number": finding.invoice_number}) for code in finding.evidence.get("not_offered", [])]

    def fixes(self, finding, lang="en"):
        ev = finding.evidence
        out = []
        top = ev["likely_customers"][0] if ev["likely_customers"] else None
        if top is not None:
            out.append(make_fix(self, finding, "set-customer-email", lang, {},
                                _set_email_work(finding, top["id"], ev["contact"]["email"])))
        company, name = ev.get("company", ""), ev["contact"]["name"]
        names = [ev.get("integration_name") or name, f"{company} ({name})" if company else f"{name} ({ev['contact']['email']})"]
        fix = make_fix(self, finding, "create-customer", lang, {"new_name": names[0]}, lambda ctx: None)
        out.append(_with_work(fix, finding, create_customer_work(finding, names, fix.request_id, lang)))
        if ev.get("switch_contact"):
            out.append(make_fix(self, finding, "switch-contact", lang, {},
                                switch_contact_work(finding, ev["switch_contact"])))
        return out


def _with_work(fix, finding, work):
    """The same Fix with its apply bound to `work` (which needs the fix's request id)."""
    from dataclasses import replace

    from .fixes import guarded
    return replace(fix, apply=guarded(fix.id, finding, work))


_EMAIL_SET = {
    "en": "QBO customer {name} (Id {id}) now has email {email} (was {old}).",
    "nl": "QBO-klant {name} (Id {id}) heeft nu e-mailadres {email} (was {old}).",
    "es": "El cliente de QBO {name} (Id {id}) ahora tiene el correo {email} (antes {old}).",
}


def _set_email_work(finding, customer_id: str, email: str):
    rule_id, fix_id = finding.rule, "set-customer-email"

    def work(ctx: FixContext) -> FixResult:
        from .text import request_id
        current = ctx.qbo.get("Customer", customer_id)
        old = email_of(current)
        if old.lower() == email.lower():
            return FixResult(True, msg(ctx.lang, "already", what=f"{current.get('DisplayName')} has {email}"))
        body = {"Id": current["Id"], "SyncToken": current["SyncToken"], "PrimaryEmailAddr": {"Address": email}}
        updated = ctx.qbo.update("Customer", body, sparse=True,
                                 request_id=request_id(finding.invoice_id, rule_id, fix_id, finding.evidence))
        return FixResult(True, render(_EMAIL_SET[lang_of(ctx.lang)], {
            "name": updated.get("DisplayName"), "id": updated.get("Id"), "email": email, "old": old or "-"}),
            {"qbo_customer_email": {"id": str(updated.get("Id")), "from": old, "to": email}})
    return work


RULE = MissingCustomer()
