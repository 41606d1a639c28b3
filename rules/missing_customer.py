"""missing-customer: the invoice's contact has no active QBO customer with its email.

HubSpot's heading (en): "An invoice should have an associated customer. Make sure the
associated customer is present in both HubSpot & QuickBooks Online to sync this invoice"
(older: "An invoice must have an associated customer ..."). The integration looks the
contact up in QBO by email only; usually the customer exists under another email.
"""
from __future__ import annotations

from bot.errors import ValidationFailed

from .base import Finding, FixContext, FixResult, Rule
from .facts import is_strong
from .fixes import (already, contact_evidence, create_customer_work, make_fix, own_company_of,
                    switch_contact_work, switch_target)
from .text import lang_of, render
from .view import email_of
from .catalog import plural, words

WHY = words({
    "en": {"same name": "same name", "same company": "same company", "same email domain": "same email domain",
           "holds the name the integration would give this contact": "holds the name the integration would give this contact"},
})


class MissingCustomer(Rule):
    id = "missing-customer"
    order = 10
    GENERIC_TITLES = words({'en': "No QuickBooks customer has the contact's email"})
    patterns = {
        "en": (r"an invoice (?:should|must) have an associated customer",
               r"make sure the associated customer is present in both hubspot"),
        "nl": (r"een factuur moet een gekoppelde klant hebben",
               r"zorg ervoor dat de gekoppelde klant aanwezig is"),
        "es": (r"una factura debe tener un cliente asociado",
               r"asegurate de que el cliente asociado esta presente"),
    }
    TEXTS = words({
        "en": {
            "title": "Invoice {number}: no QuickBooks customer has the email of {contact}",
            "text": "HubSpot could not sync invoice {number}: its contact {contact} ({email}) has no customer in "
                    "QuickBooks Online with that email, and the integration finds customers by email only. "
                    "The likely match in QuickBooks is customer {customer} (Id {customer_id}, email "
                    "{customer_email}): {why}.",
            "text_none": "HubSpot could not sync invoice {number}: its contact {contact} ({email}) has no customer "
                         "in QuickBooks Online with that email, and the integration finds customers by email only. "
                         "No QuickBooks customer looks like a match.",
            "text_noemail": "HubSpot cannot sync invoice {number}: its contact {contact} has no email address, and the "
                            "integration finds (or creates) the QuickBooks customer by the contact's email only. Add "
                            "an email to {contact} in HubSpot, or bill the invoice to a contact that has one.",
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
                    "confirm": plural(
                        "QuickBooks customer {customer} (Id {customer_id}): email {customer_email} becomes {email}. "
                        "QuickBooks will then send this customer's invoices to {email}; {customer_invoices} other "
                        "invoice is billed to it. No HubSpot contact has {customer_email}.",
                        "QuickBooks customer {customer} (Id {customer_id}): email {customer_email} becomes "
                        "{email}. QuickBooks will then send this customer's invoices to {email}; "
                        "{customer_invoices} other invoices are billed to it. No HubSpot contact has "
                        "{customer_email}.", n="customer_invoices")},
                "create-customer": {
                    "label": "Create a QBO customer for {contact}",
                    "confirm": "Creates QuickBooks customer {new_name} (or the next free name) with email {email} "
                               "for {contact}. No existing record changes. HubSpot then syncs invoice {number} to it."},
                "switch-contact": {
                    "label": "Bill invoice {number} to {target_name} instead",
                    "confirm": "Invoice {number} in HubSpot: contact {contact} ({email}) is replaced by "
                               "{target_name} ({target_email}), who matches QuickBooks customer {customer}."},
            },
            "not_offered": {"paid": "Switching the contact is not offered: invoice {number} is paid, and HubSpot "
                                    "does not change the contact of a paid invoice.",
                            "no-contact": "Switching the contact is not offered: no other HubSpot contact has the "
                                          "email of a matching QuickBooks customer.",
                            "weak-match": "Changing the email of QuickBooks customer {customer} is not offered: "
                                          "only {why} suggests it is this contact's; that takes the same company "
                                          "and the same email domain.",
                            "email-owned": "Changing the email of QuickBooks customer {customer} is not offered: "
                                           "HubSpot contact {owner} uses {customer_email}, and changing it would "
                                           "break that contact's syncs.",
                            "no-email": "No fix is offered: qbsync never writes a blank email, and without an "
                                        "email the integration cannot find the customer."},
        },
    })

    def check(self, facts):
        if facts.counterpart is not None or facts.customers or facts.contact is None:
            return None
        inv = facts.invoice
        company = inv.company.name if inv.company else ""
        if not facts.email:
            # The integration cannot look anyone up without an email; nothing qbsync could write
            # (never a blank email) repairs that: the contact needs an email in HubSpot.
            summary = {"contact": facts.contact.name, "email": "", "company": company}
            evidence = {"contact": contact_evidence(facts), "company": company, "no_email": True,
                        "likely_customers": [], "switch_contact": None, "set_email": None,
                        "not_offered": ["no-email"], "integration_name": facts.integration_name}
            return Finding(self.id, inv.id, inv.number, summary, evidence)
        if facts.customer_problem != self.id:
            return None
        likely = facts.likely
        target = switch_target(facts, [c["email"] for c in likely])
        top = likely[0] if likely else None
        set_email, owner = None, None
        if top is not None and top["email"]:
            owner = facts.other_contact(top["email"].lower())
        if top is not None and is_strong(top) and owner is None:
            set_email = {"id": top["id"], "name": top["name"], "email": top["email"],
                         "invoices": facts.customer_invoices.get(top["id"], 0)}
        not_offered = []
        if target is None:
            not_offered.append("no-contact")
        elif inv.status == "paid":
            not_offered.append("paid")
        if top is not None and set_email is None:
            not_offered.append("email-owned" if owner is not None else "weak-match")
        evidence = {
            "contact": contact_evidence(facts),
            "company": company,
            "customer_company": own_company_of(facts),  # a created customer's company: the contact's
            "likely_customers": likely,
            "switch_contact": target if target and inv.status != "paid" else None,
            "set_email": set_email,
            "email_owner": {"id": owner.id, "name": owner.name, "email": owner.email} if owner else None,
            "not_offered": not_offered,
            "integration_name": facts.integration_name,
        }
        summary = {"contact": facts.contact.name, "email": facts.email, "company": company,
                   "customer": top["name"] if top else "", "customer_id": top["id"] if top else "",
                   "customer_email": (top["email"] or "-") if top else "", "why_codes": top["why"] if top else [],
                   "target_name": target["name"] if target else "", "target_email": target["email"] if target else "",
                   "new_name": facts.integration_name,
                   "customer_invoices": set_email["invoices"] if set_email else 0,
                   "owner": owner.name if owner else ""}
        return Finding(self.id, inv.id, inv.number, summary, evidence)

    def text_key(self, finding):
        if finding.evidence.get("no_email"):
            return "text_noemail"
        return "text" if finding.summary_facts.get("customer_id") else "text_none"

    def _with_why(self, finding, lang):
        words = WHY[lang_of(lang)]
        why = ", ".join(words.get(w, w) for w in finding.summary_facts.get("why_codes", []))
        return Finding(finding.rule, finding.invoice_id, finding.invoice_number,
                       dict(finding.summary_facts, why=why), finding.evidence)

    def explain(self, subject, lang="en"):
        if isinstance(subject, Finding):
            subject = self._with_why(subject, lang)
        return super().explain(subject, lang)

    def not_offered(self, finding, lang="en"):
        t = self.texts(lang)["not_offered"]
        values = dict(self._with_why(finding, lang).summary_facts, number=finding.invoice_number)
        return [render(t[code], values) for code in finding.evidence.get("not_offered", [])]

    def fixes(self, finding, lang="en"):
        """Least destructive first: a new customer changes no existing record; billing the
        invoice to the contact QuickBooks already knows changes this invoice only (who it is
        addressed to); giving a QBO customer the contact's email changes a record others may
        rely on, so it comes last and only on strong evidence, with what relies on it in the
        confirm text. Never a fix when the contact has no email."""
        ev = finding.evidence
        if ev.get("no_email"):
            return []
        # Named after the contact's own company, as the integration would name it (not the invoice's).
        company, name = ev.get("customer_company", ev.get("company", "")), ev["contact"]["name"]
        names = [ev.get("integration_name") or name, f"{company} ({name})" if company else f"{name} ({ev['contact']['email']})"]
        fix = make_fix(self, finding, "create-customer", lang, {"new_name": names[0]}, lambda ctx: None)  # type: ignore[arg-type, return-value]  # _with_work binds the work
        out = [_with_work(fix, finding, create_customer_work(finding, names, fix.request_id, lang))]
        if ev.get("switch_contact"):
            out.append(make_fix(self, finding, "switch-contact", lang, {},
                                switch_contact_work(finding, ev["switch_contact"])))
        target = ev.get("set_email")
        if target:
            out.append(make_fix(self, finding, "set-customer-email", lang, {},
                                _set_email_work(finding, target, ev["contact"]["email"])))
        return out


