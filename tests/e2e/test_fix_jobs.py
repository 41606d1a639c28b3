"""A queued fix checks the alert again when a worker runs it (handlers/deferred.py run_fix_job):
the bot answers Slack with its store on PostgreSQL and a job queue (as `qbsync run` does,
bot/runner.py), and a real Procrastinate worker in this process runs the jobs with the same
Services (tests/test_jobs.py runs workers the same way; real `qbsync worker` processes:
tests/test_workers_fixes.py, tests/test_workers_kill9_fix.py)."""
from __future__ import annotations

import pytest

from bot.jobs import ScanJobs, ensure_schema
from bot.slack.messages import ACTION_FIX, ACTION_RESOLVE
from handlers.deferred import WorkerInteractions
from handlers.texts import t
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.test_jobs import _run_worker_until
from tests.workers import job_rows

from .conftest import ALICE

KEY = "3001:missing-customer"
QBO_WRITES = "POST /v3/company/{realmId}/{entity}"


@pytest.fixture
def queued_bot(make_bot, pg_url):
    """make_bot on PostgreSQL whose Services queue fixes, and a worker queue for the test."""
    def make(world: str):
        bot = make_bot(world, env={"QBSYNC_DATABASE_URL": pg_url})
        ensure_schema(pg_url)
        bot.services.scan_jobs = ScanJobs(pg_url, poll_interval_s=3600).open()
        worker = WorkerInteractions(lambda _connection: bot.services)
        return bot, ScanJobs(pg_url, poll_interval_s=3600, run_fix=worker.fix)
    yield make


@pytest.mark.timeout(60)
def test_a_fix_queued_before_the_alert_was_resolved_by_hand_does_nothing(queued_bot, pg_url):
    bot, worker_jobs = queued_bot("missing-customer")
    try:
        bot.scan()
        parent = bot.parent_of(KEY)
        bot.d.click(ALICE, ALERT_CHANNEL, parent.ts, ACTION_FIX + "create-customer")
        assert bot.wait_ephemeral(ALICE, 1) == [t("en", "queued_for_worker")]
        [job] = job_rows(pg_url, "qbsync.fix").values()
        assert job["status"] == "todo" and job["lock"] == "fix:default:3001"
        # While it waits, Alice resolves the alert by hand (the listener does that itself).
        bot.d.click(ALICE, ALERT_CHANNEL, parent.ts, ACTION_RESOLVE)
        bot.d.wait_for(lambda: bot.alert(KEY)["state"] == "resolved"
                       and any(m.startswith(":white_check_mark: Resolved by") for m in bot.thread_texts(KEY)[1:]),
                       timeout=10)  # the parent is edited first, then the reply is posted
        thread_before = bot.thread_texts(KEY)
        writes = bot.sb.log.count("qbo", QBO_WRITES)

        _run_worker_until(worker_jobs, lambda: [j["status"] for j in job_rows(pg_url, "qbsync.fix").values()]
                          == ["succeeded"])
        answers = bot.wait_ephemeral(ALICE, 2)
    finally:
        bot.services.scan_jobs.close()
    assert answers[-1] == t("en", "alert_resolved")  # told by the worker, through the click's response_url
    assert bot.sb.log.count("qbo", QBO_WRITES) == writes  # nothing written
    assert bot.thread_texts(KEY) == thread_before  # nothing said in the thread
    rows = [(e["outcome"], (e["detail"] or {}).get("why")) for e in bot.store.audit_entries(target=KEY)
            if e["action"] == "slack:fix:create-customer"]
    assert rows == [("noop", "changed while queued")]
    assert bot.store.action_result("fix:create-customer:3001:missing-customer:1") == \
        {"outcome": "noop", "why": "changed while queued"}
