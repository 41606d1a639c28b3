"""The scan schedule (bot/runner.py ScanSchedule) on APScheduler's MemoryJobStore, started
from the store's last finished scan (bot/jobstore.py): real APScheduler, real Store files."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest
from apscheduler.jobstores.memory import MemoryJobStore

from bot.jobstore import LAST_FINISHED_CURSOR, first_scan_at
from bot.runner import SCAN_JOB_ID, ScanSchedule
from bot.store import Store

UTC = timezone.utc
NOW = 1_900_000_000.0


class Scans:
    """A scan that records its calls and, like bot/scan.py, the cursor when it finishes."""

    def __init__(self, store):
        self.store = store
        self.calls: list[float] = []
        self._event = threading.Event()

    def __call__(self):
        self.calls.append(time.time())
        self.store.set_cursor(LAST_FINISHED_CURSOR, str(time.time()))
        self._event.set()
        return "scanned"

    def wait_first(self, timeout=5.0) -> bool:
        return self._event.wait(timeout)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "q.db")
    yield s
    s.close()


@pytest.mark.parametrize("cursor, expected", [
    (None, NOW),                           # never scanned: at once
    (str(NOW - 10), NOW + 50),             # mid-interval: the rest of it
    (str(NOW - 3630), NOW),                # an hour down: one catch-up scan now
    (str(NOW - 60), NOW),                  # exactly due
    ("not a number", NOW),                 # unreadable: at once
    (str(NOW + 7200), NOW + 60),           # a cursor from the future never stalls the schedule
], ids=["none", "mid-interval", "overdue", "due", "garbage", "future"])
def test_first_scan_at(store, cursor, expected):
    if cursor is not None:
        store.set_cursor(LAST_FINISHED_CURSOR, cursor)
    assert first_scan_at(store, 60, NOW) == datetime.fromtimestamp(expected, UTC)


def test_no_recorded_scan_means_a_scan_at_start_on_a_memory_jobstore(store):
    scans = Scans(store)
    sched = ScanSchedule(store, 3600, scans).start()
    try:
        assert scans.wait_first(), "nothing recorded: the first scan runs right at start"
        assert isinstance(sched.scheduler._jobstores["default"], MemoryJobStore)
        nxt = sched.next_run_time()
        assert time.time() + 3500 < nxt.timestamp() <= time.time() + 3600
    finally:
        sched.stop()
    assert len(scans.calls) == 1


def test_a_restart_mid_interval_waits_for_the_rest_of_it(tmp_path):
    path = tmp_path / "q.db"
    store = Store(path)
    first = Scans(store)
    sched = ScanSchedule(store, 60, first).start()
    assert first.wait_first()
    sched.stop()
    finished = float(store.get_cursor(LAST_FINISHED_CURSOR))
    store.close()

    store2 = Store(path)                                         # a restart: new Store, new scheduler
    second = Scans(store2)
    sched2 = ScanSchedule(store2, 60, second).start()
    try:
        assert not second.wait_first(0.5), "last scan a moment ago: no scan at start"
        assert sched2.first_run_at.timestamp() == pytest.approx(finished + 60, abs=1e-3)
        assert sched2.next_run_time().timestamp() == pytest.approx(finished + 60, abs=1e-3)
    finally:
        sched2.stop()
        store2.close()
    assert len(first.calls) == 1


def test_restart_after_long_downtime_runs_one_catch_up_scan(store):
    store.set_cursor(LAST_FINISHED_CURSOR, str(time.time() - 3600 - 30))  # ~61 intervals missed
    scans = Scans(store)
    sched = ScanSchedule(store, 60, scans).start()
    try:
        assert scans.wait_first(), "overdue: a scan right at start"
        time.sleep(0.5)
        assert len(scans.calls) == 1                             # one catch-up scan, not 61
        nxt = sched.next_run_time().timestamp()
    finally:
        sched.stop()
    assert time.time() < nxt <= time.time() + 60                # then one interval on


def test_a_shorter_interval_applies_at_once(store):
    store.set_cursor(LAST_FINISHED_CURSOR, str(time.time() - 10))
    sched = ScanSchedule(store, 30, Scans(store)).start()        # was 3600: next in ~20 s, not ~1 h
    try:
        assert sched.first_run_at.timestamp() == pytest.approx(time.time() + 20, abs=2)
        assert sched.scheduler.get_job(SCAN_JOB_ID).trigger.interval.total_seconds() == 30
    finally:
        sched.stop()


def _tables(store) -> set[str]:
    if store.dialect == "postgresql":
        sql = "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {r["name"] for r in store.query_rows(sql)}


def test_the_pickled_job_table_is_dropped_by_a_migration(store_target):
    """On SQLite and on PostgreSQL: a database as release 4 left it migrates forward."""
    Store(store_target).close()
    old = Store(store_target)
    with old.transaction() as db:                                # a database as release 4 left it
        db.execute("DROP TABLE slack_requests_seen")
        for table in ("invoice_pairs", "fix_runs"):             # migration 6's
            db.execute(f"DROP TABLE {table}")
        db.execute("ALTER TABLE qbo_names DROP COLUMN currency")    # migration 7's
        db.execute("DROP TABLE reminders")                         # migration 8's
        db.execute("DROP TABLE bulk_plans")                        # migration 9's (and 14's columns)
        for table in ("slack_installations", "slack_oauth_states"):  # migration 10's
            db.execute(f"DROP TABLE {table}")
        db.execute("DROP TABLE connections")                       # migration 11's
        db.execute("DROP TABLE pace_sent")                         # migration 12's
        blob = "BYTEA" if old.dialect == "postgresql" else "BLOB"
        db.execute(f"CREATE TABLE scheduler_jobs (id TEXT PRIMARY KEY, next_run_time REAL, job_state {blob})")
        db.execute("INSERT INTO scheduler_jobs VALUES (?, ?, ?)", ("scan", 1.0, b"\x80\x04\x95\x00"))
        db.execute("DELETE FROM schema_migrations WHERE version >= 5")
    assert "scheduler_jobs" in _tables(old) and "reminders" not in _tables(old)
    old.close()
    store = Store(store_target)
    try:
        tables = _tables(store)
        assert "scheduler_jobs" not in tables and {"slack_requests_seen", "reminders", "fix_runs", "bulk_plans",
                                                     "pace_sent"} <= tables
        assert store.schema_version() >= 5
        assert store.query_rows("SELECT currency FROM qbo_names") == []  # migration 7 ran again
        assert store.query_rows("SELECT cancelled_at, stopped_at, done FROM bulk_plans") == []  # and 14
    finally:
        store.close()
