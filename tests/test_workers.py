"""Scans as Procrastinate jobs on PostgreSQL (bot/jobs.py): two real `qbsync worker` processes
never scan one company at once."""
from __future__ import annotations

import pytest

from bot.jobs import DEFAULT_CONNECTION, ensure_schema
from sandbox.app import Sandbox
from tests.workers import (assert_each_alert_posted_once, defer_scan, environment, job_rows, live_workers,
                           scan_runs, wait, worker)


@pytest.mark.timeout(90)
def test_two_workers_never_scan_one_company_at_once(tmp_path, pg_url):
    # Each scan posts the mixed world's five parents at one per second (the worker's pacing),
    # so a scan lasts seconds: long enough for the idle worker to take a second scan at once,
    # were it not for the job's lock.
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000) as sb:
        sb.load("mixed")
        env = environment(sb, pg_url)
        ensure_schema(pg_url)
        a, b = worker(env, tmp_path, "a"), worker(env, tmp_path, "b")
        try:
            wait(lambda: live_workers(pg_url) == 2, 30, "two workers", (a, b))
            first = defer_scan(pg_url)
            wait(lambda: job_rows(pg_url)[first]["status"] == "doing", 15, "the first scan running", (a, b))
            second = defer_scan(pg_url)
            assert second is not None and second != first
            assert defer_scan(pg_url) is None  # queueing lock: one scan waits, no pile-up
            wait(lambda: all(j["status"] == "succeeded" for j in job_rows(pg_url).values()), 40,
                 "both scans done", (a, b))
        finally:
            a.stop(), b.stop()
        jobs = job_rows(pg_url)
        if not job_rows(pg_url, "qbsync.tick"):  # (the hourly tick did not fire meanwhile)
            assert set(jobs) == {first, second}
        assert all(j["lock"] == j["queueing_lock"] == f"scan:{DEFAULT_CONNECTION}" for j in jobs.values())
        runs = scan_runs(pg_url)
        assert len(runs) == len(jobs) >= 2 and all(r.outcome == "ok" for r in runs)
        ordered = sorted(runs, key=lambda r: r.started)
        for one, two in zip(ordered, ordered[1:], strict=False):
            assert one.ended is not None and two.started >= one.ended  # never at once
        assert_each_alert_posted_once(sb, pg_url, 5)  # the second scan found them posted
