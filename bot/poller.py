"""One incremental poll cycle: HubSpot invoices changed since the cursor + QBO changes since
the CDC cursor -> diagnose the invoices that could have changed outcome -> AlertService.

A cycle:
1. QBO: `QboMirror.sync()` (bot/mirror.py): a full load the first time, then ONE CDC call.
2. HubSpot: search invoices (all statuses) with hs_lastmodifieddate after the cursor, or
   from `overlap` before the last complete search began if that is earlier (HubSpot's search
   index lags writes by seconds; the overlap re-reads what it may not have shown then, and
   results whose hs_lastmodifieddate equals the cached one are skipped, not hydrated). Open/paid ones
   that changed are hydrated (read_invoices, batched) 1,000 at a time; each chunk is stored in
   the invoice cache together with the cursor (its highest hs_lastmodifieddate) in one
   transaction. Others (voided, draft) only get their cached status changed.
3. Diagnose, from local data only (MirrorQboView, the invoice cache, remembered contact
   look-ups): the invoices that changed in HubSpot; those a QBO change could concern (same
   DocNumber, a customer email or DisplayName/CompanyName they look up; all of them when
   Preferences changed or the mirror was reloaded); and the watched ones: an open alert, a
   sync watch (waiting for HubSpot's retry after a fix), or inside/just past their grace
   period. Everything else (synced and unchanged) is neither read nor diagnosed.
4. AlertService.apply_findings(findings, invoices, checked) with checked = the invoices
   looked at this cycle, outside their grace period.

Crash safety: every cursor is stored in the transaction that stores the data it covers, and
alerts are keyed per (invoice, rule); a cycle that dies half-way leaves cursors at the last
committed chunk, and the next cycle re-reads from there. Invoices hydrated before the crash
are no longer "changed" for that cycle, so the work list is persisted too: a `due` flag on
the cached invoice, set in the transaction that stores the invoice (or the QBO change that
concerns it) and cleared only after apply_findings has recorded the cycle's outcome.

API calls (the lower bound the benchmark compares with; the APIs' maximum page/batch sizes):
    steady cycle, nothing changed:  HubSpot 1 search page + QBO 1 CDC = 2
    cycle with C changed invoices, K distinct contacts, M companies, L line items:
        HubSpot  ceil(C/200) search pages
               + ceil(C/100) invoice batch reads + ceil(K/100) contacts + ceil(M/100) companies
                 + ceil(L/100) line items   (a contact or company is read once per cycle,
                                             however many chunks its invoices fall in)
               + 3 x ceil(C/1000) association batch reads (contacts, companies, line items)
    (bench/bounds.py computes exactly this bound; `python -m bench` compares the calls with it)
        QBO      1 CDC (only when CDC's 1,000 cap is hit: + 1 CDC per mirrored entity + 1
                 Preferences read, and for an entity whose own answer is full too, its
                 changes by query pages, plus for Invoice/CreditMemo one pass over all
                 its ids to find deletions: see bot/mirror.py)
    first run (N open/paid invoices, Q_e QBO records of entity e):
        HubSpot  as above with C = N
        QBO      sum_e ceil(Q_e/1000) query pages (+1 COUNT per entity, for the progress line)
                 + 1 Preferences read
A cycle after a person fixed an invoice re-reads that invoice once (its batch read and
association reads: about 5 calls), since a HubSpot-side fix does not show in the delta.
Contacts looked up by email (a few per failing invoice, for the customer-problem rules) come
on top the first time an email is asked about: ceil(E/100) batch reads for E emails; the
answer is remembered for `contact_ttl_s`.
"""
from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterable, Iterator

from rules.diagnose import SYNCABLE, diagnose, eligible
from rules.facts import integration_name

from .alerts import OPEN_STATES, SYNC_WAIT_S
from .invoice_source import SourceRule
from .mirror import MirrorChanges, MirrorQboView, QboMirror
from .models import Company, Contact, Invoice, LineItem
from .store.db import upsert_sql

log = logging.getLogger(__name__)

HS_CURSOR = "hubspot.invoices.modified_ms"   # highest hs_lastmodifieddate (epoch ms) stored
HS_SEARCHED = "hubspot.invoices.searched_ms"  # when the last complete delta search began (our clock)
LAST_CYCLE = "poll.last_cycle_at"            # `now` of the last cycle that finished diagnosing
HYDRATE_CHUNK = 1000                          # = one association batch read per type
# Invoices diagnosed (and held in memory) at a time: a first run on 50,000 invoices must not
# hold them all (bench: 500 MB at once, ~100 MB in chunks).
DIAGNOSE_CHUNK = 2000
_SQL_CHUNK = 500


