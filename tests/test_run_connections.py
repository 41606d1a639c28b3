"""`qbsync run` on SQLite with connections (bot/runner.py scan_connections): each scheduled
round scans the company from the environment as before, then every complete connection in
turn, each into its own store and channel; a second round posts nothing twice; a connection's
scan and a `/qbsync scan` of the same company share one lock (bot/scan_guard.py). In this
process: the real BotRunner over Socket Mode against the sandbox, as
tests/ops/test_ops_endpoints.py runs it."""
from __future__ import annotations

import threading
import time

from bot import wiring
from bot.alerts import is_group
from bot.config import load_settings
from bot.connections import ConnectionRegistry
from bot.runner import BotRunner
from bot.scan_guard import lock_for
from bot.store import Store
from handlers.services import Services
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.tenants import SECRET_KEY, register


def _parents(sb, channel: str) -> list:
    return [m for m in sb.slack.driver.transcript(channel) if not m.is_reply]


def _runs(main_path: str, connection: str) -> list[dict]:
    store = Store(main_path, connection=connection)
    try:
        return [e for e in store.audit_entries() if e["action"] == "job:scan" and e["outcome"] != "started"]
    finally:
        store.close()


def test_run_on_sqlite_scans_the_environment_company_then_each_connection_in_turn(tmp_path):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000) as sb:
        sb.load("mixed")
        acme = sb.add_company("duplicate-doc-number", key="acme", team_id="T0ACME0001")
        globex = sb.add_company("missing-customer", key="globex")
        half = sb.add_company("books-closed", key="half")
        env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"), "QBSYNC_SECRET_KEY": SECRET_KEY,
                                      "QBSYNC_FIX_ALLOWED": "U0ALICE001", "QBSYNC_POLL_INTERVAL": "60"}
        settings = load_settings(env, env_file=None)
        parts = wiring.build(settings, post_interval=0)
        register(parts.store, acme, "acme")
        register(parts.store, globex, "globex")
        ConnectionRegistry(parts.store).save("half", slack_team_id=half.team_id, slack_channel=half.channel)
        main = str(parts.store.main_path)
        runner = BotRunner(parts, ops_port=0, connection_build_options={"post_interval": 0}).start()
        try:
            deadline = time.time() + 40
            while not (_runs(main, "acme") and _runs(main, "globex")) and time.time() < deadline:
                time.sleep(0.1)
            assert runner.scans == 1  # the environment company's scan, as before
            assert [e["outcome"] for e in _runs(main, "acme") + _runs(main, "globex")] == ["ok", "ok"]
            assert _runs(main, "acme")[0]["actor"].startswith("run:")
            assert len(_parents(sb, ALERT_CHANNEL)) == 5
            assert len(_parents(sb, acme.channel)) == 2 and len(_parents(sb, globex.channel)) == 1
            assert _parents(sb, half.channel) == []  # not fully connected: not scanned
            for cid, company in (("acme", acme), ("globex", globex)):
                own = Store(main, connection=cid)
                try:
                    assert {a["channel"] for a in own.open_alerts() if not is_group(a)} == {company.channel}
                finally:
                    own.close()
            assert all(a["channel"] == ALERT_CHANNEL for a in parts.store.open_alerts())

            # Another round: nothing posted twice.
            assert runner.scan_connections() == 2
            assert len(_parents(sb, acme.channel)) == 2 and len(_parents(sb, globex.channel)) == 1
            assert len(_runs(main, "acme")) == 2

            # `/qbsync scan` of acme (Services on acme's own parts, as the Slack side builds
            # them) and the round's scan of acme take one lock: never both at once.
            acme_parts = runner._connection_scans.parts_for("acme")
            slack_side = Services(wiring.build_for_connection(settings, parts.store, "acme", post_interval=0))
            try:
                assert slack_side.scan_lock is lock_for(acme_parts.store)
                assert slack_side.scan_lock is not lock_for(parts.store)
                with slack_side.scan_lock:
                    assert slack_side.run_scan() is None  # held (as a round holds it): not run
                    round_ = threading.Thread(target=runner.scan_connections)
                    round_.start()
                    time.sleep(1.0)
                    assert len(_runs(main, "acme")) == 2  # waiting for the lock
                round_.join(20)
                assert len(_runs(main, "acme")) == 3
            finally:
                slack_side.close()
                slack_side.store.close()
        finally:
            runner.stop()
