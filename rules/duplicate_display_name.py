"""duplicate-display-name: the name the integration would give the contact's new QBO customer
is already held by a customer, vendor or employee (QBO fault 6240, "Duplicate Name Exists
Error"; DisplayName is unique across all three, active or not).

HubSpot's heading (en): "The display name is a duplicate". rules/facts.py says how this is
told apart from missing-customer.

Text decision: a 6240 whose text names a product/service/item, an account or a tax code is a
different name clash (Item names are unique among items, and so on) that the fixes here
(a customer under a unique name) do not repair: it is classified `unknown`, with the code.
"""
from __future__ import annotations

from .base import Finding, Rule
from .fixes import (contact_evidence, create_customer_work, make_fix, own_company_of, reactivate_work,
                    switch_contact_work)
from .missing_customer import _with_work
from .text import render
from .view import email_of
from .catalog import plural, words

ENTITY_WORDS = words({
    "en": {"Customer": "customer", "Vendor": "supplier (vendor)", "Employee": "employee",
           "Customer-inactive": "inactive customer", "Vendor-inactive": "inactive supplier (vendor)",
           "Employee-inactive": "inactive employee"},
})


def unique_name(company: str, contact_name: str, email: str) -> str:
    if company and contact_name and company.casefold() != contact_name.casefold():
        return f"{company} ({contact_name})"
    return f"{contact_name or company} ({email})"


