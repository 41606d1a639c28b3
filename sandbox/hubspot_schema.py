"""What the HubSpot stand-in knows about HubSpot's CRM: object types, their properties, the
v4 association type ids, the scopes each object needs, and how HubSpot formats values.

Kept apart from the portal model and the HTTP layer so both read one definition.

Sources (checked 2026-11; see also /work/shared/knowledge/apis.md):
- Object type ids 0-1 contact, 0-2 company, 0-8 line item, 0-53 invoice: HubSpot's object
  definition pages (developers.hubspot.com/docs/api-reference/latest/crm/objects/...).
- Association type ids: invoice->contact 177, invoice->company 179, invoice->line item 409 are
  in apis.md; contact->company 279 / company->contact 280 (unlabeled) and 1 / 2 ("Primary") are
  in hubspot-api-client's own `hubspot.crm.association_type.AssociationType` enum. The reverse
  invoice ids (contact->invoice 178, company->invoice 180, line item->invoice 410) follow
  HubSpot's v4 type-id table as remembered (each pair numbered n / n+1); the search tools found
  no copy of that table to confirm them, so they are the least certain values here.
- Scopes: the `security` section of each object's official OpenAPI spec in
  /work/shared/specs/hubspot/ (crm.objects.<type>.read / .write).
- Values: HubSpot v3 returns every property value as a string; datetimes as ISO 8601 with
  milliseconds and Z (`sandbox.clock.iso_z`), numbers without exponent or trailing zeros.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache


@dataclass(frozen=True)
class ObjectType:
    name: str               # plural API name, e.g. "invoices"
    singular: str           # e.g. "invoice" (used in v3 association type names and messages)
    type_id: str            # e.g. "0-53"
    scope: str              # scope prefix, e.g. "crm.objects.invoices"
    created_prop: str       # "createdate" or "hs_createdate"
    modified_prop: str      # "lastmodifieddate" or "hs_lastmodifieddate"
    properties: dict[str, str]                 # name -> "string" | "number" | "datetime" | "enumeration"
    default_properties: tuple[str, ...]        # returned when a request names no properties
    search_text_properties: tuple[str, ...] = field(default=())  # searched by the free-text `query`

    @property
    def read_scope(self) -> str:
        return f"{self.scope}.read"

    @property
    def write_scope(self) -> str:
        return f"{self.scope}.write"

    @property
    def always_properties(self) -> tuple[str, ...]:
        """HubSpot returns these with every record, requested or not."""
        return (self.created_prop, self.modified_prop, "hs_object_id")


CONTACTS = ObjectType(
    name="contacts", singular="contact", type_id="0-1", scope="crm.objects.contacts",
    created_prop="createdate", modified_prop="lastmodifieddate",
    properties={
        "email": "string", "firstname": "string", "lastname": "string", "company": "string",
        "associatedcompanyid": "number", "createdate": "datetime", "lastmodifieddate": "datetime",
        "hs_object_id": "number",
    },
    default_properties=("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    search_text_properties=("email", "firstname", "lastname", "company"),
)
COMPANIES = ObjectType(
    name="companies", singular="company", type_id="0-2", scope="crm.objects.companies",
    created_prop="createdate", modified_prop="hs_lastmodifieddate",
    properties={
        "name": "string", "domain": "string", "createdate": "datetime",
        "hs_lastmodifieddate": "datetime", "hs_object_id": "number",
    },
    default_properties=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    search_text_properties=("name", "domain"),
)
INVOICES = ObjectType(
    name="invoices", singular="invoice", type_id="0-53", scope="crm.objects.invoices",
    created_prop="hs_createdate", modified_prop="hs_lastmodifieddate",
    properties={
        "hs_number": "string", "hs_invoice_status": "enumeration", "hs_currency": "enumeration",
        "hs_invoice_date": "datetime", "hs_due_date": "datetime", "hs_amount_billed": "number",
        "hs_balance_due": "number", "hs_invoice_source": "enumeration",
        "hs_createdate": "datetime", "hs_lastmodifieddate": "datetime", "hs_object_id": "number",
    },
    default_properties=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    search_text_properties=("hs_number",),
)
LINE_ITEMS = ObjectType(
    name="line_items", singular="line_item", type_id="0-8", scope="crm.objects.line_items",
    created_prop="createdate", modified_prop="hs_lastmodifieddate",
    properties={
        "name": "string", "quantity": "number", "price": "number", "amount": "number",
        "hs_sku": "string", "description": "string", "createdate": "datetime",
        "hs_lastmodifieddate": "datetime", "hs_object_id": "number",
    },
    default_properties=("amount", "createdate", "hs_lastmodifieddate", "hs_object_id", "name", "price", "quantity"),
    search_text_properties=("name", "hs_sku"),
)

OBJECT_TYPES: dict[str, ObjectType] = {t.name: t for t in (CONTACTS, COMPANIES, INVOICES, LINE_ITEMS)}

# Every spelling HubSpot accepts in a path for these types (case-insensitive): plural,
# singular and the object type id.
_ALIASES: dict[str, str] = {}
for _t in OBJECT_TYPES.values():
    for _alias in (_t.name, _t.singular, _t.type_id):
        _ALIASES[_alias.lower()] = _t.name
_ALIASES["lineitem"] = _ALIASES["lineitems"] = "line_items"


def resolve_type(name: str) -> ObjectType | None:
    """The object type a path segment names ("invoices", "invoice", "0-53", ...), or None."""
    key = _ALIASES.get((name or "").strip().lower())
    return OBJECT_TYPES[key] if key else None


@dataclass(frozen=True)
class AssociationType:
    type_id: int
    label: str | None = None
    category: str = "HUBSPOT_DEFINED"


# (from, to) -> association types, the default (unlabeled) type first.
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[AssociationType, ...]] = {
    ("invoices", "contacts"): (AssociationType(177),),
    ("contacts", "invoices"): (AssociationType(178),),
    ("invoices", "companies"): (AssociationType(179),),
    ("companies", "invoices"): (AssociationType(180),),
    ("invoices", "line_items"): (AssociationType(409),),
    ("line_items", "invoices"): (AssociationType(410),),
    ("contacts", "companies"): (AssociationType(279), AssociationType(1, "Primary")),
    ("companies", "contacts"): (AssociationType(280), AssociationType(2, "Primary")),
}


def association_types(from_type: str, to_type: str) -> tuple[AssociationType, ...]:
    return ASSOCIATION_TYPES.get((from_type, to_type), ())


def find_association_type(from_type: str, to_type: str, type_id: int) -> AssociationType | None:
    for t in association_types(from_type, to_type):
        if t.type_id == type_id:
            return t
    return None


# ---- value formatting / parsing ----------------------------------------------------------

def fmt_number(value) -> str:
    """HubSpot's string form of a number: no exponent, no trailing zeros ("300", "1.5")."""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    s = format(d.normalize(), "f")
    return "0" if s in ("-0", "") else s


def fmt_datetime(dt: datetime) -> str:
    from sandbox.clock import iso_z
    return iso_z(dt)


def fmt_date(d: date) -> str:
    """Date-valued invoice properties are datetimes at midnight UTC (docs/scenarios.md)."""
    return fmt_datetime(datetime(d.year, d.month, d.day, tzinfo=timezone.utc))


@lru_cache(maxsize=131072)
def to_epoch_ms(value: str) -> int | None:
    """A datetime property or filter value as epoch milliseconds. HubSpot accepts both epoch
    milliseconds and ISO 8601 (date or date-time) in search filters; None if neither."""
    if value is None:
        return None
    s = str(value).strip()
    if not s:
        return None
    if s.lstrip("-").isdigit():
        return int(s)
    try:
        if len(s) == 10:
            dt = datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        else:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return int(round(dt.timestamp() * 1000))


def to_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
