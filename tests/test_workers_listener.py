"""`qbsync run` on PostgreSQL answers Slack and never scans: no scan at start nor on its
interval, and `/qbsync scan` queues a job that a `qbsync worker` runs (bot/runner.py,
handlers/services.py run_scan, bot/jobs.py)."""
from __future__ import annotations

import time

import pytest

from sandbox.app import Sandbox
from tests.workers import (ALICE, Proc, assert_each_alert_posted_once, environment, job_rows, parents,
                           scan_runs, wait, worker)


def _scan_audits(pg_url: str) -> list[dict]:
    from bot.store import Store

    store = Store(pg_url)
    try:
        return [e for e in store.audit_entries() if e["action"] == "scan"]
    finally:
        store.close()


@pytest.mark.timeout(90)
def test_the_listener_never_scans_and_its_scan_command_queues_a_job(tmp_path, pg_url):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000) as sb:
        sb.load("mixed")
        # The shortest interval there is: with SQLite, `run` would scan at once at start.
        env = environment(sb, pg_url, QBSYNC_POLL_INTERVAL="30")
        listener = Proc(["run"], env, tmp_path, "run")
        procs: tuple[Proc, ...] = (listener,)
        try:
            assert sb.slack.socket.wait_connected(30), listener.log()
            sb.slack.driver.use_socket()
            time.sleep(3)  # time enough for a scan at start to have begun posting
            assert parents(sb) == [] and _scan_audits(pg_url) == [], listener.log()

            before = len(sb.slack.driver.ephemerals(ALICE))
            delivery = sb.slack.driver.slash(ALICE, "/qbsync", "scan")
            assert delivery.acked and delivery.in_time
            wait(lambda: len(sb.slack.driver.ephemerals(ALICE)) >= before + 2, 10, "the answers", procs)
            texts = [e.text for e in sb.slack.driver.ephemerals(ALICE)[before:]]
            assert texts[-1].startswith("Scan queued: a qbsync worker runs it")
            [job] = job_rows(pg_url).values()
            assert job["status"] == "todo" and job["lock"] == "scan:default"
            sb.slack.driver.slash(ALICE, "/qbsync", "scan")  # again: one waiting is enough
            wait(lambda: len(sb.slack.driver.ephemerals(ALICE)) >= before + 4, 10, "the second answers", procs)
            assert sb.slack.driver.ephemerals(ALICE)[-1].text.startswith("A scan is already queued")
            assert len(job_rows(pg_url)) == 1
            time.sleep(1)
            assert parents(sb) == [] and _scan_audits(pg_url) == []  # queued, not run here

            w = worker(env, tmp_path, "w")
            procs = (listener, w)
            try:
                wait(lambda: [r for r in scan_runs(pg_url) if r.outcome == "ok"], 30, "the worker's scan", procs)
            finally:
                assert w.stop() == 0, w.log()
            [run] = scan_runs(pg_url)
            assert run.actor == f"worker:{w.pid}" and run.actor != f"worker:{listener.pid}"
            assert_each_alert_posted_once(sb, pg_url, 5)
            assert len(_scan_audits(pg_url)) == 1  # the worker's pass, and no other
        finally:
            rc = listener.stop()
        assert rc == 0, listener.log()
