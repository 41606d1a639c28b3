"""QuickBooks Online stand-in: one company's data and business rules (`QboCompany`), and the
v3 accounting API over HTTP (`QboService`).

The model stores entities as the JSON QBO returns, keyed by entity name then Id. Everything
that changes state holds `company.lock` (the HTTP server is threaded and the simulated
integration writes in-process).

Fault wording comes from QBO answers quoted in public issue threads (cited per rule below)
and from /work/shared/knowledge/error-catalog.md. Where the real wording or code is not
known, the comment says so.
"""
from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable

from . import qbo_properties, qbo_query, qbo_regional
from .clock import Clock, qbo_time
from .qbo_oauth import QboTokenRegistry, is_oauth_path, oauth_routes
from .server import Request, Response, Route, Service, json_response

NAME_ENTITIES = ("Customer", "Vendor", "Employee")
LIST_ENTITIES = NAME_ENTITIES + ("Item",)  # names lists: made inactive, never deleted
TXN_ENTITIES = ("Invoice", "CreditMemo")
WRITABLE_ENTITIES = LIST_ENTITIES + TXN_ENTITIES
ALL_ENTITIES = WRITABLE_ENTITIES + ("Preferences", "CompanyInfo")
ENTITY_BY_LOWER = {e.lower(): e for e in ALL_ENTITIES}
READ_ONLY_FIELDS = ("Id", "SyncToken", "MetaData", "domain", "sparse")
DOC_NUMBER_MAX = 21
DISPLAY_NAME_MAX = 500
DEFAULT_WRITABLE_PREFERENCES = ("SalesFormsPrefs.CustomTxnNumbers",)
# The real field (QBO platform release 2022.3.8 added RevenueRecognitionEnabled and
# RecognitionFrequencyType under ProductAndServicesPrefs; /work/shared/knowledge/apis.md).
REVENUE_RECOGNITION = "ProductAndServicesPrefs.RevenueRecognitionEnabled"
CDC_LOOKBACK_DAYS = 30
CDC_MAX_OBJECTS = 1000
SCENARIO_LISTS = {"customers": "Customer", "vendors": "Vendor", "employees": "Employee",
                  "items": "Item", "invoices": "Invoice", "credit_memos": "CreditMemo"}

# Detail text QBO gives for a reference to a record that is gone or inactive
# [QuickBooks-V3-PHP-SDK issue #110; mcohen01/node-quickbooks issue #21].
_INACTIVE_DETAIL = ("Something you're trying to use has been made inactive. Check the fields with "
                    "accounts, customers, items, vendors or employees.")


