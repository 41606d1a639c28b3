"""duplicate-doc-number: the HubSpot invoice number is already used by another QBO invoice or
credit memo (QBO fault 6140, "Duplicate Document Number Error"; Detail like "DocNumber=1001
is assigned to TxnType=Invoice with TxnId=145"). Usually because QBO's Custom transaction
numbers setting (SalesFormsPrefs.CustomTxnNumbers) is on, so QBO takes HubSpot's numbers.

Data: Custom transaction numbers is on and a QBO Invoice/CreditMemo that is not this
invoice's counterpart has DocNumber = hs_number.
Fixes: renumber the conflicting documents (a free "-1", "-2", ... suffix, 21 characters at
most), then turn Custom transaction numbers off (or say where in QBO, from Intuit's help:
Settings > Account and settings > Sales > Sales form content > Custom transaction numbers).
"""
from __future__ import annotations

from .base import Finding, FixContext, FixResult, Rule
from .books_closed import document, refuse_if_closed
from .fixes import already, make_fix
from .revenue_recognition import preference_off_work
from .refusals import refusal
from .text import lang_of, request_id
from .catalog import words

DOC_NUMBER_MAX = 21
PREF = ("SalesFormsPrefs", "CustomTxnNumbers")
PATH = words({
    "en": "In QuickBooks Online go to Settings ⚙ > Account and settings > Sales > Sales form content > Edit ✎, "
          "clear Custom transaction numbers, then Save and Done.",
})
REFUSED = words({
    "en": "QuickBooks did not let qbsync turn Custom transaction numbers off ({detail}). Please do it yourself: {path}",
})
DONE = words({
    "en": "Custom transaction numbers is now off in QuickBooks Online: QBO numbers new invoices itself.",
})
RENUMBERED = words({
    "en": "QBO {type} {id} now has number {new} (was {old}).",
})
DOC_WORDS = words({
    "en": {"Invoice": "invoice", "CreditMemo": "credit memo"},
})


def candidates(number: str, count: int = 30) -> list[str]:
    out = []
    for n in range(1, count + 1):
        suffix = f"-{n}"
        out.append(number[:DOC_NUMBER_MAX - len(suffix)] + suffix)
    return out


