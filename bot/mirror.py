"""A local mirror of the QBO data diagnosis reads, in the Store's SQLite file, kept current by
Change Data Capture; `MirrorQboView` answers rules.view.QboView from it with no API call.

What is kept (and nothing more): Customer, Vendor, Employee (Id, DisplayName, email, Active,
CompanyName, GivenName, FamilyName, CurrencyRef); Item (Id, Name, Active: whether a line's
item was made inactive, invalid-reference); Invoice and CreditMemo (Id, DocNumber, CustomerRef,
TxnDate, TotalAmt, tax total, the sales lines the line comparison reads, SyncToken);
Preferences (the whole JSON, it is one object); CompanyInfo (not in CDC; the whole JSON, in the
`poll_cursors` key-value rows under COMPANY_INFO, {"read_at", "body"}: read at a full load, again
when CDC reports a Preferences change, and by `company_info()` when older than six hours, so a
steady cycle stays one CDC call). Customers also keep their CurrencyRef (currency-mismatch).

How it is filled:
- first run (no CDC cursor), or a cursor older than CDC's 30-day look-back: a full load,
  `query_all` per entity (1,000 a page, ordered by Id), every page committed with the position
  it reached, so a crash resumes near where it stopped; progress is logged
  ("backfill: 12,000 / 50,000 Invoice"). The CDC cursor is the time the load *started*
  (changes made during the load come through the next CDC).
- every later cycle: ONE `cdc` call for all six entities since the cursor minus an overlap
  (clock skew between us and Intuit; re-applying a change is harmless, rows are upserts);
  deleted objects are removed. QBO answers at most 1,000 objects a CDC response, grouped by
  entity with the deleted objects after the active ones, so a full answer drops the later
  entities' changes and, within an entity, its deletions first [Intuit blog "Building
  Smarter with Intuit: Stay in sync with CDC", 2023-08-24; /work/shared/knowledge/apis.md].
  A full answer is therefore set aside and each entity read again (`_complete`): its own
  CDC answer when that is not full (then it holds every change and deletion of it); else its
  changes by query on MetaData.LastUpdatedTime (paged, nothing cut off) and, for the
  entities QBO deletes (Invoice, CreditMemo), the deletions by comparing the mirror's ids
  with the ids QBO still has. Names are never deleted, only made inactive, which the query
  (Active IN (true, false)) sees [real-failures.md, `invalid-reference`].
- the cursor moves in the same transaction as the rows it covers.

Whose clock: QBO's. The CDC cursor is the server `time` of the CDC answer (the adapter hands
it out as `CdcAnswer.server_time`), and a full load's cursor is the server time of its first
answer; the next CDC asks from the cursor minus `overlap_s`. Our own clock would let a skew
between us and Intuit skip changes: ours 10 minutes ahead, a cursor from our clock lies in
QBO's future, and a change made just after the call has a QBO time before the cursor. Only
when an answer has no `time` does the cursor fall back to our clock taken *before* the call.
A skew over 60 s is logged once (it also says the hosts' NTP needs a look).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

from bot.store.db import upsert_sql
from bot.adapters.quickbooks import quote
from bot.errors import ValidationFailed
from rules.view import PUBLIC_DOMAINS, email_of

log = logging.getLogger(__name__)

NAME_ENTITIES = ("Customer", "Vendor", "Employee")
# Items share the names table (entity "Item", its Name as the display name): invalid-reference
# reads whether the item a line maps to is inactive. They never count as a name holder.
LIST_ENTITIES = NAME_ENTITIES + ("Item",)
DOC_ENTITIES = ("Invoice", "CreditMemo")
CDC_ENTITIES = DOC_ENTITIES + LIST_ENTITIES + ("Preferences",)
CDC_CAP = 1000                 # objects per CDC response (Intuit's documented maximum)
CDC_LOOKBACK = timedelta(days=30)
PAGE = 1000
CURSOR = "qbo.cdc_since"       # epoch seconds: changes at or after this are not yet mirrored
BACKFILL = "qbo.backfill"      # JSON {"started_at", "server_started_at", "done": [entities], "entity", "position"}
_SQL_CHUNK = 500
_IN_CHUNK = 50                 # ids per QBO `IN (...)` list (as the adapter's look-ups)
SKEW_WARN_S = 60.0
ITEMS_LOADED = "qbo.items_loaded"  # "1" once the mirror holds every Item (full load, or the upgrade read)
COMPANY_INFO = "qbo.company_info"  # JSON {"read_at": epoch s, "body": QBO's CompanyInfo} (Country: regional rules)
COMPANY_INFO_MAX_AGE_S = 6 * 3600.0


def _chunks(values: list, size: int = _SQL_CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _fold(text) -> str:
    return str(text or "").strip().casefold()


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[1].lower() if "@" in email else ""


def name_row(entity: str, r: dict) -> dict:
    email = email_of(r)
    display = r.get("Name") if entity == "Item" else r.get("DisplayName")
    return {"entity": entity, "id": str(r["Id"]), "display_name": str(display or ""),
            "name_key": _fold(display), "email": email, "email_key": email.lower(),
            "email_domain": _domain(email), "active": 1 if r.get("Active", True) else 0,
            "company_name": str(r.get("CompanyName") or ""), "company_key": _fold(r.get("CompanyName")),
            "given_name": str(r.get("GivenName") or ""), "family_name": str(r.get("FamilyName") or ""),
            "currency": str((r.get("CurrencyRef") or {}).get("value") or "")}


def name_record(row: dict) -> dict:
    """The QBO-shaped record diagnosis reads, rebuilt from a mirror row."""
    rec = {"Id": row["id"], "DisplayName": row["display_name"], "Active": bool(row["active"])}
    if row["email"]:
        rec["PrimaryEmailAddr"] = {"Address": row["email"]}
    for key, col in (("CompanyName", "company_name"), ("GivenName", "given_name"), ("FamilyName", "family_name")):
        if row[col]:
            rec[key] = row[col]
    if row.get("currency"):
        rec["CurrencyRef"] = {"value": row["currency"]}
    return rec


def _slim_lines(lines) -> list[dict]:
    out = []
    for line in lines or []:
        if line.get("DetailType") != "SalesItemLineDetail":
            continue
        d = line.get("SalesItemLineDetail") or {}
        out.append({"DetailType": "SalesItemLineDetail", "Amount": line.get("Amount"),
                    "Description": line.get("Description") or "",
                    "SalesItemLineDetail": {"ItemRef": d.get("ItemRef"), "Qty": d.get("Qty"),
                                            "UnitPrice": d.get("UnitPrice")}})
    return out


def doc_row(entity: str, r: dict) -> dict:
    return {"entity": entity, "id": str(r["Id"]), "doc_number": str(r.get("DocNumber") or ""),
            "customer_ref": str((r.get("CustomerRef") or {}).get("value") or ""),
            "txn_date": str(r.get("TxnDate") or ""), "total_amt": json.dumps(r.get("TotalAmt", 0), default=str),
            "total_tax": json.dumps((r.get("TxnTaxDetail") or {}).get("TotalTax", 0) or 0, default=str),
            "lines": json.dumps(_slim_lines(r.get("Line")), ensure_ascii=False, default=str),
            "sync_token": str(r.get("SyncToken") or "")}


def doc_record(row: dict) -> dict:
    rec = {"Id": row["id"], "DocNumber": row["doc_number"], "CustomerRef": {"value": row["customer_ref"]},
           "TxnDate": row["txn_date"], "TotalAmt": json.loads(row["total_amt"]), "SyncToken": row["sync_token"],
           "Line": json.loads(row["lines"])}
    tax = json.loads(row["total_tax"] or "0")
    if tax not in (0, "0", "", None):
        rec["TxnTaxDetail"] = {"TotalTax": tax}
    return rec


@dataclass
class MirrorChanges:
    """What one sync changed, with the keys an affected HubSpot invoice could be found by."""
    full_load: bool = False
    objects: int = 0
    doc_numbers: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)        # lower-cased
    names: set[str] = field(default_factory=set)         # case-folded DisplayName / CompanyName
    preferences: bool = False

    @property
    def any(self) -> bool:
        return self.full_load or self.preferences or bool(self.objects)


class QboMirror:
    def __init__(self, store, qbo, *, clock=time.time, overlap_s: float = 120.0, page_size: int = PAGE,
                 cdc_cap: int = CDC_CAP, on_changes=None):
        """on_changes(MirrorChanges): called inside the transaction that moves the cursor
        (the poller marks the invoices a change concerns, atomically with the change)."""
        self.on_changes = on_changes
        self.store = store
        self.qbo = qbo
        self.clock = clock
        self.overlap_s = float(overlap_s)
        self.page_size = int(page_size)
        self.cdc_cap = int(cdc_cap)
        self.clock_skew_s: float | None = None  # QBO's clock minus ours, at the last answer with a time
        self._skew_warned = False

    # -- state ----------------------------------------------------------------------------
    def cursor(self) -> float | None:
        value = self.store.get_cursor(CURSOR)
        return float(value) if value else None

    @property
    def loaded(self) -> bool:
        return self.cursor() is not None

    # -- CompanyInfo ------------------------------------------------------------------------
    def company_info(self, *, max_age_s: float = COMPANY_INFO_MAX_AGE_S) -> dict:
        """QBO's CompanyInfo (Country, CompanyName, ...), the one place qbsync keeps it: stored
        in the store under COMPANY_INFO with the time it was read, read again through the
        adapter only when older than `max_age_s` (it changes rarely and CDC does not carry it).
        A read that fails leaves the stored copy in use; {} when there never was one."""
        stored = json.loads(self.store.get_cursor(COMPANY_INFO) or "null") or {}
        if stored and self.clock() - float(stored.get("read_at", 0)) < max_age_s:
            return stored.get("body") or {}
        try:
            body = self.qbo.company_info()
        except Exception as exc:  # noqa: BLE001 - an old copy is better than none for a status line
            log.info("CompanyInfo read failed, using the stored copy: %s", exc)
            return stored.get("body") or {}
        body = body if isinstance(body, dict) else {}
        self.store.set_cursor(COMPANY_INFO, json.dumps({"read_at": self.clock(), "body": body}, default=str))
        return body

    # -- one sync -------------------------------------------------------------------------
    def sync(self) -> MirrorChanges:
        """Bring the mirror up to date: a (resumed) full load, or one CDC call."""
        since = self.cursor()
        if since is None:
            return self.full_load()
        if datetime.fromtimestamp(since - self.overlap_s, tz=timezone.utc) < \
                datetime.fromtimestamp(self.clock(), tz=timezone.utc) - CDC_LOOKBACK + timedelta(hours=1):
            log.info("QBO mirror: CDC cursor older than CDC's 30-day look-back; full reload")
            return self.full_load(reload=True)
        if not self.store.get_cursor(ITEMS_LOADED):
            self._load_items()
        changes = self._cdc(since)
        if self.store.get_cursor(COMPANY_INFO) is None:
            # A mirror loaded before CompanyInfo was kept: read it once, not every cycle.
            info = self._company_info()
            if info is not None:
                self._keep_company_info(info)
        return changes

    def _load_items(self) -> None:
        """A mirror loaded before Items were mirrored: read them once (CDC only brings the ones
        that change from now on)."""
        changes = MirrorChanges()
        rows = list(self.qbo.query_all("Item", "Active IN (true, false)", order_by="Id", page_size=self.page_size))
        with self.store.transaction():
            self._apply({"Item": rows}, changes)
            self.store.set_cursor(ITEMS_LOADED, "1")
        log.info("QBO mirror: %d items loaded", len(rows))

    def _cdc(self, since: float) -> MirrorChanges:
        started = self.clock()
        changed_since = datetime.fromtimestamp(since - self.overlap_s, tz=timezone.utc)
        try:
            answer = self.qbo.cdc(list(CDC_ENTITIES), changed_since)
        except ValidationFailed as exc:
            # QBO refuses a changedSince past its look-back (the sandbox's clock may also have
            # moved on): the only way back is a full load.
            log.warning("QBO CDC refused (%s); full reload", exc)
            return self.full_load(reload=True)
        # The next cursor: QBO's time of this answer (see the module doc), else ours.
        cursor = self._server_stamp(getattr(answer, "server_time", None), started)
        total = sum(len(v) for v in answer.values())
        if total >= self.cdc_cap:
            log.info("QBO CDC answer is full (%d objects): reading each entity's changes again", total)
            answer = self._complete(changed_since)
        changes = MirrorChanges()
        info = self._company_info() if self._preferences_changed(answer.get("Preferences")) else None
        with self.store.transaction():
            self._apply(answer, changes)
            if info is not None:
                self._keep_company_info(info)
            if self.on_changes is not None:
                self.on_changes(changes)
            self.store.set_cursor(CURSOR, repr(cursor))
        return changes

    def _complete(self, changed_since: datetime) -> dict[str, list[dict]]:
        """Every change since `changed_since`, entity by entity, when one CDC answer for all
        of them was full (see the module doc for why that answer cannot be trusted)."""
        stamp = changed_since.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        answer: dict[str, list[dict]] = {}
        for entity in DOC_ENTITIES + LIST_ENTITIES:
            alone = list(self.qbo.cdc([entity], changed_since).get(entity, []))
            if len(alone) < self.cdc_cap:
                answer[entity] = alone
                continue
            log.info("QBO CDC answer for %s alone is full: reading it by query", entity)
            where = f"MetaData.LastUpdatedTime >= {quote(stamp)}"
            if entity in LIST_ENTITIES:
                where += " AND Active IN (true, false)"
            answer[entity] = list(self.qbo.query_all(entity, where, order_by="Id", page_size=self.page_size))
            if entity in DOC_ENTITIES:
                answer[entity].extend(self._gone(entity))
        answer["Preferences"] = [self.qbo.preferences()]
        return answer

    def _preferences_changed(self, rows) -> bool:
        """A Preferences object in a CDC answer that is not the one mirrored already (the CDC
        overlap re-sends an unchanged one)."""
        stored = self.store.query_rows("SELECT body FROM qbo_prefs WHERE id = 1")
        old = json.loads(stored[0]["body"]) if stored else {}
        key = lambda p: (str(p.get("SyncToken")), str((p.get("MetaData") or {}).get("LastUpdatedTime")))  # noqa: E731
        return any(r.get("status") != "Deleted" and key(r) != key(old) for r in rows or [])

    def _keep_company_info(self, info: dict) -> None:
        self.store.set_cursor(COMPANY_INFO, json.dumps({"read_at": self.clock(), "body": info},
                                                       ensure_ascii=False, default=str))

    def _company_info(self) -> dict | None:
        """CompanyInfo, or None from an adapter without it (the rules then treat the country
        as unknown)."""
        read = getattr(self.qbo, "company_info", None)
        return read() if callable(read) else None

    def _gone(self, entity: str) -> list[dict]:
        """Deletion notices for the mirrored documents QBO no longer has: one pass over the
        entity (paged by Id), then each candidate looked up by Id, so a row that paging
        skipped while others were deleted is not taken for deleted."""
        present = {str(r.get("Id")) for r in self.qbo.query_all(entity, order_by="Id", page_size=self.page_size)}
        candidates = [r["id"] for r in self.store.query_rows("SELECT id FROM qbo_docs WHERE entity = ?", (entity,))
                      if r["id"] not in present]
        for chunk in _chunks(candidates, _IN_CHUNK):
            where = f"Id IN ({', '.join(quote(i) for i in chunk)})"
            present.update(str(r.get("Id")) for r in self.qbo.query_all(entity, where))
        gone = [i for i in candidates if i not in present]
        if gone:
            log.info("QBO mirror: %d %s deleted in QBO whose deletion CDC cut off", len(gone), entity)
        return [{"Id": i, "status": "Deleted"} for i in gone]

    def _server_stamp(self, server_time: datetime | None, local_before: float) -> float:
        """The server's time as epoch seconds, or `local_before` without one; notes the skew."""
        if server_time is None:
            return local_before
        server = server_time.timestamp()
        local_after = self.clock()
        # The answer was stamped somewhere between our before and after: skew is how far
        # outside that window it lies (a slow call is not a skew).
        skew = server - local_after if server > local_after else min(0.0, server - local_before)
        self.clock_skew_s = skew
        if abs(skew) > SKEW_WARN_S and not self._skew_warned:
            self._skew_warned = True
            log.warning("QuickBooks' clock and ours differ by %.0f s (QBO %s); the CDC cursor follows "
                        "QuickBooks' clock, but check this host's time sync", skew,
                        "ahead" if skew > 0 else "behind")
        return server

    def _apply(self, answer: dict[str, list[dict]], changes: MirrorChanges) -> None:
        conn = self.store.conn
        for entity in LIST_ENTITIES:
            for r in answer.get(entity) or []:
                rid = str(r.get("Id"))
                old = conn.execute("SELECT email_key, name_key, company_key FROM qbo_names WHERE entity=? AND id=?",
                                   (entity, rid)).fetchone()
                if old:
                    changes.emails.add(old[0])
                    changes.names.update(old[1:])
                changes.objects += 1
                if r.get("status") == "Deleted":
                    conn.execute("DELETE FROM qbo_names WHERE entity=? AND id=?", (entity, rid))
                    continue
                row = name_row(entity, r)
                changes.emails.add(row["email_key"])
                changes.names.update((row["name_key"], row["company_key"]))
                self._upsert(conn, "qbo_names", row)
        for entity in DOC_ENTITIES:
            for r in answer.get(entity) or []:
                rid = str(r.get("Id"))
                old = conn.execute("SELECT doc_number, customer_ref FROM qbo_docs WHERE entity=? AND id=?",
                                   (entity, rid)).fetchone()
                refs = set()
                if old:
                    changes.doc_numbers.add(old[0])
                    refs.add(old[1])
                changes.objects += 1
                if r.get("status") == "Deleted":
                    conn.execute("DELETE FROM qbo_docs WHERE entity=? AND id=?", (entity, rid))
                else:
                    row = doc_row(entity, r)
                    changes.doc_numbers.add(row["doc_number"])
                    refs.add(row["customer_ref"])
                    self._upsert(conn, "qbo_docs", row)
                # A changed invoice can become (or stop being) the date+amount counterpart of
                # an invoice of its customer: those are found by the customer's email.
                for ref in refs - {""}:
                    hit = conn.execute("SELECT email_key FROM qbo_names WHERE entity='Customer' AND id=?",
                                       (ref,)).fetchone()
                    if hit:
                        changes.emails.add(hit[0])
        for r in answer.get("Preferences") or []:
            if r.get("status") == "Deleted":
                continue
            changes.objects += 1
            changes.preferences = True
            conn.execute("INSERT INTO qbo_prefs (id, body) VALUES (1, ?)"
                         " ON CONFLICT(id) DO UPDATE SET body=excluded.body",
                         (json.dumps(r, ensure_ascii=False, default=str),))
        changes.emails.discard("")
        changes.names.discard("")
        changes.doc_numbers.discard("")

    @staticmethod
    def _upsert(conn, table: str, row: dict) -> None:
        # both mirror tables are keyed by (entity, id); every column is written (INSERT OR REPLACE before)
        cols = list(row)
        conn.execute(upsert_sql(table, cols, ["entity", "id"]), tuple(row[c] for c in cols))

    # -- full load --------------------------------------------------------------------------
    def full_load(self, *, reload: bool = False) -> MirrorChanges:
        """query_all every entity into the mirror, resumable page by page."""
        state = json.loads(self.store.get_cursor(BACKFILL) or "null")
        if state is None or reload:
            state = {"started_at": self.clock(), "done": [], "entity": None, "position": 1}
            with self.store.transaction() as conn:
                if reload:  # records deleted while CDC could not see must go: start empty
                    conn.execute("DELETE FROM qbo_names")
                    conn.execute("DELETE FROM qbo_docs")
                    conn.execute("DELETE FROM qbo_prefs")
                conn.execute("DELETE FROM poll_cursors WHERE name = ?", (CURSOR,))
                self.store.set_cursor(BACKFILL, json.dumps(state))
        else:
            log.info("QBO mirror: resuming the full load (%s done, %s at %s)", state["done"], state["entity"],
                     state["position"])
        changes = MirrorChanges(full_load=True)
        for entity in DOC_ENTITIES + LIST_ENTITIES:
            if entity in state["done"]:
                continue
            self._load_entity(entity, state, changes)
        prefs = self.qbo.preferences()
        info = self._company_info()
        with self.store.transaction():
            self._apply({"Preferences": [prefs]}, changes)
            if info is not None:
                self._keep_company_info(info)
            if self.on_changes is not None:
                self.on_changes(changes)
            # QBO's time when the load began reading, if it told us; else our start.
            self.store.set_cursor(CURSOR, repr(float(state.get("server_started_at") or state["started_at"])))
            self.store.conn.execute("DELETE FROM poll_cursors WHERE name = ?", (BACKFILL,))
            self.store.set_cursor(ITEMS_LOADED, "1")
        return changes

    def _load_entity(self, entity: str, state: dict, changes: MirrorChanges) -> None:
        where = "Active IN (true, false)" if entity in LIST_ENTITIES else ""
        before = self.clock()
        total = self.qbo.count(entity, where)
        if not state.get("server_started_at"):
            # The load's first answer, before any page is read: QBO's time of it is where the
            # next CDC must start (kept in the state, so a resumed load keeps it).
            seen = getattr(self.qbo, "last_server_time", None)
            server_time = seen() if callable(seen) else None
            if server_time is not None:
                state["server_started_at"] = self._server_stamp(server_time, before)
        position = int(state["position"]) if state.get("entity") == entity else 1
        if position > 1:
            # Rows deleted before `position` since the last page shift the rest forward: step
            # back a little so none is skipped (re-reading a row is harmless).
            position = max(1, position - 100)
        done = max(0, position - 1)
        while True:
            sql = f"SELECT * FROM {entity}" + (f" WHERE {where}" if where else "") + \
                  f" ORDERBY Id STARTPOSITION {position} MAXRESULTS {self.page_size}"
            rows = self.qbo.query(sql)
            done += len(rows)
            last = len(rows) < self.page_size
            state.update(entity=entity, position=position + len(rows))
            if last:
                state["done"] = state["done"] + [entity]
                state.update(entity=None, position=1)
            with self.store.transaction():
                self._apply({entity: rows}, changes)
                self.store.set_cursor(BACKFILL, json.dumps(state))
            log.info("backfill: %s / %s %s", f"{min(done, max(total, done)):,}", f"{max(total, done):,}", entity)
            if last:
                return
            position += len(rows)


