"""What diagnosis reads from QBO (and, for a few look-ups, from HubSpot), batch-shaped.

`QboView` is the protocol; `LiveQboView(adapter)` answers it through QuickBooksAdapter with
IN (...) queries (50 values a query), one set of calls per batch of invoices, and remembers
what it read so a second ask costs nothing. The poller (issue #5) can put a local mirror
behind the same protocol.

`ContactDirectory` finds HubSpot contacts by email: diagnosis asks it only about the
emails of QBO customers that hold a contact's name or look like its match (a handful per
batch), so its per-email search is cheap enough.

Every method takes a collection and answers for all of it at once.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable, Protocol

from bot.adapters.quickbooks import quote
from bot.errors import NotFound, ValidationFailed

log = logging.getLogger(__name__)

# Mailbox providers: sharing one of these domains says nothing about being the same customer.
PUBLIC_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com",
    "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.net", "gmx.de",
    "web.de", "ziggo.nl", "kpnmail.nl", "hotmail.nl", "live.nl", "telefonica.net", "yahoo.es", "orange.fr",
})
_CHUNK = 50


def _chunks(values: list[str], size: int = _CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def email_of(record: dict) -> str:
    return ((record.get("PrimaryEmailAddr") or {}).get("Address") or "").strip()


class QboView(Protocol):
    def preferences(self) -> dict: ...
    def customers_by_email(self, emails: Iterable[str]) -> dict[str, list[dict]]: ...
    def names_in_use(self, names: Iterable[str]) -> dict[str, list[tuple[str, dict]]]: ...
    def documents_by_number(self, numbers: Iterable[str]) -> dict[str, list[tuple[str, dict]]]: ...
    def customers_by_id(self, ids: Iterable[str]) -> dict[str, dict]: ...
    def invoices_of_customers(self, customer_ids: Iterable[str], since: str | None) -> list[dict]: ...
    def similar_customers(self, names: Iterable[str], companies: Iterable[str],
                          domains: Iterable[str]) -> list[dict]: ...
    def document(self, entity: str, doc_id: str) -> dict | None: ...
    def items_by_name(self, names: Iterable[str], include_inactive: bool = False) -> dict[str, dict]: ...
    # CompanyInfo (Country: the tax rules; QBO's /companyinfo/<realm> read). {} = not known.
    def company_info(self) -> dict: ...


class ContactDirectory(Protocol):
    def contacts_by_email(self, emails: Iterable[str]) -> dict[str, list]: ...


class LiveQboView:
    """QboView over QuickBooksAdapter. Keys of the answers: emails lower-cased, names
    case-folded (QBO's names are unique regardless of case), DocNumbers as given."""

    def __init__(self, adapter, *, company_info: Callable[[], dict] | None = None):
        """company_info: where CompanyInfo comes from instead of a live read (FixContext)."""
        # The adapter paces its own HTTP requests under QBO's per-company limits.
        self.qbo = adapter
        self._company_info_source = company_info
        self._prefs: dict | None = None
        self._by_email: dict[str, list[dict]] = {}
        self._names: dict[str, list[tuple[str, dict]]] = {}
        self._docs: dict[str, list[tuple[str, dict]]] = {}
        self._customers: dict[str, dict | None] = {}
        self._company_info: dict | None = None

    def company_info(self) -> dict:
        if self._company_info is None:
            source = self._company_info_source or self.qbo.company_info
            self._company_info = source()
        return self._company_info

    def preferences(self) -> dict:
        if self._prefs is None:
            self._prefs = self.qbo.preferences()
        return self._prefs

    def customers_by_email(self, emails):
        wanted = {e.strip() for e in emails if e and e.strip()}
        todo = [e for e in wanted if e.lower() not in self._by_email]
        if todo:
            found = self.qbo.customers_by_email(todo)
            self._by_email.update(found)
            for rows in found.values():
                for c in rows:
                    self._customers[str(c["Id"])] = c
        return {e.lower(): self._by_email.get(e.lower(), []) for e in wanted}

    def names_in_use(self, names):
        wanted = {n.strip() for n in names if n and n.strip()}
        todo = [n for n in wanted if n.casefold() not in self._names]
        if todo:
            for n in todo:
                self._names[n.casefold()] = []
            for entity, record in self.qbo.names_in_use(todo):
                key = str(record.get("DisplayName") or "").casefold()
                self._names.setdefault(key, []).append((entity, record))
        return {n.casefold(): self._names.get(n.casefold(), []) for n in wanted}

    def documents_by_number(self, numbers):
        wanted = {str(n) for n in numbers if n not in (None, "")}
        todo = [n for n in wanted if n not in self._docs]
        if todo:
            for n in todo:
                self._docs[n] = []
            for entity, record in self.qbo.documents_by_doc_number(todo):
                self._docs.setdefault(str(record.get("DocNumber")), []).append((entity, record))
        return {n: self._docs.get(n, []) for n in wanted}

    def customers_by_id(self, ids):
        wanted = {str(i) for i in ids if i not in (None, "")}
        todo = sorted(i for i in wanted if i not in self._customers)
        for chunk in _chunks(todo):
            for i in chunk:
                self._customers[i] = None
            where = f"Id IN ({', '.join(quote(i) for i in chunk)}) AND Active IN (true, false)"
            for c in self.qbo.query_all("Customer", where):
                self._customers[str(c["Id"])] = c
        return {i: self._customers[i] for i in wanted if self._customers.get(i) is not None}

    def invoices_of_customers(self, customer_ids, since):
        ids = sorted({str(i) for i in customer_ids if i})
        out: list[dict] = []
        for chunk in _chunks(ids):
            where = f"CustomerRef IN ({', '.join(quote(i) for i in chunk)})"
            if since:
                where += f" AND TxnDate >= {quote(since)}"
            out.extend(self.qbo.query_all("Invoice", where))
        return out

    def similar_customers(self, names, companies, domains):
        found: dict[str, dict] = {}
        names = sorted({n.strip() for n in names if n and n.strip()})
        companies = sorted({c.strip() for c in companies if c and c.strip()})
        for rows in self.names_in_use(names + companies).values():  # cached when diagnosis asked already
            for entity, c in rows:
                if entity == "Customer":
                    found.setdefault(str(c["Id"]), c)
        for chunk in _chunks(companies):
            where = f"CompanyName IN ({', '.join(quote(v) for v in chunk)})"
            for c in self.qbo.query_all("Customer", where):
                found.setdefault(str(c["Id"]), c)
        for domain in sorted({d.lower() for d in domains if d} - PUBLIC_DOMAINS):
            try:
                # LIKE on the email: QBO documents LIKE with '%' for string fields; should it
                # refuse it for PrimaryEmailAddr the domain hint is simply left out.
                rows = self.qbo.query(f"SELECT * FROM Customer WHERE PrimaryEmailAddr LIKE "
                                      f"{quote('%@' + domain)} MAXRESULTS 20")
            except ValidationFailed as exc:
                log.info("customer search by email domain refused: %s", exc)
                continue
            for c in rows:
                found.setdefault(str(c["Id"]), c)
        for c in found.values():
            self._customers[str(c["Id"])] = c
        return list(found.values())

    def document(self, entity, doc_id):
        try:
            return self.qbo.get(entity, str(doc_id))
        except NotFound:
            return None

    def items_by_name(self, names, include_inactive: bool = False):
        """Items by name (case-folded). `include_inactive`: also the ones made inactive (QBO
        never deletes a name: "deleted" = Active false, seen only with Active IN (true, false);
        real-failures.md, `invalid-reference`); an active one wins over an inactive namesake."""
        wanted = sorted({n.strip() for n in names if n and n.strip()})
        out: dict[str, dict] = {}
        for chunk in _chunks(wanted):
            where = f"Name IN ({', '.join(quote(n) for n in chunk)})"
            if include_inactive:
                where += " AND Active IN (true, false)"
                rows = sorted(self.qbo.query_all("Item", where), key=lambda i: bool(i.get("Active", True)))
                for item in rows:  # inactive first, so an active namesake overwrites it
                    out[str(item.get("Name", "")).casefold()] = item
                continue
            for item in self.qbo.query_all("Item", where):
                out[str(item.get("Name", "")).casefold()] = item
        return out


class LiveContactDirectory:
    """HubSpot contacts by email through HubSpotAdapter.contacts_by_emails (batch reads of 100
    by the unique `email` property: no search per email, whose limit is 5 a second)."""

    def __init__(self, adapter):
        self.hubspot = adapter
        self._cache: dict[str, list] = {}

    def contacts_by_email(self, emails):
        wanted = {e.strip().lower() for e in emails if e and e.strip()}
        missing = sorted(wanted - set(self._cache))
        if missing:
            found = self.hubspot.contacts_by_emails(missing)
            for e in missing:
                self._cache[e] = found.get(e, [])
        return {e: self._cache[e] for e in wanted}