class DuplicateDocNumber(Rule):
    DATE_VALUES = ("doc_date",)  # shown in the reader's words (rules/locale_format.py)
    id = "duplicate-doc-number"
    order = 30
    GENERIC_TITLES = words({'en': 'The invoice number is already used in QuickBooks'})
    fault_codes = ("6140",)
    patterns = {
        "en": (r"duplicate document number", r"this number has already been used"),
        "nl": (r"je moet een ander nummer opgeven", r"dit nummer is al gebruikt", r"dubbel documentnummer"),
        "es": (r"numero de documento duplicado", r"este numero ya ha sido utilizado",
               r"debe especificar un numero diferente"),
    }
    TEXTS = words({
        "en": {
            "title": "Invoice {number}: the number is already used in QuickBooks",
            "text": "HubSpot could not sync invoice {number}: QuickBooks Online already has {doc_kind} {number} "
                    "(Id {doc_id}, customer {doc_customer}), and Custom transaction numbers is on, so QuickBooks takes "
                    "HubSpot's number and refuses a duplicate. Renumber that {doc_kind}, then turn Custom "
                    "transaction numbers off.",
            "generic": "QuickBooks Online refused the invoice number because another invoice or credit memo already "
                       "uses it. This mostly happens because Custom transaction numbers is on, so QuickBooks takes "
                       "HubSpot's prefix and number.",
            "named": "QuickBooks says number {DocNumber} belongs to {TxnType} {TxnId}.",
            "steps": ["Change the number of the QuickBooks invoice or credit memo that has it, so the HubSpot invoice can sync.",
                      "Then turn Custom transaction numbers off. " + PATH["en"]],
            "fixes": {
                "renumber-conflicting-document": {
                    "label": "Renumber QBO {doc_kind} {number} to {new_number}",
                    "confirm": "QuickBooks {doc_kind} {doc_id} ({doc_customer}, {doc_date}) gets number {new_number} "
                               "(or the next free suffix) instead of {number}. Copies {doc_customer} already received "
                               "keep {number}; payments applied to it stay. Nothing else on it changes. HubSpot "
                               "invoice {number} then syncs with its own number."},
                "disable-custom-txn-numbers": {
                    "label": "Turn off Custom transaction numbers in QBO",
                    "confirm": "Turns off Custom transaction numbers for the whole QuickBooks company: QuickBooks "
                               "numbers new sales forms itself and no longer takes HubSpot's numbers."},
            },
        },
    })

    def check(self, facts):
        if facts.counterpart is not None or not facts.pref(".".join(PREF)):
            return None
        inv = facts.invoice
        conflicts = []
        for entity, doc in facts.documents:
            if entity not in ("Invoice", "CreditMemo"):
                continue
            cust = facts.doc_customers.get(str((doc.get("CustomerRef") or {}).get("value") or "")) or {}
            conflicts.append({"type": entity, "id": str(doc["Id"]), "number": doc.get("DocNumber", ""),
                              "date": str(doc.get("TxnDate") or "")[:10],
                              "customer": {"id": str((doc.get("CustomerRef") or {}).get("value") or ""),
                                           "name": cust.get("DisplayName", "")}})
        if not conflicts:
            return None
        first = conflicts[0]
        evidence = {"doc_number": inv.number, "conflicts": conflicts, "preference": ".".join(PREF), "value": True,
                    "settings_path": PATH["en"]}
        summary = {"doc_type": first["type"], "doc_id": first["id"],
                   "doc_customer": first["customer"]["name"] or first["customer"]["id"],
                   "doc_date": first.get("date") or "-",
                   "new_number": candidates(inv.number)[0]}
        return Finding(self.id, inv.id, inv.number, summary, evidence)

    def explain(self, subject, lang="en"):
        if isinstance(subject, Finding):
            kind = DOC_WORDS[lang_of(lang)].get(subject.summary_facts["doc_type"], subject.summary_facts["doc_type"])
            subject = Finding(subject.rule, subject.invoice_id, subject.invoice_number,
                              dict(subject.summary_facts, doc_kind=kind), subject.evidence)
        return super().explain(subject, lang)

    def generic_details(self, classification, lang):
        if classification.extracted.get("DocNumber") and classification.extracted.get("TxnId"):
            return [self.texts(lang)["named"]]
        return []

    def fixes(self, finding, lang="en"):
        kind = DOC_WORDS[lang_of(lang)].get(finding.summary_facts["doc_type"], finding.summary_facts["doc_type"])
        rid = request_id(finding.invoice_id, self.id, "disable-custom-txn-numbers", finding.evidence)
        return [
            make_fix(self, finding, "renumber-conflicting-document", lang, {"doc_kind": kind},
                     renumber_work(finding)),
            make_fix(self, finding, "disable-custom-txn-numbers", lang, {"doc_kind": kind},
                     preference_off_work(PREF, rid, DONE, REFUSED, PATH),
                     hint=lambda exc, lang: PATH[lang_of(lang)]),
        ]


def renumber_work(finding):
    number = finding.evidence["doc_number"]

    def work(ctx: FixContext) -> FixResult:
        lang = lang_of(ctx.lang)
        from .view import LiveQboView
        view = LiveQboView(ctx.qbo)
        changed, notes = [], []
        taken = {n for n, rows in view.documents_by_number(candidates(number)).items() if rows}
        free = [n for n in candidates(number) if n not in taken]
        for conflict in finding.evidence["conflicts"]:
            current = ctx.qbo.get(conflict["type"], conflict["id"])
            if current.get("DocNumber") != number:
                continue  # renumbered already (by us or by a person)
            # A closed period refuses the renumber the same way (books-closed): say so, write nothing.
            refuse_if_closed(ctx.qbo, current.get("TxnDate"), document(conflict["type"], number, lang), lang)
            if not free:
                return FixResult(False, refusal(lang, "numbers_taken", first=candidates(number)[0],
                                                last=candidates(number)[-1]))
            new = free.pop(0)
            rid = request_id(finding.invoice_id, finding.rule, "renumber-conflicting-document", finding.evidence,
                             conflict["id"])
            updated = ctx.qbo.update(conflict["type"], {"Id": current["Id"], "SyncToken": current["SyncToken"],
                                                        "DocNumber": new}, sparse=True, request_id=rid)
            kind = DOC_WORDS[lang].get(conflict["type"], conflict["type"])
            changed.append({"type": conflict["type"], "id": conflict["id"], "from": number,
                            "to": updated.get("DocNumber")})
            notes.append(RENUMBERED[lang].format(type=kind, id=conflict["id"], new=updated.get("DocNumber"), old=number))
        if not changed:
            return FixResult(True, already(lang, "number_free", number=number))
        return FixResult(True, " ".join(notes), {"qbo_renumbered": changed})
    return work


RULE = DuplicateDocNumber()