def _ts(dt: datetime) -> str:
    """The `time` stamp of a response: 2026-11-22T10:00:00.123+00:00."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"


class QboFault(Exception):
    """A fault QBO answers with; `to_body()` is the JSON body it sends."""

    def __init__(self, code: str, message: str, detail: str = "", element: str = "",
                 http_status: int = 400, fault_type: str = "ValidationFault"):
        self.code = str(code)
        self.message = message
        self.detail = detail
        self.element = element
        self.http_status = http_status
        self.fault_type = fault_type
        super().__init__(f"{self.code} {message}: {detail}")

    def to_body(self, now: datetime | None = None) -> dict:
        error = {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}
        return {"Fault": {"Error": [error], "type": self.fault_type},
                "time": _ts(now or datetime.now(timezone.utc))}


# -- the faults, with QBO's words ----------------------------------------------------------
def _required(name: str) -> QboFault:
    # "Required param missing, need to supply the required value for the API" /
    # "Required parameter Line is missing in the request" [python-quickbooks PR #257]
    return QboFault("2020", "Required param missing, need to supply the required value for the API",
                    f"Required parameter {name} is missing in the request", element=name)


def _too_long(element: str, limit: int, supplied: int) -> QboFault:
    # [quickbooks-ruby PR #436; consolibyte/quickbooks-php issue #79]
    return QboFault("2050", "String length is either shorter or longer than supported by specification",
                    f"String length specified does not match the supported length. Min:0 Max:{limit} "
                    f"supported. Supplied length:{supplied}", element=element)


def _invalid_reference(element: str, inactive: bool) -> QboFault:
    # Missing: "Invalid Reference Id : Line.SalesItemLineDetail.ItemRef" (element set);
    # inactive: the "made inactive" text [QuickBooks-V3-PHP-SDK issues #102, #110].
    detail = f"Invalid Reference Id : {_INACTIVE_DETAIL if inactive else element}"
    return QboFault("2500", "Invalid Reference Id", detail, element=element)


def _not_found() -> QboFault:
    return QboFault("610", "Object Not Found", f"Object Not Found : {_INACTIVE_DETAIL}")


def _stale() -> QboFault:
    # [routablehq/python-quickbooks issue #127; QuickBooks-V3-DotNET-SDK issue #366]
    return QboFault("5010", "Stale Object Error",
                    "Stale Object Error : You and Sandbox User were working on this at the same time. "
                    "Sandbox User finished before you did, so your work was not saved.")


def _books_closed() -> QboFault:
    # python-quickbooks#208 (a Bill/Invoice create): error_code 5010, message "Account Period
    # Closed", detail "The account period has closed. {1}" (the unfilled "{1}" is QBO's).
    # The same code as a stale object: only the words differ.
    return QboFault("5010", "Account Period Closed", "The account period has closed. {1}")


def _company_status() -> QboFault:
    # intuit/QuickBooks-V3-PHP-SDK#211: an add to a company whose subscription ended; the SDK
    # saw HTTP 200 there, Intuit answered "The API should return 400" (what the sandbox sends).
    return QboFault("6190", "Invalid Company Status",
                    "Subscription period has ended or cancelled or there was a billing problem : You can't add "
                    "data to QuickBooks Online Plus because your trial or subscription period ended, you cancelled "
                    "your subscription, or there was a billing problem. To update your subscription, click the "
                    "gear icon and view your account information.")


def _duplicate_name(holder_id: str | None) -> QboFault:
    # Detail as the error catalog quotes it ("... : Id=58", or ": null").
    return QboFault("6240", "Duplicate Name Exists Error",
                    f"The name supplied already exists. : Id={holder_id if holder_id else 'null'}")


def _duplicate_doc(doc: str, entity: str, txn_id: str) -> QboFault:
    return QboFault("6140", "Duplicate Document Number Error",
                    "Duplicate Document Number Error : You must specify a different number. This number "
                    f"has already been used. DocNumber={doc} is assigned to TxnType={entity} with TxnId={txn_id}")


def _revenue_recognition() -> QboFault:
    return QboFault("6000", "A business validation error has occurred while processing your request",
                    "Business Validation Error: Enter a service date for the revenue recognition line item.")


def _unsupported(detail: str) -> QboFault:
    return QboFault("500", "Unsupported Operation", detail)


def _invalid_property(detail: str, element: str = "") -> QboFault:
    # "Request has invalid or unsupported property" (2010) [QuickBooks-V3-DotNET-SDK issue #376,
    # where QBO refused a Preferences save]. Which preference fields QBO refuses, and with
    # exactly which detail, is not confirmed: we use this fault for a read-only preference.
    return QboFault("2010", "Request has invalid or unsupported property", detail, element=element)


def _clone(value: Any) -> Any:
    """A deep copy of JSON data (records are JSON), several times faster than copy.deepcopy."""
    return json.loads(json.dumps(value))


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise QboFault("2010", "Request has invalid or unsupported property",
                       f"Property Name:Amount specified is unsupported or invalid : {value!r}", element="Amount")


def _num(d: Decimal) -> float | int:
    """QBO writes amounts as JSON numbers."""
    return int(d) if d == d.to_integral_value() else float(d)


def _name_key(name: str) -> str:
    return " ".join(str(name).split()).casefold()


def _parse_when(text: str) -> datetime:
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class QboCompany:
    """One QBO company (realm): its lists, transactions and preferences, with QBO's rules."""

    def __init__(self, clock: Clock, realm_id: str = "9341453189012345"):
        self.clock = clock
        self.realm_id = str(realm_id)
        self.lock = threading.RLock()
        self.cdc_max_objects = CDC_MAX_OBJECTS  # QBO's cap; a test may lower it
        self._reset("Sandbox Company")

    # -- state ----------------------------------------------------------------------------
    def _reset(self, company_name: str) -> None:
        self.entities: dict[str, dict[str, dict]] = {e: {} for e in ALL_ENTITIES}
        self.writable_preferences: list[str] = list(DEFAULT_WRITABLE_PREFERENCES)
        self.change_log: list[tuple[str, str, float, bool]] = []  # (entity, id, time, deleted)
        self._next_id = {"name": 1, "item": 1, "txn": 1}
        self._last_auto_doc = 1000
        self._names: dict[str, tuple[str, str]] = {}  # display-name key -> (entity, id)
        self._item_names: dict[str, str] = {}
        self._docs: dict[str, list[tuple[str, str]]] = {}  # DocNumber -> [(entity, id)]
        self._idempotent: dict[tuple, tuple[str, Any]] = {}
        self.version = 0  # bumps on every write (query cache key)
        self._query_cache: dict[tuple, list[dict]] = {}
        # Scenario "absent": QBO demands service dates but its Preferences do not report the
        # setting (what qbsync must call unknown). A reported value always wins.
        self.revenue_recognition_unreported = False
        # Scenario subscription_status "ended": every write answers 6190, reads still work.
        self.subscription_ended = False
        now = self._now_str()
        self.entities["Preferences"]["1"] = self._default_preferences(False, False, now)
        self.entities["CompanyInfo"]["1"] = self._company_info(company_name, now)

    def _now_str(self) -> str:
        return qbo_time(self.clock.now())

    def _default_preferences(self, custom_txn: bool, rev_rec: bool | None, now: str) -> dict:
        """rev_rec None: the answer carries no RevenueRecognitionEnabled field."""
        product_prefs = {"ForSales": True, "ForPurchase": True, "QuantityWithPriceAndRate": True,
                         "QuantityOnHand": True}
        if rev_rec is not None:
            product_prefs["RevenueRecognitionEnabled"] = rev_rec
        return {
            "AccountingInfoPrefs": {"TrackDepartments": False, "DepartmentTerminology": "Location",
                                    "ClassTrackingPerTxn": False, "ClassTrackingPerTxnLine": False,
                                    "CustomerTerminology": "Customers"},
            "ProductAndServicesPrefs": product_prefs,
            "SalesFormsPrefs": {"CustomTxnNumbers": custom_txn, "AllowDeposit": False, "AllowDiscount": True,
                                "AllowEstimates": True, "AllowShipping": False, "AllowServiceDate": bool(rev_rec),
                                "ETransactionEnabledStatus": "NotApplicable", "IPNSupportEnabled": False,
                                "UsingPriceLevels": False, "UsingProgressInvoicing": False, "AutoApplyCredit": True},
            "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
            "TaxPrefs": {"UsingSalesTax": False},
            "OtherPrefs": {"NameValue": [{"Name": "SalesFormsPrefs.DefaultItem", "Value": "1"}]},
            "domain": "QBO", "sparse": False, "Id": "1", "SyncToken": "0",
            "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
        }

    def _company_info(self, name: str, now: str) -> dict:
        return {
            "CompanyName": name, "LegalName": name, "Country": "US",
            "CompanyAddr": {"Id": "1", "Line1": "1 Sandbox Way", "City": "Mountain View",
                            "CountrySubDivisionCode": "CA", "PostalCode": "94043"},
            "Email": {"Address": "books@sandbox.example"}, "FiscalYearStartMonth": "January",
            "SupportedLanguages": "en", "domain": "QBO", "sparse": False, "Id": "1", "SyncToken": "0",
            "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
        }

    def _touch(self, entity: str, record_id: str, deleted: bool = False, at: float | None = None) -> None:
        self.change_log.append((entity, record_id, self.clock.time() if at is None else at, deleted))
        self.version += 1
        self._query_cache.clear()

    def _new_id(self, entity: str) -> str:
        group = "name" if entity in NAME_ENTITIES else ("item" if entity == "Item" else "txn")
        value = self._next_id[group]
        self._next_id[group] = value + 1
        return str(value)

    def _note_id(self, entity: str, record_id: str) -> None:
        group = "name" if entity in NAME_ENTITIES else ("item" if entity == "Item" else "txn")
        try:
            self._next_id[group] = max(self._next_id[group], int(record_id) + 1)
        except ValueError:
            pass

    # -- indexes (so a 50,000-record company checks uniqueness without a scan) ---------------
    def _index(self, entity: str, record: dict) -> None:
        rid = record["Id"]
        if entity in NAME_ENTITIES and record.get("DisplayName"):
            self._names.setdefault(_name_key(record["DisplayName"]), (entity, rid))
        elif entity == "Item" and record.get("Name"):
            self._item_names.setdefault(_name_key(record["Name"]), rid)
        elif entity in TXN_ENTITIES and record.get("DocNumber"):
            self._docs.setdefault(str(record["DocNumber"]), []).append((entity, rid))

    @staticmethod
    def _index_key(entity: str, record: dict) -> str:
        if entity in NAME_ENTITIES:
            return _name_key(record.get("DisplayName") or "")
        if entity == "Item":
            return _name_key(record.get("Name") or "")
        return str(record.get("DocNumber") or "")

    def _unindex(self, entity: str, record: dict) -> None:
        rid = record["Id"]
        if entity in NAME_ENTITIES and record.get("DisplayName"):
            key = _name_key(record["DisplayName"])
            if self._names.get(key) == (entity, rid):
                del self._names[key]
                # another record may carry the same name (loaded that way): let it hold it now
                for e in NAME_ENTITIES:
                    for other in self.entities[e].values():
                        if other["Id"] != rid and _name_key(other.get("DisplayName") or "") == key:
                            self._names[key] = (e, other["Id"])
                            return
        elif entity == "Item" and record.get("Name"):
            key = _name_key(record["Name"])
            if self._item_names.get(key) == rid:
                del self._item_names[key]
        elif entity in TXN_ENTITIES and record.get("DocNumber"):
            holders = self._docs.get(str(record["DocNumber"]), [])
            if (entity, rid) in holders:
                holders.remove((entity, rid))

    def reindex(self) -> None:
        """Rebuild the look-up indexes (after a test edited `entities` directly)."""
        with self.lock:
            self._names, self._item_names, self._docs = {}, {}, {}
            for entity in WRITABLE_ENTITIES:
                for record in self.entities[entity].values():
                    self._index(entity, record)
            self.version += 1
            self._query_cache.clear()

    # -- scenario loading -----------------------------------------------------------------
    def load(self, section: dict) -> None:
        """Replace the company with the `qbo` section of a scenario (docs/scenarios.md)."""
        with self.lock:
            self.realm_id = str(section.get("realm_id") or self.realm_id)
            self._reset(section.get("company_name") or "Sandbox Company")
            prefs = section.get("preferences") or {}
            rev_rec = prefs.get("revenue_recognition", False)
            self.revenue_recognition_unreported = rev_rec == "absent"
            self.entities["Preferences"]["1"] = self._default_preferences(
                bool(prefs.get("custom_txn_numbers", False)), None if rev_rec == "absent" else bool(rev_rec),
                self._now_str())
            if prefs.get("book_close_date"):
                self.entities["Preferences"]["1"]["AccountingInfoPrefs"]["BookCloseDate"] = prefs["book_close_date"]
            self.subscription_ended = section.get("subscription_status") == "ended"
            qbo_regional.apply_scenario(self.entities["Preferences"]["1"], self.entities["CompanyInfo"]["1"], section)
            if section.get("writable_preferences") is not None:
                self.writable_preferences = list(section["writable_preferences"])
            self._touch("Preferences", "1")
            now = self._now_str()
            for key, entity in SCENARIO_LISTS.items():
                for record in _clone(section.get(key) or []):
                    self._load_one(entity, record, now)

    def _load_one(self, entity: str, record: dict, now: str) -> None:
        if not record.get("Id"):
            record["Id"] = self._new_id(entity)
        record["Id"] = str(record["Id"])
        self._note_id(entity, record["Id"])
        record.setdefault("SyncToken", "0")
        given_time = (record.get("MetaData") or {}).get("LastUpdatedTime")
        meta = record.setdefault("MetaData", {})
        meta.setdefault("CreateTime", now)
        meta.setdefault("LastUpdatedTime", meta["CreateTime"])
        record.setdefault("domain", "QBO")
        record.setdefault("sparse", False)
        if entity in LIST_ENTITIES:
            record.setdefault("Active", True)
        if entity in NAME_ENTITIES:
            record.setdefault("DisplayName", self._derived_name(record) or f"{entity} {record['Id']}")
            record.setdefault("PrintOnCheckName", record["DisplayName"])
            if entity == "Customer":
                record.setdefault("FullyQualifiedName", record["DisplayName"])
                record.setdefault("Balance", 0)
                qbo_regional.check_customer(record, self.entities["Preferences"]["1"])
        elif entity == "Item":
            record.setdefault("Type", "Service")
            record.setdefault("FullyQualifiedName", record.get("Name", ""))
        elif entity in TXN_ENTITIES:
            self._fill_txn_defaults(record)
            total = self._normalize_lines(record)
            record["TotalAmt"] = _num(total)
            if "Balance" not in record:
                record["Balance"] = record["TotalAmt"]
            doc = record.get("DocNumber")
            if doc and str(doc).isdigit():
                self._last_auto_doc = max(self._last_auto_doc, int(doc))
        self.entities[entity][record["Id"]] = record
        self._index(entity, record)
        at = None
        if given_time:  # the scenario says when it last changed: CDC should agree
            try:
                at = _parse_when(given_time).timestamp()
            except ValueError:
                pass
        self._touch(entity, record["Id"], at=at)

    # -- reading --------------------------------------------------------------------------
    def read(self, entity: str, record_id: str) -> dict:
        with self.lock:
            record = self.entities.get(entity, {}).get(str(record_id))
            if record is None:
                raise _not_found()
            return _clone(record)

    def preferences(self) -> dict:
        with self.lock:
            return _clone(self.entities["Preferences"]["1"])

    def company_info(self) -> dict:
        with self.lock:
            return _clone(self.entities["CompanyInfo"]["1"])

    def _pref(self, path: str) -> Any:
        value: Any = self.entities["Preferences"]["1"]
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def service_dates_required(self) -> bool:
        """Revenue recognition is on: as Preferences report it, else the unreported setting."""
        reported = self._pref(REVENUE_RECOGNITION)
        return bool(reported) if reported is not None else self.revenue_recognition_unreported

    def query(self, sql: str) -> dict:
        """The QueryResponse body for one query (faults as QboFault)."""
        try:
            parsed = qbo_query.parse(sql)
        except qbo_query.QueryError as err:
            raise QboFault(err.code, err.message, err.detail)
        with self.lock:
            entity = ENTITY_BY_LOWER.get(parsed.entity.lower())
            if entity is None:
                raise QboFault("4001", "Invalid query",
                               f"QueryValidationError: Entity {parsed.entity} is not supported")
            named = [c.field for c in parsed.conditions] + [f for f, _ in parsed.order_by] + (parsed.fields or [])
            missing = qbo_properties.unknown_property(entity, named, self.entities[entity].values())
            if missing is not None:
                # QBO's words for it (apis.md, "Query errors").
                raise QboFault("4001", "Invalid query",
                               f"QueryValidationError: Property {missing} not found for Entity {entity}")
            names_list = entity in LIST_ENTITIES
            # Filtering is the slow part on big companies; reuse it while nothing changed.
            key = (entity, self.version, parsed.count, repr(parsed.conditions), repr(parsed.order_by))
            hits = self._query_cache.get(key)
            if hits is None:
                hits = [r for r in self.entities[entity].values()
                        if qbo_query.matches(parsed, r, names_list=names_list)]
                if not parsed.count:
                    hits = qbo_query.order(parsed, hits)
                if len(self._query_cache) > 64:
                    self._query_cache.clear()
                self._query_cache[key] = hits
            if parsed.count:
                return {"QueryResponse": {"totalCount": len(hits)}, "time": _ts(self.clock.now())}
            rows = [qbo_query.project(parsed, r) for r in _clone(qbo_query.page(parsed, hits))]
        if not rows:
            return {"QueryResponse": {}, "time": _ts(self.clock.now())}
        return {"QueryResponse": {entity: rows, "startPosition": parsed.start_position, "maxResults": len(rows)},
                "time": _ts(self.clock.now())}

    # -- idempotency ----------------------------------------------------------------------
    def _once(self, key: tuple, requestid: str | None, work: Callable[[], dict]) -> dict:
        """The same requestid for the same operation is not applied twice: a repeat gets the
        first call's answer (its result, or its fault)."""
        if not requestid:
            return work()
        cache_key = key + (str(requestid),)
        if cache_key in self._idempotent:
            kind, value = self._idempotent[cache_key]
            if kind == "fault":
                raise value
            return _clone(value)
        try:
            result = work()
        except QboFault as fault:
            self._idempotent[cache_key] = ("fault", fault)
            raise
        self._idempotent[cache_key] = ("ok", _clone(result))
        return result

    # -- writes ---------------------------------------------------------------------------
    def create(self, entity: str, body: dict, requestid: str | None = None, *,
               allow_duplicate_docnum: bool = False) -> dict:
        with self.lock:
            return self._once(("create", entity), requestid,
                              lambda: self._create(entity, body, allow_duplicate_docnum))

    def update(self, entity: str, body: dict, requestid: str | None = None, *,
               allow_duplicate_docnum: bool = False) -> dict:
        """Full update, or sparse when the body says "sparse": true."""
        with self.lock:
            return self._once(("update", entity), requestid,
                              lambda: self._update(entity, body, allow_duplicate_docnum))

    def delete(self, entity: str, body: dict, requestid: str | None = None) -> dict:
        with self.lock:
            return self._once(("delete", entity), requestid, lambda: self._delete(entity, body))

    def _check_writable(self, entity: str, body: Any) -> None:
        if self.subscription_ended:
            raise _company_status()
        if entity not in WRITABLE_ENTITIES:
            raise _unsupported(f"Operation write on {entity} is not supported.")
        if not isinstance(body, dict):
            raise _invalid_property("Property Name:failed to parse json object; a property specified is "
                                    "unsupported or invalid")

    def _create(self, entity: str, body: dict, allow_dup: bool) -> dict:
        self._check_writable(entity, body)
        record = {k: _clone(v) for k, v in body.items() if k not in READ_ONLY_FIELDS}
        record.pop("TotalAmt", None)  # computed by QBO
        record.pop("Balance", None)
        self._prepare(entity, record, None, None, allow_dup)
        now = self._now_str()
        record["Id"] = self._new_id(entity)
        record["SyncToken"] = "0"
        record["MetaData"] = {"CreateTime": now, "LastUpdatedTime": now}
        record["domain"] = "QBO"
        record["sparse"] = False
        self.entities[entity][record["Id"]] = record
        self._index(entity, record)
        self._touch(entity, record["Id"])
        return _clone(record)

    def _current_for_write(self, entity: str, body: dict) -> dict:
        if not body.get("Id"):
            raise _required("Id")
        if body.get("SyncToken") in (None, ""):
            raise _required("SyncToken")
        existing = self.entities[entity].get(str(body["Id"]))
        if existing is None:
            raise _not_found()
        if str(body["SyncToken"]) != existing["SyncToken"]:
            raise _stale()
        return existing

    def _update(self, entity: str, body: dict, allow_dup: bool) -> dict:
        self._check_writable(entity, body)
        existing = self._current_for_write(entity, body)
        changes = {k: _clone(v) for k, v in body.items()
                   if k not in READ_ONLY_FIELDS and k not in ("TotalAmt", "Balance")}
        if body.get("sparse") is True:
            record = _clone(existing)
            record.update(changes)
        else:
            record = changes
            for keep in ("Id", "MetaData", "domain"):
                record[keep] = _clone(existing[keep])
            if entity in LIST_ENTITIES:
                record.setdefault("Active", existing.get("Active", True))
        self._prepare(entity, record, existing["Id"], existing, allow_dup)
        record["Id"] = existing["Id"]
        record["SyncToken"] = str(int(existing["SyncToken"]) + 1)
        record["MetaData"] = dict(existing["MetaData"], LastUpdatedTime=self._now_str())
        record["domain"] = "QBO"
        record["sparse"] = False
        if self._index_key(entity, existing) != self._index_key(entity, record):
            self._unindex(entity, existing)
            self.entities[entity][existing["Id"]] = record
            self._index(entity, record)
        else:
            self.entities[entity][existing["Id"]] = record
        self._touch(entity, record["Id"])
        return _clone(record)

    def _delete(self, entity: str, body: dict) -> dict:
        if entity in LIST_ENTITIES:
            # Names-list entities are made inactive (Active=false), never deleted.
            raise _unsupported("Operation Delete is not supported.")
        self._check_writable(entity, body)
        existing = self._current_for_write(entity, body)
        self._check_books_open(existing)
        self._unindex(entity, existing)
        del self.entities[entity][existing["Id"]]
        self._touch(entity, existing["Id"], deleted=True)
        return {"status": "Deleted", "domain": "QBO", "Id": existing["Id"]}

    # -- business rules -------------------------------------------------------------------
    @staticmethod
    def _derived_name(record: dict) -> str:
        parts = [record.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
        name = " ".join(str(p).strip() for p in parts if p and str(p).strip())
        return name or str(record.get("CompanyName") or "").strip()

    def _prepare(self, entity: str, record: dict, self_id: str | None, existing: dict | None,
                 allow_dup: bool) -> None:
        if entity in NAME_ENTITIES:
            self._prepare_name(entity, record, self_id)
        elif entity == "Item":
            self._prepare_item(record, self_id)
        else:
            self._prepare_txn(entity, record, self_id, existing, allow_dup)

    def _prepare_name(self, entity: str, record: dict, self_id: str | None) -> None:
        display = str(record.get("DisplayName") or "").strip() or self._derived_name(record)
        if not display:
            raise _required("DisplayName")
        if len(display) > DISPLAY_NAME_MAX:
            raise _too_long("DisplayName", DISPLAY_NAME_MAX, len(display))
        holder = self._names.get(_name_key(display))
        if holder is not None and holder != (entity, self_id):
            raise _duplicate_name(holder[1])
        record["DisplayName"] = display
        record.setdefault("PrintOnCheckName", display)
        record.setdefault("Active", True)
        if entity == "Customer":
            qbo_regional.check_customer(record, self.entities["Preferences"]["1"])
            record["FullyQualifiedName"] = display
            record.setdefault("Balance", 0)

    def _prepare_item(self, record: dict, self_id: str | None) -> None:
        name = str(record.get("Name") or "").strip()
        if not name:
            raise _required("Name")
        holder = self._item_names.get(_name_key(name))
        if holder is not None and holder != self_id:
            raise _duplicate_name(holder)
        record["Name"] = name
        record["FullyQualifiedName"] = name
        record.setdefault("Type", "Service")
        record.setdefault("Active", True)

    def _check_ref(self, entity: str, ref: Any, element: str) -> None:
        ref_id = ref.get("value") if isinstance(ref, dict) else None
        target = self.entities[entity].get(str(ref_id)) if ref_id not in (None, "") else None
        if target is None:
            raise _invalid_reference(element, inactive=False)
        if target.get("Active", True) is False:
            raise _invalid_reference(element, inactive=True)

    def _fill_txn_defaults(self, record: dict) -> None:
        record.setdefault("TxnDate", self.clock.now().date().isoformat())
        record.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})
        record.setdefault("PrintStatus", "NotSet")
        record.setdefault("EmailStatus", "NotSet")
        record.setdefault("CustomField", [])
        record.setdefault("LinkedTxn", [])

    def _normalize_lines(self, record: dict) -> Decimal:
        """Give lines Ids and LineNums, compute missing Amounts, drop and re-add the SubTotalLine
        (QBO computes it), and return the total."""
        lines = [dict(line) for line in record.get("Line") or [] if line.get("DetailType") != "SubTotalLineDetail"]
        used = {str(line["Id"]) for line in lines if line.get("Id")}
        next_id = max([int(i) for i in used if i.isdigit()] + [0]) + 1
        subtotal = Decimal("0.00")
        discount = Decimal("0.00")
        for n, line in enumerate(lines, start=1):
            kind = line.get("DetailType")
            if kind == "DescriptionOnly":
                line.setdefault("DescriptionLineDetail", {})
                line.setdefault("Amount", 0)
            if line.get("Amount") in (None, ""):
                detail = line.get("SalesItemLineDetail") or {}
                if detail.get("Qty") is not None and detail.get("UnitPrice") is not None:
                    line["Amount"] = _num(_money(Decimal(str(detail["Qty"])) * Decimal(str(detail["UnitPrice"]))))
                else:
                    raise _required("Line.Amount")
            amount = _money(line["Amount"])
            line["Amount"] = _num(amount)
            if kind == "SalesItemLineDetail":
                subtotal += amount
            elif kind == "DiscountLineDetail":
                discount += amount
            if not line.get("Id"):
                line["Id"] = str(next_id)
                next_id += 1
            line["Id"] = str(line["Id"])
            line["LineNum"] = n
        lines.append({"Amount": _num(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        record["Line"] = lines
        tax = _money((record.get("TxnTaxDetail") or {}).get("TotalTax"))
        return subtotal - discount + tax

    def _check_books_open(self, *records: dict | None) -> None:
        """A transaction dated on or before AccountingInfoPrefs.BookCloseDate (set in tests with
        set_preference; QBO reports it from minorversion 21) cannot be written or deleted."""
        close = str(self._pref("AccountingInfoPrefs.BookCloseDate") or "")[:10]
        if close and any(r and str(r.get("TxnDate") or "")[:10] and str(r["TxnDate"])[:10] <= close
                         for r in records):
            raise _books_closed()

    def _prepare_txn(self, entity: str, record: dict, self_id: str | None, existing: dict | None,
                     allow_dup: bool) -> None:
        if not record.get("CustomerRef"):
            raise _required("CustomerRef")
        lines = record.get("Line")
        if not isinstance(lines, list) or not [l for l in lines if l.get("DetailType") != "SubTotalLineDetail"]:
            raise _required("Line")
        for line in lines:
            if not line.get("DetailType"):
                raise _required("Line.DetailType")
        doc = record.get("DocNumber")
        if doc is not None and len(str(doc)) > DOC_NUMBER_MAX:
            raise _too_long("DocNumber", DOC_NUMBER_MAX, len(str(doc)))
        self._check_ref("Customer", record["CustomerRef"], "CustomerRef")
        for line in lines:
            if line.get("DetailType") == "SalesItemLineDetail":
                item_ref = (line.get("SalesItemLineDetail") or {}).get("ItemRef")
                if item_ref is not None:
                    self._check_ref("Item", item_ref, "Line.SalesItemLineDetail.ItemRef")
        custom_numbers = bool(self._pref("SalesFormsPrefs.CustomTxnNumbers"))
        if doc not in (None, "") and custom_numbers and not allow_dup:
            # QBO refuses a duplicate number only while custom numbers are on; with them off
            # a supplied number is taken as is ("can lead to unwanted duplicates", Invoice docs).
            for holder in self._docs.get(str(doc), []):
                if holder != (entity, self_id):
                    raise _duplicate_doc(str(doc), holder[0], holder[1])
        if existing is None and doc in (None, "") and not custom_numbers:
            self._last_auto_doc += 1
            record["DocNumber"] = str(self._last_auto_doc)
        if existing is None:  # regional rules (tax codes, currency) on a new sale
            qbo_regional.check_new_sale(record, self.entities["Customer"][str(record["CustomerRef"]["value"])],
                                        self.entities["Preferences"]["1"], self.entities["CompanyInfo"]["1"])
        if self.service_dates_required():
            for line in lines:
                if line.get("DetailType") == "SalesItemLineDetail" and \
                        not (line.get("SalesItemLineDetail") or {}).get("ServiceDate"):
                    raise _revenue_recognition()
        self._fill_txn_defaults(record)
        self._check_books_open(record, existing)
        total = self._normalize_lines(record)
        record["TotalAmt"] = _num(total)
        if existing is None:
            record["Balance"] = record["TotalAmt"]
        else:  # keep what was paid already
            paid = _money(existing.get("TotalAmt")) - _money(existing.get("Balance"))
            record["Balance"] = _num(max(total - paid, Decimal("0.00")))

    # -- preferences ----------------------------------------------------------------------
    def update_preferences(self, body: dict, requestid: str | None = None) -> dict:
        with self.lock:
            return self._once(("update", "Preferences"), requestid, lambda: self._update_preferences(body))

    def _update_preferences(self, body: dict) -> dict:
        if self.subscription_ended:
            raise _company_status()
        if not isinstance(body, dict):
            raise _invalid_property("Property Name:failed to parse json object; a property specified is "
                                    "unsupported or invalid")
        current = self.entities["Preferences"]["1"]
        if body.get("SyncToken") in (None, ""):
            raise _required("SyncToken")
        if str(body["SyncToken"]) != current["SyncToken"]:
            raise _stale()
        changes: list[tuple[str, Any]] = []

        def walk(prefix: str, new: Any, old: Any) -> None:
            if isinstance(new, dict) and isinstance(old, dict):
                for k, v in new.items():
                    walk(f"{prefix}.{k}" if prefix else k, v, old.get(k))
            elif new != old:
                changes.append((prefix, new))

        walk("", {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}, current)
        refused = [p for p, _ in changes
                   if not any(p == w or p.startswith(w + ".") for w in self.writable_preferences)]
        if refused:
            raise _invalid_property(f"Property Name:{refused[0]} specified is unsupported or invalid",
                                    element=refused[0])
        updated = _clone(current)
        for path, value in changes:
            target = updated
            *parents, leaf = path.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = _clone(value)
        if changes:
            updated["SyncToken"] = str(int(current["SyncToken"]) + 1)
            updated["MetaData"] = dict(current["MetaData"], LastUpdatedTime=self._now_str())
            self.entities["Preferences"]["1"] = updated
            self._touch("Preferences", "1")
        return _clone(updated)

    def set_preference(self, path: str, value: Any) -> None:
        """Change a preference as a person would in QBO's settings (tests, scenarios)."""
        with self.lock:
            target = self.entities["Preferences"]["1"]
            *parents, leaf = path.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = value
            prefs = self.entities["Preferences"]["1"]
            prefs["SyncToken"] = str(int(prefs["SyncToken"]) + 1)
            prefs["MetaData"]["LastUpdatedTime"] = self._now_str()
            self._touch("Preferences", "1")

    # -- change data capture --------------------------------------------------------------
    def cdc(self, entities: list[str], changed_since: datetime) -> dict:
        """Body of the /cdc answer: what changed since `changed_since`, deleted objects as
        {"status": "Deleted"}; look-back at most 30 days; at most 1,000 objects a response,
        cut the way QBO cuts it: objects grouped by entity (in the order asked), within an
        entity the active ones before the deleted ones (each oldest change first), and the
        first 1,000 of that sequence kept, so a full answer drops the later entities' changes
        and deletions first [Intuit blog "Building Smarter with Intuit: Stay in sync with
        CDC", 2023-08-24; /work/shared/knowledge/apis.md]."""
        if changed_since.tzinfo is None:
            changed_since = changed_since.replace(tzinfo=timezone.utc)
        now = self.clock.now()
        if changed_since < now - timedelta(days=CDC_LOOKBACK_DAYS):
            # The detail is what QBO was seen to answer (QuickBooksSharp issue #19); the code
            # is not confirmed.
            raise _invalid_property(f"Operation cdc with changedSince date {changed_since.isoformat()} "
                                    "which is older than fixed days is not supported.")
        names = []
        for e in entities:
            name = ENTITY_BY_LOWER.get(str(e).strip().lower())
            if name is None:
                raise _invalid_property(f"Property Name:entities specified is unsupported or invalid : {e}")
            if name not in names:
                names.append(name)
        since = changed_since.timestamp()
        with self.lock:
            latest: dict[tuple[str, str], tuple[float, bool]] = {}
            for entity, rid, at, deleted in self.change_log:
                if entity in names and at >= since:
                    latest[(entity, rid)] = (at, deleted)
            def gone(key, change) -> bool:
                return change[1] or key[1] not in self.entities[key[0]]

            ordered = sorted(latest.items(), key=lambda kv: (names.index(kv[0][0]), gone(*kv), kv[1][0]))
            per_entity: dict[str, list[dict]] = {n: [] for n in names}
            for (entity, rid), (at, deleted) in ordered[:self.cdc_max_objects]:
                current = self.entities[entity].get(rid)
                if deleted or current is None:
                    stamp = qbo_time(datetime.fromtimestamp(at, tz=timezone.utc))
                    per_entity[entity].append({"domain": "QBO", "status": "Deleted", "Id": rid,
                                               "MetaData": {"LastUpdatedTime": stamp}})
                else:
                    per_entity[entity].append(_clone(current))
        responses = []
        for name in names:
            rows = per_entity[name]
            responses.append({name: rows, "startPosition": 1, "maxResults": len(rows), "totalCount": len(rows)}
                             if rows else {})
        return {"CDCResponse": [{"QueryResponse": responses}], "time": _ts(now)}


# ------------------------------------------------------------------------------------------
# HTTP
# ------------------------------------------------------------------------------------------
# HTTP 401: lower-case body, exactly as QBO sends it (apis.md; python-quickbooks issue #250).
AUTH_FAILED_BODY = {"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; "
                                                    "statusCode=401", "code": "3200"}],
                              "type": "AUTHENTICATION"}}
