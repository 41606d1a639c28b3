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
from .books_closed import refuse_if_closed
from .fixes import make_fix, msg
from .revenue_recognition import preference_off_work
from .text import lang_of, request_id

DOC_NUMBER_MAX = 21
PREF = ("SalesFormsPrefs", "CustomTxnNumbers")
PATH = {
    "en": "In QuickBooks Online go to Settings ⚙ > Account and settings > Sales > Sales form content > Edit ✎, "
          "clear Custom transaction numbers, then Save and Done.",
    "nl": "Ga in QuickBooks Online naar Settings ⚙ > Account and settings > Sales > Sales form content > Edit ✎, "
          "vink Custom transaction numbers uit en kies Save en Done.",
    "es": "En QuickBooks Online ve a Settings ⚙ > Account and settings > Sales > Sales form content > Edit ✎, "
          "desmarca Custom transaction numbers y elige Save y Done.",
}
REFUSED = {
    "en": "QuickBooks did not let qbsync turn Custom transaction numbers off ({detail}). Please do it yourself: {path}",
    "nl": "QuickBooks stond qbsync niet toe Custom transaction numbers uit te zetten ({detail}). Doe het zelf: {path}",
    "es": "QuickBooks no permitió a qbsync desactivar Custom transaction numbers ({detail}). Hazlo tú: {path}",
}
DONE = {
    "en": "Custom transaction numbers is now off in QuickBooks Online: QBO numbers new invoices itself.",
    "nl": "Custom transaction numbers staat nu uit in QuickBooks Online: QBO nummert nieuwe facturen zelf.",
    "es": "Custom transaction numbers está ahora desactivado en QuickBooks Online: QBO numera las facturas nuevas.",
}
RENUMBERED = {
    "en": "QBO {type} {id} now has number {new} (was {old}).",
    "nl": "QBO-{type} {id} heeft nu nummer {new} (was {old}).",
    "es": "El {type} de QBO {id} tiene ahora el número {new} (antes {old}).",
}
DOC_WORDS = {
    "en": {"Invoice": "invoice", "CreditMemo": "credit memo"},
    "nl": {"Invoice": "factuur", "CreditMemo": "creditnota"},
    "es": {"Invoice": "factura", "CreditMemo": "abono"},
}


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
    GENERIC_TITLES = {'en': 'The invoice number is already used in QuickBooks', 'nl': 'Het factuurnummer is al in gebruik in QuickBooks', 'es': 'El número de factura ya se usa en QuickBooks'}
    fault_codes = ("6140",)
    patterns = {
        "en": (r"duplicate document number", r"this number has already been used"),
        "nl": (r"je moet een ander nummer opgeven", r"dit nummer is al gebruikt", r"dubbel documentnummer"),
        "es": (r"numero de documento duplicado", r"este numero ya ha sido utilizado",
               r"debe especificar un numero diferente"),
    }
    TEXTS = {
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
        "nl": {
            "title": "Factuur {number}: het nummer is al in gebruik in QuickBooks",
            "text": "HubSpot kon factuur {number} niet synchroniseren: QuickBooks Online heeft al {doc_kind} {number} "
                    "(Id {doc_id}, klant {doc_customer}), en Custom transaction numbers staat aan, dus QuickBooks "
                    "neemt het nummer van HubSpot over en weigert een dubbel nummer. Geef die {doc_kind} een ander "
                    "nummer en zet daarna Custom transaction numbers uit.",
            "generic": "QuickBooks Online weigerde het factuurnummer omdat een andere factuur of creditnota het al "
                       "gebruikt. Meestal staat Custom transaction numbers aan, waardoor QuickBooks het voorvoegsel en "
                       "nummer van HubSpot overneemt.",
            "named": "Volgens QuickBooks hoort nummer {DocNumber} bij {TxnType} {TxnId}.",
            "steps": ["Wijzig het nummer van de QuickBooks-factuur of -creditnota die het heeft, zodat de HubSpot-factuur kan synchroniseren.",
                      "Zet daarna Custom transaction numbers uit. " + PATH["nl"]],
            "fixes": {
                "renumber-conflicting-document": {
                    "label": "Hernummer QBO-{doc_kind} {number} naar {new_number}",
                    "confirm": "QuickBooks-{doc_kind} {doc_id} ({doc_customer}, {doc_date}) krijgt nummer {new_number} "
                               "(of het eerstvolgende vrije achtervoegsel) in plaats van {number}. Kopieën die "
                               "{doc_customer} al kreeg houden {number}; betalingen erop blijven. Verder verandert er "
                               "niets. HubSpot-factuur {number} synchroniseert daarna met zijn eigen nummer."},
                "disable-custom-txn-numbers": {
                    "label": "Zet Custom transaction numbers uit in QBO",
                    "confirm": "Zet Custom transaction numbers uit voor het hele QuickBooks-bedrijf: QuickBooks "
                               "nummert nieuwe verkoopformulieren zelf en neemt geen HubSpot-nummers meer over."},
            },
        },
        "es": {
            "title": "Factura {number}: el número ya se usa en QuickBooks",
            "text": "HubSpot no pudo sincronizar la factura {number}: QuickBooks Online ya tiene {doc_kind} {number} "
                    "(Id {doc_id}, cliente {doc_customer}), y Custom transaction numbers está activado, así que "
                    "QuickBooks toma el número de HubSpot y rechaza el duplicado. Cambia el número de ese documento y "
                    "luego desactiva Custom transaction numbers.",
            "generic": "QuickBooks Online rechazó el número de factura porque otra factura o abono ya lo usa. Suele "
                       "ocurrir porque Custom transaction numbers está activado y QuickBooks toma el prefijo y el "
                       "número de HubSpot.",
            "named": "Según QuickBooks, el número {DocNumber} pertenece a {TxnType} {TxnId}.",
            "steps": ["Cambia el número de la factura o abono de QuickBooks que lo tiene, para que la factura de HubSpot se sincronice.",
                      "Luego desactiva Custom transaction numbers. " + PATH["es"]],
            "fixes": {
                "renumber-conflicting-document": {
                    "label": "Renumerar {doc_kind} {number} de QBO a {new_number}",
                    "confirm": "El documento de QuickBooks {doc_kind} {doc_id} ({doc_customer}, {doc_date}) recibe el "
                               "número {new_number} (o el siguiente sufijo libre) en lugar de {number}. Las copias que "
                               "{doc_customer} ya recibió conservan {number}; los pagos aplicados se mantienen. Nada "
                               "más cambia. La factura de HubSpot {number} se sincroniza luego con su propio número."},
                "disable-custom-txn-numbers": {
                    "label": "Desactivar Custom transaction numbers en QBO",
                    "confirm": "Desactiva Custom transaction numbers en toda la empresa de QuickBooks: QuickBooks "
                               "numera los nuevos formularios de venta y deja de tomar los números de HubSpot."},
            },
        },
    }

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
            refuse_if_closed(ctx.qbo, current.get("TxnDate"), f"QBO {conflict['type']} {number}", lang)
            if not free:
                return FixResult(False, f"no free number from {candidates(number)[0]} to {candidates(number)[-1]}")
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
            return FixResult(True, msg(lang, "already", what=f"no QuickBooks document other than this invoice uses {number}"))
        return FixResult(True, " ".join(notes), {"qbo_renumbered": changed})
    return work


RULE = DuplicateDocNumber()