class DuplicateDisplayName(Rule):
    id = "duplicate-display-name"
    order = 10  # same step as missing-customer: the two never hold together
    GENERIC_TITLES = words({'en': 'The customer name is already taken in QuickBooks'})
    fault_codes = ("6240",)
    patterns = {
        "en": (r"the display name is a duplicate", r"duplicate name exists", r"the name supplied already exists",
               r"another customer, vendor or employee is already using this name"),
        "nl": (r"de weergavenaam is een duplicaat", r"weergavenaam bestaat al"),
        "es": (r"el nombre del remitente es un duplicado", r"el nombre para mostrar es un duplicado",
               r"nombre para mostrar ya (?:existe|esta en uso)"),
    }
    TEXTS = words({
        "en": {
            "title": "Invoice {number}: the QuickBooks name {display_name} is already taken",
            "text": "HubSpot could not sync invoice {number}: no QuickBooks customer has the email of its contact "
                    "{contact} ({email}), so the integration tried to create one named {display_name}. That name "
                    "already belongs to {holder_kind} {holder_name} (Id {holder_id}, email {holder_email}), and "
                    "QuickBooks requires names to be unique across customers, suppliers and employees.",
            "generic": "QuickBooks Online refused a customer name that a customer, supplier (vendor) or employee "
                       "already uses; names must be unique across all three, active or inactive. HubSpot names a "
                       "company's first contact after the company, so every later contact of that company collides.",
            "steps": ["Create the QuickBooks customer for this contact under a unique name, e.g. \"Company (First Last)\", "
                      "with the contact's email: the integration then finds it by email.",
                      "Or point the invoice at the HubSpot contact that already owns that name."],
            "holder": "The name is held by record Id {Id}.",
            "fixes": {
                "create-customer-unique-name": {
                    "label": "Create QBO customer {new_name}",
                    "confirm": "Creates QuickBooks customer {new_name} (or the next free name) with email {email} "
                               "for {contact}. {holder_name} is not changed. HubSpot then syncs invoice {number} to it."},
                "switch-contact": {
                    "label": "Bill invoice {number} to {target_name} instead",
                    "confirm": "Invoice {number} in HubSpot: contact {contact} ({email}) is replaced by "
                               "{target_name} ({target_email}), whose QuickBooks customer is {holder_name}."},
                "reactivate-customer": {
                    "label": "Reactivate QBO customer {holder_name}",
                    "confirm": plural(
                        "Makes QuickBooks customer {holder_name} (Id {holder_id}) active again; it already has "
                        "{email}. Its name and its {holder_invoices} invoice stay as they are. HubSpot then finds it "
                        "by email and syncs invoice {number} to it.",
                        "Makes QuickBooks customer {holder_name} (Id {holder_id}) active again; it already "
                        "has {email}. Its name and its {holder_invoices} invoices stay as they are. HubSpot "
                        "then finds it by email and syncs invoice {number} to it.", n="holder_invoices")},
                "reactivate-customer-email": {
                    "label": "Reactivate QBO customer {holder_name}",
                    "confirm": plural(
                        "Makes QuickBooks customer {holder_name} (Id {holder_id}) active again and gives it the email "
                        "{email} (it has none). Its {holder_invoices} invoice stays as it is. HubSpot then finds it by "
                        "email and syncs invoice {number} to it.",
                        "Makes QuickBooks customer {holder_name} (Id {holder_id}) active again and gives it "
                        "the email {email} (it has none). Its {holder_invoices} invoices stay as they are. "
                        "HubSpot then finds it by email and syncs invoice {number} to it.", n="holder_invoices")},
            },
            "not_offered": {
                "inactive-other-email": "Reactivating {holder_name} is not offered: it has another email "
                                        "({holder_email}), so HubSpot would still not find it by {email}."},
        },
    })

    def check(self, facts):
        if facts.counterpart is not None or facts.customers or facts.customer_problem != self.id:
            return None
        inv = facts.invoice
        entity, record = facts.holder
        holder_email = email_of(record)
        active = bool(record.get("Active", True))
        target = facts.other_contact(holder_email.lower()) if holder_email and entity == "Customer" else None
        target_ev = {"id": target.id, "name": target.name, "email": target.email} if target else None
        company = inv.company.name if inv.company else ""
        # The new customer is named after the contact's own company, as the integration names
        # it (facts.integration_name), not the invoice's: an invoice with no company (or another
        # one) must not give the same contact a differently named customer (issue #9).
        own_company = own_company_of(facts)
        new_name = unique_name(own_company, facts.contact.name, facts.email)
        holder_id = str(record.get("Id"))
        # An inactive customer that already has the contact's email (or none): QBO's lookups
        # leave inactive customers out, so the integration does not find it and collides with its
        # name. Reactivating it removes the cause without a second customer for the same party.
        reactivate, not_offered = None, []
        if entity == "Customer" and not active:
            if holder_email.lower() == facts.email.lower():
                reactivate = "reactivate-customer"
            elif not holder_email and facts.email:
                reactivate = "reactivate-customer-email"
            else:
                not_offered.append("inactive-other-email")
        evidence = {
            "contact": contact_evidence(facts),
            "company": company,
            "customer_company": own_company,
            "display_name": facts.integration_name,
            "holder": {"entity": entity, "id": holder_id, "name": record.get("DisplayName", ""),
                       "email": holder_email, "active": active,
                       "invoices": facts.customer_invoices.get(holder_id, 0) if entity == "Customer" else 0},
            "holder_contact": target_ev,
            "new_name": new_name,
            # Billing the invoice to the holder's contact only helps while the holder is active:
            # the integration's lookup by email leaves inactive customers out, so that contact's
            # invoices fail too (issue #9: a fix must remove the cause).
            "switch_contact": target_ev if target_ev and active and inv.status != "paid" else None,
            "reactivate": reactivate,
            "not_offered": not_offered,
        }
        summary = {"contact": facts.contact.name, "email": facts.email, "display_name": facts.integration_name,
                   "holder_entity": entity, "holder_active": active, "holder_name": record.get("DisplayName", ""),
                   "holder_id": holder_id, "holder_email": holder_email or "-", "new_name": new_name,
                   "holder_invoices": evidence["holder"]["invoices"],
                   "target_name": target.name if target else "", "target_email": target.email if target else ""}
        return Finding(self.id, inv.id, inv.number, summary, evidence)

    def explain(self, subject, lang="en"):
        if isinstance(subject, Finding):
            from .text import lang_of
            entity = subject.summary_facts.get("holder_entity") or ""
            inactive = subject.summary_facts.get("holder_active") is False
            kind = ENTITY_WORDS[lang_of(lang)].get(entity + ("-inactive" if inactive else ""), "")
            subject = Finding(subject.rule, subject.invoice_id, subject.invoice_number,
                              dict(subject.summary_facts, holder_kind=kind), subject.evidence)
        return super().explain(subject, lang)

    def generic_details(self, classification, lang):
        if classification.extracted.get("Id"):
            return [self.texts(lang)["holder"]]
        return []

    def not_offered(self, finding, lang="en"):
        t = self.texts(lang).get("not_offered", {})
        values = dict(finding.summary_facts, number=finding.invoice_number)
        return [render(t[code], values) for code in finding.evidence.get("not_offered", []) if code in t]

    def fixes(self, finding, lang="en"):
        """Least destructive first: reactivating the inactive customer that is this contact's
        (no second customer for the same party; only its Active flag changes); a new customer
        under a unique name (no existing record changes); billing the invoice to the contact
        whose customer holds the name (changes who this invoice is addressed to)."""
        ev = finding.evidence
        out = []
        if ev.get("reactivate"):
            out.append(make_fix(self, finding, ev["reactivate"], lang, {},
                                reactivate_work(finding, ev["holder"], ev["contact"]["email"],
                                                set_email=ev["reactivate"] == "reactivate-customer-email")))
        names = [ev["new_name"]]
        fix = make_fix(self, finding, "create-customer-unique-name", lang, {}, lambda ctx: None)  # type: ignore[arg-type, return-value]  # _with_work binds the work
        out.append(_with_work(fix, finding, create_customer_work(finding, names, fix.request_id, lang)))
        if ev.get("switch_contact"):
            out.append(make_fix(self, finding, "switch-contact", lang, {},
                                switch_contact_work(finding, ev["switch_contact"])))
        return out


RULE = DuplicateDisplayName()
