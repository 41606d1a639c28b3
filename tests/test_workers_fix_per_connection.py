"""Fix jobs routed per connection (bot/jobs.py services_for, handlers/deferred.py
_connection_of): two companies registered as connections beside the environment company, a
real `qbsync run` (Socket Mode, PostgreSQL) answering Slack and a real `qbsync worker`
running the jobs. A Fix click in company B's channel is queued naming B, and the worker
writes to B's QuickBooks company only (counted per realm in the sandbox's request log):
B's alert resolves in B's store and thread; A's store, A's channel and the environment
company's are untouched. `/qbsync digest` typed in A's channel is posted for A, in A's
channel. A scan of B is queued together with the fix, so the worker (concurrency 2) may
run both at once on B's shared parts (bot/jobs.py WorkerScans).

A is in the sandbox's default workspace (the environment company's), B in a second one whose
bot installation is saved as Add to Slack saves it (tests/tenants.py register): B's person
clicks, B's bot answers in B's thread. (`qbsync run` runs in Socket Mode here; the Add to Slack
flow itself, in HTTP mode, is tests/e2e/test_tenancy_slack.py.)"""
from __future__ import annotations

import json

import psycopg
import pytest

from bot.slack.messages import ACTION_FIX
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.e2e.test_tenancy_slack import world
from tests.tenants import SECRET_KEY, register
from tests.workers import ALICE, Proc, defer_scan, environment, job_rows, wait, worker

KEY = "3001:missing-customer"  # the one alert of the missing-customer scenario, in each store
FIX = "create-customer"
QBO_WRITES = {"POST /v3/company/{realmId}/{entity}", "POST /v3/company/{realmId}/batch"}
BETA_TEAM = "T0BETA0001"  # B's own Slack workspace
QUEUED = "Queued: a qbsync worker does it now and answers here."


def _read(pg_url: str, connection: str | None, fn):
    store = Store(pg_url, connection=connection)
    try:
        return fn(store)
    finally:
        store.close()


def _alerts(pg_url: str, connection: str | None) -> dict[str, tuple]:
    return _read(pg_url, connection, lambda s: {a["key"]: (a["state"], a["version"], a["ts"])
                                                for a in s.list_alerts()})


def _job_args(pg_url: str, task: str) -> list[dict]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT args, status::text, lock FROM procrastinate_jobs WHERE task_name = %s "
                            "ORDER BY id", (task,)).fetchall()
    return [{"args": r[0] if isinstance(r[0], dict) else json.loads(r[0]), "status": r[1], "lock": r[2]}
            for r in rows]


