"""The job queue of bot/jobs.py on PostgreSQL, with a real Procrastinate worker in this
process: the periodic tick queues scans by itself, a failing scan is retried after a backoff,
the schema is applied once; and `qbsync worker` refuses SQLite. Real `qbsync worker`
processes: tests/test_workers*.py."""
from __future__ import annotations

import asyncio
import contextlib
import os
import time

import pytest

from bot.jobs import DEFAULT_CONNECTION, QUEUE, ScanJobs, cron_every, ensure_schema
from sandbox.app import Sandbox
from tests.workers import job_rows


def test_cron_every_rounds_to_a_step_of_the_minute_or_hour():
    assert cron_every(1) == "* * * * * */1"
    assert cron_every(7) == "* * * * * */6"
    assert cron_every(30) == "* * * * * */30"
    assert cron_every(300) == "*/5 * * * * 0"
    assert cron_every(25 * 60) == "*/20 * * * * 0"
    assert cron_every(7200) == "0 * * * * 0"


@pytest.mark.parametrize("seconds, every", [(1, 1), (7, 6), (30, 30), (300, 300), (25 * 60, 20 * 60),
                                            (7200, 3600)])
def test_cron_every_fires_at_that_interval_as_procrastinate_reads_it(seconds, every):
    """Procrastinate reads its cron lines with croniter (procrastinate/periodic.py): seconds in
    the 6th column. (Seconds in the 1st made "*/30 * * * * *" fire every second of minutes :00
    and :30, and nothing in between.)"""
    import croniter

    start = 1_796_000_000.0 - 1_796_000_000 % 3600  # on the hour
    it = croniter.croniter(cron_every(seconds), start)
    fires = [it.get_next(float) for _ in range(4)]
    assert [b - a for a, b in zip([start, *fires], fires, strict=False)] == [every] * 4


def test_schema_is_applied_once(pg_url):
    assert ensure_schema(pg_url) is True
    assert ensure_schema(pg_url) is False  # a second worker starting finds it there


def _run_worker_until(jobs: ScanJobs, done, timeout: float = 20) -> None:
    """A real Procrastinate worker, in this process, until done() or the timeout."""
    async def run() -> None:
        async with jobs.app.open_async():
            task = asyncio.create_task(jobs.app.run_worker_async(
                queues=[QUEUE], concurrency=2, install_signal_handlers=False, wait=True))
            deadline = time.monotonic() + timeout
            while not done() and time.monotonic() < deadline and not task.done():
                await asyncio.sleep(0.05)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # stopped on purpose
                await task

    asyncio.run(run())


@pytest.mark.timeout(60)
def test_a_scan_that_raises_is_retried_after_a_backoff(pg_url):
    """HubSpot unreachable for the first attempt: the job runs again about 2 s later (the
    first step of the exponential backoff) and succeeds."""
    ensure_schema(pg_url)
    calls: list[float] = []

    def flaky(connection: str) -> None:
        calls.append(time.time())
        if len(calls) == 1:
            raise ConnectionError("HubSpot unreachable")

    jobs = ScanJobs(pg_url, poll_interval_s=3600, run_scan=flaky)
    jobs.open()
    try:
        job = jobs.defer_scan()
    finally:
        jobs.close()
    # A generous wait: on a loaded machine the worker's 2 s backoff and polling took over 20 s.
    _run_worker_until(jobs, lambda: job_rows(pg_url)[job]["status"] == "succeeded", timeout=45)
    assert len(calls) == 2 and calls[1] - calls[0] >= 1.9
    assert job_rows(pg_url)[job] | {"worker_id": None} == {
        "status": "succeeded", "attempts": 2, "lock": "scan:default", "queueing_lock": "scan:default",
        "worker_id": None}


@pytest.mark.timeout(60)
def test_the_periodic_tick_queues_a_scan_every_interval(pg_url):
    """A real Procrastinate worker (in-process, so the interval may be 1 s: the setting's
    minimum is 30) runs the tick, which defers scans of the connection, which run."""
    ensure_schema(pg_url)
    calls: list[tuple[str, float]] = []
    jobs = ScanJobs(pg_url, poll_interval_s=1, run_scan=lambda c: calls.append((c, time.time())))
    _run_worker_until(jobs, lambda: len(calls) >= 3)
    assert len(calls) >= 3, calls
    assert {c for c, _ in calls} == {DEFAULT_CONNECTION}
    scans = job_rows(pg_url)
    assert len(scans) >= 3 and all(j["lock"] == "scan:default" for j in scans.values())
    assert len(job_rows(pg_url, "qbsync.tick")) >= 3


