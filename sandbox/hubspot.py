"""The HubSpot stand-in's data: one portal (account) with contacts, companies, invoices and line
items and the associations between them, as HubSpot's CRM stores them.

`HubSpotPortal` is the model; the simulated integration changes it in-process through the
methods below, and `HubSpotService` (sandbox/hubspot_http.py, re-exported here) serves it over
HTTP the way api.hubapi.com does. Every method takes the portal's `lock`.

Records look like HubSpot's v3 objects: {"id", "properties", "createdAt", "updatedAt",
"archived"}; property values are strings (see sandbox/hubspot_schema.py for formats).
Associations are stored in both directions with their v4 type ids (hubspot_schema.py says
which ids and where they come from).
"""
from __future__ import annotations

import copy
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sandbox.hubspot_schema import (
    OBJECT_TYPES, AssociationType, ObjectType, association_types, find_association_type,
    fmt_date, fmt_datetime, fmt_number, resolve_type,
)

LANGUAGES = ("en", "nl", "es")
TIERS = ("starter", "professional")
# Scenario `source` -> the hs_invoice_source value served. HubSpot's KB ("HubSpot's default
# invoice properties") labels the values "HubSpot", "Data Sync" and "Legacy Quickbooks
# integration"; public code against a real portal saw `data_sync` for synced invoices
# (../shared/knowledge/apis.md). The internal value of a HubSpot-created invoice is not
# confirmed: `hubspot` is this stand-in's guess, and scenarios may set any other value
# (or "" for none) to test qbsync against other guesses.
SOURCE_ALIASES = {"native": "hubspot", "quickbooks": "data_sync"}
# Values the simulated integration treats as "imported by a sync" and so never pushes.
SYNC_SOURCE_VALUES = frozenset({"data_sync", "legacy_quickbooks_integration"})


def source_value(scenario_source) -> str | None:
    """The property value for a scenario's `source` (None: the invoice has no value)."""
    text = str("native" if scenario_source is None else scenario_source)
    return SOURCE_ALIASES.get(text.lower(), text) or None


def pushed_by_integration(props: dict) -> bool:
    """Whether HubSpot's QuickBooks integration pushes this invoice: it was not imported by one."""
    return str(props.get("hs_invoice_source") or "").lower() not in SYNC_SOURCE_VALUES


def _otype(name: str) -> ObjectType:
    t = resolve_type(name)
    if t is None:
        raise KeyError(f"unknown HubSpot object type: {name!r}")
    return t