@pytest.mark.timeout(90)
def test_a_fix_in_b_channel_writes_to_b_only_and_a_digest_in_a_channel_is_a(tmp_path, pg_url):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000, qbo_per_second=100) as sb:
        sb.load("missing-customer")  # the environment company ("default"), in C0ALERTS01
        a = sb.add_company(world("missing-customer", "ACME-"), key="a")
        b = sb.add_company(world("missing-customer", "BETA-"), key="b", team_id=BETA_TEAM)
        ben = sb.slack.workspace.teams[BETA_TEAM].installer  # B's person, in B's workspace
        main = Store(pg_url)
        try:
            # (a connection's fixers are its own setting, not the environment's)
            register(main, a, "a", overrides={"QBSYNC_FIX_ALLOWED": ALICE})
            register(main, b, "b", overrides={"QBSYNC_FIX_ALLOWED": ben})
        finally:
            main.close()
        env = environment(sb, pg_url, QBSYNC_SECRET_KEY=SECRET_KEY)
        listener = Proc(["run"], env, tmp_path, "run")
        w = worker(env, tmp_path, "w")
        procs = (listener, w)
        try:
            assert sb.slack.socket.wait_connected(30), listener.log()
            sb.slack.driver.use_socket()
            for connection in ("default", "a", "b"):
                defer_scan(pg_url, connection)
            posted = {c: wait(lambda c=c: (x := _alerts(pg_url, c)) and all(v[2] for v in x.values()) and x, 40,
                              f"{c}'s alert posted", procs)
                      for c in ("default", "a", "b")}
            wait(lambda: all(j["status"] == "succeeded" for j in job_rows(pg_url).values()), 20, "scans done", procs)
            assert all(set(x) == {KEY} and x[KEY][0] == "open" for x in posted.values()), posted
            b_ts = posted["b"][KEY][2]
            threads_before = {c.key: len(sb.slack.driver.thread(c.channel, posted[c.key][KEY][2])) for c in (a, b)}
            default_thread = len(sb.slack.driver.thread(ALERT_CHANNEL, posted["default"][KEY][2]))
            sb.log.reset()

            # Alice clicks Fix on B's alert, in B's channel; a scan of B is queued at the same
            # moment (the worker may run it beside the fix, on B's shared parts).
            r = sb.slack.driver.click(ben, b.channel, b_ts, ACTION_FIX + FIX)
            assert r.acked and r.in_time
            defer_scan(pg_url, "b")
            wait(lambda: [j["status"] for j in _job_args(pg_url, "qbsync.fix")] == ["succeeded"], 30,
                 f"the fix job done (answers: {[e.text for e in sb.slack.driver.ephemerals(ben)]})", procs)
            wait(lambda: _alerts(pg_url, "b")[KEY][0] == "resolved", 20, "B's alert resolved", procs)
            wait(lambda: all(j["status"] == "succeeded" for j in job_rows(pg_url).values()), 20, "B's scan", procs)

            # The job named B (its connection and its lock), and the write went to B's realm only.
            [fix_job] = _job_args(pg_url, "qbsync.fix")
            assert fix_job["args"]["connection"] == "b"
            assert fix_job["lock"].startswith("fix:b:")
            assert sb.log.by_tenant("qbo", QBO_WRITES) == {b.realm_id: 1}, sb.log.snapshot()
            hubspot_writes = {e for e in sb.log.snapshot().get("hubspot", {}) if e.split()[0] in ("PATCH", "PUT",
                                                                                                "DELETE")}
            assert sb.log.by_tenant("hubspot", hubspot_writes) == {}
            assert b.qbo.entities["Customer"] and sum(
                1 for c in b.qbo.entities["Customer"].values() if c.get("PrimaryEmailAddr")) >= 1

            # A and the environment company: untouched, in their stores and threads.
            assert _alerts(pg_url, "a") == posted["a"]
            assert _alerts(pg_url, "default") == posted["default"]
            assert len(sb.slack.driver.thread(a.channel, posted["a"][KEY][2])) == threads_before["a"]
            assert len(sb.slack.driver.thread(ALERT_CHANNEL, posted["default"][KEY][2])) == default_thread
            b_thread = [m.visible_text() for m in sb.slack.driver.thread(b.channel, b_ts)]
            assert len(b_thread) > threads_before["b"]
            assert sum(m.startswith(":heavy_check_mark: Created QBO customer ") for m in b_thread) == 1, b_thread
            assert sum("is applying" in m for m in b_thread) == 1, b_thread
            assert sum(m.startswith(":white_check_mark: Resolved by") for m in b_thread) == 1, b_thread
            # ...posted by B's workspace's own bot (its installation's token), Ben told in the listener.
            beta_bot = sb.slack.workspace.teams[BETA_TEAM].bot_user_id
            assert {m.user for m in sb.slack.driver.thread(b.channel, b_ts)} == {beta_bot}
            assert [e.text for e in sb.slack.driver.ephemerals(ben)] == [QUEUED]
            b_fix = _read(pg_url, "b", lambda s: [e["outcome"] for e in s.audit_entries()
                                                  if e["action"] == f"slack:fix:{FIX}"])
            assert b_fix == ["started", "ok"]
            for other in ("a", None):
                assert not _read(pg_url, other, lambda s: [e for e in s.audit_entries()
                                                           if e["action"] in (f"slack:fix:{FIX}", "job:fix")])

            # `/qbsync digest` in A's channel: a job for A, posted in A's channel only.
            channels = {c: len(sb.slack.driver.transcript(c)) for c in (a.channel, b.channel, ALERT_CHANNEL)}
            before = len(sb.slack.driver.ephemerals(ALICE))
            assert sb.slack.driver.slash(ALICE, "/qbsync", "digest", channel=a.channel).acked
            wait(lambda: [j["status"] for j in _job_args(pg_url, "qbsync.digest")] == ["succeeded"], 30,
                 "the digest job done", procs)
            wait(lambda: len(sb.slack.driver.ephemerals(ALICE)) >= before + 2, 10, "the digest's answers", procs)
        finally:
            codes = [p.stop() for p in procs]
        assert codes == [0, 0], "\n".join(p.log() for p in procs)

        [digest_job] = _job_args(pg_url, "qbsync.digest")
        assert digest_job["args"]["connection"] == "a" and digest_job["lock"] == "digest:a"
        answers = [e.text for e in sb.slack.driver.ephemerals(ALICE)][before:]
        assert answers[0] == QUEUED and answers[1].startswith(f"The digest is in <#{a.channel}"), answers
        assert len(sb.slack.driver.transcript(a.channel)) > channels[a.channel]
        assert len(sb.slack.driver.transcript(b.channel)) == channels[b.channel]
        assert len(sb.slack.driver.transcript(ALERT_CHANNEL)) == channels[ALERT_CHANNEL]
        assert len(_read(pg_url, "a", lambda s: [e for e in s.audit_entries() if e["action"] == "digest:post"])) == 1
        for other in ("b", None):
            assert not _read(pg_url, other, lambda s: [e for e in s.audit_entries() if e["action"] == "digest:post"])
