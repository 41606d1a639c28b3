"""The dialect seam (bot/store/db.py): the same Store behaves the same on SQLite and on
PostgreSQL: placeholders, constraint errors, transactions, migrations, numeric precision,
and one writer at a time across connections."""
from __future__ import annotations

import threading

import pytest

from bot.fix_guard import FixGuard
from bot.replay_ledger import KEEP_S, ReplayLedger
from bot.store import IntegrityError, Store
from bot.store import migrations as migrations_module
from bot.store.db import describe, split_statements, to_pyformat, upsert_sql


def test_question_marks_become_pyformat_outside_literals_only():
    assert to_pyformat("SELECT * FROM t WHERE a = ? AND b = '?' AND c LIKE 'x%' AND d = ?") == \
        "SELECT * FROM t WHERE a = %s AND b = '?' AND c LIKE 'x%%' AND d = %s"
    assert to_pyformat("SELECT 'it''s ?', \"odd?name\" FROM t WHERE k = ?") == \
        "SELECT 'it''s ?', \"odd?name\" FROM t WHERE k = %s"
    assert to_pyformat("SELECT a % 2 FROM t") == "SELECT a %% 2 FROM t"
    with pytest.raises(ValueError):
        to_pyformat("SELECT 'open")


def test_upsert_sql_updates_every_column_but_the_key():
    assert upsert_sql("t", ["a", "b", "c"], ["a"]) == \
        "INSERT INTO t (a, b, c) VALUES (?, ?, ?) ON CONFLICT (a) DO UPDATE SET b = excluded.b, c = excluded.c"
    assert upsert_sql("t", ["a", "b"], ["a", "b"]).endswith("ON CONFLICT (a, b) DO NOTHING")


def test_migration_scripts_split_at_statement_ends_not_in_comments_or_literals():
    parts = split_statements("-- a; comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n\n-- only a comment\n"
                             "DELETE FROM a;\n")
    assert len(parts) == 2 and "DEFAULT ';'" in parts[0] and "DELETE" in parts[1]


def test_a_database_url_is_described_without_its_password():
    assert describe("postgresql://qb:s3cret@db.example:5432/qbsync") == "postgresql://qb:***@db.example:5432/qbsync"
    assert describe("postgresql://db.example/qbsync") == "postgresql://db.example/qbsync"
    assert describe("/var/lib/qbsync.db") == "/var/lib/qbsync.db"


def test_placeholders_literals_and_like_run_on_both(store_target):
    store = Store(store_target)
    store.set_cursor("a?b", "50% done")
    store.record_detection(key="group:missing-customer", rule="missing-customer", invoice_id=None,
                           invoice_number=None, summary="?", evidence={"pct": "10%"}, fingerprint="f")
    assert store.get_cursor("a?b") == "50% done"
    assert store.query_rows("SELECT value FROM poll_cursors WHERE name = 'a?b' AND value LIKE '%\\%%' ESCAPE '\\'"
                            " AND name = ?", ("a?b",)) == [{"value": "50% done"}]
    assert [g["key"] for g in store.open_groups()] == ["group:missing-customer"]
    assert store.get_alert("group:missing-customer")["evidence"] == {"pct": "10%"}


def test_a_duplicate_key_raises_one_integrity_error_and_the_transaction_rolls_back(store_target):
    store = Store(store_target)
    store.set_cursor("kept", "1")
    with pytest.raises(IntegrityError):
        with store.transaction() as db:
            db.execute("UPDATE poll_cursors SET value = '2' WHERE name = 'kept'")
            db.execute("INSERT INTO poll_cursors (name, value, updated_at) VALUES (?, ?, ?)", ("kept", "3", 0.0))
    assert store.get_cursor("kept") == "1"  # the update before the error is gone too
    assert not store.conn.in_transaction
    with pytest.raises(IntegrityError):  # CHECK constraints too
        store.audit("u", "x", "not-an-outcome")


def test_epoch_seconds_and_milliseconds_keep_their_precision(store_target):
    """REAL is 4 bytes on PostgreSQL, INTEGER 4 bytes: the migrations use 8-byte types there."""
    store = Store(store_target)
    at = 1764500000.123456
    store.mute("missing-customer", at, "U1")
    assert store.active_mutes(now=0) == {"missing-customer": at}
    store.conn.execute("INSERT INTO hs_invoices (id, body, created_at, modified_ms) VALUES (?, ?, ?, ?)",
                       ("1", "{}", at, 1764500000123))
    store.conn.commit()
    assert store.query_rows("SELECT modified_ms FROM hs_invoices")[0]["modified_ms"] == 1764500000123


def test_a_failing_migration_leaves_nothing_behind(store_target, monkeypatch):
    Store(store_target).close()
    broken = (99, "half a migration", "CREATE TABLE half_done (x TEXT);\nINSERT INTO no_such_table VALUES (1);\n")
    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*migrations_module.MIGRATIONS, broken])
    monkeypatch.setattr("bot.store.MIGRATIONS", migrations_module.MIGRATIONS)
    with pytest.raises(Exception):  # noqa: B017 (sqlite3 or psycopg's own error: the driver's)
        Store(store_target)
    monkeypatch.undo()
    store = Store(store_target)
    assert store.schema_version() == migrations_module.MIGRATIONS[-1][0]
    with pytest.raises(Exception):  # noqa: B017
        store.query_rows("SELECT * FROM half_done")


