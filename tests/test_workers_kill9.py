"""A `qbsync worker` killed with SIGKILL in the middle of a scan loses nothing: its job is
taken as stalled (no heartbeat) and queued again, the other worker runs it to the end, and
every alert is in the channel exactly once (bot/jobs.py, retry_stalled)."""
from __future__ import annotations

import signal

import pytest

from sandbox.app import Sandbox
from tests.workers import (assert_each_alert_posted_once, defer_scan, environment, job_rows, live_workers,
                           parents, scan_runs, wait, worker)


@pytest.mark.timeout(90)
def test_a_worker_killed_mid_scan_loses_and_repeats_no_alert(tmp_path, pg_url):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000) as sb:
        sb.load("mixed")  # five parents, posted one per second by the worker
        env = environment(sb, pg_url)
        procs = {"a": worker(env, tmp_path, "a", stalled_after=3), "b": worker(env, tmp_path, "b", stalled_after=3)}
        everyone = tuple(procs.values())
        try:
            wait(lambda: live_workers(pg_url) == 2, 30, "two workers", everyone)
            job = defer_scan(pg_url)
            wait(lambda: 1 <= len(parents(sb)) < 3, 20, "the scan posting its first parents", everyone)
            [running] = [r for r in scan_runs(pg_url) if r.ended is None]
            victim = next(p for p in everyone if running.actor == f"worker:{p.pid}")
            survivor = next(p for p in everyone if p is not victim)
            assert victim.kill9() == -signal.SIGKILL
            posted_before_kill = len(parents(sb))
            assert posted_before_kill < 5  # killed in the middle, not after the scan
            # Left behind by the dead worker: a scan job not finished ("doing", or already queued
            # again as "todo" when retry_stalled ran between the kill and this read).
            assert any(r["status"] in ("doing", "todo") for r in job_rows(pg_url).values())
            wait(lambda: any(r.actor == f"worker:{survivor.pid}" and r.outcome == "ok" for r in scan_runs(pg_url)),
                 40, "the survivor finishing the scan", everyone)
            wait(lambda: all(r["status"] in ("succeeded", "failed") for r in job_rows(pg_url).values()),
                 30, "every scan job done", everyone)
        finally:
            for p in everyone:
                p.stop()
        rows = job_rows(pg_url)
        if not job_rows(pg_url, "qbsync.tick"):
            assert list(rows) == [job]  # the same job ran again, no other was needed
            assert rows[job]["status"] == "succeeded" and rows[job]["attempts"] >= 2
        else:
            # A worker started within Procrastinate's periodic max_delay (10 min) after the hourly
            # tick's time defers that tick at start (procrastinate/periodic.py MAX_DELAY), so the
            # scan killed may be the tick's, with `job` queued behind it (or None: not queued, the
            # tick's scan still waiting). The killed scan then ran again, or was ended because
            # another scan of the company already waited (bot/jobs.py retry_stalled_jobs).
            assert rows[max(rows)]["status"] == "succeeded"
            assert all(r["status"] == "succeeded" or (r["status"] == "failed" and i < max(rows))
                       for i, r in rows.items())
            assert job is None or job in rows
        outcomes = [r.outcome for r in scan_runs(pg_url)]
        assert outcomes.count(None) == 1 and outcomes[0] is None  # the killed pass never ended
        assert set(outcomes[1:]) == {"ok"}  # the retry (and any scan queued behind it) did
        assert_each_alert_posted_once(sb, pg_url, 5)
