"""Everything diagnosis needs to know about a batch of HubSpot invoices, read through a
QboView in as few calls as possible, once per batch; every rule then decides from these facts.

Counterpart matching (how qbsync decides a HubSpot invoice is in QBO), first hit wins:
  1. a learned mapping HubSpot invoice id -> QBO invoice id (passed in; the poller keeps it),
     if that QBO invoice still exists;
  2. a QBO Invoice whose DocNumber is the HubSpot number (hs_number) and whose customer's
     email is the invoice contact's email (the integration copies the number while
     "Custom transaction numbers" is on, and finds customers by email);
  3. a QBO Invoice of a customer with the contact's email whose TxnDate is the invoice date
     and whose lines match (QBO numbered it itself; `line_match`: the same total, or most
     lines by name, so an invoice changed in QBO after it synced is still paired).
The poller persists each pairing the first time it sees the invoice synced (store
`invoice_pairs`) and passes them back as the learned mapping (1.).
A QBO invoice is the counterpart of at most one HubSpot invoice.

Customer problems (when there is no counterpart and no active QBO customer has the contact's
email). The integration then either fails outright ("missing customer", when the contact is
outside HubSpot's contact sync) or creates a customer named after the contact's company
(else "First Last") and collides with whoever holds that name (6240). Contact-sync scope is
not readable through any public API, so qbsync decides from who holds the name:
  - a vendor or employee, an inactive customer, or a customer whose email belongs to another
    HubSpot contact (typically the company's first contact, synced earlier) ->
    duplicate-display-name;
  - a customer whose email is no HubSpot contact's (the same party under another email), or
    nobody -> missing-customer, naming the likely QBO customer.
Either way the offered fixes work for both failures: giving the contact's email to a QBO
customer (or a new one) makes the integration find it by email and create nothing.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

from .view import PUBLIC_DOMAINS, email_of

CENT = Decimal("0.01")


def dec(value) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except Exception:  # noqa: BLE001 - QBO numbers are numbers; anything else counts as 0
        return Decimal("0")


def customer_ref(doc: dict) -> str:
    return str((doc.get("CustomerRef") or {}).get("value") or "")


@dataclass
class InvoiceFacts:
    invoice: Any                          # bot.models.Invoice
    preferences: dict
    customers: list[dict] = field(default_factory=list)       # active, email == contact email
    counterpart: dict | None = None
    counterpart_how: str = ""             # mapping | doc-number | customer-date-lines
    documents: list[tuple[str, dict]] = field(default_factory=list)  # QBO docs with hs_number
    doc_customers: dict[str, dict] = field(default_factory=dict)
    integration_name: str = ""            # the DisplayName the integration would create
    holders: list[tuple[str, dict]] = field(default_factory=list)    # who holds that name
    likely: list[dict] = field(default_factory=list)          # ranked likely QBO customers
    contacts_by_email: dict[str, list] = field(default_factory=dict)  # HubSpot contacts
    customer_problem: str | None = None   # missing-customer | duplicate-display-name | None
    holder: tuple[str, dict] | None = None  # the name holder behind duplicate-display-name
    # QBO customer id -> how many QBO invoices are billed to it, for the customers a fix might
    # change (a likely match on strong evidence, an inactive name holder): the confirm text
    # says what else a change to that customer touches.
    customer_invoices: dict[str, int] = field(default_factory=dict)
    # CompanyInfo (Country ...), read only for a batch with an invoice not in QBO; {} = unknown.
    company_info: dict = field(default_factory=dict)
    # Line items' QBO items by name (case-folded), inactive ones included, for invoices with no
    # counterpart (rules/invalid_reference.py): what the integration's mapping points at.
    line_items: dict[str, dict] = field(default_factory=dict)

    @property
    def contact(self):
        return self.invoice.contact

    @property
    def email(self) -> str:
        return (self.contact.email if self.contact else "").strip()

    def pref(self, path: str) -> bool:
        node: Any = self.preferences
        for part in path.split("."):
            node = (node or {}).get(part) if isinstance(node, dict) else None
        return bool(node)

    def other_contact(self, email: str):
        """A HubSpot contact with this email that is not the invoice's contact."""
        mine = self.contact.id if self.contact else None
        for c in self.contacts_by_email.get(email.lower(), []):
            if c.id != mine:
                return c
        return None


