"""On PostgreSQL a Fix click and `/qbsync digest` are answered by `qbsync run` and done by a
`qbsync worker` (bot/jobs.py qbsync.fix and qbsync.digest, handlers/deferred.py): the listener
authorises and claims, queues a job, and never writes to QuickBooks nor posts a digest; the
worker runs the fix through the same path as the in-process fix and answers the person.
Real processes against the sandbox served here (tests/workers.py)."""
from __future__ import annotations

import pytest

from bot.slack.messages import ACTION_FIX
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.test_kill9_fix import KEY, _customers_with_email
from tests.workers import ALICE, Proc, defer_scan, environment, job_rows, parents, wait, worker

QUEUED = "Queued: a qbsync worker does it now and answers here."
REPEAT = "This fix was already started once; it is not run again."
BRAM = "U0BRAM0001"  # in the workspace, not in QBSYNC_FIX_ALLOWED


def _store_read(pg_url: str, fn):
    store = Store(pg_url)
    try:
        return fn(store)
    finally:
        store.close()


def _answers(sb, user: str) -> list[str]:
    return [e.text for e in sb.slack.driver.ephemerals(user)]


@pytest.mark.timeout(90)
def test_fix_and_digest_are_queued_by_the_listener_and_done_by_a_worker(tmp_path, pg_url):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000, qbo_per_second=100) as sb:
        sb.load("missing-customer")
        env = environment(sb, pg_url)
        listener = Proc(["run"], env, tmp_path, "run")
        procs: tuple[Proc, ...] = (listener,)
        w = None
        try:
            assert sb.slack.socket.wait_connected(30), listener.log()
            sb.slack.driver.use_socket()
            # A worker posts the alert, then stops: what follows is the listener on its own.
            w = worker(env, tmp_path, "w")
            procs = (listener, w)
            defer_scan(pg_url)
            alert = wait(lambda: (a := _store_read(pg_url, lambda s: s.get_alert(KEY))) and a["ts"] and a, 30,
                         "the alert posted", procs)
            assert w.stop() == 0, w.log()

            # A person not allowed to fix is refused by the listener; nothing is queued.
            sb.slack.driver.click(BRAM, ALERT_CHANNEL, alert["ts"], ACTION_FIX + "create-customer")
            wait(lambda: _answers(sb, BRAM), 10, "Bram's refusal", procs)
            assert _answers(sb, BRAM) == ["Alleen de mensen en groepen in QBSYNC_FIX_ALLOWED mogen oplossingen "
                                          "toepassen. Er is niets gewijzigd."]  # Bram reads Dutch
            # Alice clicks twice (a double click): one claim, one job; the repeat is told so.
            for _ in range(2):
                r = sb.slack.driver.click(ALICE, ALERT_CHANNEL, alert["ts"], ACTION_FIX + "create-customer")
                assert r.acked and r.in_time
            wait(lambda: len(_answers(sb, ALICE)) >= 2, 10, "Alice's answers", procs)
            assert sorted(_answers(sb, ALICE)) == sorted([QUEUED, REPEAT])
            [job] = job_rows(pg_url, "qbsync.fix").values()
            assert job["status"] == "todo" and job["lock"] == "fix:default:3001"
            assert _customers_with_email(sb) == 0  # queued, not run by the listener
            assert _store_read(pg_url, lambda s: s.get_alert(KEY))["state"] == "open"

            # `/qbsync digest`: queued too; the listener posts nothing.
            posted_before = len(parents(sb))
            sb.slack.driver.slash(ALICE, "/qbsync", "digest")
            wait(lambda: len(_answers(sb, ALICE)) >= 3, 10, "the digest command's answer", procs)
            assert _answers(sb, ALICE)[2] == QUEUED
            assert [j["status"] for j in job_rows(pg_url, "qbsync.digest").values()] == ["todo"]
            assert len(parents(sb)) == posted_before

            # A worker does both, and answers Alice.
            w = worker(env, tmp_path, "w2")
            procs = (listener, w)
            wait(lambda: [j["status"] for j in job_rows(pg_url, "qbsync.fix").values()] == ["succeeded"]
                 and [j["status"] for j in job_rows(pg_url, "qbsync.digest").values()] == ["succeeded"], 30,
                 "the worker's jobs", procs)
            wait(lambda: len(_answers(sb, ALICE)) >= 4, 10, "the digest's answer from the worker", procs)
        finally:
            for p in procs:
                p.stop()

        done = _store_read(pg_url, lambda s: s.get_alert(KEY))
        assert done["state"] == "resolved" and _customers_with_email(sb) == 1
        thread = [m.visible_text() for m in sb.slack.driver.thread(ALERT_CHANNEL, alert["ts"])]
        assert sum("is applying" in m for m in thread) == 1
        assert sum(m.startswith(":heavy_check_mark: Created QBO customer ") for m in thread) == 1, thread
        assert _answers(sb, ALICE)[3].startswith("The digest is in <#")
        audits = _store_read(pg_url, lambda s: s.audit_entries())
        assert [e["actor"] for e in audits if e["action"] == "job:fix"] == [f"worker:{w.pid}"]
        assert [e["outcome"] for e in audits if e["action"] == "command:digest"] == ["ok"]
        assert len([e for e in audits if e["action"] == "digest:post"]) == 1
        assert [e["outcome"] for e in audits if e["action"] == "slack:fix:create-customer"] == \
            ["refused", "noop", "started", "ok"]
