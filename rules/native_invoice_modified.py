"""native-invoice-modified: a HubSpot-native invoice that was synced was then changed in QBO
(lines, amounts, tax added/removed/edited); HubSpot refuses to sync it again ("Line Item or
Invoice Amount modifications on HubSpot native invoices cannot be made via external
applications ..."). There is no QBO fault code: HubSpot checks this itself.

Data: the QBO counterpart's lines (quantity, unit price, amount), total and tax differ from
the HubSpot invoice's line items. Lines are paired before comparing: identical ones first,
then by name (QBO line description or item name = HubSpot line name), then by position; what
is left over was added or removed in QBO.

Fix `revert-qbo-invoice`: a full update of the QBO invoice built by qbsync itself (not
python-quickbooks' objects, whose to_json adds ServiceDate "" and other defaults): every
field of the current QBO invoice except the financial ones (Line, TxnTaxDetail, totals),
HubSpot's lines and amounts, the current SyncToken. Tax QBO added is dropped. On a stale
SyncToken (5010) it re-reads and retries once, under a derived request id.
"""
from __future__ import annotations

from decimal import Decimal

from bot.errors import StaleObject

from .base import Finding, FixContext, FixResult, Rule
from .books_closed import document, refuse_if_closed
from .facts import CENT, dec
from .fixes import already, make_fix
from .locale_format import money, number
from .text import lang_of, request_id
from .catalog import words

DROP = {"Line", "TxnTaxDetail", "TotalAmt", "Balance", "HomeTotalAmt", "HomeBalance", "MetaData", "domain",
        "sparse", "SyncToken"}


def _num(d: Decimal):
    return int(d) if d == d.to_integral_value() else float(d)


def hubspot_rows(invoice) -> list[dict]:
    return [{"name": li.name, "qty": dec(li.quantity), "price": dec(li.price).quantize(CENT),
             "amount": (dec(li.amount) if li.amount else dec(li.quantity) * dec(li.price)).quantize(CENT)}
            for li in invoice.line_items]


def qbo_rows(doc: dict) -> list[dict]:
    out = []
    for line in doc.get("Line") or []:
        if line.get("DetailType") != "SalesItemLineDetail":
            continue
        d = line.get("SalesItemLineDetail") or {}
        out.append({"name": line.get("Description") or (d.get("ItemRef") or {}).get("name") or "",
                    "item": (d.get("ItemRef") or {}).get("name") or "", "item_ref": d.get("ItemRef"),
                    "qty": dec(d.get("Qty")), "price": dec(d.get("UnitPrice")).quantize(CENT),
                    "amount": dec(line.get("Amount")).quantize(CENT)})
    return out


def _key(r):
    return (r["qty"].normalize(), r["price"], r["amount"])


def pair(hs: list[dict], qb: list[dict]) -> list[tuple[dict | None, dict | None]]:
    left_h, left_q = list(hs), list(qb)
    pairs: list[tuple[dict | None, dict | None]] = []
    for h in list(left_h):  # identical lines
        for q in left_q:
            if _key(h) == _key(q):
                pairs.append((h, q))
                left_h.remove(h)
                left_q.remove(q)
                break
    for h in list(left_h):  # same name
        for q in left_q:
            if h["name"].casefold() in (q["name"].casefold(), q["item"].casefold()):
                pairs.append((h, q))
                left_h.remove(h)
                left_q.remove(q)
                break
    while left_h and left_q:  # by position
        pairs.append((left_h.pop(0), left_q.pop(0)))
    pairs += [(h, None) for h in left_h] + [(None, q) for q in left_q]
    return pairs


def _show(r):
    return {"qty": format(r["qty"].normalize(), "f"), "unit_price": str(r["price"]), "amount": str(r["amount"])}