def integration_name(invoice) -> str:
    """The DisplayName HubSpot's integration gives a customer it creates for the contact: the
    name of the contact's own company (not the invoice's: they can differ), else "First Last"
    (else the email). bot/adapters/hubspot.py fills Contact.company_name from the contact's
    primary company or its company association."""
    contact = invoice.contact
    if contact is None:
        return ""
    if contact.company_name.strip():
        return contact.company_name.strip()
    company = invoice.company
    if contact.company_id and company is not None and company.id == contact.company_id and company.name.strip():
        # The contact's company name was not read (an invoice cached before company names
        # were) but the invoice names that same company. Only then: a contact whose own
        # company has a blank name gets "First Last" from the integration, not the name of
        # another company the invoice happens to name.
        return company.name.strip()
    return contact.name.strip()


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[1].lower() if "@" in email else ""


def gather(invoices: list, view, directory=None, *, mapping: Mapping[str, str] | None = None,
           taken: Callable[[set[str], set[str]], Iterable[str]] | None = None) -> dict[str, InvoiceFacts]:
    """Facts for a batch. `mapping`: remembered pairings of these invoices (HubSpot id -> QBO
    id). `taken(qbo_ids, hubspot_ids)`: which of these QBO invoices are remembered as the
    counterpart of another HubSpot invoice than these (so they are never paired with these)."""
    mapping = mapping or {}
    prefs = view.preferences()
    facts = {inv.id: InvoiceFacts(inv, prefs) for inv in invoices}
    if not facts:
        return facts
    known_contacts: dict[str, list] = {}
    for inv in invoices:
        for c in inv.contacts:
            if c.email:
                known_contacts.setdefault(c.email.lower(), []).append(c)

    by_email = view.customers_by_email([f.email for f in facts.values() if f.email])
    for f in facts.values():
        f.customers = [c for c in by_email.get(f.email.lower(), []) if c.get("Active", True)]

    claimed: set[str] = set()
    # 1. learned mapping
    for f in facts.values():
        qbo_id = mapping.get(f.invoice.id)
        if qbo_id:
            doc = view.document("Invoice", qbo_id)
            if doc is not None:
                f.counterpart, f.counterpart_how = doc, "mapping"
                claimed.add(str(doc["Id"]))

    # 2. DocNumber + customer email
    docs = view.documents_by_number([f.invoice.number for f in facts.values() if f.invoice.number])
    ref_ids = {customer_ref(d) for rows in docs.values() for _, d in rows}
    doc_customers = view.customers_by_id(ref_ids)
    for f in facts.values():
        f.documents = list(docs.get(f.invoice.number, [])) if f.invoice.number else []
        f.doc_customers = doc_customers
        if f.counterpart is not None or not f.email:
            continue
        for entity, doc in f.documents:
            cust = doc_customers.get(customer_ref(doc)) or {}
            if entity == "Invoice" and str(doc["Id"]) not in claimed and \
                    email_of(cust).lower() == f.email.lower():
                f.counterpart, f.counterpart_how = doc, "doc-number"
                claimed.add(str(doc["Id"]))
                break

    # 3. customer + date + lines (QBO numbered it itself: Custom transaction numbers off).
    # Exact matches (same total) are taken first for every invoice, then the closest by lines,
    # best pair first across the batch, so a failing invoice never takes a neighbour's copy.
    open_ = [f for f in facts.values() if f.counterpart is None and f.customers and f.invoice.invoice_date]
    if open_:
        since = min(f.invoice.invoice_date for f in open_).isoformat()
        candidates = view.invoices_of_customers({str(c["Id"]) for f in open_ for c in f.customers}, since)
        if taken is not None:  # QBO invoices remembered as another HubSpot invoice's counterpart
            others = taken({str(d["Id"]) for d in candidates}, {f.invoice.id for f in open_})
            claimed |= set(others)
        scored = []
        for f in open_:
            mine = {str(c["Id"]) for c in f.customers}
            day = f.invoice.invoice_date.isoformat()
            for doc in candidates:
                if customer_ref(doc) in mine and str(doc.get("TxnDate", ""))[:10] == day:
                    score = line_match(f.invoice, doc)
                    if score is not None:
                        scored.append((score, f.invoice.id, str(doc["Id"]).zfill(12), f, doc))
        scored.sort(key=lambda t: (tuple(-x for x in t[0]), t[1], t[2]))
        for _, _, _, f, doc in scored:
            if f.counterpart is None and str(doc["Id"]) not in claimed:
                f.counterpart, f.counterpart_how = doc, "customer-date-lines"
                claimed.add(str(doc["Id"]))

    # The company's country (regional rules): one read, only when some invoice is not in QBO.
    if any(f.counterpart is None for f in facts.values()):
        info = view.company_info() or {}
        for f in facts.values():
            f.company_info = info

    # Customer problems: who holds the name, which QBO customer is the likely match.
    lost = [f for f in facts.values() if f.counterpart is None and not f.customers and f.contact is not None]
    if lost:
        for f in lost:
            f.integration_name = integration_name(f.invoice)
        names = [f.integration_name for f in lost] + [f.contact.name for f in lost]
        companies = [f.invoice.company.name for f in lost if f.invoice.company]
        # One look-up serves holders and likely matches. Names are also asked with runs of
        # spaces collapsed, and holders matched on that key: QBO's uniqueness check appears to
        # ignore extra spaces while a lookup by name does not ("Duplicate Name Exists" caused by
        # "extra whitespaces in the customer's first or last name":
        # teachworks.uservoice.com/knowledgebase/articles/1824445-quickbooks-online-error-messages;
        # Intuit documents neither way, and the sandbox treats them as one), and a holder missed
        # here would make the fix collide again.
        holders = by_name_key(view.names_in_use(names + [name_key_text(n) for n in names] + companies))
        similar = SimilarCustomers(view.similar_customers(names=names, companies=companies, domains=[]))
        for f in lost:
            f.holders = holders.get(name_key(f.integration_name), [])
            f.likely = rank_likely(f, similar)
        # Same email domain only where name and company found nothing: one query per domain.
        bare = [f for f in lost if not f.likely and not f.holders and f.email]
        if bare:
            more = SimilarCustomers(view.similar_customers(names=[], companies=[],
                                                           domains=[_domain(f.email) for f in bare]))
            for f in bare:
                f.likely = rank_likely(f, more)
        emails = {email_of(r) for f in lost for _, r in f.holders} | \
                 {c["email"] for f in lost for c in f.likely}
        emails = {e for e in emails if e}
        looked = dict(known_contacts)
        if directory is not None and emails:
            for e, rows in directory.contacts_by_email(emails).items():
                looked[e] = rows
        for f in lost:
            f.contacts_by_email = looked
            decide_customer_problem(f)
        # What else relies on a customer a fix could change: its QBO invoices (one query).
        touched = {c["id"] for f in lost for c in f.likely if is_strong(c)} | \
                  {str(f.holder[1]["Id"]) for f in lost if f.holder and f.holder[0] == "Customer"}
        if touched:
            counts: dict[str, int] = {}
            for doc in view.invoices_of_customers(touched, None):
                counts[customer_ref(doc)] = counts.get(customer_ref(doc), 0) + 1
            for f in lost:
                f.customer_invoices = {i: counts.get(i, 0) for i in touched}
    gather_line_items(facts, view)
    return facts


