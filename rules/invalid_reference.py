"""invalid-reference: QBO fault 2500 "Invalid Reference Id" (or 610 "Object Not Found :
Something you're trying to use has been made inactive ..."): the document points at a record
QBO does not have or has made inactive, e.g. an ItemRef from the integration's product mapping
to an item that was deleted. HubSpot's UI then shows QBO's own words (texts and sources:
real-failures.md, `invalid-reference`; apis.md).

Data: QBO never deletes a name, it makes it inactive, and HubSpot's product sync names the QBO
item after the product; the integration maps a line to its product's item, else to an item of
the line's name. The product mapping itself is not readable through HubSpot's public API, so
qbsync looks for QBO items named like the invoice's lines (inactive included): a line whose
item is inactive, on an invoice that is not in QBO, is this cause. Fix: make the item active
again (sparse update `Active: true`), after confirmation; the re-check reads the items again.
An inactive customer with the contact's email is not this rule's from data: QBO's look-ups leave
inactive customers out, so the integration creates the customer again and collides with the
inactive one's name, which duplicate-display-name already diagnoses and fixes by reactivating it
(scenario fix-safety-inactive-holder). A CustomerRef that QBO itself refuses (a remembered link
to a customer made inactive) is recognised from its text here; the link is not readable by API.
"""
from __future__ import annotations

from .base import Finding, FixResult, Rule
from .fixes import make_fix, reactivate_record_work
from .catalog import words


class InvalidReference(Rule):
    id = "invalid-reference"
    order = 25
    fault_codes = ("2500",)
    patterns = {
        "en": (r"invalid reference id", r"something you're trying to use has been made inactive",
               r"has been made inactive"),
    }
    GENERIC_TITLES = words({"en": "QuickBooks does not know a record the invoice points at"})
    TEXTS = words({
        "en": {"title": "Invoice {number}: QuickBooks item {item} is inactive",
               "text": "HubSpot could not sync invoice {number}: its line {line} maps to QuickBooks product or "
                       "service {item} (Id {item_id}), which has been made inactive, and QuickBooks refuses an "
                       "invoice that uses an inactive item. Make {item} active again, or map the line's product to "
                       "an active item in HubSpot's QuickBooks integration settings.",
               "fixes": {"reactivate-item": {
                   "label": "Make QBO item {item} active again",
                   "confirm": "QuickBooks product/service {items} becomes active again (nothing else of it "
                              "changes). It shows in QuickBooks' lists again; HubSpot then syncs invoice {number}."}},
               "generic": "QuickBooks Online refused the invoice because it refers to a record QuickBooks does not "
                          "have or has made inactive (often a product or service, sometimes the customer).",
               "element": "The field QuickBooks names: {element}.",
               "steps": ["In HubSpot's QuickBooks integration settings, check the product mapping of the invoice's "
                         "line items and map them to an existing, active QuickBooks product or service.",
                         "Or make the product, service or customer active again in QuickBooks."]},
    })

    def check(self, facts):
        if facts.counterpart is not None or not facts.line_items:
            return None
        inv = facts.invoice
        lines = []
        for li in inv.line_items:
            item = facts.line_items.get(li.name.casefold()) if li.name else None
            if item is not None and item.get("Active", True) is False:
                lines.append({"line_id": li.id, "line": li.name, "item_id": str(item["Id"]),
                              "item": item.get("Name", "")})
        if not lines:
            return None
        items = list(dict.fromkeys(f"{x['item']} (Id {x['item_id']})" for x in lines))
        summary = {"line": lines[0]["line"], "item": lines[0]["item"], "item_id": lines[0]["item_id"],
                   "items": ", ".join(items)}
        return Finding(self.id, inv.id, inv.number, summary, {"inactive_items": lines})

    def fixes(self, finding, lang="en"):
        ids = list(dict.fromkeys(x["item_id"] for x in finding.evidence.get("inactive_items", [])))
        if not ids:
            return []

        def work(ctx):
            results = [reactivate_record_work(finding, "Item", i, "reactivate-item")(ctx) for i in ids]
            changed = [r.changed["qbo_reactivated"] for r in results if r.changed]
            return FixResult(all(r.ok for r in results), " ".join(r.message for r in results),
                             {"qbo_reactivated": changed} if changed else {})
        return [make_fix(self, finding, "reactivate-item", lang, {}, work)]

    def generic_details(self, classification, lang):
        return [self.texts(lang)["element"]] if classification.extracted.get("element") else []


RULE = InvalidReference()
