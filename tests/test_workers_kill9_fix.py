"""A `qbsync worker` killed with SIGKILL in the middle of a fix, at the worst moment: its
QuickBooks write was sent, its outcome not yet recorded. The job is taken as stalled and run
again by the other worker, which finds the fix begun and re-checks first (bot/jobs.py
qbsync.fix, handlers/deferred.py run_fix_job, handlers/actions.py _run_fix resume):

- write landed (QBO committed it, the answer went to the dead worker): the cause is gone, the
  fix is recorded without writing again: one write at the sandbox in all;
- write lost (the worker died before QBO committed it): the cause still holds, the write is
  made once: one committed write (two requests: the lost one and the survivor's).

Real processes on PostgreSQL (tests/pg.py): `qbsync run` answers the click and queues the fix,
two `qbsync worker`s run jobs, against the sandbox served here over HTTP. The sandbox holds the
first Customer write (as tests/test_kill9_fix.py's CustomerWriteGate does), so the kill lands
while the worker waits for QuickBooks' answer.
"""
from __future__ import annotations

import signal
import threading

import pytest

from bot.slack.messages import ACTION_FIX
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.test_kill9_fix import KEY, _customers_with_email
from tests.workers import ALICE, Proc, defer_scan, environment, job_rows, live_workers, parents, wait, worker

FIX = "create-customer"
QBO_WRITES = "POST /v3/company/{realmId}/{entity}"  # the sandbox's request-log name of any QBO create/update


class FirstCustomerWriteGate:
    """Holds the first Customer create until released (committed first, or dropped: it never
    reached QBO); later creates go through. Counts the creates that committed."""

    def __init__(self, company, *, land_first: bool):
        self.entered, self.release = threading.Event(), threading.Event()
        self.committed = 0
        self._first = True
        real = company.create

        def create(entity, body, requestid=None, **kw):
            if entity != "Customer":
                return real(entity, body, requestid, **kw)
            first, self._first = self._first, False
            if first and not land_first:
                self.entered.set()
                self.release.wait(30)
                raise ConnectionAbortedError("the worker died before this write reached QBO")
            result = real(entity, body, requestid, **kw)
            self.committed += 1
            if first:
                self.entered.set()
                self.release.wait(30)
            return result

        company.create = create


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
@pytest.mark.parametrize("write_landed", [True, False], ids=["write-landed", "write-lost"])
def test_a_worker_killed_inside_a_fix_leaves_it_applied_once(tmp_path, pg_url, write_landed):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000, qbo_per_second=100) as sb:
        sb.load("missing-customer")
        gate = FirstCustomerWriteGate(sb.qbo, land_first=write_landed)
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
            gate.release.set()  # its answer goes to a dead socket: committed in QBO or not, unknown to qbsync
            assert _customers_with_email(sb) == (1 if write_landed else 0)
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
        # Applied once: one write committed in QuickBooks, one customer has the email; when the
        # first write landed, the survivor sent none.
        assert sb.log.count("qbo", QBO_WRITES) == (1 if write_landed else 2), sb.log.snapshot()
        assert gate.committed == 1 and _customers_with_email(sb) == 1
        # Recorded once: begun by the victim, resumed and ended ok by the survivor.
        fix_rows = [(e["outcome"], (e["detail"] or {}).get("resumed", False))
                    for e in _audit(pg_url, action=f"slack:fix:{FIX}", target=KEY)]
        assert fix_rows == [("started", False), ("started", True), ("ok", False)]
        # Slack: the one parent, one "applying" and one "applied" reply in its thread.
        assert len(parents(sb)) == 1
        thread = [m.visible_text() for m in sb.slack.driver.thread(ALERT_CHANNEL, alert["ts"])]
        assert sum("is applying" in m for m in thread) == 1, thread
        assert sum(m.startswith(":heavy_check_mark:") for m in thread) == 1, thread
        applied = [m for m in thread if m.startswith(":heavy_check_mark:")]
        if write_landed:  # said by the survivor's re-check: the resumed run did not apply again
            assert applied == [":heavy_check_mark: Confirmed: the cause is gone (missing-customer)."]
        else:  # the survivor's own write
            assert len(applied) == 1 and applied[0].startswith(":heavy_check_mark: Created QBO customer "), applied
        assert sum(m.startswith(":white_check_mark: Resolved by") for m in thread) == 1, thread
        store = Store(pg_url)
        try:
            assert store.fix_runs(unfinished=True) == []
        finally:
            store.close()
        answers = [e.text for e in sb.slack.driver.ephemerals(ALICE)]
        assert answers == ["Queued: a qbsync worker does it now and answers here."], answers