def gather_line_items(facts: dict[str, InvoiceFacts], view) -> None:
    """The QBO items (inactive too) named like the lines of invoices not in QBO: one look-up
    for the batch. HubSpot's product sync names the QBO item after the product, and the
    integration maps a line to its product's item or an item of the line's name."""
    missing = [f for f in facts.values() if f.counterpart is None and f.invoice.line_items]
    names = {li.name for f in missing for li in f.invoice.line_items if li.name}
    if not names:
        return
    items = view.items_by_name(names, include_inactive=True)
    for f in missing:
        f.line_items = {li.name.casefold(): items[li.name.casefold()] for li in f.invoice.line_items
                        if li.name and li.name.casefold() in items}
def name_key_text(name: str) -> str:
    """A name with runs of whitespace collapsed (see gather)."""
    return " ".join(str(name).split())


def name_key(name: str) -> str:
    return name_key_text(name).casefold()


def by_name_key(found: Mapping[str, list[tuple[str, dict]]]) -> dict[str, list[tuple[str, dict]]]:
    """names_in_use's answer keyed by name_key, each record once."""
    out: dict[str, list[tuple[str, dict]]] = {}
    seen: set[tuple[str, str]] = set()
    for rows in found.values():
        for entity, record in rows:
            if (entity, str(record.get("Id"))) not in seen:
                seen.add((entity, str(record.get("Id"))))
                out.setdefault(name_key(str(record.get("DisplayName") or "")), []).append((entity, record))
    return out


