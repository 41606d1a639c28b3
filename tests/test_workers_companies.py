"""Ten companies on two real `qbsync worker` processes (PostgreSQL, bot/jobs.py): the periodic
tick scans every connection, each company's channel gets exactly its own alerts, and no
company is scanned twice at once while both workers share the work.

One sandbox serves the ten (Sandbox.add_company: own HubSpot portal and token, QBO realm,
Slack channel, half of them in a second workspace), each loaded with a different shipped
failing scenario and registered as a connection as the `qbsync connect` commands leave it
(tests/tenants.py). The workers' environment configures no company of its own."""
from __future__ import annotations

from collections import Counter

import pytest

from bot.alerts import is_group, parent_key
from bot.jobs import ensure_schema
from bot.slack.messages import parent_block_id
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.tenants import connections_only, register
from tests.workers import defer_scan, environment, job_rows, live_workers, scan_runs, wait, worker

# scenario -> parents its scan posts (one per failing invoice; measured with wiring.build)
SCENARIOS = {"books-closed": 1, "currency-mismatch": 1, "doc-number-too-long": 1, "duplicate-display-name": 2,
             "duplicate-doc-number": 2, "invalid-reference": 1, "missing-customer": 1, "mixed": 5,
             "native-invoice-modified": 1, "tax-code-required": 1}
SECOND_TEAM = "T0ACME0001"


def _own_alerts(pg_url: str, connection: str) -> list[dict]:
    store = Store(pg_url, connection=connection)
    try:
        return [a for a in store.open_alerts() if not is_group(a)]
    finally:
        store.close()


def _ok_runs(pg_url: str, connection: str) -> int:
    return sum(1 for r in scan_runs(pg_url, connection) if r.outcome == "ok")


@pytest.mark.timeout(120)
def test_ten_companies_on_two_workers_each_channel_gets_its_own_alerts(tmp_path, pg_url):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000) as sb:
        ids, companies, expected = [], {}, {}
        main = Store(pg_url)
        try:
            for i, (scenario, count) in enumerate(SCENARIOS.items()):
                cid = f"co-{i}"
                company = sb.add_company(scenario, key=cid, team_id=SECOND_TEAM if i % 2 else None)
                register(main, company, cid)
                ids.append(cid)
                companies[cid], expected[cid] = company, count
        finally:
            main.close()
        # QBSYNC_POLL_INTERVAL's minimum: the tick fires at :00 and :30 of every minute.
        env = connections_only(environment(sb, pg_url), QBSYNC_POLL_INTERVAL="30")
        ensure_schema(pg_url)
        a, b = worker(env, tmp_path, "a"), worker(env, tmp_path, "b")
        procs = (a, b)
        try:
            wait(lambda: live_workers(pg_url) == 2, 30, "two workers", procs)
            # Nothing is queued by the test: the periodic tick defers a scan of every connection.
            wait(lambda: {j["lock"] for j in job_rows(pg_url).values()} >= {f"scan:{c}" for c in ids}, 45,
                 "the tick's scans of all ten connections", procs)
            assert job_rows(pg_url, "qbsync.tick")
            # A second scan of each, queued while the first may still run (as /qbsync scan
            # would): the per-connection lock makes it wait for the first.
            for cid in ids:
                defer_scan(pg_url, cid)
            wait(lambda: all(_ok_runs(pg_url, c) >= 2 for c in ids), 60, "two scans of every company", procs)
            wait(lambda: all(j["status"] != "doing" for j in job_rows(pg_url).values()), 20, "scans done", procs)
        finally:
            codes = [p.stop() for p in procs]
        assert codes == [0, 0], "\n".join(p.log() for p in procs)

        jobs = job_rows(pg_url)
        assert {j["lock"] for j in jobs.values()} == {f"scan:{c}" for c in ids}  # no "default": none configured
        # (a tick at :00 or :30 may have queued more meanwhile: waiting, never failed)
        assert {j["status"] for j in jobs.values()} <= {"succeeded", "todo"}
        actors: set[str] = set()
        for cid in ids:
            runs = sorted(scan_runs(pg_url, cid), key=lambda r: r.started)
            assert len(runs) >= 2 and all(r.outcome == "ok" for r in runs), (cid, runs)
            for one, two in zip(runs, runs[1:], strict=False):
                assert one.ended is not None and two.started >= one.ended, cid  # never at once
            actors |= {r.actor for r in runs}
        assert actors == {f"worker:{a.pid}", f"worker:{b.pid}"}  # both workers scanned

        # Each channel: exactly its own company's parents, one per failing invoice.
        bots = {}
        for cid in ids:
            company = companies[cid]
            alerts = _own_alerts(pg_url, cid)
            keys = {parent_key(x) for x in alerts}
            assert len(keys) == expected[cid], cid
            assert {x["channel"] for x in alerts} == {company.channel}
            posted = [m for m in sb.slack.driver.transcript(company.channel) if not m.is_reply]
            assert len(posted) == expected[cid], cid
            blocks = Counter((m.blocks or [{}])[0].get("block_id") for m in posted)
            assert all(blocks[parent_block_id(k)] == 1 for k in keys), cid
            numbers = {x["invoice_number"] for x in alerts}
            assert all(any(n in m.text for n in numbers) for m in posted), cid
            bots.setdefault(company.team_id, set()).update(m.user for m in posted)
        assert len(bots) == 2 and all(len(users) == 1 for users in bots.values())  # each workspace's own bot
        assert len(set().union(*bots.values())) == 2
        assert [m for m in sb.slack.driver.transcript(ALERT_CHANNEL)] == []  # the sandbox's own company: not connected
