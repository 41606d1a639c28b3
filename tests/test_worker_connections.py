"""What a worker's scan job does per connection (bot/jobs.py scan_targets, WorkerScans), in
this process against the sandbox over HTTP: the tick's list of connections, each connection
scanned with its own parts into its own store and channel, the parts kept until the
connection changes, a removed connection ending quietly, failing credentials ending in the
scan's own grouped alert. Real `qbsync worker` processes and many companies:
tests/test_workers_companies.py."""
from __future__ import annotations

import logging

import pytest

from bot import wiring
from bot.alerts import is_group
from bot.config import load_settings
from bot.connections import ConnectionRegistry
from bot.metrics import Metrics
from bot.jobs import DEFAULT_CONNECTION, WorkerScans, env_company_configured, scan_targets
from bot.store import Store
from bot.token_cipher import TokenCipher
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.ops.test_ops_endpoints import value
from tests.tenants import SECRET_KEY, connections_only, register

ACME_TEAM = "T0ACME0001"


@pytest.fixture
def sb():
    s = Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000).start()
    yield s
    s.stop()


def _settings(env: dict[str, str], tmp_path):
    return load_settings({**env, "QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"), "QBSYNC_SECRET_KEY": SECRET_KEY,
                          "QBSYNC_FIX_ALLOWED": "U0ALICE001"}, env_file=None)


def _scans(settings, store, **kw) -> WorkerScans:
    def build(s, main, connection):  # no pause between posts: the test is about where they go
        return wiring.build_for_connection(s, main, connection, post_interval=0)

    return WorkerScans(settings, store, interval_s=60, build=build, **kw)


def _parents(sb, channel: str) -> list:
    return [m for m in sb.slack.driver.transcript(channel) if not m.is_reply]


def _job_audits(store: Store) -> list[dict]:
    return [e for e in store.audit_entries() if e["action"] == "job:scan"]


def test_the_tick_scans_the_environment_company_when_configured_and_every_complete_connection(sb, tmp_path):
    sb.load("mixed")
    complete, half = sb.add_company("missing-customer", key="acme"), sb.add_company(key="half")
    single = _settings(sb.bot_environment(), tmp_path)
    store = Store(single.store_target)
    try:
        assert env_company_configured(single)
        assert scan_targets(single, store) == [DEFAULT_CONNECTION]  # a single company, as before
        register(store, complete, "acme")
        ConnectionRegistry(store).save("half", name="no QuickBooks yet", slack_team_id=half.team_id,
                                       slack_channel=half.channel)
        assert scan_targets(single, store) == [DEFAULT_CONNECTION, "acme"]  # "half" is not complete
        only = _settings(connections_only(sb.bot_environment()), tmp_path)
        assert not env_company_configured(only)
        assert scan_targets(only, store) == ["acme"]
    finally:
        store.close()


def test_each_connection_is_scanned_with_its_own_parts_into_its_own_store_and_channel(sb, tmp_path):
    sb.load("mixed")
    acme = sb.add_company("duplicate-doc-number", key="acme", team_id=ACME_TEAM)
    settings = _settings(sb.bot_environment(), tmp_path)
    main = Store(settings.store_target)
    try:
        register(main, acme, "acme")
        metrics = Metrics()
        scans = _scans(settings, main, metrics=metrics)
        assert scans(DEFAULT_CONNECTION).problem is None
        assert scans("acme").problem is None
        own = scans.parts_for("acme").store
        assert own is not main and own.connection == "acme"

        # Each channel holds its own company's alerts only, one parent per invoice.
        assert len(_parents(sb, ALERT_CHANNEL)) == 5 and len(_parents(sb, acme.channel)) == 2
        acme_alerts = [a for a in own.open_alerts() if not is_group(a)]
        assert {a["channel"] for a in acme_alerts} == {acme.channel}
        assert {a["key"] for a in acme_alerts}.isdisjoint(a["key"] for a in main.open_alerts())
        assert all(a["channel"] == ALERT_CHANNEL for a in main.open_alerts())
        # The acme posts went through acme's workspace's installation, not the default bot.
        assert {m.user for m in _parents(sb, acme.channel)} != {m.user for m in _parents(sb, ALERT_CHANNEL)}

        # The job's audit rows are in the connection's own store.
        [start, end] = _job_audits(own)
        assert (start["outcome"], end["outcome"], end["target"]) == ("started", "ok", "acme")
        assert [e["target"] for e in _job_audits(main)] == [DEFAULT_CONNECTION] * 2

        # Kept between jobs; built again (its old store closed) once the connection changes.
        assert scans.parts_for("acme") is scans.parts_for("acme")
        before = scans.parts_for("acme")
        ConnectionRegistry(main, cipher=TokenCipher(SECRET_KEY)).save("acme", name="Acme Inc.")
        after = scans.parts_for("acme")
        assert after is not before and after.store is not before.store
        assert scans("acme").problem is None
        assert len(_parents(sb, acme.channel)) == 2  # the rebuilt parts found them posted
        assert value(metrics.render().decode(), "qbsync_scans_total", outcome="ok") == 3  # every connection's passes
        scans.close()
    finally:
        main.close()