def test_the_schema_version_table_is_the_same_on_both(store_target):
    store = Store(store_target)
    rows = store.query_rows("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in rows] == [v for v, _, _ in migrations_module.MIGRATIONS]
    assert all(isinstance(r["applied_at"], float) and r["name"] for r in rows)


def test_replay_ledger_claims_once_and_prunes_in_the_same_transaction(store_target):
    t = [1000.0]
    store = Store(store_target)
    ledger = ReplayLedger(store, clock=lambda: t[0])
    assert ledger.claim(b"body-1", 1000) is True
    assert ledger.claim(b"body-1", 1000) is False          # a replay: refused, no error
    t[0] += KEEP_S + 1
    assert ledger.claim(b"body-2", int(t[0])) is True       # prunes body-1's expired row
    assert ledger.claim(b"body-2", int(t[0])) is False      # (a refused claim must not undo the prune)
    keys = {r["key"] for r in store.query_rows("SELECT key FROM slack_requests_seen")}
    assert keys == {ReplayLedger.key_of(b"body-2")}
    ledger.release(b"body-2")
    assert ledger.claim(b"body-2", int(t[0])) is True


def test_fix_guard_runs_on_both(store_target):
    t = [100.0]
    store = Store(store_target, clock=lambda: t[0])
    guard = FixGuard(store, clock=lambda: t[0], timeout_s=60)
    with guard.running("3001:missing-customer", "3001", "create-customer", "U1"):
        assert guard.busy(None) == {"3001"}                 # running (any process)
        assert [r["key"] for r in store.fix_runs(unfinished=True)] == ["3001:missing-customer"]
        t[0] = 120.0
    assert guard.busy(None) == set()                        # finished, nothing asked since
    assert guard.busy(110.0) == {"3001"}                    # finished after the scan began reading
    assert guard.busy(130.0) == set()
    store.begin_fix_run("3002:missing-customer", "3002", "create-customer", "U1")  # then a crash
    t[0] = 200.0
    assert guard.busy(None) == set()                        # timed out: no longer counted as running
    assert [r["invoice_id"] for r in guard.interrupted()] == ["3002"]


def test_two_connections_detect_the_same_alert_at_once_without_a_duplicate(store_target):
    """Two processes' stores on one database: the read-then-insert of record_detection holds
    the write lock from its start (BEGIN IMMEDIATE / the advisory lock), so the second sees
    the first's row instead of failing on the unique key."""
    a, b = Store(store_target), Store(store_target)
    for n in range(10):
        key = f"{n}:missing-customer"
        barrier, results, errors = threading.Barrier(2), [], []

        def detect(store, key=key, barrier=barrier, results=results, errors=errors):
            barrier.wait()
            try:
                results.append(store.record_detection(key=key, rule="missing-customer", invoice_id=str(n),
                                                      invoice_number="N", summary="s", evidence={},
                                                      fingerprint="f")[1])
            except Exception as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)
        threads = [threading.Thread(target=detect, args=(s,)) for s in (a, b)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        assert not errors, errors
        assert sorted(results) == ["created", "unchanged"]
    assert len(a.list_alerts()) == 10


def test_the_database_url_setting_selects_postgresql_and_is_checked_without_echoing_it(pg_url):
    from bot.config import load_settings
    from bot.doctor import OK, check_store

    settings = load_settings({"QBSYNC_DATABASE_URL": pg_url, "QBSYNC_DB_PATH": "/nonexistent/q.db"}, env_file=None)
    assert settings.store_target == pg_url
    rows, store = check_store(settings.store_target)
    assert rows[0].status == OK and "postgresql" in rows[0].detail and store.dialect == "postgresql"
    store.close()
    assert load_settings({}, env_file=None).store_target == "./qbsync.db"  # empty: SQLite as before
    bad = load_settings({"QBSYNC_DATABASE_URL": "mysql://u:hunter2@h/db"}, env_file=None)
    problems = [p for p in bad.problems_for("run") if p.env == "QBSYNC_DATABASE_URL"]
    assert problems and "hunter2" not in problems[0].message and bad.store_target == bad.db_path


def test_a_postgresql_connection_the_server_dropped_is_replaced_before_the_next_statement(pg_url):
    import psycopg

    store = Store(pg_url)
    store.set_cursor("before", "1")
    pid = store.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(pg_url, autocommit=True) as admin:  # a server restart, as this connection sees it
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):  # the statement that meets the drop fails, loudly
        with store.transaction() as db:
            db.execute("INSERT INTO poll_cursors (name, value, updated_at) VALUES ('lost', '1', 0)")
    store.set_cursor("after", "2")                   # the next one runs on a new connection
    assert store.cursors() == {"before": "1", "after": "2"}
    assert store.conn.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