def test_worker_refuses_sqlite(tmp_path, monkeypatch, capsys):
    from bot.cli import EXIT_CONFIG, main

    with Sandbox() as sb:
        env = sb.bot_environment() | {"QBSYNC_FIX_ALLOWED": "U0ALICE001", "QBSYNC_DB_PATH": str(tmp_path / "q.db")}
        for key in [k for k in os.environ if k.startswith("QBSYNC_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(tmp_path)
        assert main(["worker"]) == EXIT_CONFIG
    assert "qbsync worker needs QBSYNC_DATABASE_URL" in capsys.readouterr().err


def test_the_daily_sweep_removes_old_finished_jobs_and_stale_pacing_rows_only(pg_url):
    """Succeeded jobs go after a week, failed ones after 30 days; a job not finished stays
    whatever its age; pacing rows older than a day go, a recent one (still counted by a
    window) stays. Ages are set in Procrastinate's events, which its query reads."""
    import psycopg

    from bot.jobs import KEEP_FAILED_HOURS, KEEP_SUCCEEDED_HOURS, SWEEP_CRON
    from bot.store import Store

    ensure_schema(pg_url)
    Store(pg_url).close()  # the store's migrations: pace_sent
    jobs = ScanJobs(pg_url, poll_interval_s=3600).open()
    try:
        ids = {c: jobs.defer_scan(c) for c in ("old-done", "new-done", "failed-8d", "failed-31d", "todo-40d")}
    finally:
        jobs.close()
    ended = {"old-done": ("succeeded", 8 * 24), "new-done": ("succeeded", 2 * 24),
             "failed-8d": ("failed", 8 * 24), "failed-31d": ("failed", 31 * 24), "todo-40d": (None, 40 * 24)}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for connection, (status, hours) in ended.items():
            job = ids[connection]
            if status:
                conn.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", (job,))
                conn.execute("UPDATE procrastinate_jobs SET status = %s WHERE id = %s", (status, job))
            conn.execute("UPDATE procrastinate_events SET at = now() - make_interval(hours => %s) WHERE job_id = %s",
                         (hours, job))
        # A periodic job's defer record points at its job (no ON DELETE in the schema; a
        # trigger of Procrastinate's unlinks it): the sweep must still remove the job.
        conn.execute("INSERT INTO procrastinate_periodic_defers (task_name, periodic_id, defer_timestamp, job_id) "
                     "VALUES ('qbsync.tick', 'scans', 1, %s)", (ids["old-done"],))
        now = conn.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8").fetchone()[0]
        conn.cursor().executemany("INSERT INTO pace_sent (key, sent_at) VALUES (%s, %s)",
                                  [("qbo:removed-company", now - 2 * 86400), ("qbo:removed-company", now - 90000),
                                   ("qbo:live", now - 10)])

    async def sweep():
        async with jobs.app.open_async():
            return await jobs.sweep()

    assert asyncio.run(sweep()) == {"jobs": 2, "pace_rows": 2}
    left = {c for c, job in ids.items() if job in job_rows(pg_url)}
    assert left == {"new-done", "failed-8d", "todo-40d"}
    with psycopg.connect(pg_url) as conn:
        assert [r[0] for r in conn.execute("SELECT key FROM pace_sent")] == ["qbo:live"]
        assert conn.execute("SELECT job_id FROM procrastinate_periodic_defers").fetchall() == [(None,)]
    assert asyncio.run(sweep()) == {"jobs": 0, "pace_rows": 0}  # again: nothing more to do
    # Declared as a periodic task of its own, daily, and kept apart from the scans' work.
    assert KEEP_SUCCEEDED_HOURS < KEEP_FAILED_HOURS
    import croniter
    it = croniter.croniter(SWEEP_CRON, 1_796_000_000.0)
    assert it.get_next(float) + 86400 == it.get_next(float)
    assert "qbsync.sweep" in {t.name for t in jobs.app.tasks.values()}