class HubSpotPortal:
    """One HubSpot account. Thread-safe: the HTTP server and the simulated integration share it."""

    def __init__(self, clock, portal_id: int = 24681357):
        self.clock = clock
        self.portal_id = int(portal_id)
        self.language = "en"
        self.tier = "starter"
        self.lock = threading.RLock()
        # line item id -> QBO item id the integration's product mapping points at (scenario
        # field `qbo_item_id`; not a HubSpot property, kept for the simulated integration)
        self.qbo_item_ids: dict[str, str] = {}
        self._records: dict[str, dict[str, dict]] = {t: {} for t in OBJECT_TYPES}
        # (from type, from id, to type) -> {to id: [AssociationType, ...]} in insertion order
        self._assoc: dict[tuple[str, str, str], dict[str, list[AssociationType]]] = {}
        # custom property names seen per type (HubSpot omits unknown properties from answers
        # but returns null for known, empty ones)
        self._extra_props: dict[str, set[str]] = {t: set() for t in OBJECT_TYPES}
        self._next_id = 90_000_001

    # ---- scenario loading ------------------------------------------------------------------

    def load(self, section: dict) -> None:
        """Replace the portal's contents with a scenario's `hubspot` section (docs/scenarios.md)."""
        section = section or {}
        with self.lock:
            for t in OBJECT_TYPES:
                self._records[t].clear()
                self._extra_props[t].clear()
            self._assoc.clear()
            self.qbo_item_ids.clear()
            if "portal_id" in section:
                self.portal_id = int(section["portal_id"])
            language = section.get("language", "en")
            if language not in LANGUAGES:
                raise ValueError(f"hubspot.language must be one of {LANGUAGES}, got {language!r}")
            self.language = language
            tier = section.get("tier", "starter")
            if tier not in TIERS:
                raise ValueError(f"hubspot.tier must be one of {TIERS}, got {tier!r}")
            self.tier = tier
            now = self.clock.now()

            companies = {}
            for c in section.get("companies", []):
                cid = str(c["id"])
                companies[cid] = c
                props = {"name": c.get("name")}
                if c.get("domain"):
                    props["domain"] = c["domain"]
                self.create("companies", props, object_id=cid, created_at=now)

            for ct in section.get("contacts", []):
                props = {"email": ct.get("email"), "firstname": ct.get("firstname"),
                         "lastname": ct.get("lastname")}
                company_id = ct.get("company")
                if company_id is not None:
                    company_id = str(company_id)
                    if company_id not in companies:
                        raise ValueError(f"contact {ct['id']} names unknown company {company_id}")
                    props["company"] = companies[company_id].get("name")
                    props["associatedcompanyid"] = company_id
                self.create("contacts", props, object_id=str(ct["id"]), created_at=now)
                if company_id is not None:
                    self.associate("contacts", str(ct["id"]), "companies", company_id)
                    self.associate("contacts", str(ct["id"]), "companies", company_id, type_id=1)

            amounts: dict[str, Decimal] = {}
            for li in section.get("line_items", []):
                lid = str(li["id"])
                quantity = Decimal(str(li.get("quantity", 1)))
                price = Decimal(str(li.get("price", 0)))
                amounts[lid] = quantity * price
                props = {"name": li.get("name"), "quantity": fmt_number(quantity),
                         "price": fmt_number(price), "amount": fmt_number(amounts[lid])}
                if li.get("sku"):
                    props["hs_sku"] = li["sku"]
                if li.get("description"):
                    props["description"] = li["description"]
                self.create("line_items", props, object_id=lid, created_at=now)
                if li.get("qbo_item_id") is not None:
                    self.qbo_item_ids[lid] = str(li["qbo_item_id"])

            for inv in section.get("invoices", []):
                self._load_invoice(inv, now, amounts, companies)

    def _load_invoice(self, inv: dict, now: datetime, amounts: dict[str, Decimal], companies: dict) -> None:
        iid = str(inv["id"])
        if inv.get("created_at"):
            created = datetime.fromisoformat(str(inv["created_at"]).replace("Z", "+00:00"))
            if created.tzinfo is None:
                created = created.replace(tzinfo=timezone.utc)
        else:
            created = now - timedelta(minutes=float(inv.get("age_minutes", 60)))
        line_ids = [str(x) for x in inv.get("line_items", [])]
        for lid in line_ids:
            if lid not in amounts:
                raise ValueError(f"invoice {iid} names unknown line item {lid}")
        billed = sum((amounts[lid] for lid in line_ids), Decimal("0"))
        status = inv.get("status", "open")
        props = {
            "hs_number": inv.get("number"),
            "hs_invoice_status": status,
            "hs_currency": inv.get("currency", "USD"),
            "hs_amount_billed": fmt_number(billed),
            "hs_balance_due": "0" if status == "paid" else fmt_number(billed),
            "hs_invoice_source": source_value(inv.get("source")),
        }
        for key, prop in (("invoice_date", "hs_invoice_date"), ("due_date", "hs_due_date")):
            if inv.get(key):
                props[prop] = fmt_date(date.fromisoformat(str(inv[key])))
        self.create("invoices", props, object_id=iid, created_at=created)
        contacts = inv.get("contact")
        if contacts is None:
            contacts = []
        elif not isinstance(contacts, list):
            contacts = [contacts]
        for cid in contacts:
            self.associate("invoices", iid, "contacts", str(cid))
        if inv.get("company") is not None:
            self.associate("invoices", iid, "companies", str(inv["company"]))
        for lid in line_ids:
            self.associate("invoices", iid, "line_items", lid)

    # ---- reads -----------------------------------------------------------------------------

    def get(self, object_type: str, object_id) -> dict | None:
        """A copy of the record, or None."""
        t = _otype(object_type).name
        with self.lock:
            rec = self._records[t].get(str(object_id))
            return copy.deepcopy(rec) if rec is not None else None

    def objects(self, object_type: str) -> dict[str, dict]:
        """Copies of all records of a type, by id."""
        t = _otype(object_type).name
        with self.lock:
            return {k: copy.deepcopy(v) for k, v in self._records[t].items()}

    def peek(self, object_type: str) -> dict[str, dict]:
        """The live records of a type by id, not copies: for in-process readers that hold
        `lock` and never change them (the simulated integration reads every invoice on every
        pass; deep copies of 50,000 invoices would dominate its time)."""
        return self._records[_otype(object_type).name]

    def associated(self, from_type: str, from_id, to_type: str) -> list[str]:
        """Ids of the `to_type` records associated with one record, in association order."""
        f, t = _otype(from_type).name, _otype(to_type).name
        with self.lock:
            return list(self._assoc.get((f, str(from_id), t), {}).keys())

    def association_types(self, from_type: str, from_id, to_type: str) -> dict[str, list[AssociationType]]:
        f, t = _otype(from_type).name, _otype(to_type).name
        with self.lock:
            return {k: list(v) for k, v in self._assoc.get((f, str(from_id), t), {}).items()}

    def property_names(self, object_type: str) -> set[str]:
        """The properties this portal knows for a type (HubSpot's definitions plus custom ones)."""
        t = _otype(object_type)
        with self.lock:
            return set(t.properties) | self._extra_props[t.name]

    # ---- writes ----------------------------------------------------------------------------

    def create(self, object_type: str, properties: dict, *, object_id=None,
               created_at: datetime | None = None, modified_at: datetime | None = None) -> dict:
        """Add a record. HubSpot's own properties (id, create/modify dates) are filled in."""
        t = _otype(object_type)
        with self.lock:
            if object_id is None:
                while str(self._next_id) in self._records[t.name]:
                    self._next_id += 1
                object_id = self._next_id
                self._next_id += 1
            oid = str(object_id)
            if not oid.isdigit():
                raise ValueError(f"HubSpot record ids are numeric strings, got {oid!r}")
            if oid in self._records[t.name]:
                raise ValueError(f"{t.singular} {oid} already exists")
            created = created_at or self.clock.now()
            modified = modified_at or created
            props = {k: (None if v is None else str(v)) for k, v in (properties or {}).items()}
            self._note_props(t, props)
            props[t.created_prop] = fmt_datetime(created)
            props[t.modified_prop] = fmt_datetime(modified)
            props["hs_object_id"] = oid
            rec = {"id": oid, "properties": props, "createdAt": props[t.created_prop],
                   "updatedAt": props[t.modified_prop], "archived": False}
            self._records[t.name][oid] = rec
            return copy.deepcopy(rec)

    def update(self, object_type: str, object_id, properties: dict, *,
               modified_at: datetime | None = None) -> dict:
        """Change properties (None or "" clears one) and bump the modified date. KeyError if missing."""
        t = _otype(object_type)
        with self.lock:
            rec = self._records[t.name].get(str(object_id))
            if rec is None:
                raise KeyError(f"{t.singular} {object_id} does not exist")
            props = {k: (None if v is None or v == "" else str(v)) for k, v in (properties or {}).items()}
            for readonly in ("hs_object_id", t.created_prop, t.modified_prop):
                props.pop(readonly, None)
            self._note_props(t, props)
            rec["properties"].update(props)
            stamp = fmt_datetime(modified_at or self.clock.now())
            rec["properties"][t.modified_prop] = stamp
            rec["updatedAt"] = stamp
            return copy.deepcopy(rec)

    def associate(self, from_type: str, from_id, to_type: str, to_id, type_id: int | None = None) -> None:
        """Associate two records (both directions). `type_id` None: the default unlabeled type.

        A labeled type (e.g. contact->company 1 "Primary") is added next to the unlabeled one,
        as HubSpot does; the reverse direction gets the matching reverse type.
        """
        f, t = _otype(from_type).name, _otype(to_type).name
        with self.lock:
            fid, tid = str(from_id), str(to_id)
            for typ, oid in ((f, fid), (t, tid)):
                if oid not in self._records[typ]:
                    raise KeyError(f"{OBJECT_TYPES[typ].singular} {oid} does not exist")
            forward = association_types(f, t)
            backward = association_types(t, f)
            if not forward:
                raise ValueError(f"no association type between {f} and {t}")
            if type_id is None:
                fwd, bwd = forward[0], backward[0]
            else:
                fwd = find_association_type(f, t, int(type_id))
                if fwd is None:
                    raise ValueError(f"association type {type_id} does not go from {f} to {t}")
                idx = forward.index(fwd)
                bwd = backward[idx] if idx < len(backward) else backward[0]
            self._add_assoc(f, fid, t, tid, fwd)
            self._add_assoc(t, tid, f, fid, bwd)

    def unassociate(self, from_type: str, from_id, to_type: str, to_id) -> bool:
        """Remove every association between two records. True if there was one."""
        f, t = _otype(from_type).name, _otype(to_type).name
        with self.lock:
            fid, tid = str(from_id), str(to_id)
            a = self._assoc.get((f, fid, t), {}).pop(tid, None)
            b = self._assoc.get((t, tid, f), {}).pop(fid, None)
            return a is not None or b is not None

    # ---- helpers for the HTTP layer (caller holds the lock) ----------------------------------

    def _live(self, object_type: str) -> dict[str, dict]:
        """The live record dict of a type; only for callers that hold `lock` and do not mutate."""
        return self._records[_otype(object_type).name]

    def _add_assoc(self, f: str, fid: str, t: str, tid: str, typ: AssociationType) -> None:
        types = self._assoc.setdefault((f, fid, t), {}).setdefault(tid, [])
        if typ not in types:
            types.append(typ)

    def _note_props(self, t: ObjectType, props: dict) -> None:
        for k in props:
            if k not in t.properties:
                self._extra_props[t.name].add(k)


from sandbox.hubspot_http import HubSpotService  # noqa: E402  (re-export: one import for callers)

__all__ = ["HubSpotPortal", "HubSpotService"]