# HTTP 403 when the token's company is not the one in the URL (oauth-jsclient issue #2,
# minimul/qbo_api issue #138): also lower-case.
AUTHZ_FAILED_BODY = {"fault": {"error": [{"message": "message=ApplicationAuthorizationFailed; "
                                                     "errorCode=003100; statusCode=403", "detail": None,
                                          "code": "3100", "element": None}], "type": "SERVICE"}}


class _Window:
    """Requests accepted in the last `span` seconds (sliding window)."""

    def __init__(self, limit: int, span: float):
        self.limit = limit
        self.span = span
        self.times: deque[float] = deque()

    def full(self, now: float) -> bool:
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        return len(self.times) >= self.limit

    def add(self, now: float) -> None:
        self.times.append(now)


class QboService(Service):
    """The v3 accounting API for one or more companies, plus (by default) Intuit's OAuth
    endpoints on the same port (see qbo_oauth.py for why).

    Limits (per realm; constructor arguments so tests can lower them): 500 requests a minute,
    10 a second, 40 batch requests a minute [Intuit: "500 requests per minute per realmId,
    including batch requests"; apis.md]. Over a limit: HTTP 429 with QBO's throttle fault
    (code 3001, capital "Fault" so python-quickbooks raises ValidationException)
    [beanworks/quickbooks-online-v3-sdk issue #6]. No Retry-After header: we found no sign QBO
    sends one (Intuit says to wait 60 s); `retry_after` can switch one on to exercise a
    client's header handling.
    """

    name = "qbo"

    def __init__(self, company: QboCompany | None = None, *, clock: Clock | None = None,
                 registry: QboTokenRegistry | None = None,
                 client_id: str = "qbsync-sandbox-client", client_secret: str = "qbsync-sandbox-secret",
                 per_minute_limit: int = 500, per_second_limit: int = 10, batch_per_minute_limit: int = 40,
                 retry_after: int | None = None, serve_oauth: bool = True,
                 per_minute: int | None = None, per_second: int | None = None):
        self.clock = clock or (company.clock if company else Clock())
        self._companies: list[QboCompany] = []
        company = company or QboCompany(self.clock)
        self.add_company(company)
        # The company a person picks in the consent step's "Company selector" (Intuit shows it to
        # people with several companies: developer.intuit.com/app/developer/qbo/docs/develop/
        # troubleshooting/oauth-errors); None: the first company. Read at use time: a scenario
        # load may change a realm id.
        self.consent_realm: str | None = None
        self.registry = registry or QboTokenRegistry(
            self.clock, realm_source=lambda: self.consent_realm or self.company.realm_id)
        per_minute_limit = per_minute if per_minute is not None else per_minute_limit
        per_second_limit = per_second if per_second is not None else per_second_limit
        if client_id:
            self.registry.register_client(client_id, client_secret)
        self.client_id, self.client_secret = client_id, client_secret
        self.per_minute_limit = per_minute_limit
        self.per_second_limit = per_second_limit
        self.batch_per_minute_limit = batch_per_minute_limit
        self.retry_after = retry_after
        self.serve_oauth = serve_oauth
        self._windows: dict[tuple[str, str], _Window] = {}
        self._throttle_lock = threading.Lock()
        # Set to [] to record (realm, clock time, allowed) for every API request as it reaches
        # the limits check, refused ones too (tests of shared pacing measure the windows).
        self.arrivals: list[tuple[str, float, bool]] | None = None
        self.minorversions: list[str] = []  # what clients sent (tests check it is passed)
        self._injected: deque[str] = deque()

    # -- setup helpers --------------------------------------------------------------------
    @property
    def company(self) -> QboCompany:
        return self._companies[0]

    @property
    def companies(self) -> dict[str, QboCompany]:
        """{realm id: company}, computed now (loading a scenario can change a realm id)."""
        return {c.realm_id: c for c in self._companies}

    def add_company(self, company: QboCompany) -> None:
        """Serve `company` too (at its realm id); adding one already served changes nothing."""
        if not any(c is company for c in self._companies):
            self._companies.append(company)

    def issue_refresh_token(self, realm_id: str | None = None) -> str:
        return self.registry.issue_refresh_token(self.client_id, realm_id or self.company.realm_id)

    def expire_access_tokens(self) -> None:
        self.registry.expire_access_tokens()

    def revoke_all_tokens(self) -> None:
        self.registry.revoke_all()

    def inject(self, kind: str, count: int = 1) -> None:
        """Make the next `count` API requests fail: "503" answers HTTP 503 before doing
        anything; "drop" does the work, then drops the connection without an answer (a
        timeout after commit: what requestid exists for)."""
        if kind not in ("503", "drop"):
            raise ValueError(kind)
        with self._throttle_lock:
            self._injected.extend([kind] * count)

    def _take_injection(self) -> str | None:
        with self._throttle_lock:
            return self._injected.popleft() if self._injected else None

    # -- plumbing -------------------------------------------------------------------------
    def _json(self, status: int, payload: dict, headers: dict | None = None) -> Response:
        hdrs = {"intuit_tid": f"1-{secrets.token_hex(8)}-{secrets.token_hex(12)}"}
        hdrs.update(headers or {})
        return json_response(status, payload, hdrs)

    def _fault(self, fault: QboFault) -> Response:
        return self._json(fault.http_status, fault.to_body(self.clock.now()))

    def routes(self) -> list[Route]:
        base = "/v3/company/{realmId}"
        routes = [
            Route("GET", f"{base}/query", self._query),
            Route("POST", f"{base}/query", self._query),
            Route("GET", f"{base}/companyinfo/{{id}}", self._companyinfo),
            Route("GET", f"{base}/preferences", self._get_preferences),
            Route("POST", f"{base}/preferences", self._post_preferences),
            Route("GET", f"{base}/cdc", self._cdc),
            Route("POST", f"{base}/batch", self._batch),
            Route("GET", f"{base}/{{entity}}/{{id}}", self._read),
            Route("POST", f"{base}/{{entity}}", self._write),
        ]
        routes = [Route(r.method, r.pattern, self._with_injection(r.handler)) for r in routes]
        if self.serve_oauth:
            routes += oauth_routes(self.registry)
        return routes

    def tenant_of(self, request: Request) -> str | None:
        """The realm id in the path (every company endpoint names it)."""
        return request.path_params.get("realmId")

    def before_request(self, request: Request, route: Route) -> Response | None:
        if is_oauth_path(request.path):
            return None
        grant = self.registry.check_access(request.bearer_token())
        if grant is None:
            return self._json(401, AUTH_FAILED_BODY)
        realm = request.path_params.get("realmId")
        if realm not in self.companies or grant.realm_id != realm:
            return self._json(403, AUTHZ_FAILED_BODY)
        mv = request.arg("minorversion")
        if mv is not None:
            # Below 75 QBO now serves 75 anyway; accepted, only remembered.
            self.minorversions.append(mv)
        return self._throttle(realm, request.path.endswith("/batch"))

    def _with_injection(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(request: Request) -> Response:
            kind = self._take_injection()
            if kind == "503":
                return Response(503, b"<html><body>Service Unavailable</body></html>",
                                {"Content-Type": "text/html"})
            response = handler(request)
            return Response(-1) if kind == "drop" else response
        return run

    def _throttle(self, realm: str, is_batch: bool) -> Response | None:
        now = self.clock.time()
        with self._throttle_lock:
            windows = [self._window(realm, "second", self.per_second_limit, 1.0),
                       self._window(realm, "minute", self.per_minute_limit, 60.0)]
            if is_batch:
                windows.append(self._window(realm, "batch", self.batch_per_minute_limit, 60.0))
            refused = any(w.full(now) for w in windows)
            if self.arrivals is not None:
                self.arrivals.append((realm, now, not refused))
            if refused:
                fault = QboFault("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                                 "The request limit was reached.  Try again later", fault_type="SERVICE",
                                 http_status=429)
                headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
                body = fault.to_body(self.clock.now())
                del body["Fault"]["Error"][0]["element"]
                return self._json(429, body, headers)
            for w in windows:
                w.add(now)
        return None

    def _window(self, realm: str, kind: str, limit: int, span: float) -> _Window:
        w = self._windows.get((realm, kind))
        if w is None or w.limit != limit:
            w = self._windows[(realm, kind)] = _Window(limit, span)
        return w

    def _company_of(self, request: Request) -> QboCompany:
        return self.companies[request.path_params["realmId"]]

    # -- handlers -------------------------------------------------------------------------
    def _query(self, request: Request) -> Response:
        sql = request.arg("query") if request.method == "GET" else request.body.decode("utf-8", "replace")
        try:
            return self._json(200, self._company_of(request).query(sql or ""))
        except QboFault as fault:
            return self._fault(fault)

    def _companyinfo(self, request: Request) -> Response:
        company = self._company_of(request)
        if request.path_params["id"] != company.realm_id:
            return self._fault(_not_found())
        return self._json(200, {"CompanyInfo": company.company_info(), "time": _ts(self.clock.now())})

    def _get_preferences(self, request: Request) -> Response:
        return self._json(200, {"Preferences": self._company_of(request).preferences(),
                                "time": _ts(self.clock.now())})

    def _post_preferences(self, request: Request) -> Response:
        try:
            body = self._body(request)
            prefs = self._company_of(request).update_preferences(body, request.arg("requestid"))
        except QboFault as fault:
            return self._fault(fault)
        return self._json(200, {"Preferences": prefs, "time": _ts(self.clock.now())})

    def _cdc(self, request: Request) -> Response:
        entities = [e for e in (request.arg("entities") or "").split(",") if e.strip()]
        since_text = request.arg("changedSince")
        try:
            if not entities:
                raise _required("entities")
            if not since_text:
                raise _required("changedSince")
            try:
                since = _parse_when(since_text)
            except ValueError:
                raise _invalid_property(f"Property Name:changedSince specified is unsupported or invalid : "
                                        f"{since_text}", element="changedSince")
            return self._json(200, self._company_of(request).cdc(entities, since))
        except QboFault as fault:
            return self._fault(fault)

    def _read(self, request: Request) -> Response:
        entity = ENTITY_BY_LOWER.get(request.path_params["entity"].lower())
        if entity is None or entity in ("Preferences", "CompanyInfo"):
            return self._fault(_unsupported(f"Operation read on {request.path_params['entity']} is not supported."))
        try:
            record = self._company_of(request).read(entity, request.path_params["id"])
        except QboFault as fault:
            return self._fault(fault)
        return self._json(200, {entity: record, "time": _ts(self.clock.now())})

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError):
            raise _invalid_property("Property Name:failed to parse json object; a property specified is "
                                    "unsupported or invalid")

    def _apply(self, company: QboCompany, entity: str, operation: str | None, body: Any,
               requestid: str | None, allow_dup: bool) -> dict:
        """One write as QBO routes it: ?operation=delete deletes; a body with an Id (or
        ?operation=update) updates; anything else creates."""
        if operation == "delete":
            return company.delete(entity, body, requestid)
        if operation == "update" or (isinstance(body, dict) and body.get("Id")):
            return company.update(entity, body, requestid, allow_duplicate_docnum=allow_dup)
        if operation not in (None, "", "create"):
            raise _unsupported(f"Operation {operation} is not supported.")
        return company.create(entity, body, requestid, allow_duplicate_docnum=allow_dup)

    def _write(self, request: Request) -> Response:
        entity = ENTITY_BY_LOWER.get(request.path_params["entity"].lower())
        if entity is None or entity not in WRITABLE_ENTITIES:
            return self._fault(_unsupported(
                f"Operation write on {request.path_params['entity']} is not supported."))
        allow_dup = "allowduplicatedocnum" in (request.arg("include") or "").split(",")
        try:
            body = self._body(request)
            result = self._apply(self._company_of(request), entity, request.arg("operation"), body,
                                 request.arg("requestid"), allow_dup)
        except QboFault as fault:
            return self._fault(fault)
        return self._json(200, {entity: result, "time": _ts(self.clock.now())})

    def _batch(self, request: Request) -> Response:
        """Up to 30 operations in one request; each answers on its own (a fault in one does
        not stop the others). The fault for more than 30 items is not confirmed."""
        company = self._company_of(request)
        try:
            body = self._body(request)
            items = body.get("BatchItemRequest") if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                raise _required("BatchItemRequest")
            if len(items) > 30:
                raise _invalid_property(f"Property Name:BatchItemRequest specified is unsupported or invalid : "
                                        f"{len(items)} items, at most 30 are allowed")
        except QboFault as fault:
            return self._fault(fault)
        answers = []
        for item in items:
            bid = item.get("bId")
            try:
                if "Query" in item:
                    answer = {"QueryResponse": company.query(item["Query"])["QueryResponse"]}
                else:
                    entity = next((k for k in item if k in WRITABLE_ENTITIES), None)
                    if entity is None:
                        raise _unsupported("Operation is not supported.")
                    op = item.get("operation") or "create"
                    result = self._apply(company, entity, op, item[entity], item.get("requestid"), False)
                    answer = {entity: result}
            except QboFault as fault:
                answer = {"Fault": {"Error": [{"Message": fault.message, "Detail": fault.detail,
                                               "code": fault.code, "element": fault.element}],
                                    "type": fault.fault_type}}
            answer["bId"] = bid
            answers.append(answer)
        return self._json(200, {"BatchItemResponse": answers, "time": _ts(self.clock.now())})