class MirrorQboView:
    """rules.view.QboView answered from the mirror: no API call. Keys as LiveQboView's."""

    def __init__(self, store):
        self.store = store
        self._prefs: dict | None = None

    def _rows(self, sql: str, params=()) -> list[dict]:
        return self.store.query_rows(sql, params)

    def _in(self, table: str, column: str, values: Iterable[str], extra: str = "") -> list[dict]:
        values = sorted(set(values))
        out: list[dict] = []
        for chunk in _chunks(values):
            out.extend(self._rows(f"SELECT * FROM {table} WHERE {column} IN ({','.join('?' * len(chunk))}){extra}",
                                  tuple(chunk)))
        return out

    def company_info(self) -> dict:
        """The CompanyInfo the mirror keeps; {} (unknown) before it was ever read."""
        stored = json.loads(self.store.get_cursor(COMPANY_INFO) or "{}")
        return (stored.get("body") or {}) if isinstance(stored, dict) else {}

    def preferences(self) -> dict:
        if self._prefs is None:
            rows = self._rows("SELECT body FROM qbo_prefs WHERE id = 1")
            self._prefs = json.loads(rows[0]["body"]) if rows else {}
        return self._prefs

    def customers_by_email(self, emails):
        # As QuickBooksAdapter.customers_by_email: active customers only (QBO's default).
        wanted = {e.strip().lower() for e in emails if e and e.strip()}
        out: dict[str, list[dict]] = {e: [] for e in wanted}
        for row in self._in("qbo_names", "email_key", wanted, " AND entity = 'Customer' AND active = 1"):
            out[row["email_key"]].append(name_record(row))
        for rows in out.values():
            rows.sort(key=lambda r: str(r["Id"]).zfill(12))
        return out

    def names_in_use(self, names):
        wanted = {n.strip() for n in names if n and n.strip()}
        keys = {n.casefold() for n in wanted}
        found: dict[str, list[tuple[str, dict]]] = {k: [] for k in keys}
        order = {e: i for i, e in enumerate(NAME_ENTITIES)}
        rows = sorted(self._in("qbo_names", "name_key", keys, " AND entity != 'Item'"),
                      key=lambda r: (order[r["entity"]], r["id"].zfill(12)))
        for row in rows:
            found[row["name_key"]].append((row["entity"], name_record(row)))
        return {n.casefold(): found.get(n.casefold(), []) for n in wanted}

    def documents_by_number(self, numbers):
        wanted = {str(n) for n in numbers if n not in (None, "")}
        out: dict[str, list[tuple[str, dict]]] = {n: [] for n in wanted}
        order = {e: i for i, e in enumerate(DOC_ENTITIES)}
        rows = sorted(self._in("qbo_docs", "doc_number", wanted), key=lambda r: (order[r["entity"]], r["id"].zfill(12)))
        for row in rows:
            out[row["doc_number"]].append((row["entity"], doc_record(row)))
        return out

    def customers_by_id(self, ids):
        wanted = {str(i) for i in ids if i not in (None, "")}
        return {r["id"]: name_record(r) for r in self._in("qbo_names", "id", wanted, " AND entity = 'Customer'")}

    def invoices_of_customers(self, customer_ids, since):
        ids = {str(i) for i in customer_ids if i}
        rows = self._in("qbo_docs", "customer_ref", ids, " AND entity = 'Invoice'")
        docs = [doc_record(r) for r in rows if not since or r["txn_date"] >= since]
        return sorted(docs, key=lambda d: str(d["Id"]).zfill(12))

    def similar_customers(self, names, companies, domains):
        found: dict[str, dict] = {}
        names = sorted({n.strip() for n in names if n and n.strip()})
        companies = sorted({c.strip() for c in companies if c and c.strip()})
        for rows in self.names_in_use(names + companies).values():
            for entity, c in rows:
                if entity == "Customer":
                    found.setdefault(str(c["Id"]), c)
        for row in self._in("qbo_names", "company_key", {c.casefold() for c in companies},
                            " AND entity = 'Customer' AND active = 1"):
            found.setdefault(row["id"], name_record(row))
        for domain in sorted({d.lower() for d in domains if d} - PUBLIC_DOMAINS):
            # LiveQboView asks QBO for at most 20 customers per domain.
            for row in self._rows("SELECT * FROM qbo_names WHERE email_domain = ? AND entity = 'Customer' "
                                  "AND active = 1 ORDER BY CAST(id AS INTEGER) LIMIT 20", (domain,)):
                found.setdefault(row["id"], name_record(row))
        return list(found.values())

    def document(self, entity, doc_id):
        if entity in DOC_ENTITIES:
            rows = self._rows("SELECT * FROM qbo_docs WHERE entity = ? AND id = ?", (entity, str(doc_id)))
            return doc_record(rows[0]) if rows else None
        if entity in NAME_ENTITIES:
            rows = self._rows("SELECT * FROM qbo_names WHERE entity = ? AND id = ?", (entity, str(doc_id)))
            return name_record(rows[0]) if rows else None
        return None

    def items_by_name(self, names, include_inactive: bool = False):
        """As LiveQboView.items_by_name, from the mirrored items (Id, Name, Active)."""
        keys = {_fold(n) for n in names if n and str(n).strip()}
        out: dict[str, dict] = {}
        rows = self._in("qbo_names", "name_key", keys, " AND entity = 'Item'" + ("" if include_inactive else
                                                                                 " AND active = 1"))
        for row in sorted(rows, key=lambda r: (r["active"], r["id"].zfill(12))):  # active ones win
            out[row["name_key"]] = {"Id": row["id"], "Name": row["display_name"], "Active": bool(row["active"])}
        return out
