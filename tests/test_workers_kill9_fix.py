"""A `qbsync worker` killed with SIGKILL in the middle of a fix, at the worst moment: its
QuickBooks write was sent and committed, its outcome not yet recorded. The job is taken as
stalled and run again by the other worker, which finds the fix begun, re-checks, sees the
cause gone and records the fix without writing again (bot/jobs.py qbsync.fix,
handlers/deferred.py run_fix_job, handlers/actions.py _run_fix resume).

Real processes on PostgreSQL (tests/pg.py): `qbsync run` answers the click and queues the fix,
two `qbsync worker`s run jobs, against the sandbox served here over HTTP. The sandbox holds the
Customer write after committing it (tests/test_kill9_fix.py CustomerWriteGate), so the kill
lands while the worker waits for QuickBooks' answer.
"""
from __future__ import annotations

import signal

import pytest

from bot.slack.messages import ACTION_FIX
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.test_kill9_fix import KEY, CustomerWriteGate, _customers_with_email
from tests.workers import ALICE, Proc, defer_scan, environment, job_rows, live_workers, parents, wait, worker

FIX = "create-customer"
QBO_WRITES = "POST /v3/company/{realmId}/{entity}"  # the sandbox's request-log name of any QBO create/update


def _audit(pg_url: str, **match) -> list[dict]:
    store = Store(pg_url)
    try:
        return [e for e in store.audit_entries() if all(e[k] == v for k, v in match.items())]
    finally:
        store.close()


def _alert(pg_url: str) -> dict | None:
    store = Store(pg_url)
    try:
        return store.get_alert(KEY)
    finally:
        store.close()


@pytest.mark.timeout(90)
def test_a_worker_killed_after_its_fix_wrote_leaves_the_fix_applied_once(tmp_path, pg_url):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000, qbo_per_second=100) as sb:
        sb.load("missing-customer")
        gate = CustomerWriteGate(sb.qbo, land_first=True)
        env = environment(sb, pg_url)
        listener = Proc(["run"], env, tmp_path, "run")
        workers = {"a": worker(env, tmp_path, "a", stalled_after=3), "b": worker(env, tmp_path, "b", stalled_after=3)}
        everyone = (listener, *workers.values())
        try:
            wait(lambda: live_workers(pg_url) == 2, 30, "two workers", everyone)
            assert sb.slack.socket.wait_connected(30), listener.log()
            sb.slack.driver.use_socket()
            defer_scan(pg_url)
            alert = wait(lambda: (a := _alert(pg_url)) and a["ts"] and a, 30, "the alert posted", everyone)
            assert alert["state"] == "open" and _customers_with_email(sb) == 0
            sb.log.reset()

            # Alice clicks the fix; the listener queues it; a worker runs it into the held write.
            r = sb.slack.driver.click(ALICE, ALERT_CHANNEL, alert["ts"], ACTION_FIX + FIX)
            assert r.acked and r.in_time
            assert gate.entered.wait(30), "\n".join(p.log() for p in everyone)
            [started] = _audit(pg_url, action="job:fix")
            victim = next(p for p in workers.values() if started["actor"] == f"worker:{p.pid}")
            survivor = next(p for p in workers.values() if p is not victim)
            assert _alert(pg_url)["state"] == "fixing"
            assert victim.kill9() == -signal.SIGKILL
            gate.release.set()  # its answer goes to a dead socket: committed in QBO, unknown to qbsync
            assert _customers_with_email(sb) == 1
            [job] = job_rows(pg_url, "qbsync.fix").values()
            assert job["status"] == "doing" and job["lock"] == "fix:default:3001"

            # The survivor runs the stalled job again and settles the fix.
            wait(lambda: (a := _alert(pg_url)) and a["state"] == "resolved" and a, 40,
                        "the survivor finishing the fix", everyone)
            wait(lambda: [j["status"] for j in job_rows(pg_url, "qbsync.fix").values()] == ["succeeded"], 10,
                 "the job recorded as done", everyone)
        finally:
            gate.release.set()
            for p in everyone:
                p.stop()

        [job] = job_rows(pg_url, "qbsync.fix").values()
        assert job["attempts"] >= 2
        runs = _audit(pg_url, action="job:fix")
        assert [e["actor"] for e in runs] == [f"worker:{victim.pid}", f"worker:{survivor.pid}"]
        # Applied once: one write reached QuickBooks in all, one customer has the email.
        assert sb.log.count("qbo", QBO_WRITES) == 1, sb.log.snapshot()
        assert gate.writes == 1 and _customers_with_email(sb) == 1
        # Recorded once: begun by the victim, resumed and ended ok by the survivor.
        fix_rows = [(e["outcome"], (e["detail"] or {}).get("resumed", False))
                    for e in _audit(pg_url, action=f"slack:fix:{FIX}", target=KEY)]
        assert fix_rows == [("started", False), ("started", True), ("ok", False)]
        # Slack: the one parent, one "applying" and one "applied" reply in its thread.
        assert len(parents(sb)) == 1
        thread = [m.visible_text() for m in sb.slack.driver.thread(ALERT_CHANNEL, alert["ts"])]
        assert sum("is applying" in m for m in thread) == 1, thread
        assert sum(m.startswith(":heavy_check_mark:") for m in thread) == 1, thread
        # ...said by the survivor's re-check (the resumed run wrote nothing; apply was not called again)
        assert [m for m in thread if m.startswith(":heavy_check_mark:")] == \
            [":heavy_check_mark: Confirmed: the cause is gone (missing-customer)."]
        assert sum(m.startswith(":white_check_mark: Resolved by") for m in thread) == 1, thread
        store = Store(pg_url)
        try:
            assert store.fix_runs(unfinished=True) == []
        finally:
            store.close()
        answers = [e.text for e in sb.slack.driver.ephemerals(ALICE)]
        assert answers == ["Queued: a qbsync worker does it now and answers here."], answers
