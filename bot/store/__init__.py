"""qbsync's durable state: alerts, the audit log, action claims (idempotency), poll cursors,
QBO token state, mutes and snoozes.

On SQLite (the embedded default, QBSYNC_DB_PATH) or PostgreSQL (QBSYNC_DATABASE_URL), through
the dialect seam in bot/store/db.py: our SQL is written once, with `?` placeholders, in the
subset both speak. One connection shared by the bot's threads behind a lock; on SQLite, WAL
so readers don't block the writer and synchronous=FULL because a lost QBO refresh token
means a person must re-connect the books. Every write that must be all-or-nothing happens
inside `transaction()`.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from .db import (Database, IntegrityError, connection_schema, connection_sqlite_path, is_postgres_url,
                 upsert_sql)
from .migrations import MIGRATIONS, for_dialect

__all__ = ["Store", "IntegrityError", "ALERT_STATES", "GROUP_PREFIX"]

DEFAULT_CONNECTION = "default"  # the company configured from the environment: the main store
GROUP_PREFIX = "group:"  # key prefix of a storm group's own alert row (bot/alerts.py)
REMINDER_STARTED = "reminder.started"  # cursor: the reminder being posted (mark_reminder_started)

ALERT_STATES = ("open", "acknowledged", "fixing", "resolved", "snoozed")
TOKEN_FIELDS = ("access_token", "access_expires_at", "refresh_token", "refresh_expires_at",
                "seed_hash", "updated_at")

# Identical on both databases (DOUBLE PRECISION is PostgreSQL's name for SQLite's 8-byte REAL).
_SCHEMA_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations ("
              "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)",
}


class Store:
    def __init__(self, path: str | Path, *, clock=time.time, connection: str | None = None):
        """`path`: a SQLite file (or ':memory:'), or a postgresql:// URL.
        `connection`: a company's own store (bot/connections.py) beside the main one at `path`:
        its PostgreSQL schema, or its SQLite file in connections/ next to the main file. None
        or "default" (the company configured from the environment): the main store itself."""
        self.connection = connection if connection not in (None, DEFAULT_CONNECTION) else None
        self.main_path = str(path)
        self._schema: str | None = None
        if self.connection is not None:
            if is_postgres_url(self.main_path):
                self._schema = connection_schema(self.connection)
            else:
                path = connection_sqlite_path(path, self.connection)
        self.path = str(path)
        self._clock = clock
        self.db = Database.open(self.path if is_postgres_url(self.path) else path, schema=self._schema)
        self._lock = self.db.lock
        self._migrate()

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def conn(self) -> Database:
        return self.db

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def close(self) -> None:
        self.db.close()

    def side_connection(self, *, synchronous: str = "FULL") -> Database:
        """A connection of its own to the same database, for a writer that must not queue
        behind this Store's lock (the replay ledger in front of every HTTP ack, while a scan
        and the workers use the Store). The database still serialises the writes themselves
        (SQLite's write lock, waited for up to the connection's timeout), but those are short.
        A ':memory:' database exists only in its one connection: that one is shared."""
        if not is_postgres_url(self.path) and self.path in (":memory:", ""):
            return self.db
        return Database.open(self.path, synchronous=synchronous, schema=self._schema)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All statements inside commit together or not at all (nested use joins the outer one)."""
        with self.db.transaction() as db:
            yield db

    def _migrate(self) -> None:
        with self._lock:
            if self.db.is_postgres:
                # Two processes starting at once on one PostgreSQL must not both migrate: the
                # schema table is created under the same write lock the migrations take.
                with self.db.transaction():
                    self.db.execute(_SCHEMA_TABLE[self.dialect])
            else:
                self.db.execute(_SCHEMA_TABLE[self.dialect])
                self.db.commit()
            for version, name, sql in MIGRATIONS:
                # The migration and its bookkeeping row in one transaction; whether it is done
                # is read inside that transaction, so a concurrent starter that migrated first
                # is seen (PostgreSQL; SQLite's BEGIN IMMEDIATE has the same effect).
                with self.db.transaction():
                    if self.db.execute("SELECT 1 FROM schema_migrations WHERE version = ?",
                                       (version,)).fetchone():
                        continue
                    self.db.run_script(for_dialect(version, sql, self.dialect))
                    self.db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                                    (int(version), name, self._clock()))

    def schema_version(self) -> int:
        row = self.db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def _rows(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        return self.db.rows(sql, params)

    def query_rows(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query as dicts (for the QBO mirror and the invoice cache)."""
        return self._rows(sql, params)

    # -- QBO tokens -------------------------------------------------------------------------
    def load_qbo_tokens(self, realm_id: str) -> dict | None:
        rows = self._rows("SELECT * FROM qbo_tokens WHERE realm_id = ?", (str(realm_id),))
        if not rows:
            return None
        row = rows[0]
        return {k: row[k] for k in TOKEN_FIELDS}

    @contextmanager
    def qbo_token_lock(self, realm_id: str, *, timeout_s: float = 60.0) -> Iterator[None]:
        """Held while a QBO refresh reads, refreshes and saves this store's token chain, by
        every process sharing the database (the listener and the workers, the CLI): Intuit
        retires a refresh token once it is used, so two processes refreshing with the same one
        would leave the second with invalid_grant (bot/adapters/qbo_auth.py). Raises
        bot.store.db.LockBusy when another process held it for `timeout_s`."""
        with self.db.exclusive(f"qbo-tokens-{realm_id}", timeout_s=timeout_s):
            yield

    def save_qbo_tokens(self, realm_id: str, tokens: dict) -> None:
        """Durable before it returns (synchronous=FULL + commit)."""
        if not tokens.get("refresh_token"):
            raise ValueError("refusing to save a token set without a refresh token")
        row = {k: tokens.get(k) for k in TOKEN_FIELDS}
        row["seed_hash"] = row["seed_hash"] or ""
        row["updated_at"] = row["updated_at"] or self._clock()
        row["realm_id"] = str(realm_id)
        with self.transaction() as conn:
            conn.execute(upsert_sql("qbo_tokens", list(row), ["realm_id"]), tuple(row.values()))

    # -- poll cursors -----------------------------------------------------------------------
    def get_cursor(self, name: str, default: str | None = None) -> str | None:
        rows = self._rows("SELECT value FROM poll_cursors WHERE name = ?", (name,))
        return rows[0]["value"] if rows else default

    def set_cursor(self, name: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO poll_cursors (name, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (name, str(value), self._clock()),
            )

    def cursors(self) -> dict[str, str]:
        return {r["name"]: r["value"] for r in self._rows("SELECT name, value FROM poll_cursors")}

    # -- audit log --------------------------------------------------------------------------
    def audit(self, actor: str, action: str, outcome: str, *, target: str = "",
              detail: dict | None = None) -> int:
        with self.transaction() as conn:
            # RETURNING: PostgreSQL has no lastrowid; SQLite has RETURNING since 3.35
            # (https://www.sqlite.org/lang_returning.html)
            cur = conn.execute(
                "INSERT INTO audit_log (at, actor, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                (self._clock(), actor, action, target, outcome,
                 json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)),
            )
            return int(cur.fetchone()[0])

    def audit_entries(self, *, target: str | None = None, actor: str | None = None,
                      limit: int = 1000) -> list[dict]:
        where: list[str] = []
        params: list[Any] = []
        if target is not None:
            where.append("target = ?")
            params.append(target)
        if actor is not None:
            where.append("actor = ?")
            params.append(actor)
        sql = "SELECT * FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        rows = self._rows(sql, tuple(params))
        for r in rows:
            r["detail"] = json.loads(r["detail"])
        return rows

    def audit_of_targets(self, targets: list[str], actions: tuple[str, ...]) -> list[dict]:
        """The audit entries (target, action, actor, at) of `actions` about `targets`, oldest
        first (by the audit_target index, 500 targets a query); detail left out."""
        out: list[dict] = []
        for i in range(0, len(targets), 500):
            part = targets[i:i + 500]
            out += self._rows(f"SELECT id, target, action, actor, at FROM audit_log WHERE target IN "
                              f"({','.join('?' * len(part))}) AND action IN ({','.join('?' * len(actions))})",
                              (*part, *actions))
        return sorted(out, key=lambda r: (r["at"], r["id"]))

    # -- action claims (idempotency) ---------------------------------------------------------
    def claim_action(self, key: str, actor: str) -> bool:
        """True if this call claimed `key`; False if someone already did (a repeat: do nothing)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO action_claims (key, claimed_at, actor) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, self._clock(), actor),
            )
            return cur.rowcount == 1

    def finish_action(self, key: str, result: dict) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE action_claims SET result = ? WHERE key = ?",
                         (json.dumps(result, ensure_ascii=False, sort_keys=True), key))

    def release_action(self, key: str) -> None:
        """Forget a claim whose work never started (e.g. its job could not be queued)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM action_claims WHERE key = ? AND result IS NULL", (key,))

    def action_result(self, key: str) -> dict | None:
        rows = self._rows("SELECT result FROM action_claims WHERE key = ?", (key,))
        if not rows or rows[0]["result"] is None:
            return None
        return json.loads(rows[0]["result"])

    # -- alerts -----------------------------------------------------------------------------
    @staticmethod
    def alert_key(invoice_id: str, rule: str) -> str:
        return f"{invoice_id}:{rule}"

    def _decode_alert(self, row: dict) -> dict:
        row["evidence"] = json.loads(row["evidence"])
        return row

    def get_alert(self, key: str) -> dict | None:
        rows = self._rows("SELECT * FROM alerts WHERE key = ?", (key,))
        return self._decode_alert(rows[0]) if rows else None

    def record_detection(self, *, key: str, rule: str, invoice_id: str | None,
                         invoice_number: str | None, summary: str, evidence: dict,
                         fingerprint: str) -> tuple[dict, str]:
        """Note that a failure holds now. Returns (alert, what) with what in
        'created' | 'changed' (evidence differs) | 'reopened' (was resolved) | 'unchanged'."""
        now = self._clock()
        ev = json.dumps(evidence, ensure_ascii=False, sort_keys=True, default=str)
        with self.transaction() as conn:
            existing = self.get_alert(key)
            if existing is None:
                conn.execute(
                    "INSERT INTO alerts (key, invoice_id, invoice_number, rule, state, summary, evidence,"
                    " fingerprint, created_at, updated_at, last_seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (key, invoice_id, invoice_number, rule, "open", summary, ev, fingerprint, now, now, now),
                )
                what = "created"
            elif existing["state"] == "resolved":
                conn.execute(
                    "UPDATE alerts SET state='open', summary=?, evidence=?, fingerprint=?, updated_at=?,"
                    " last_seen_at=?, resolved_at=NULL, resolution=NULL, acknowledged_by=NULL,"
                    " group_key=NULL, listed=0, version=version+1 WHERE key=?",
                    (summary, ev, fingerprint, now, now, key),
                )
                # In the same transaction: the digest counts each failure episode from its
                # own (re)opening (bot/digest.py episodes), so a reopening is never unrecorded.
                self.audit("system", "alert:reopen", "ok", target=key, detail={"was": existing["resolution"] or ""})
                what = "reopened"
            elif existing["fingerprint"] != fingerprint:
                conn.execute(
                    "UPDATE alerts SET summary=?, evidence=?, fingerprint=?, updated_at=?, last_seen_at=?,"
                    " version=version+1 WHERE key=?",
                    (summary, ev, fingerprint, now, now, key),
                )
                what = "changed"
            else:
                conn.execute("UPDATE alerts SET last_seen_at=? WHERE key=?", (now, key))
                what = "unchanged"
            alert = self.get_alert(key)
            if alert is None:  # written above, in this transaction
                raise RuntimeError(f"alert {key} vanished inside its own transaction")
            return alert, what

    def set_alert_message(self, key: str, channel: str, ts: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE alerts SET channel=?, ts=?, post_started_at=NULL, updated_at=? WHERE key=?",
                         (channel, ts, self._clock(), key))

    def mark_post_started(self, key: str, channel: str) -> None:
        """Durably note that the parent's post is about to be sent (see migration 4)."""
        with self.transaction() as conn:
            conn.execute("UPDATE alerts SET channel=?, post_started_at=? WHERE key=?", (channel, self._clock(), key))

    # -- storm groups (bot/alerts.py) --------------------------------------------------------
    def join_group(self, keys: list[str], group_key: str) -> None:
        with self.transaction() as conn:
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                conn.execute(f"UPDATE alerts SET group_key=?, listed=0 WHERE key IN ({','.join('?' * len(part))})",
                             (group_key, *part))

    def mark_listed(self, keys: list[str]) -> None:
        with self.transaction() as conn:
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                conn.execute(f"UPDATE alerts SET listed=1 WHERE key IN ({','.join('?' * len(part))})", part)

    def group_members(self, group_key: str, *, states: tuple[str, ...] | None = None) -> list[dict]:
        sql, params = "SELECT * FROM alerts WHERE group_key = ?", [group_key]
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params.extend(states)
        return [self._decode_alert(r) for r in self._rows(sql + " ORDER BY id", tuple(params))]

    def group_counts(self, group_key: str) -> dict[str, int]:
        """{state: how many members} of one group."""
        rows = self._rows("SELECT state, COUNT(*) AS n FROM alerts WHERE group_key = ? GROUP BY state", (group_key,))
        return {r["state"]: r["n"] for r in rows}

    def transition(self, key: str, new_state: str, *, expected_version: int | None = None,
                   by: str | None = None, resolution: str | None = None,
                   snoozed_until: float | None = None) -> dict | None:
        """Change an alert's state. With expected_version, only if nobody changed it meanwhile;
        returns the updated alert, or None when the alert is missing or the version moved."""
        if new_state not in ALERT_STATES:
            raise ValueError(f"unknown alert state {new_state!r}")
        now = self._clock()
        with self.transaction() as conn:
            current = self.get_alert(key)
            if current is None:
                return None
            if expected_version is not None and current["version"] != expected_version:
                return None
            fields = {"state": new_state, "updated_at": now}
            if new_state == "acknowledged":
                fields["acknowledged_by"] = by
            if new_state == "resolved":
                fields["resolved_at"] = now
                fields["resolution"] = resolution
            if new_state == "snoozed":
                fields["snoozed_until"] = snoozed_until
            sets = ", ".join(f"{k} = ?" for k in fields)
            conn.execute(f"UPDATE alerts SET {sets}, version = version + 1 WHERE key = ?",
                         (*fields.values(), key))
            return self.get_alert(key)

    def list_alerts(self, *, states: tuple[str, ...] | None = None, rule: str | None = None,
                    invoice_id: str | None = None) -> list[dict]:
        where: list[str] = []
        params: list[Any] = []
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(states)
        if rule:
            where.append("rule = ?")
            params.append(rule)
        if invoice_id:
            where.append("invoice_id = ?")
            params.append(invoice_id)
        sql = "SELECT * FROM alerts" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [self._decode_alert(r) for r in self._rows(sql, tuple(params))]

    def unposted_alerts(self) -> list[dict]:
        """Open or acknowledged alerts not in Slack yet: no parent, and (a storm member) not
        named in its group's thread. Storm groups' own rows are left out."""
        return [self._decode_alert(r) for r in self._rows(
            "SELECT * FROM alerts WHERE state IN ('open','acknowledged') AND ts IS NULL"
            " AND NOT (group_key IS NOT NULL AND listed = 1) AND key NOT LIKE ? ORDER BY id", (f"{GROUP_PREFIX}%",))]

    def open_groups(self) -> list[dict]:
        """Storm groups' own alerts that are not resolved."""
        return [self._decode_alert(r) for r in self._rows(
            "SELECT * FROM alerts WHERE key LIKE ? AND state != 'resolved' ORDER BY id", (f"{GROUP_PREFIX}%",))]

    def alert_invoice_ids(self, states: tuple[str, ...]) -> set[str]:
        """Invoice ids with an alert in one of `states` (no evidence decoded: cheap per cycle)."""
        rows = self._rows(f"SELECT DISTINCT invoice_id FROM alerts WHERE invoice_id IS NOT NULL AND state IN "
                          f"({','.join('?' * len(states))})", tuple(states))
        return {r["invoice_id"] for r in rows}

    def open_alerts(self) -> list[dict]:
        return self.list_alerts(states=("open", "acknowledged", "fixing", "snoozed"))

    # -- mutes and snoozes ------------------------------------------------------------------
    def mute(self, rule: str, until: float, by: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO mutes (rule, until, muted_by, at) VALUES (?,?,?,?) ON CONFLICT(rule) DO UPDATE"
                " SET until=excluded.until, muted_by=excluded.muted_by, at=excluded.at",
                (rule, until, by, self._clock()))

    def unmute(self, rule: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM mutes WHERE rule = ?", (rule,)).rowcount == 1

    def active_mutes(self, now: float | None = None) -> dict[str, float]:
        now = self._clock() if now is None else now
        return {r["rule"]: r["until"] for r in self._rows("SELECT rule, until FROM mutes WHERE until > ?", (now,))}

    def snooze(self, invoice_id: str, until: float, by: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO snoozes (invoice, until, snoozed_by, at) VALUES (?,?,?,?) ON CONFLICT(invoice)"
                " DO UPDATE SET until=excluded.until, snoozed_by=excluded.snoozed_by, at=excluded.at",
                (invoice_id, until, by, self._clock()))

    def snoozed_until(self, invoice_id: str, now: float | None = None) -> float | None:
        now = self._clock() if now is None else now
        rows = self._rows("SELECT until FROM snoozes WHERE invoice = ? AND until > ?", (invoice_id, now))
        return rows[0]["until"] if rows else None

    # -- per-user preferences (Slack) ---------------------------------------------------------
    def set_user_lang(self, user_id: str, lang: str | None) -> None:
        """`/qbsync lang`: None forgets the choice (the Slack locale applies again)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO user_prefs (user_id, lang, updated_at) VALUES (?,?,?) ON CONFLICT(user_id)"
                " DO UPDATE SET lang=excluded.lang, updated_at=excluded.updated_at",
                (user_id, lang, self._clock()))

    def user_lang(self, user_id: str) -> str | None:
        rows = self._rows("SELECT lang FROM user_prefs WHERE user_id = ?", (user_id,))
        return rows[0]["lang"] if rows else None

    # -- alerts resolved by a person, waiting for the integration's sync ----------------------
    def watch_sync(self, key: str, invoice_id: str, version: int, by: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO sync_watch (key, invoice_id, version, by, at) VALUES (?,?,?,?,?) ON CONFLICT(key)"
                " DO UPDATE SET version=excluded.version, by=excluded.by, at=excluded.at",
                (key, invoice_id, int(version), by, self._clock()))

    # -- reminders (bot/alerts.py) -----------------------------------------------------------
    def mark_reminder_started(self, mark: dict) -> None:
        """Durably note the reminder about to be posted (its thread, cause, block_id and when),
        so a crash after Slack took it but before record_reminder is settled after the restart
        by looking for it in its thread. One at a time: a connection's reminders are posted one
        after another inside its scan, which holds the scan lock."""
        self.set_cursor(REMINDER_STARTED, json.dumps(mark, sort_keys=True))

    def started_reminder(self) -> dict | None:
        raw = self.get_cursor(REMINDER_STARTED)
        return json.loads(raw) if raw else None

    def forget_started_reminder(self) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM poll_cursors WHERE name = ?", (REMINDER_STARTED,))

    def record_reminder(self, channel: str, ts: str, alert_key: str, at: float | None = None) -> None:
        """The reminder Slack took; its "started" mark goes in the same transaction, so a crash
        leaves either the mark (looked up after the restart) or the row, never both."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO reminders (channel, ts, alert_key, at) VALUES (?,?,?,?)",
                         (channel, ts, alert_key, self._clock() if at is None else at))
            conn.execute("DELETE FROM poll_cursors WHERE name = ?", (REMINDER_STARTED,))

    def last_reminder(self, channel: str, ts: str) -> float | None:
        rows = self._rows("SELECT MAX(at) AS at FROM reminders WHERE channel = ? AND ts = ?", (channel, ts))
        return rows[0]["at"] if rows and rows[0]["at"] is not None else None

    def reminders_since(self, since: float) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM reminders WHERE at > ?", (since,))[0]["n"])

    def sync_watches(self, invoice_id: str | None = None) -> list[dict]:
        if invoice_id is None:
            return self._rows("SELECT * FROM sync_watch ORDER BY at")
        return self._rows("SELECT * FROM sync_watch WHERE invoice_id = ? ORDER BY at", (invoice_id,))

    def end_sync_watch(self, key: str) -> bool:
        """True for the one caller that removed it (so the thread hears about the sync once)."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM sync_watch WHERE key = ?", (key,)).rowcount == 1

    # -- HubSpot -> QBO invoice pairs (rules/facts.py counterpart matching) ------------------
    def invoice_pairs(self, hubspot_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted({str(i) for i in hubspot_ids})
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._rows(f"SELECT hubspot_id, qbo_id FROM invoice_pairs WHERE hubspot_id IN ({marks})",
                                  tuple(chunk)):
                out[row["hubspot_id"]] = row["qbo_id"]
        return out

    def paired_elsewhere(self, qbo_ids: Iterable[str], hubspot_ids: Iterable[str]) -> set[str]:
        """Which of `qbo_ids` are remembered as the counterpart of a HubSpot invoice not in
        `hubspot_ids` (rules.facts.gather's `taken`)."""
        qids, mine = sorted({str(i) for i in qbo_ids}), {str(i) for i in hubspot_ids}
        out: set[str] = set()
        for i in range(0, len(qids), 500):
            chunk = qids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._rows(f"SELECT hubspot_id, qbo_id FROM invoice_pairs WHERE qbo_id IN ({marks})",
                                  tuple(chunk)):
                if row["hubspot_id"] not in mine:
                    out.add(row["qbo_id"])
        return out

    def save_invoice_pairs(self, pairs: dict[str, tuple[str, str]]) -> None:
        """{HubSpot id: (QBO id, how)}; a newer pairing replaces an older one (the QBO invoice
        was deleted and the integration pushed the invoice again)."""
        if not pairs:
            return
        now = self._clock()
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO invoice_pairs (hubspot_id, qbo_id, how, paired_at) VALUES (?,?,?,?) "
                "ON CONFLICT(hubspot_id) DO UPDATE SET qbo_id=excluded.qbo_id, how=excluded.how, "
                "paired_at=excluded.paired_at",
                [(str(h), str(q), how, now) for h, (q, how) in pairs.items()])

    # -- bulk fix plans (handlers/bulk.py) ------------------------------------------------------
    def save_bulk_plan(self, plan_id: str, *, group_key: str, fix_id: str, by: str, expires_at: float,
                       members: list[dict], needs_person: list[dict]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO bulk_plans (id, group_key, fix_id, by, created_at, expires_at, members, needs_person)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (plan_id, group_key, fix_id, by, self._clock(), expires_at,
                 json.dumps(members, ensure_ascii=False), json.dumps(needs_person, ensure_ascii=False)))

    def get_bulk_plan(self, plan_id: str) -> dict | None:
        rows = self._rows("SELECT * FROM bulk_plans WHERE id = ?", (plan_id,))
        if not rows:
            return None
        row = rows[0]
        row["members"] = json.loads(row["members"])
        row["needs_person"] = json.loads(row["needs_person"])
        return row

    def confirm_bulk_plan(self, plan_id: str, by: str) -> bool:
        """True for the one call that confirmed the plan (not expired, cancelled or confirmed before)."""
        now = self._clock()
        with self.transaction() as conn:
            return conn.execute(
                "UPDATE bulk_plans SET confirmed_at = ?, confirmed_by = ? WHERE id = ? AND confirmed_at IS NULL"
                " AND cancelled_at IS NULL AND expires_at > ?", (now, by, plan_id, now)).rowcount == 1

    def set_bulk_progress(self, plan_id: str, ts: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE bulk_plans SET progress_ts = ? WHERE id = ?", (ts, plan_id))

    def cancel_bulk_plan(self, plan_id: str, by: str) -> bool:
        """True for the one call that cancelled the plan (not confirmed, not cancelled before)."""
        with self.transaction() as conn:
            return conn.execute(
                "UPDATE bulk_plans SET cancelled_at = ?, cancelled_by = ? WHERE id = ? AND confirmed_at IS NULL"
                " AND cancelled_at IS NULL", (self._clock(), by, plan_id)).rowcount == 1

    def set_bulk_counts(self, plan_id: str, *, done: int, fixed: int) -> None:
        """How far the plan's run got: members through, members fixed (a stopped run says so)."""
        with self.transaction() as conn:
            conn.execute("UPDATE bulk_plans SET done = ?, fixed = ? WHERE id = ?", (done, fixed, plan_id))

    def stop_bulk_plan(self, plan_id: str) -> bool:
        """True for the one call that marked the plan's run stopped (its process died)."""
        with self.transaction() as conn:
            return conn.execute("UPDATE bulk_plans SET stopped_at = ? WHERE id = ? AND stopped_at IS NULL",
                                (self._clock(), plan_id)).rowcount == 1

    def confirmed_bulk_plans(self, group_key: str) -> list[dict]:
        """The group's confirmed plans whose run was not found stopped, oldest first."""
        rows = self._rows("SELECT * FROM bulk_plans WHERE group_key = ? AND confirmed_at IS NOT NULL"
                          " AND stopped_at IS NULL ORDER BY confirmed_at", (group_key,))
        for row in rows:
            row["members"] = json.loads(row["members"])
            row["needs_person"] = json.loads(row["needs_person"])
        return rows

    def action_claimed(self, key: str) -> bool:
        """Someone claimed `key` (its outcome may not be recorded yet)."""
        return bool(self._rows("SELECT 1 AS x FROM action_claims WHERE key = ?", (key,)))

    # -- fix runs (bot/fix_guard.py) -----------------------------------------------------------
    def begin_fix_run(self, key: str, invoice_id: str, fix_id: str, by: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO fix_runs (key, invoice_id, fix_id, by, started_at, finished_at) VALUES (?,?,?,?,?,NULL)"
                " ON CONFLICT(key) DO UPDATE SET invoice_id=excluded.invoice_id, fix_id=excluded.fix_id,"
                " by=excluded.by, started_at=excluded.started_at, finished_at=NULL",
                (key, str(invoice_id), fix_id, by, self._clock()))

    def end_fix_run(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE fix_runs SET finished_at = ? WHERE key = ? AND finished_at IS NULL",
                         (self._clock(), key))

    def fix_runs(self, invoice_id: str | None = None, *, unfinished: bool = False) -> list[dict]:
        sql, params = "SELECT * FROM fix_runs WHERE 1=1", []
        if invoice_id is not None:
            sql += " AND invoice_id = ?"
            params.append(str(invoice_id))
        if unfinished:
            sql += " AND finished_at IS NULL"
        return self._rows(sql + " ORDER BY started_at", tuple(params))

    def busy_fix_invoices(self, since: float | None, started_after: float) -> set[str]:
        """Invoices with a fix run unfinished and started after `started_after` (older ones were
        interrupted), or finished at or after `since`."""
        # `since` None is decided here: PostgreSQL cannot type a bare `? IS NOT NULL` parameter.
        sql, params = "SELECT DISTINCT invoice_id FROM fix_runs WHERE (finished_at IS NULL AND started_at > ?)", \
            [started_after]
        if since is not None:
            sql += " OR finished_at >= ?"
            params.append(since)
        rows = self._rows(sql, tuple(params))
        return {r["invoice_id"] for r in rows}