# -- bot.models.Invoice <-> JSON ----------------------------------------------------------
def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value))


def invoice_to_json(inv: Invoice) -> str:
    return json.dumps(asdict(inv), default=_plain, ensure_ascii=False, sort_keys=True)


def contact_from(d: dict) -> Contact:
    return Contact(**d)


def invoice_from_json(text: str, source_rule: SourceRule | None = None) -> Invoice:
    """`source_rule`: decide native afresh from the stored source value, so a changed
    QBSYNC_HUBSPOT_SYNC_SOURCES applies to cached invoices too (bodies cached before
    `is_native` was stored are classified with the default rule)."""
    d = json.loads(text)
    if source_rule is not None or "is_native" not in d:
        d["is_native"] = (source_rule or SourceRule()).is_native(d["source"])
    return Invoice(
        id=d["id"], number=d["number"], status=d["status"], currency=d["currency"],
        amount_billed=Decimal(d["amount_billed"]), balance_due=Decimal(d["balance_due"]),
        invoice_date=date.fromisoformat(d["invoice_date"]) if d["invoice_date"] else None,
        due_date=date.fromisoformat(d["due_date"]) if d["due_date"] else None,
        source=d["source"], is_native=bool(d["is_native"]), created_at=datetime.fromisoformat(d["created_at"]),
        modified_at=datetime.fromisoformat(d["modified_at"]),
        contacts=tuple(contact_from(c) for c in d["contacts"]),
        company=Company(**d["company"]) if d["company"] else None,
        line_items=tuple(LineItem(id=x["id"], name=x["name"], quantity=Decimal(x["quantity"]),
                                  price=Decimal(x["price"]), amount=Decimal(x["amount"]), sku=x["sku"],
                                  description=x["description"]) for x in d["line_items"]),
    )


def _ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000))


def _ms_of_text(value) -> int | None:
    if value in (None, ""):
        return None
    s = str(value).strip()
    if s.isdigit():
        return int(s)
    try:
        return _ms(datetime.fromisoformat(s.replace("Z", "+00:00")))
    except ValueError:
        return None


def _newer(seen_ms: int | None, cached_ms: int | None) -> bool:
    """A search hit to read again: not cached, no usable timestamp, or changed since cached."""
    return cached_ms is None or seen_ms is None or seen_ms > cached_ms


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