def test_a_removed_connection_ends_its_job_quietly(sb, tmp_path, caplog):
    acme = sb.add_company("missing-customer", key="acme")
    settings = _settings(connections_only(sb.bot_environment()), tmp_path)
    main = Store(settings.store_target)
    try:
        register(main, acme, "acme")
        scans = _scans(settings, main)
        assert scans("acme").problem is None
        ConnectionRegistry(main).remove("acme")
        with caplog.at_level(logging.INFO, logger="bot.jobs"):
            assert scans("acme") is None  # a job queued before the removal: no error, no retry
        assert "the connection was removed" in caplog.text
        assert scans._parts == {}
        assert not (tmp_path / "connections" / "acme.db").exists()  # nothing made again
    finally:
        main.close()


def test_failing_credentials_end_in_the_scans_own_grouped_alert_not_an_error(sb, tmp_path):
    broken = sb.add_company("missing-customer", key="broken")
    settings = _settings(connections_only(sb.bot_environment()), tmp_path)
    main = Store(settings.store_target)
    try:
        register(main, broken, "broken", qbo_tokens=False)  # QuickBooks never authorized
        scans = _scans(settings, main)
        for _ in range(2):
            assert scans("broken").problem == "qbo-auth"
        [parent] = _parents(sb, broken.channel)  # one grouped alert, not one per scan
        own = scans.parts_for("broken").store
        assert [e["outcome"] for e in _job_audits(own)] == ["started", "failed"] * 2

        # A HubSpot token the portal refuses (401): also the scan's one grouped alert.
        revoked = sb.add_company("missing-customer", key="revoked")
        register(main, revoked, "revoked")
        ConnectionRegistry(main, cipher=TokenCipher(SECRET_KEY)).set_hubspot_secret(
            "revoked", "private_app", {"token": "pat-na1-00000000-0000-0000-0000-000000000000"})
        assert scans("revoked").problem == "unknown"
        [grouped] = _parents(sb, revoked.channel)
        assert "Every invoice sync is affected" in grouped.text

        # A credential qbsync cannot use yet (HubSpot OAuth, bot/hubspot_oauth.py): the job
        # ends, said in the log and the main audit, and is not retried.
        ConnectionRegistry(main, cipher=TokenCipher(SECRET_KEY)).set_hubspot_secret(
            "broken", "oauth", {"refresh_token": "r"})
        assert scans("broken") is None
        [entry] = [e for e in _job_audits(main) if e["target"] == "broken"]
        assert entry["outcome"] == "failed" and "OAuth" in entry["detail"]["error"]
        scans.close()
    finally:
        main.close()


@pytest.mark.timeout(60)
def test_the_tick_picks_up_connections_added_and_removed_without_a_restart(pg_url):
    """A real Procrastinate worker in this process (interval 1 s; the setting's minimum is 30):
    the tick reads the connections at each tick, so a connection added while the worker runs
    is scanned, and one removed is no longer queued. No company in the environment: no
    "default" scans."""
    import time

    from bot.jobs import ScanJobs, ensure_schema
    from tests.test_jobs import _run_worker_until

    ensure_schema(pg_url)
    main = Store(pg_url)
    registry = ConnectionRegistry(main, cipher=TokenCipher(SECRET_KEY))

    def connect(cid: str) -> None:
        registry.save(cid, qbo_realm_id="1", slack_team_id="T0", slack_channel=f"C0{cid.upper()}")
        registry.set_hubspot_secret(cid, "private_app", {"token": "pat-na1-x"})

    calls: list[tuple[str, float]] = []
    removed_at: list[float] = []

    def step() -> bool:
        seen = {c for c, _ in calls}
        if seen == {"a"} and registry.get("b") is None:
            connect("b")
        elif "b" in seen and not removed_at:
            registry.remove("a")
            removed_at.append(time.time())
        return bool(removed_at) and sum(1 for c, t in calls if c == "b" and t > removed_at[0] + 2) >= 2

    try:
        connect("a")
        settings = load_settings({}, env_file=None)
        jobs = ScanJobs(pg_url, poll_interval_s=1, run_scan=lambda c: calls.append((c, time.time())),
                        connections=lambda: scan_targets(settings, main))
        _run_worker_until(jobs, step, timeout=40)
    finally:
        main.close()
    assert removed_at, calls
    assert {c for c, _ in calls} == {"a", "b"}  # never "default"
    assert [t for c, t in calls if c == "a" and t > removed_at[0] + 2] == []  # (one queued before may still run)
    assert sum(1 for c, t in calls if c == "b" and t > removed_at[0] + 2) >= 2


def test_two_jobs_of_one_connection_asking_at_once_get_the_same_parts_built_once(sb, tmp_path):
    """A fix job and a scan job of one connection may start together on a worker
    (concurrency 2, different locks): its parts are built once and shared, never built twice
    with the first build's store closed under the job using it (bot/jobs.py WorkerScans)."""
    import threading
    import time

    acme = sb.add_company("missing-customer", key="acme")
    settings = _settings(sb.bot_environment(), tmp_path)
    main = Store(settings.store_target)
    built, closed = [], []
    try:
        register(main, acme, "acme")

        def slow_build(s, m, connection):  # slow enough that both threads ask before it ends
            time.sleep(0.3)
            parts = wiring.build_for_connection(s, m, connection, post_interval=0)
            real_close = parts.store.close
            parts.store.close = lambda: (closed.append(parts), real_close())
            built.append(parts)
            return parts

        scans = WorkerScans(settings, main, interval_s=60, build=slow_build)
        got: list = []
        threads = [threading.Thread(target=lambda: got.append(scans.parts_for("acme"))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(got) == 2 and got[0] is got[1]
        assert len(built) == 1 and closed == []
        scans.close()
        assert closed == built
    finally:
        main.close()
