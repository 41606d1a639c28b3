"""The scheduler's job state in the app's SQLite (bot/jobstore.py) and the runner's scan
schedule over it (bot/runner.py: ScanSchedule): real APScheduler, real Store files."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from bot.jobstore import SQLiteJobStore
from bot.runner import SCAN_JOB_ID, ScanSchedule, scheduled_scan
from bot.store import Store

UTC = timezone.utc


def noop(*_args):  # a job function by textual reference, as persistent jobs need
    return None


class Counter:
    def __init__(self):
        self.calls = []
        self._event = threading.Event()

    def __call__(self):
        self.calls.append(time.time())
        self._event.set()
        return "scanned"

    def wait_first(self, timeout=5.0) -> bool:
        return self._event.wait(timeout)


@pytest.fixture
def paused(tmp_path):
    """A started-but-paused scheduler over a SQLiteJobStore: jobs are stored, none run."""
    store = Store(tmp_path / "q.db")
    jobstore = SQLiteJobStore(store)
    sched = BackgroundScheduler(timezone=UTC, jobstores={"default": jobstore})
    sched.start(paused=True)
    yield sched, jobstore, store
    sched.shutdown(wait=False)
    store.close()


def _add(sched, job_id, when):
    return sched.add_job("tests.test_jobstore:noop", "interval", seconds=60, id=job_id,
                         args=[job_id], next_run_time=when)


# -- the job store itself ----------------------------------------------------------------
def test_jobstore_add_lookup_conflict_update_remove(paused):
    sched, jobstore, store = paused
    t0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    job = _add(sched, "a", t0)
    back = jobstore.lookup_job("a")
    assert back.id == "a" and back.args == ("a",) and back.next_run_time == t0
    assert back.func is noop and back._jobstore_alias == "default" and back._scheduler is sched
    assert jobstore.lookup_job("missing") is None
    row = store.query_rows("SELECT next_run_time FROM scheduler_jobs WHERE id = 'a'")[0]
    assert row["next_run_time"] == t0.timestamp()               # due-time column kept beside the blob

    with pytest.raises(ConflictingIdError):
        jobstore.add_job(job)
    with pytest.raises(ConflictingIdError):                     # through the scheduler as well
        _add(sched, "a", t0)

    back.next_run_time = t0 + timedelta(hours=1)
    jobstore.update_job(back)
    assert jobstore.lookup_job("a").next_run_time == t0 + timedelta(hours=1)
    ghost = jobstore.lookup_job("a")
    ghost.id = "ghost"
    with pytest.raises(JobLookupError):
        jobstore.update_job(ghost)

    jobstore.remove_job("a")
    assert jobstore.lookup_job("a") is None
    with pytest.raises(JobLookupError):
        jobstore.remove_job("a")


def test_jobstore_due_jobs_in_time_order_paused_last(paused):
    sched, jobstore, _ = paused
    t0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    _add(sched, "late", t0 + timedelta(minutes=5))
    _add(sched, "early", t0 + timedelta(minutes=1))
    _add(sched, "future", t0 + timedelta(hours=2))
    _add(sched, "paused", t0).pause()                            # next_run_time NULL

    due = jobstore.get_due_jobs(t0 + timedelta(minutes=5))
    assert [j.id for j in due] == ["early", "late"]              # exactly-now counts as due
    assert jobstore.get_due_jobs(t0) == []
    assert jobstore.get_next_run_time() == t0 + timedelta(minutes=1)
    assert [j.id for j in jobstore.get_all_jobs()] == ["early", "late", "future", "paused"]
    assert [j.id for j in sched.get_jobs()] == ["early", "late", "future", "paused"]

    jobstore.remove_all_jobs()
    assert jobstore.get_all_jobs() == [] and jobstore.get_next_run_time() is None


def test_jobstore_drops_a_job_it_cannot_restore(paused, caplog):
    sched, jobstore, store = paused
    _add(sched, "ok", datetime(2030, 1, 1, tzinfo=UTC))
    with store.transaction() as conn:                            # e.g. written by an older release
        conn.execute("INSERT INTO scheduler_jobs VALUES ('bad', 1.0, ?)", (b"not a pickle",))
    with caplog.at_level(logging.ERROR, logger="apscheduler.jobstores.default"):
        assert [j.id for j in jobstore.get_all_jobs()] == ["ok"]
    assert "bad" in caplog.text
    assert [r["id"] for r in store.query_rows("SELECT id FROM scheduler_jobs")] == ["ok"]


# -- the runner's scan schedule ----------------------------------------------------------
def _stored_next(store) -> float:
    return store.query_rows("SELECT next_run_time FROM scheduler_jobs WHERE id = ?", (SCAN_JOB_ID,))[0]["next_run_time"]


def test_schedule_survives_a_new_store_and_scheduler(tmp_path):
    path = tmp_path / "q.db"
    store = Store(path)
    first = Counter()
    sched = ScanSchedule(store, 60, first).start()
    try:
        assert first.wait_first(), "no stored job: the first scan runs right at start"
        deadline = time.time() + 5
        while _stored_next(store) < time.time() + 30 and time.time() < deadline:
            time.sleep(0.02)                                     # the scheduler stores the next run
    finally:
        sched.stop()
    stored = _stored_next(store)
    assert time.time() < stored <= time.time() + 60
    store.close()

    store2 = Store(path)                                         # a restart: new Store, new scheduler
    second = Counter()
    sched2 = ScanSchedule(store2, 60, second).start()
    try:
        assert not second.wait_first(0.5), "stored job not due yet: no scan at start"
        assert sched2.first_run_at.timestamp() == pytest.approx(stored, abs=1e-3)
        job = sched2.scheduler.get_job(SCAN_JOB_ID)
        assert job.next_run_time.timestamp() == pytest.approx(stored, abs=1e-3)
        assert job.args == (sched2.key,)                         # this process's runner, not the old one
        assert sched2.next_run_time().timestamp() == pytest.approx(stored, abs=1e-3)
    finally:
        sched2.stop()
        store2.close()
    assert first.calls and len(first.calls) == 1


def _simulate_downtime(path, seconds_ago: float) -> float:
    """Leave the stored job as a bot that stopped long ago would have: next run in the past."""
    store = Store(path)
    sched = ScanSchedule(store, 60, Counter()).start()
    sched.stop()
    jobstore = SQLiteJobStore(store)
    job = jobstore.lookup_job(SCAN_JOB_ID)
    past = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    job.next_run_time = past
    jobstore.update_job(job)
    store.close()
    return past.timestamp()


def test_restart_after_long_downtime_runs_one_coalesced_scan(tmp_path):
    path = tmp_path / "q.db"
    past = _simulate_downtime(path, 3600 + 30)                   # ~61 runs missed at a 60 s interval
    store = Store(path)
    scans = Counter()
    sched = ScanSchedule(store, 60, scans).start()
    try:
        assert scans.wait_first(), "an overdue stored job runs right at start"
        time.sleep(0.5)
        assert len(scans.calls) == 1                             # one catch-up scan, not 61
        deadline = time.time() + 5
        while _stored_next(store) <= time.time() and time.time() < deadline:
            time.sleep(0.02)
        nxt = _stored_next(store)
    finally:
        sched.stop()
        store.close()
    now = time.time()
    assert now < nxt <= now + 60                                 # next one within an interval ...
    off_grid = (nxt - past) % 60
    assert min(off_grid, 60 - off_grid) < 1e-3                   # ... on the old schedule's grid


def test_restart_with_a_shorter_interval_does_not_wait_for_the_old_one(tmp_path):
    path = tmp_path / "q.db"
    store = Store(path)
    sched = ScanSchedule(store, 3600, Counter()).start()
    deadline = time.time() + 5
    while _stored_next(store) < time.time() + 1800 and time.time() < deadline:
        time.sleep(0.02)
    sched.stop()
    assert _stored_next(store) > time.time() + 1800             # next run an hour away
    sched = ScanSchedule(store, 60, Counter()).start()           # QBSYNC_POLL_INTERVAL lowered
    try:
        assert sched.first_run_at <= datetime.now(UTC) + timedelta(seconds=60)
        assert sched.scheduler.get_job(SCAN_JOB_ID).trigger.interval == timedelta(seconds=60)
    finally:
        sched.stop()
        store.close()


def test_scheduled_scan_calls_only_a_registered_scan(tmp_path, caplog):
    store = Store(tmp_path / "q.db")
    scans = Counter()
    sched = ScanSchedule(store, 3600, scans).start()
    try:
        assert scans.wait_first()
        assert scheduled_scan(sched.key) == "scanned"
    finally:
        sched.stop()
        store.close()
    with caplog.at_level(logging.WARNING, logger="bot.runner"):
        assert scheduled_scan(sched.key) is None                 # unregistered at stop
    assert "skipped" in caplog.text and len(scans.calls) == 2