# -- the hydrated-invoice cache -----------------------------------------------------------
class InvoiceCache:
    def __init__(self, store, source_rule: SourceRule | None = None):
        self.store = store
        self.source_rule = source_rule

    @staticmethod
    def lookup_names(inv: Invoice) -> set[str]:
        """Names diagnosis looks up in QBO for this invoice (case-folded)."""
        names = {integration_name(inv)}
        if inv.contact is not None:
            names.add(inv.contact.name)
        if inv.company is not None:
            names.add(inv.company.name)
        return {n.strip().casefold() for n in names if n and n.strip()}

    def put(self, invoices: Iterable[Invoice]) -> None:
        """Store (and mark due). Caller holds a store transaction (so the cursor moves with the rows)."""
        conn = self.store.conn
        for inv in invoices:
            conn.execute(
                upsert_sql("hs_invoices", ["id", "body", "number", "email_key", "status", "native", "created_at",
                                           "modified_ms", "due"], ["id"]),
                (inv.id, invoice_to_json(inv), inv.number or "",
                 (inv.contact.email if inv.contact else "").strip().lower(), inv.status,
                 1 if inv.is_native else 0, _utc(inv.created_at).timestamp(), _ms(inv.modified_at), 1))
            conn.execute("DELETE FROM hs_invoice_names WHERE invoice_id = ?", (inv.id,))
            conn.executemany("INSERT INTO hs_invoice_names (invoice_id, name_key) VALUES (?, ?) ON CONFLICT DO NOTHING",
                             [(inv.id, n) for n in self.lookup_names(inv)])

    def set_status(self, invoice_id: str, status: str, modified_ms: int) -> bool:
        """A cached invoice left open/paid (voided, draft): no need to read it again."""
        rows = self.store.query_rows("SELECT body FROM hs_invoices WHERE id = ?", (invoice_id,))
        if not rows:
            return False
        inv = replace(invoice_from_json(rows[0]["body"], self.source_rule), status=status,
                      modified_at=datetime.fromtimestamp(modified_ms / 1000, tz=timezone.utc))
        self.put([inv])
        return True

    def modified_ms(self, ids: list[str]) -> dict[str, int]:
        out = {}
        for chunk in _chunks(ids):
            for r in self.store.query_rows(
                    f"SELECT id, modified_ms FROM hs_invoices WHERE id IN ({','.join('?' * len(chunk))})",
                    tuple(chunk)):
                out[r["id"]] = r["modified_ms"]
        return out

    def get(self, ids: Iterable[str]) -> dict[str, Invoice]:
        out = {}
        for chunk in _chunks(sorted(set(ids))):
            for r in self.store.query_rows(
                    f"SELECT id, body FROM hs_invoices WHERE id IN ({','.join('?' * len(chunk))})", tuple(chunk)):
                out[r["id"]] = invoice_from_json(r["body"], self.source_rule)
        return out

    def ids_where(self, sql: str, params=()) -> set[str]:
        return {r["id"] for r in self.store.query_rows(f"SELECT id FROM hs_invoices WHERE {sql}", params)}

    def ids_in(self, column: str, values: set[str]) -> set[str]:
        out: set[str] = set()
        for chunk in _chunks(sorted(values)):
            out |= self.ids_where(f"{column} IN ({','.join('?' * len(chunk))})", tuple(chunk))
        return out

    def ids_by_names(self, names: set[str]) -> set[str]:
        out: set[str] = set()
        for chunk in _chunks(sorted(names)):
            out |= {r["invoice_id"] for r in self.store.query_rows(
                f"SELECT invoice_id FROM hs_invoice_names WHERE name_key IN ({','.join('?' * len(chunk))})",
                tuple(chunk))}
        return out

    def mark_due(self, ids: set[str]) -> None:
        for chunk in _chunks(sorted(ids)):
            self.store.conn.execute(f"UPDATE hs_invoices SET due = 1 WHERE id IN ({','.join('?' * len(chunk))})",
                                    tuple(chunk))

    def mark_all_due(self) -> None:
        self.store.conn.execute(f"UPDATE hs_invoices SET due = 1 WHERE status IN ({','.join('?' * len(SYNCABLE))})",
                                SYNCABLE)

    def due(self) -> set[str]:
        return self.ids_where("due = 1")

    def clear_due(self, ids: Iterable[str]) -> None:
        with self.store.transaction() as conn:
            for chunk in _chunks(sorted(set(ids))):
                conn.execute(f"UPDATE hs_invoices SET due = 0 WHERE id IN ({','.join('?' * len(chunk))})", tuple(chunk))

    def count_syncable(self) -> int:
        rows = self.store.query_rows(
            f"SELECT COUNT(*) AS n FROM hs_invoices WHERE status IN ({','.join('?' * len(SYNCABLE))})", SYNCABLE)
        return int(rows[0]["n"])


def _chunks(values: list, size: int = _SQL_CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]


class RememberedContactDirectory:
    """rules.view.ContactDirectory over HubSpotAdapter.contacts_by_emails whose answers
    are kept in SQLite for `ttl_s`, so a steady cycle asks HubSpot nothing."""

    def __init__(self, store, hubspot, *, ttl_s: float = 6 * 3600, clock=time.time):
        self.store, self.hubspot, self.ttl_s, self.clock = store, hubspot, float(ttl_s), clock

    def contacts_by_email(self, emails):
        wanted = {e.strip().lower() for e in emails if e and e.strip()}
        out: dict[str, list] = {}
        fresh_after = self.clock() - self.ttl_s
        for chunk in _chunks(sorted(wanted)):
            for r in self.store.query_rows(
                    f"SELECT email_key, contacts FROM hs_contact_lookups WHERE checked_at >= ? AND email_key IN "
                    f"({','.join('?' * len(chunk))})", (fresh_after, *chunk)):
                out[r["email_key"]] = [contact_from(c) for c in json.loads(r["contacts"])]
        for chunk in _chunks(sorted(wanted - set(out)), 100):  # one batch read each
            found = self.hubspot.contacts_by_emails(chunk)
            out.update(found)
            with self.store.transaction() as conn:
                conn.executemany(
                    upsert_sql("hs_contact_lookups", ["email_key", "contacts", "checked_at"], ["email_key"]),
                    [(e, json.dumps([asdict(c) for c in found.get(e, [])], ensure_ascii=False), self.clock())
                     for e in chunk])
        return out