def _with_work(fix, finding, work):
    """The same Fix with its apply bound to `work` (which needs the fix's request id)."""
    from dataclasses import replace

    from .fixes import guarded
    return replace(fix, apply=guarded(fix.id, finding, work))


_EMAIL_SET = words({
    "en": "QBO customer {name} (Id {id}) now has email {email} (was {old}).",
})


def _set_email_work(finding, target: dict, email: str):
    """Give QBO customer target["id"] the contact's email. Checked again at the moment of
    writing, since the confirm dialog may have stood open for a while: the customer still has
    the email the person saw, and still no HubSpot contact uses it (else that contact's syncs
    would break); never a blank email."""
    rule_id, fix_id = finding.rule, "set-customer-email"
    customer_id, shown = target["id"], (target.get("email") or "").strip().lower()

    def work(ctx: FixContext) -> FixResult:
        from .text import request_id
        if not email.strip():
            raise ValidationFailed("qbo", "qbsync never writes a blank email", words="no_email")
        current = ctx.qbo.get("Customer", customer_id)
        old = email_of(current)
        if old.lower() == email.lower():
            return FixResult(True, already(ctx.lang, "name_has_email", name=current.get("DisplayName"), email=email))
        if old.lower() != shown:
            raise ValidationFailed("qbo", f"customer {current.get('DisplayName')} now has email {old or '-'}, "
                                          f"not {shown or '-'} as shown; nothing was changed, run Re-check",
                                   words="email_moved", values={"name": current.get("DisplayName"), "have": old or "-"})
        if old:
            owners = ctx.hubspot.contacts_by_emails([old]).get(old.lower(), [])
            if owners:
                raise ValidationFailed("hubspot", f"HubSpot contact {owners[0].name} uses {old}; changing it "
                                                  f"would break that contact's syncs, so nothing was changed",
                                       words="email_in_use", values={"contact": owners[0].name, "email": old})
        body = {"Id": current["Id"], "SyncToken": current["SyncToken"], "PrimaryEmailAddr": {"Address": email}}
        updated = ctx.qbo.update("Customer", body, sparse=True,
                                 request_id=request_id(finding.invoice_id, rule_id, fix_id, finding.evidence))
        return FixResult(True, render(_EMAIL_SET[lang_of(ctx.lang)], {
            "name": updated.get("DisplayName"), "id": updated.get("Id"), "email": email, "old": old or "-"}),
            {"qbo_customer_email": {"id": str(updated.get("Id")), "from": old, "to": email}})
    return work


RULE = MissingCustomer()
