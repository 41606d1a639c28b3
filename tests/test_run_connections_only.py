"""`qbsync run` as a real process with connections only (no company in the environment) on
SQLite: it starts without HUBSPOT_ACCESS_TOKEN, QBO_REALM_ID, QBO_REFRESH_TOKEN,
QBSYNC_ALERT_CHANNEL and QBSYNC_FIX_ALLOWED, scans the connection, posts its alerts in its
channel, answers `/qbsync status` there for it, and says "not connected" in any other channel,
also in the workspace of SLACK_BOT_TOKEN (there is no "default" company to fall back to).
Without connections, `run` still needs every setting it always did."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from bot.store import Store
from handlers.texts import t
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.tenants import ENV_COMPANY, connections_only, register

ALICE = "U0ALICE001"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("QBSYNC_", "SLACK_", "QBO_", "HUBSPOT_"))}


def _stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def _answer(driver, channel: str, text: str) -> str:
    before = len(driver.ephemerals(ALICE))
    delivery = driver.slash(ALICE, "/qbsync", text, channel=channel)
    assert delivery.acked and delivery.in_time
    driver.wait_for(lambda: len(driver.ephemerals(ALICE)) > before, timeout=15)
    return driver.ephemerals(ALICE)[before].text


def test_run_with_connections_only_scans_the_connection_and_answers_only_in_its_channel(tmp_path):
    with Sandbox(slack_post_rate_per_s=50, slack_post_burst=50) as sb:
        acme = sb.add_company("duplicate-doc-number", key="acme")  # in SLACK_BOT_TOKEN's workspace
        db = tmp_path / "qbsync.db"
        main = Store(str(db))
        try:
            register(main, acme, "acme")
        finally:
            main.close()
        env = connections_only(_clean_env() | sb.bot_environment(),
                               QBSYNC_DB_PATH=str(db), QBSYNC_POLL_INTERVAL="30")
        assert not set(ENV_COMPANY) & set(env) and "QBSYNC_FIX_ALLOWED" not in env
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            driver = sb.slack.driver
            parents = lambda ch: [m for m in driver.transcript(ch) if not m.is_reply]  # noqa: E731
            deadline = time.time() + 40
            while time.time() < deadline and len(parents(acme.channel)) < 2 and proc.poll() is None:
                time.sleep(0.1)
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert sorted(m.text.split(" ")[0] for m in parents(acme.channel)) == ["INV-1001", "INV-1002"]
            assert parents(ALERT_CHANNEL) == []  # no company of its own: nothing posted there

            status = _answer(driver, acme.channel, "status")
            assert "`duplicate-doc-number`" in status, status
            # The sandbox's own channel, in the bot token's workspace: no connection, no default.
            assert _answer(driver, ALERT_CHANNEL, "status") == t("en", "not_connected", channel=ALERT_CHANNEL)
        finally:
            out, err = _stop(proc)
        assert proc.returncode == 0, err[-2000:]
        for secret in (env["SLACK_BOT_TOKEN"], env["QBO_CLIENT_SECRET"], acme.hubspot_token):
            assert secret not in out + err
    # The round is recorded in the main store, so a restart waits for the rest of the interval.
    main = Store(str(db))
    try:
        finished = float(main.get_cursor("scan.last_finished_at") or 0)
    finally:
        main.close()
    assert time.time() - 60 < finished <= time.time()


def _run_refused(tmp_path, env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    return proc.stdout + proc.stderr


def test_run_requirements_with_and_without_connections(tmp_path):
    with Sandbox() as sb:
        acme = sb.add_company(None, key="acme")
        db = tmp_path / "qbsync.db"
        base = connections_only(_clean_env() | sb.bot_environment(), QBSYNC_DB_PATH=str(db))
        base.pop("SLACK_APP_TOKEN")
        # No connections, no company in the environment: every `run` setting, as always.
        said = _run_refused(tmp_path, base)
        for env_name in ("HUBSPOT_ACCESS_TOKEN", "QBO_REALM_ID", "QBSYNC_ALERT_CHANNEL", "QBSYNC_FIX_ALLOWED",
                         "SLACK_APP_TOKEN"):
            assert env_name in said, said
        main = Store(str(db))
        try:
            register(main, acme, "acme", qbo_tokens=False)
        finally:
            main.close()
        # With a connection: only the Slack app's own settings (here Socket Mode's app token).
        said = _run_refused(tmp_path, base)
        assert "SLACK_APP_TOKEN" in said, said
        for env_name in ("HUBSPOT_ACCESS_TOKEN", "QBO_REALM_ID", "QBSYNC_ALERT_CHANNEL", "QBSYNC_FIX_ALLOWED"):
            assert env_name not in said, said