@dataclass
class CycleReport:
    todo: list[str] = field(default_factory=list)            # invoice ids to diagnose this cycle
    now: datetime | None = None
    hydrated: int = 0
    hubspot_changed: int = 0
    qbo: MirrorChanges | None = None
    cached: int = 0                                          # open/paid invoices in the cache


@dataclass
class DiagnosedChunk:
    """Up to `diagnose_chunk` invoices of a cycle's work list, diagnosed."""
    invoices: list[Invoice]
    findings: dict
    checked: list[str]


class Poller:
    def __init__(self, hubspot, qbo, store, *, grace_minutes: float = 10, clock=time.time,
                 hubspot_overlap_s: float = 300.0, qbo_overlap_s: float = 120.0, contact_ttl_s: float = 6 * 3600,
                 hydrate_chunk: int = HYDRATE_CHUNK, diagnose_chunk: int = DIAGNOSE_CHUNK):
        self.hubspot = hubspot
        self.store = store
        self.clock = clock
        self.grace = timedelta(minutes=grace_minutes)
        self.hubspot_overlap_ms = int(hubspot_overlap_s * 1000)
        self.hydrate_chunk = int(hydrate_chunk)
        self.diagnose_chunk = int(diagnose_chunk)
        self.cache = InvoiceCache(store, getattr(hubspot, "source_rule", None))
        self.mirror = QboMirror(store, qbo, clock=clock, overlap_s=qbo_overlap_s, on_changes=self._qbo_changed)
        self.directory = RememberedContactDirectory(store, hubspot, ttl_s=contact_ttl_s, clock=clock)
        self._refreshed: set[tuple[str, float]] = set()  # sync watches whose invoice was re-read

    def _refresh_fixed(self, report: "CycleReport", already: set[str]) -> set[str]:
        """Re-read, once, the invoices a person just fixed (a sync watch began). A fix on the
        HubSpot side (the invoice's contact switched) changes associations, which does not move
        the invoice's hs_lastmodifieddate, so the delta search would not bring it and the
        cached copy would bring the failure back. Once per watch (per process: after a restart
        it is read once more, which is harmless)."""
        now = self.clock()
        current = self.store.sync_watches()
        watches = [w for w in current if now - w["at"] < SYNC_WAIT_S and (w["key"], w["at"]) not in self._refreshed]
        ids = sorted({w["invoice_id"] for w in watches} - already)
        if ids:
            invoices = self.hubspot.read_invoices(ids)
            report.hydrated += len(invoices)
            with self.store.transaction():
                self.cache.put(invoices)
        # Only watches that still exist are remembered (ended ones would pile up).
        self._refreshed = {(w["key"], w["at"]) for w in current}
        return set(ids)

    # -- step 1+2 ---------------------------------------------------------------------------
    def _hubspot_delta(self, report: CycleReport) -> set[str]:
        cursor = self.store.get_cursor(HS_CURSOR)
        searched = self.store.get_cursor(HS_SEARCHED)
        started_ms = int(self.clock() * 1000)
        since = None
        if cursor is not None:
            # Everything after the cursor, plus what the index may not have shown the last
            # search (modified up to `overlap` before it began). Measuring the overlap from the
            # newest change instead re-read every change of its last 5 minutes each cycle.
            since_ms = int(cursor) - self.hubspot_overlap_ms
            if searched is not None:
                since_ms = min(int(cursor) + 1, int(searched) - self.hubspot_overlap_ms)
            since = datetime.fromtimestamp(max(0, since_ms) / 1000, tz=timezone.utc)
        changed: set[str] = set()
        memo: dict = {}  # contacts and companies read this cycle (shared across chunks)
        results = self.hubspot.search_invoices(modified_since=since, statuses=None if since else SYNCABLE)
        while True:
            chunk = list(itertools.islice(results, self.hydrate_chunk))
            if not chunk:
                self.store.set_cursor(HS_SEARCHED, str(started_ms))
                return changed
            ms_of = {r["id"]: _ms_of_text((r.get("properties") or {}).get("hs_lastmodifieddate")) for r in chunk}
            known = self.cache.modified_ms([r["id"] for r in chunk])
            fresh = [r for r in chunk if _newer(ms_of[r["id"]], known.get(r["id"]))]
            to_read = [r["id"] for r in fresh
                       if str((r.get("properties") or {}).get("hs_invoice_status") or "") in SYNCABLE]
            invoices = self.hubspot.read_invoices(to_read, memo=memo) if to_read else []
            report.hydrated += len(invoices)
            top = max([m for m in ms_of.values() if m is not None] + [int(cursor or 0)])
            with self.store.transaction():
                self.cache.put(invoices)
                due = {inv.id for inv in invoices}
                for r in fresh:
                    if r["id"] not in due and self.cache.set_status(
                            r["id"], str((r.get("properties") or {}).get("hs_invoice_status") or ""),
                            ms_of[r["id"]] or 0):
                        due.add(r["id"])
                self.store.set_cursor(HS_CURSOR, str(top))
            cursor = top
            changed |= due

    # -- step 3 -----------------------------------------------------------------------------
    def _watched(self, now: datetime) -> set[str]:
        ids = self.store.alert_invoice_ids(OPEN_STATES)
        ids |= {w["invoice_id"] for w in self.store.sync_watches()}
        last = self.store.get_cursor(LAST_CYCLE)
        # Invoices still inside their grace period at the last cycle: they may have left it.
        since = (float(last) if last else now.timestamp()) - self.grace.total_seconds() - 1
        ids |= self.cache.ids_where("created_at >= ? AND native = 1", (since,))
        return ids

    def _qbo_changed(self, changes: MirrorChanges) -> None:
        """Inside the mirror's transaction: mark the cached invoices a QBO change concerns."""
        if changes.full_load or changes.preferences:
            self.cache.mark_all_due()
            return
        ids = self.cache.ids_in("number", changes.doc_numbers)
        ids |= self.cache.ids_in("email_key", changes.emails)
        ids |= self.cache.ids_by_names(changes.names)
        self.cache.mark_due(ids)

    def cycle(self) -> CycleReport:
        """Steps 1-2 of a cycle (module doc) and its work list; diagnose_chunks() does step 3.
        Raises the adapters' errors; whatever was committed stays."""
        report = CycleReport()
        report.qbo = self.mirror.sync()
        changed = self._hubspot_delta(report)
        report.hubspot_changed = len(changed)
        self._refresh_fixed(report, changed)
        report.now = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
        report.todo = sorted(self.cache.due() | self._watched(report.now))
        report.cached = self.cache.count_syncable()
        return report

    def diagnose_chunks(self, report: CycleReport) -> Iterator[DiagnosedChunk]:
        """The work list diagnosed from local data, `diagnose_chunk` invoices at a time. The
        caller records each chunk's outcome, then calls chunk_done(chunk)."""
        now = report.now
        if now is None:
            raise ValueError("diagnose_chunks needs the report of cycle()")
        view = MirrorQboView(self.store)
        for ids in _chunks(report.todo, self.diagnose_chunk):
            invoices = list(self.cache.get(ids).values())
            paired: dict[str, tuple[str, str]] = {}
            findings = diagnose(invoices, view, now=now, grace=self.grace, directory=self.directory,
                                mapping=self.store.invoice_pairs(ids), taken=self.store.paired_elsewhere,
                                paired=paired)
            # Remembered the first time each invoice is seen synced: later changes in QBO (to
            # lines, amounts) cannot unpair it (rules/facts.py).
            self.store.save_invoice_pairs(paired)
            # Looked at and outside the grace period: an alert of one without a finding is over
            # (synced, or voided/draft now and so nothing left to sync).
            checked = [inv.id for inv in invoices
                       if eligible(inv, now, self.grace) or not inv.is_native or inv.status not in SYNCABLE]
            yield DiagnosedChunk(invoices, findings, checked)

    def chunk_done(self, chunk: DiagnosedChunk, *, deferred: Iterable[str] = ()) -> None:
        """A chunk's findings are recorded (apply_findings returned): off the work list, except
        the invoices a fix was busy with (`deferred`), which the next cycle judges afresh."""
        later = set(deferred)
        self.cache.clear_due(inv.id for inv in chunk.invoices if inv.id not in later)

    def committed(self, report: CycleReport) -> None:
        """Every chunk of the cycle is recorded."""
        self.store.set_cursor(LAST_CYCLE, repr(self.clock()))
