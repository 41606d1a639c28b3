"""`qbsync run` as a real process of a hosted install: PostgreSQL, HTTP mode, Add to Slack, and
no company in the environment (not even SLACK_BOT_TOKEN) and no connection yet. It starts; a
connection added while it runs answers `/qbsync status` in its channel; another channel of the
same workspace is "not connected"; a workspace that never installed the app is refused by the
HTTP guard (401) now that there is no home workspace."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from bot.store import Store
from handlers.texts import t
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.connect_cli import free_port
from tests.tenants import connections_only, register

ACME, ANNA = "T0ACME0001", "U0ANNA0001"
CLIENT_ID, CLIENT_SECRET = "4242.8484", "sandbox-slack-client-secret-0000"
FREE_CHANNEL = "C0ACMEFREE1"


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(proc.communicate(timeout=10)[1][-2000:] if proc.poll() is not None else "not listening")


def _answer(driver, user: str, channel: str, text: str) -> str:
    before = len(driver.ephemerals(user))
    delivery = driver.slash(user, "/qbsync", text, channel=channel)
    assert delivery.acked and delivery.in_time, (delivery.status, delivery.elapsed_s)
    driver.wait_for(lambda: len(driver.ephemerals(user)) > before, timeout=15)
    return driver.ephemerals(user)[before].text


def test_hosted_run_on_postgresql_answers_only_in_connections_channels(tmp_path, pg_url):
    with Sandbox(slack_post_rate_per_s=50, slack_post_burst=50) as sb:
        ws = sb.slack.workspace
        ws.add_team(ACME, "Acme Books", installer=ANNA, installer_name="anna")
        sb.slack.oauth.register_client(CLIENT_ID, CLIENT_SECRET, ["http://127.0.0.1/slack/oauth_redirect"])
        acme = sb.add_company(None, key="acme", team_id=ACME)
        ws.add_channel(FREE_CHANNEL, "general", members=[ANNA, ws.teams[ACME].bot_user_id], team_id=ACME)
        port = free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("QBSYNC_", "SLACK_", "QBO_", "HUBSPOT_"))}
        env = connections_only(clean | sb.bot_environment(), QBSYNC_DATABASE_URL=pg_url,
                               QBSYNC_SLACK_TRANSPORT="http", QBSYNC_HTTP_PORT=str(port),
                               SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET,
                               QBSYNC_SLACK_AUTHORIZE_URL=sb.slack.authorize_url)
        for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
            env.pop(name)
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_listening(port, proc)
            main = Store(pg_url)
            try:  # as `qbsync connect ... --connection acme` and Add to Slack leave it
                register(main, acme, "acme")
            finally:
                main.close()
            driver = sb.slack.driver
            driver.use_http(f"http://127.0.0.1:{port}/slack/events")

            status = _answer(driver, ANNA, acme.channel, "status")
            # Acme's own store answers: its QuickBooks token chain (seeded by register) is there.
            assert t("en", "qbo_days", days=99) in status or t("en", "qbo_days", days=100) in status, status
            assert _answer(driver, ANNA, FREE_CHANNEL, "status") == t("en", "not_connected", channel=FREE_CHANNEL)
            # The sandbox's own workspace never installed the app and there is no SLACK_BOT_TOKEN.
            refused = driver.slash("U0ALICE001", "/qbsync", "status", channel=ALERT_CHANNEL)
            assert refused.status == 401
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
        assert proc.returncode == 0, err[-2000:]
        for secret in (CLIENT_SECRET, env["QBO_CLIENT_SECRET"], acme.hubspot_token, acme.slack_bot_token):
            assert secret not in out + err