def differences(invoice, doc: dict) -> tuple[list[dict], dict]:
    diffs = []
    for h, q in pair(hubspot_rows(invoice), qbo_rows(doc)):
        if h and q and _key(h) == _key(q):
            continue
        change = "changed" if h and q else ("removed in QBO" if h else "added in QBO")
        diffs.append({"line": (h or q)["name"],  # type: ignore[index]  # pair() never gives (None, None)
                      "change": change, "hubspot": _show(h) if h else None, "qbo": _show(q) if q else None})
    tax = dec((doc.get("TxnTaxDetail") or {}).get("TotalTax")).quantize(CENT)
    hs_total = sum((r["amount"] for r in hubspot_rows(invoice)), Decimal("0.00"))
    qbo_total = dec(doc.get("TotalAmt")).quantize(CENT)
    if tax:
        diffs.append({"line": "tax", "change": "tax added in QBO", "hubspot": "0.00", "qbo": str(tax)})
    if not diffs and qbo_total - tax != hs_total:
        diffs.append({"line": "total", "change": "changed", "hubspot": str(hs_total), "qbo": str(qbo_total - tax)})
    totals = {"hubspot": str(hs_total), "qbo": str(qbo_total), "qbo_tax": str(tax)}
    return diffs, totals


WORDS = words({
    "en": {"changed": "{line}: QBO {q} instead of {h}", "removed in QBO": "{line} ({h}) removed in QBO",
           "added in QBO": "{line} ({q}) added in QBO", "tax added in QBO": "tax {q} added in QBO", "row": "{qty} x {unit_price} = {amount}"},
})


def diff_text(diffs: list[dict], lang: str, currency: str | None = "") -> str:
    """The differences in words; unit prices and amounts in the invoice's `currency` as a
    reader of `lang` writes them (`US$ 120,00` in Dutch), quantities as plain numbers."""
    w = WORDS[lang_of(lang)]

    def row(x):
        if not isinstance(x, dict):
            return money(x, currency, lang)
        return w["row"].format(qty=number(x.get("qty"), lang), unit_price=money(x.get("unit_price"), currency, lang),
                               amount=money(x.get("amount"), currency, lang))
    parts = [w[d["change"]].format(line=d["line"], h=row(d["hubspot"]) if d["hubspot"] else "",
                                   q=row(d["qbo"]) if d["qbo"] else "") for d in diffs]
    return "; ".join(parts)


class NativeInvoiceModified(Rule):
    MONEY_VALUES = ("hs_total", "qbo_total")
    id = "native-invoice-modified"
    order = 40
    GENERIC_TITLES = words({'en': 'A HubSpot invoice was changed in QuickBooks after it synced'})
    patterns = {
        "en": (r"modifications on hubspot native invoices cannot be made",
               r"line item or invoice amount modifications"),
        "nl": (r"(?:aanpassingen|wijzigingen) van regelitems of factuurbedragen in hubspot native facturen",
               r"line item of factuur bedrag wijzigingen in hubspot native facturen",
               r"hubspot native facturen kunnen niet worden gemaakt via externe applicaties"),
        "es": (r"facturas nativas de hubspot no (?:pueden|se pueden) realizar(?:se)? a traves de aplicaciones externas",
               r"modificaciones de (?:los elementos de pedido|partidas)"),
    }
    TEXTS = words({
        "en": {
            "title": "Invoice {number} was changed in QuickBooks after it synced",
            "text": "HubSpot created invoice {number} and synced it to QuickBooks Online as invoice {qbo_number} "
                    "(Id {qbo_id}); someone then changed its financial details in QuickBooks, which HubSpot cannot "
                    "take back, so it stops syncing. Differences: {diff}. Revert the QuickBooks invoice to "
                    "HubSpot's version and make financial changes in HubSpot.",
            "generic": "An invoice created in HubSpot and already synced was changed in QuickBooks Online (lines, "
                       "amounts or tax). Those changes cannot flow back to HubSpot, so the sync fails.",
            "steps": ["Revert the changes to the invoice in QuickBooks Online (qbsync can do it and shows the difference first).",
                      "Make financial changes to HubSpot invoices in HubSpot; they then sync to QuickBooks."],
            "fixes": {"revert-qbo-invoice": {
                "label": "Revert QBO invoice {qbo_number} to HubSpot's lines",
                "confirm": "QuickBooks invoice {qbo_number} (Id {qbo_id}) gets HubSpot's lines back: {diff}. "
                           "Total becomes {hs_total}. Customer, number and dates stay."}},
        },
    })

    def check(self, facts):
        doc = facts.counterpart
        if doc is None:
            return None
        diffs, totals = differences(facts.invoice, doc)
        if not diffs:
            return None
        inv = facts.invoice
        evidence = {"qbo_invoice": {"id": str(doc["Id"]), "number": doc.get("DocNumber", ""),
                                    "customer": (doc.get("CustomerRef") or {}).get("value"),
                                    "matched_by": facts.counterpart_how},
                    "differences": diffs, "totals": totals}
        summary = {"qbo_number": doc.get("DocNumber") or doc["Id"], "qbo_id": str(doc["Id"]),
                   "hs_total": str(totals["hubspot"]), "qbo_total": str(totals["qbo"]), "currency": inv.currency or ""}
        return Finding(self.id, inv.id, inv.number, summary, evidence)

    def explain(self, subject, lang="en"):
        if isinstance(subject, Finding):
            subject = Finding(subject.rule, subject.invoice_id, subject.invoice_number,
                              dict(subject.summary_facts, diff=diff_text(subject.evidence["differences"], lang,
                                                                         subject.summary_facts.get("currency"))),
                              subject.evidence)
        return super().explain(subject, lang)

    def fixes(self, finding, lang="en"):
        rid = request_id(finding.invoice_id, self.id, "revert-qbo-invoice", finding.evidence)
        return [make_fix(self, finding, "revert-qbo-invoice", lang,
                         {"diff": diff_text(finding.evidence["differences"], lang,
                                                    finding.summary_facts.get("currency"))},
                         revert_work(finding, rid))]