STRONG = ("same company", "same email domain")


def is_strong(likely: dict) -> bool:
    """A likely QBO customer on strong evidence: the same company and the same email domain
    (a same-name match alone can be another person or another firm)."""
    return all(w in likely.get("why", ()) for w in STRONG)


def _qbo_lines(doc: dict) -> list[tuple[set[str], Decimal, Decimal]]:
    out = []
    for line in doc.get("Line") or []:
        if line.get("DetailType") != "SalesItemLineDetail":
            continue
        detail = line.get("SalesItemLineDetail") or {}
        item = (detail.get("ItemRef") or {}).get("name") or ""
        names = {str(line.get("Description") or "").strip().casefold(), str(item).strip().casefold()} - {""}
        out.append((names, dec(detail.get("Qty")).normalize(), dec(line.get("Amount")).quantize(CENT)))
    return out


def line_match(invoice, doc: dict) -> tuple[int, int, int] | None:
    """How well QBO invoice `doc` (same customer, same date) matches the HubSpot invoice:
    (same total, identical lines, lines matching by name), or None for no match.

    An invoice changed in QBO after it synced (what native-invoice-modified is about) keeps
    most of its lines but not its total, so pairing goes by the lines, not by an exact total:
    a match is the same total, or at least one identical line (name, quantity, amount) and at
    least half of HubSpot's lines by name (the QBO line's description or item name), each QBO
    line used once."""
    same_total = dec(doc.get("TotalAmt")).quantize(CENT) == invoice.amount_billed.quantize(CENT)
    pool = _qbo_lines(doc)
    named = identical = 0
    for li in invoice.line_items:
        name = li.name.strip().casefold()
        amount = (dec(li.amount) if li.amount else dec(li.quantity) * dec(li.price)).quantize(CENT)
        hit = next((i for i, (names, qty, amt) in enumerate(pool)
                    if name in names and qty == dec(li.quantity).normalize() and amt == amount), None)
        if hit is not None:
            identical += 1
        else:
            hit = next((i for i, (names, _, _) in enumerate(pool) if name and name in names), None)
        if hit is not None:
            named += 1
            del pool[hit]
    wanted = max(1, -(-len(invoice.line_items) // 2))
    if same_total or (identical >= 1 and named >= wanted):
        return int(same_total), identical, named
    return None


def _plain(text: str) -> str:
    """Case-folded, accents and runs of spaces dropped: "Café  Noël" and "CAFE NOEL" are the
    same company typed twice (people type names in HubSpot and QBO separately)."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split()).casefold()


class SimilarCustomers:
    """The candidates rank_likely scores, each normalised once (_plain, _domain) and indexed
    by the keys that can score: its names, its company, its email domain.

    A batch's candidates are every customer holding any of the batch's names or companies, so
    scoring each lost invoice against all of them was quadratic: a steady cycle at 50,000
    invoices (about 1,000 open alerts re-diagnosed) spent most of its 16 s in _plain, holding
    the GIL while acks waited. Each invoice now looks only at the candidates that share one of
    its keys, which are exactly those the full comparison scored above zero."""

    def __init__(self, similar: Iterable[dict]):
        self._entries: list[tuple[dict, str, str, str, str]] = []
        self._by_name: dict[str, list[int]] = {}
        self._by_company: dict[str, list[int]] = {}
        self._by_domain: dict[str, list[int]] = {}
        for c in similar:
            if not c.get("Active", True):
                continue
            display = _plain(str(c.get("DisplayName") or ""))
            given_family = _plain(" ".join(p for p in (c.get("GivenName"), c.get("FamilyName")) if p))
            company = _plain(str(c.get("CompanyName") or ""))
            domain = _domain(email_of(c))
            at = len(self._entries)
            self._entries.append((c, display, given_family, company, domain))
            for key, index in ((display, self._by_name), (given_family, self._by_name),
                               (display, self._by_company), (company, self._by_company), (domain, self._by_domain)):
                if key and (not index.get(key) or index[key][-1] != at):
                    index.setdefault(key, []).append(at)

    def matching(self, name: str, company: str, domain: str) -> list[tuple[dict, str, str, str, str]]:
        """The entries sharing a key with (name, company, domain), in their original order."""
        at: set[int] = set()
        for key, index in ((name, self._by_name), (company, self._by_company), (domain, self._by_domain)):
            if key:
                at.update(index.get(key, ()))
        return [self._entries[i] for i in sorted(at)]


def rank_likely(f: InvoiceFacts, similar: "SimilarCustomers | Iterable[dict]") -> list[dict]:
    """QBO customers that are probably the contact's, best first: same name (display name or
    given+family name), same company, same email domain (names compared by _plain).
    `similar`: a SimilarCustomers built once per batch (or the plain records)."""
    if not isinstance(similar, SimilarCustomers):
        similar = SimilarCustomers(similar)
    contact = f.contact
    name = _plain(contact.name)
    company = _plain(f.invoice.company.name) if f.invoice.company and f.invoice.company.name else ""
    domain = _domain(f.email)
    if domain in PUBLIC_DOMAINS:
        domain = ""  # a shared mail provider says nothing about who the customer is
    ranked = []
    for c, display, given_family, c_company, c_domain in similar.matching(name, company, domain):
        why, score = [], 0
        if name and name in (display, given_family):
            why.append("same name")
            score += 4
        if company and company in (display, c_company):
            why.append("same company")
            score += 2
        if domain and c_domain == domain:
            why.append("same email domain")
            score += 1
        if score:
            ranked.append((-score, str(c["Id"]).zfill(12), {
                "id": str(c["Id"]), "name": c.get("DisplayName", ""), "email": email_of(c), "why": why}))
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [r[2] for r in ranked[:5]]


def decide_customer_problem(f: InvoiceFacts) -> None:
    """See the module docstring."""
    contact_email = f.email.lower()
    for entity, record in f.holders:
        holder_email = email_of(record).lower()
        if entity != "Customer" or not record.get("Active", True) or \
                (holder_email and holder_email != contact_email and f.other_contact(holder_email) is not None):
            f.customer_problem, f.holder = "duplicate-display-name", (entity, record)
            return
    f.customer_problem = "missing-customer"
    if f.holders:
        _, record = f.holders[0]
        hid = str(record["Id"])
        if not any(c["id"] == hid for c in f.likely):
            f.likely.insert(0, {"id": hid, "name": record.get("DisplayName", ""), "email": email_of(record),
                                "why": ["holds the name the integration would give this contact"]})
