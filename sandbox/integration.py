"""A simulated HubSpot-to-QuickBooks-Online integration, behaving as HubSpot's knowledge base
describes (../shared/knowledge/error-catalog.md, ../shared/seeds/):

- it pushes HubSpot-native invoices that are open or paid into QBO;
- it finds the QBO customer by the invoice contact's email; if there is none it creates one
  (when the contact is in contact sync), named after the contact's company, so the second
  contact of a company collides on DisplayName (QBO fault 6240); a contact outside contact
  sync with no matching customer fails as missing-customer;
- it takes the HubSpot invoice number as DocNumber when QBO's Custom transaction numbers
  preference is on (so a number QBO already used fails with 6140);
- QBO itself refuses lines without a service date while Revenue Recognition is on (6000);
- an invoice it already pushed that was then edited in QBO (lines, amounts, tax) fails;
- it sends the invoice's currency (hs_currency) as CurrencyRef and no tax code on any line, so
  QBO refuses a currency the company or customer cannot take and, outside the US, lines
  without a tax code (sandbox/qbo_regional.py); a HubSpot number longer than QBO's 21
  characters fails with 2050 while Custom transaction numbers is on. For these HubSpot shows
  QBO's own words;
- among several active customers with the contact's email it takes the one in the invoice's
  currency, else the first. How HubSpot chooses is not documented anywhere we found: qbsync's
  currency fix (a second customer in the invoice's currency) relies on this, and its re-check
  and the next scan say so if the integration still fails;
- failed invoices are tried again every `retry_interval_s`.

It works on the sandbox's models in-process, the way HubSpot's backend talks to QBO without
our bot seeing it. Its failure list stays inside it, as in real HubSpot (no public API gives
an invoice's sync status): the bot must find failures from the data. Tests may read
`failures` to check the bot's diagnosis.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal

from .clock import Clock
from .hubspot import pushed_by_integration
from . import qbo_regional
from .qbo import QboFault

# The headings HubSpot shows for each failure, in the portal's language (from the article:
# English from error-catalog.md, Dutch and Spanish from the seeds, verbatim).
HEADINGS: dict[str, dict[str, str]] = {
    "missing-customer": {
        "en": "An invoice should have an associated customer. Make sure the associated customer is "
              "present in both HubSpot & QuickBooks Online to sync this invoice",
        "nl": "Een factuur moet een gekoppelde klant hebben. Zorg ervoor dat de gekoppelde klant aanwezig "
              "is in zowel HubSpot als QuickBooks Online om deze factuur te synchroniseren.",
        "es": "Una factura debe tener un cliente asociado. Asegúrate de que el cliente asociado está "
              "presente tanto en HubSpot como en QuickBooks Online para sincronizar esta factura",
    },
    "duplicate-display-name": {
        "en": "The display name is a duplicate",
        "nl": "De weergavenaam is een duplicaat",
        "es": "El nombre del remitente es un duplicado",
    },
    "revenue-recognition-service-date": {
        "en": "Business Validation Error: Enter a service date for the revenue recognition line item",
        "nl": "Fout bij bedrijfsvalidatie: Voer een servicedatum in voor de regel voor opbrengsterkenning",
        "es": "Error de validación comercial: Introduce una fecha de servicio para el elemento de pedido "
              "de reconocimiento de ingresos",
    },
    "native-invoice-modified": {
        "en": "Line Item or Invoice Amount modifications on HubSpot native invoices cannot be made via "
              "external applications. Please make any necessary changes directly in HubSpot",
        "nl": "Aanpassingen van regelitems of factuurbedragen in HubSpot native facturen kunnen niet worden "
              "gemaakt via externe applicaties. Voer alle benodigde wijzigingen direct in HubSpot door.",
        "es": "Las modificaciones de los elementos de pedido o de la cantidad de la factura en las Facturas "
              "nativas de HubSpot no pueden realizarse a través de aplicaciones externas. Por favor, realiza "
              "cualquiera de los cambios necesarios directamente en HubSpot",
    },
    "duplicate-doc-number": {
        "en": "Duplicate Document Number Error : You must specify a different number. This number has "
              "already been used",
        "nl": "Duplicate Document Number Error : Je moet een ander nummer opgeven. Dit nummer is al gebruikt",
        "es": "Error de número de documento duplicado : Debe especificar un número diferente. Este número "
              "ya ha sido utilizado",
    },
}

SYNCABLE_STATUSES = ("open", "paid")
CENT = Decimal("0.01")


@dataclass
class SyncFailure:
    invoice_id: str
    cause: str  # the catalog rule id the sandbox knows is behind it ("other" if none fits)
    heading: str  # what HubSpot's UI shows, in the portal language
    qbo_fault: dict | None  # {"code","message","detail"} when QBO refused
    first_failed_at: float
    last_attempt_at: float
    attempts: int = 1


@dataclass
class SyncRecord:
    """What the integration remembers of an invoice it pushed."""
    qbo_invoice_id: str
    qbo_sync_token: str | None  # None: unknown (e.g. set up by a scenario): check on next run
    hubspot_modified: str | None
    synced_at: float


@dataclass
class RunReport:
    attempted: int = 0
    synced: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


class Integration:
    def __init__(self, portal, company, clock: Clock):
        self.portal = portal
        self.company = company
        self.clock = clock
        self.contact_sync = "all"  # "all" | "none": HubSpot's contact sync to QBO customers
        self.contact_sync_exclude: set[str] = set()  # contacts left out of contact sync
        self.default_item: str | None = None
        self.retry_interval_s = 300.0
        self.enabled = True
        self.synced: dict[str, SyncRecord] = {}
        self.failures: dict[str, SyncFailure] = {}
        self.history: list[tuple[float, str, str]] = []  # (time, invoice id, "synced"|"failed:<cause>")
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- setup ------------------------------------------------------------------------------
    def load(self, section: dict | None) -> None:
        section = section or {}
        with self._lock:
            self.contact_sync = section.get("contact_sync", "all")
            self.contact_sync_exclude = {str(c) for c in section.get("contact_sync_exclude", [])}
            self.default_item = section.get("default_item")
            self.retry_interval_s = float(section.get("retry_interval_s", 300))
            for entry in section.get("synced", []):
                self.synced[str(entry["hubspot_invoice"])] = SyncRecord(
                    qbo_invoice_id=str(entry["qbo_invoice"]), qbo_sync_token=None,
                    hubspot_modified=None, synced_at=self.clock.time())

    @property
    def language(self) -> str:
        lang = getattr(self.portal, "language", "en")
        return lang if lang in ("en", "nl", "es") else "en"

    # -- running ----------------------------------------------------------------------------
    def start(self, interval_s: float = 5.0) -> None:
        """Run in the background, as HubSpot's integration does (the demo uses this)."""
        if self._thread:
            return
        self._stop.clear()

        def loop():
            while not self._stop.wait(interval_s):
                self.run_once()

        self._thread = threading.Thread(target=loop, name="sandbox-integration", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def run_once(self, *, force: bool = False) -> RunReport:
        """One pass: push what is due. `force` retries failures without waiting for the interval."""
        report = RunReport()
        if not self.enabled:
            return report
        now = self.clock.time()
        with self._lock, self.portal.lock, self.company.lock:
            index = _QboIndex(self.company)
            for invoice_id, record in list(self.portal.peek("invoices").items()):
                props = record["properties"]
                if not pushed_by_integration(props):
                    continue
                if props.get("hs_invoice_status") not in SYNCABLE_STATUSES or record.get("archived"):
                    continue
                if not self._due(invoice_id, record, now, force):
                    continue
                report.attempted += 1
                failure = self._sync_one(invoice_id, record, index, now)
                if failure is None:
                    self.failures.pop(invoice_id, None)
                    report.synced.append(invoice_id)
                    self.history.append((now, invoice_id, "synced"))
                else:
                    previous = self.failures.get(invoice_id)
                    if previous:
                        failure.first_failed_at = previous.first_failed_at
                        failure.attempts = previous.attempts + 1
                    self.failures[invoice_id] = failure
                    report.failed.append(invoice_id)
                    self.history.append((now, invoice_id, f"failed:{failure.cause}"))
        return report

    def _due(self, invoice_id: str, record: dict, now: float, force: bool) -> bool:
        failure = self.failures.get(invoice_id)
        if failure is not None:
            return force or now - failure.last_attempt_at >= self.retry_interval_s
        synced = self.synced.get(invoice_id)
        if synced is None:
            return True
        # Already pushed: look again only when either side changed since.
        if synced.hubspot_modified != record["properties"].get("hs_lastmodifieddate"):
            return True
        qbo = self.company.entities.get("Invoice", {}).get(synced.qbo_invoice_id)
        return qbo is None or qbo.get("SyncToken") != synced.qbo_sync_token

    # -- one invoice ------------------------------------------------------------------------
    def _fail(self, invoice_id: str, cause: str, now: float, fault: QboFault | None = None) -> SyncFailure:
        if cause in HEADINGS:
            heading = HEADINGS[cause][self.language]
        else:  # HubSpot shows QBO's own words for faults the article does not cover
            heading = f"{fault.message} : {fault.detail}" if fault and fault.detail else (fault.message if fault else cause)
        qbo_fault = None
        if fault is not None:
            qbo_fault = {"code": fault.code, "message": fault.message, "detail": fault.detail}
        return SyncFailure(invoice_id, cause, heading, qbo_fault, now, now)

    def _sync_one(self, invoice_id: str, record: dict, index: "_QboIndex", now: float) -> SyncFailure | None:
        props = record["properties"]
        lines = self._hubspot_lines(invoice_id)
        synced = self.synced.get(invoice_id)
        if synced is not None:
            qbo = self.company.entities.get("Invoice", {}).get(synced.qbo_invoice_id)
            if qbo is not None:
                if _qbo_signature(qbo) != _hubspot_signature(lines, props):
                    return self._fail(invoice_id, "native-invoice-modified", now)
                synced.qbo_sync_token = qbo.get("SyncToken")
                synced.hubspot_modified = props.get("hs_lastmodifieddate")
                return None
            # The QBO invoice was deleted: push it again like a new one.
            del self.synced[invoice_id]

        contact_ids = self.portal.associated("invoices", invoice_id, "contacts")
        contact = self.portal.peek("contacts").get(contact_ids[0]) if contact_ids else None
        if contact is None:
            return self._fail(invoice_id, "missing-customer", now)
        cprops = contact["properties"]
        email = (cprops.get("email") or "").strip()
        currency = (props.get("hs_currency") or "").strip().upper()
        customer = index.customer_by_email(email, currency) if email else None
        if customer is None:
            if not email or self.contact_sync == "none" or contact["id"] in self.contact_sync_exclude:
                return self._fail(invoice_id, "missing-customer", now)
            try:
                customer = self._create_customer(contact, index, currency)
            except QboFault as fault:
                return self._fail(invoice_id, _cause_of(fault), now, fault)

        body = {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [self._qbo_line(li, index) for li in lines],
        }
        if props.get("hs_invoice_date"):
            body["TxnDate"] = props["hs_invoice_date"][:10]
        if props.get("hs_due_date"):
            body["DueDate"] = props["hs_due_date"][:10]
        if index.custom_txn_numbers():
            body["DocNumber"] = props.get("hs_number")
        if currency:
            body["CurrencyRef"] = {"value": currency}
        try:
            created = self.company.create("Invoice", body)
        except QboFault as fault:
            return self._fail(invoice_id, _cause_of(fault), now, fault)
        self.synced[invoice_id] = SyncRecord(created["Id"], created.get("SyncToken"),
                                             props.get("hs_lastmodifieddate"), now)
        return None

    def _hubspot_lines(self, invoice_id: str) -> list[dict]:
        out = []
        records = self.portal.peek("line_items")
        for li_id in self.portal.associated("invoices", invoice_id, "line_items"):
            li = records.get(li_id)
            if li is not None:
                # The integration's product mapping (scenario field qbo_item_id) is not a HubSpot property.
                out.append(dict(li["properties"], qbo_item_id=self.portal.qbo_item_ids.get(li_id)))
        return out

    def _create_customer(self, contact: dict, index: "_QboIndex", currency: str = "") -> dict:
        p = contact["properties"]
        first, last = (p.get("firstname") or "").strip(), (p.get("lastname") or "").strip()
        company_ids = self.portal.associated("contacts", contact["id"], "companies")
        company = self.portal.peek("companies").get(company_ids[0]) if company_ids else None
        company_name = (company["properties"].get("name") or "").strip() if company else ""
        # The first contact of a company gets the company's name; later ones collide (6240).
        display = company_name or f"{first} {last}".strip() or p.get("email")
        body = {"DisplayName": display, "PrimaryEmailAddr": {"Address": p.get("email")}}
        if first:
            body["GivenName"] = first
        if last:
            body["FamilyName"] = last
        if company_name:
            body["CompanyName"] = company_name
        if currency and index.multicurrency():  # a new customer bills in the invoice's currency
            body["CurrencyRef"] = {"value": currency}
        created = self.company.create("Customer", body)
        index.add_customer(created)
        return created

    def _qbo_line(self, li: dict, index: "_QboIndex") -> dict:
        item_id = li.get("qbo_item_id") or index.item_id_by_name(li.get("name")) or self.default_item
        detail = {"Qty": float(Decimal(str(li.get("quantity") or 0))),
                  "UnitPrice": float(_money(li.get("price")))}
        if item_id:
            detail["ItemRef"] = {"value": str(item_id)}
        return {
            "DetailType": "SalesItemLineDetail",
            "Amount": float(_money(li.get("amount") or Decimal(str(li.get("quantity") or 0)) * _money(li.get("price")))),
            "Description": li.get("name") or "",
            "SalesItemLineDetail": detail,
        }


def _cause_of(fault: QboFault) -> str:
    code = str(fault.code)
    if code == "6240":
        return "duplicate-display-name"
    if code == "6140":
        return "duplicate-doc-number"
    if code == "6000" and "revenue recognition" in (fault.detail or "").lower():
        return "revenue-recognition-service-date"
    if code == "6000" and fault.detail in (*qbo_regional.TAX_DETAIL.values(), qbo_regional.TAX_DETAIL_OTHER):
        return "tax-code-required"
    if code == "6000" and fault.detail == qbo_regional.CURRENCY_DETAIL:
        return "currency-mismatch"
    if code == "2050" and fault.element == "DocNumber":
        return "doc-number-too-long"
    # Beyond the article (real-failures.md): HubSpot shows QBO's own words for these.
    if code == "2500" or (code == "610" and "inactive" in (fault.detail or "").lower()):
        return "invalid-reference"
    if code == "5010" and "closed" in f"{fault.message} {fault.detail}".lower():
        return "books-closed"
    if code == "6190":
        return "qbo-subscription"
    return "other"


def _hubspot_signature(lines: list[dict], props: dict) -> tuple:
    """What must match between HubSpot and QBO: each line's quantity, unit price and amount,
    and the total. Descriptions and item mapping are the integration's own choice."""
    rows = sorted(
        (Decimal(str(li.get("quantity") or 0)).normalize(), _money(li.get("price")),
         _money(li.get("amount") or Decimal(str(li.get("quantity") or 0)) * _money(li.get("price"))))
        for li in lines
    )
    total = sum((r[2] for r in rows), Decimal("0.00"))
    return tuple(rows), total, Decimal("0.00")


def _qbo_signature(qbo_invoice: dict) -> tuple:
    rows = []
    for line in qbo_invoice.get("Line", []):
        if line.get("DetailType") != "SalesItemLineDetail":
            continue
        d = line.get("SalesItemLineDetail", {})
        rows.append((Decimal(str(d.get("Qty") or 0)).normalize(), _money(d.get("UnitPrice")),
                     _money(line.get("Amount"))))
    tax = _money((qbo_invoice.get("TxnTaxDetail") or {}).get("TotalTax"))
    return tuple(sorted(rows)), _money(qbo_invoice.get("TotalAmt")) - tax, tax


class _QboIndex:
    """Look-ups the integration does for every invoice, built once per run so a 50,000-invoice
    world doesn't scan QBO's customer list 50,000 times."""

    def __init__(self, company):
        self.company = company
        self._by_email: dict[str, list[dict]] = {}
        for c in company.entities.get("Customer", {}).values():
            self.add_customer(c)
        self._items = {}
        for item in company.entities.get("Item", {}).values():
            if item.get("Active", True) and item.get("Name"):
                self._items.setdefault(item["Name"].lower(), item["Id"])

    def add_customer(self, customer: dict) -> None:
        if not customer.get("Active", True):
            return
        email = ((customer.get("PrimaryEmailAddr") or {}).get("Address") or "").strip().lower()
        if email:
            self._by_email.setdefault(email, []).append(customer)

    def customer_by_email(self, email: str, currency: str = "") -> dict | None:
        """The first active customer with this email, preferring one in `currency` (module doc)."""
        rows = self._by_email.get(email.strip().lower()) or []
        prefs = self.company.entities["Preferences"]["1"]
        same = [c for c in rows if currency and qbo_regional.currency_of(c, prefs) == currency]
        return (same or rows or [None])[0]

    def multicurrency(self) -> bool:
        return bool((self.company.preferences().get("CurrencyPrefs") or {}).get("MultiCurrencyEnabled"))

    def item_id_by_name(self, name: str | None) -> str | None:
        return self._items.get((name or "").lower())

    def custom_txn_numbers(self) -> bool:
        prefs = self.company.preferences()
        return bool((prefs.get("SalesFormsPrefs") or {}).get("CustomTxnNumbers"))