REVERTED = words({
    "en": "QBO invoice {number} (Id {id}) now has HubSpot's lines; total {total}.",
})


def revert_body(invoice, current: dict, items: dict) -> dict:
    body = {k: v for k, v in current.items() if k not in DROP}
    body["SyncToken"] = current["SyncToken"]
    pairs = pair(hubspot_rows(invoice), qbo_rows(current))
    fallback = next((q["item_ref"] for _, q in pairs if q and q.get("item_ref")), None)
    lines = []
    for h in hubspot_rows(invoice):
        ref = next((q["item_ref"] for hh, q in pairs if hh is h and q and q.get("item_ref")), None)
        if ref is None and h["name"].casefold() in items:
            item = items[h["name"].casefold()]
            ref = {"value": str(item["Id"]), "name": item.get("Name")}
        ref = ref or fallback
        detail = {"Qty": _num(h["qty"]), "UnitPrice": _num(h["price"])}
        if ref:
            detail["ItemRef"] = {k: v for k, v in ref.items() if k in ("value", "name")}
        lines.append({"DetailType": "SalesItemLineDetail", "Amount": _num(h["amount"]), "Description": h["name"],
                      "SalesItemLineDetail": detail})
    body["Line"] = lines
    return body


def revert_work(finding, rid: str):
    qbo_id = finding.evidence["qbo_invoice"]["id"]

    def work(ctx: FixContext) -> FixResult:
        lang = lang_of(ctx.lang)
        invoice = ctx.hubspot.get_invoice(finding.invoice_id)
        current = ctx.qbo.get("Invoice", qbo_id)
        diffs, _ = differences(invoice, current)
        if not diffs:
            return FixResult(True, already(lang, "invoice_matches", number=current.get("DocNumber")))
        # A closed period refuses the update the same way (books-closed): say so, write nothing.
        refuse_if_closed(ctx.qbo, current.get("TxnDate"), document("Invoice", current.get("DocNumber") or qbo_id, lang),
                         lang)
        items = _items(ctx.qbo, [li.name for li in invoice.line_items])
        try:
            updated = ctx.qbo.update("Invoice", revert_body(invoice, current, items), request_id=rid)
        except StaleObject:
            current = ctx.qbo.get("Invoice", qbo_id)
            updated = ctx.qbo.update("Invoice", revert_body(invoice, current, items),
                                    request_id=request_id(rid, "retry", "", {}))
        return FixResult(True, REVERTED[lang].format(number=updated.get("DocNumber"), id=updated.get("Id"),
                                                     total=money(updated.get("TotalAmt"), invoice.currency, lang)),
                         {"qbo_invoice_reverted": {"id": str(updated.get("Id")), "differences": diffs}})
    return work


def _items(qbo, names):
    from .view import LiveQboView
    return LiveQboView(qbo).items_by_name(names)


RULE = NativeInvoiceModified()
