"""The store keeps alerts unique, survives restarts and kill -9, and migrates once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from bot.store import Store
from bot.store.migrations import MIGRATIONS


@pytest.fixture
def db_path(store_target):
    """Every test here runs twice: on a SQLite file and on a PostgreSQL database (tests/pg.py)."""
    return store_target


def test_migrations_run_once_and_use_wal(db_path):
    latest = MIGRATIONS[-1][0]
    s1 = Store(db_path)
    assert s1.schema_version() == latest
    if s1.dialect == "sqlite":
        assert s1.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s1.close()
    s2 = Store(db_path)  # reopening must not re-run a migration (it would fail on CREATE TABLE)
    assert s2.schema_version() == latest
    assert [r["version"] for r in s2._rows("SELECT version FROM schema_migrations")] == [v for v, _, _ in MIGRATIONS]


def test_detection_creates_once_then_changes_and_reopens(db_path):
    store = Store(db_path)
    key = Store.alert_key("3001", "missing-customer")
    kw = dict(key=key, rule="missing-customer", invoice_id="3001", invoice_number="INV-1",
              summary="s", evidence={"email": "a@x"})
    a, what = store.record_detection(fingerprint="f1", **kw)
    assert what == "created" and a["state"] == "open"
    _, what = store.record_detection(fingerprint="f1", **kw)
    assert what == "unchanged"
    _, what = store.record_detection(fingerprint="f2", **kw)
    assert what == "changed"
    store.transition(key, "resolved", resolution="synced")
    a, what = store.record_detection(fingerprint="f2", **kw)
    assert what == "reopened" and a["state"] == "open" and a["resolved_at"] is None
    assert len(store.list_alerts()) == 1


def test_no_duplicate_alert_across_restart(db_path):
    kw = dict(key="3001:duplicate-doc-number", rule="duplicate-doc-number", invoice_id="3001",
              invoice_number="INV-1", summary="s", evidence={}, fingerprint="f")
    Store(db_path).record_detection(**kw)
    _, what = Store(db_path).record_detection(**kw)
    assert what == "unchanged"
    assert len(Store(db_path).list_alerts()) == 1


def test_transition_with_stale_version_is_refused(db_path):
    store = Store(db_path)
    a, _ = store.record_detection(key="k", rule="r", invoice_id="1", invoice_number="1",
                                  summary="", evidence={}, fingerprint="")
    assert store.transition("k", "fixing", expected_version=a["version"]) is not None
    assert store.transition("k", "resolved", expected_version=a["version"]) is None
    assert store.get_alert("k")["state"] == "fixing"
    with pytest.raises(ValueError):
        store.transition("k", "exploded")


def test_action_claim_is_taken_once_even_under_concurrency(db_path):
    store = Store(db_path)
    results = []
    barrier = threading.Barrier(8)

    def click():
        barrier.wait()
        results.append(store.claim_action("fix:3001:create-customer:v1", "U1"))

    threads = [threading.Thread(target=click) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1 and results.count(False) == 7
    store.finish_action("fix:3001:create-customer:v1", {"ok": True})
    assert Store(db_path).action_result("fix:3001:create-customer:v1") == {"ok": True}


def test_audit_log_records_who_what_outcome(db_path):
    store = Store(db_path)
    store.audit("U123", "fix:create-customer", "refused", target="3001:missing-customer",
                detail={"reason": "not allowed"})
    rows = Store(db_path).audit_entries(target="3001:missing-customer")
    assert [(r["actor"], r["action"], r["outcome"], r["detail"]) for r in rows] == [
        ("U123", "fix:create-customer", "refused", {"reason": "not allowed"})]


def test_cursors_mutes_snoozes(db_path):
    t = [1000.0]
    store = Store(db_path, clock=lambda: t[0])
    store.set_cursor("hubspot.invoices", "2026-11-01T00:00:00Z")
    store.set_cursor("hubspot.invoices", "2026-11-02T00:00:00Z")
    assert store.get_cursor("hubspot.invoices") == "2026-11-02T00:00:00Z"
    assert store.get_cursor("missing", "x") == "x"
    store.mute("rate-limited", until=2000.0, by="U1")
    store.snooze("3001", until=1500.0, by="U1")
    assert store.active_mutes() == {"rate-limited": 2000.0}
    assert store.snoozed_until("3001") == 1500.0
    t[0] = 1600.0
    assert store.snoozed_until("3001") is None
    assert store.unmute("rate-limited") and store.active_mutes() == {}


def test_token_save_is_durable_across_kill_9(db_path):
    """A rotated refresh token saved just before the process is killed is there afterwards."""
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.getcwd()!r})
        from bot.store import Store
        s = Store({str(db_path)!r})
        s.save_qbo_tokens("123", {{"access_token": "a2", "access_expires_at": 1.0,
                                  "refresh_token": "r2-rotated", "refresh_expires_at": 2.0,
                                  "seed_hash": "h"}})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    Store(db_path).save_qbo_tokens("123", {"refresh_token": "r1", "seed_hash": "h"})
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -signal.SIGKILL
    tokens = Store(db_path).load_qbo_tokens("123")
    assert tokens["refresh_token"] == "r2-rotated" and tokens["access_token"] == "a2"


def test_saving_tokens_without_refresh_token_is_refused(db_path):
    with pytest.raises(ValueError):
        Store(db_path).save_qbo_tokens("123", {"access_token": "a"})
