"""`qbsync doctor --connection ID` (bot/doctor_connections.py) against the sandbox over real
HTTP: a connection's HubSpot credential (an expired OAuth access token is renewed first, a
refused refresh is a FAIL row), the QBO token chain in its own store, its alert channel with
its workspace's bot token, and what it still lacks; plain `qbsync doctor` adds one line per
connection and, with connections only, does not ask for an environment company."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest

from bot.config import load_settings
from bot.connections import ConnectionRegistry
from bot.doctor import FAIL, OK, run_doctor
from bot.doctor_connections import collect_connection
from bot.store import Store
from bot.token_cipher import TokenCipher
from sandbox.app import Sandbox
from tests.tenants import SECRET_KEY, connections_only, register

from .connect_cli import connect_env
from .test_hubspot_oauth import grant_code


@pytest.fixture
def sb():
    s = Sandbox().start()
    yield s
    s.stop()


def rows_by_check(rows) -> dict[str, tuple[str, str]]:
    return {r.check: (r.status, r.detail) for r in rows}


def test_doctor_checks_one_connection_with_its_own_credentials_and_store(sb, tmp_path):
    acme = sb.add_company("duplicate-doc-number", key="acme", team_id="T0ACME0001")  # its own workspace
    bare = sb.add_company(None, key="bare")
    env = connections_only(sb.bot_environment(), QBSYNC_DB_PATH=str(tmp_path / "q.db"))
    settings = load_settings(env, env_file=None)
    main_store = Store(settings.store_target)
    register(main_store, acme, "acme")
    register(main_store, bare, "bare", qbo_tokens=False)
    ConnectionRegistry(main_store).save("half", name="Half BV", slack_team_id=acme.team_id, slack_channel="C0HALF0001")
    main_store.close()

    ok = rows_by_check(collect_connection(settings, "acme", timeout=5))
    assert ok["connection acme"][0] == OK and acme.realm_id in ok["connection acme"][1]
    # Slack with the token of acme's own workspace (not SLACK_BOT_TOKEN's), in acme's channel.
    assert ok["slack auth.test"] == (OK, ok["slack auth.test"][1]) and acme.team_id in ok["slack auth.test"][1]
    assert ok[f"slack channel {acme.channel}"][0] == OK
    assert ok["hubspot token"] == (OK, f"account {acme.portal_id}")
    assert ok["qbo company"][0] == OK and ok["qbo refresh token"][0] == OK
    assert all(status != FAIL for status, _ in ok.values()), ok

    # No QBO tokens in bare's own store: that row fails, with the way to fix it.
    bare_rows = rows_by_check(collect_connection(settings, "bare", timeout=5))
    assert bare_rows["qbo company"][0] == FAIL
    assert "`qbsync connect quickbooks --connection bare`" in bare_rows["qbo company"][1]
    assert bare_rows["hubspot token"] == (OK, f"account {bare.portal_id}")

    half = rows_by_check(collect_connection(settings, "half", timeout=5))
    assert half["connection half"] == (FAIL, "not fully connected: missing hubspot, quickbooks "
                                             "(qbsync connect hubspot --connection half)")
    assert half["hubspot token"][0] != OK and half["qbo company"][0] != OK
    assert rows_by_check(collect_connection(settings, "nope", timeout=5))["connection nope"][0] == FAIL

    # Plain doctor: connections only, so the environment company is not asked for; one line
    # per connection, nothing secret.
    out = io.StringIO()
    assert run_doctor(settings, out=out, timeout=5) == 0
    text = out.getvalue()
    assert "HUBSPOT_ACCESS_TOKEN is missing" not in text and "QBSYNC_ALERT_CHANNEL is missing" not in text
    assert "  acme (Company acme): complete (qbsync doctor --connection acme checks it)\n" in text
    assert "  half (Half BV): missing hubspot, quickbooks (qbsync connect hubspot --connection half)\n" in text
    for secret in (acme.hubspot_token, acme.slack_bot_token, env["SLACK_BOT_TOKEN"]):
        assert secret not in text


def test_doctor_fails_a_route_into_another_workspace(sb, tmp_path):
    """A route saved before `qbsync connections set` checked routes (or a channel that moved):
    doctor reads it with the connection's own workspace token and names it."""
    acme = sb.add_company("duplicate-doc-number", key="acme", team_id="T0ACME0001")
    other = sb.add_company(None, key="other")  # a channel of the default workspace
    env = connections_only(sb.bot_environment(), QBSYNC_DB_PATH=str(tmp_path / "q.db"))
    settings = load_settings(env, env_file=None)
    main_store = Store(settings.store_target)
    register(main_store, acme, "acme", overrides={"QBSYNC_ROUTES": f"duplicate-doc-number={other.channel}"})
    main_store.close()
    rows = rows_by_check(collect_connection(settings, "acme", timeout=5))
    assert rows["slack routes"][0] == OK and other.channel in rows["slack routes"][1]
    status, detail = rows[f"slack channel {other.channel}"]
    assert status == FAIL and detail.startswith("channel_not_found") and "duplicate-doc-number" in detail
    assert rows[f"slack channel {acme.channel}"][0] == OK


def test_doctor_renews_an_expired_oauth_token_and_reports_a_refused_one(sb, tmp_path):
    from bot import hubspot_oauth

    company = sb.add_company("duplicate-doc-number", key="acme")
    env = connect_env(sb, tmp_path / "q.db", QBSYNC_SECRET_KEY=SECRET_KEY)  # the key tests/tenants.py seals with
    env.update({k: v for k, v in sb.bot_environment().items() if k.startswith("SLACK_")})
    settings = load_settings(env, env_file=None)
    # As `qbsync connect hubspot` leaves it, its access token expired an hour ago.
    tokens = hubspot_oauth.exchange_code(settings, grant_code(sb, settings, company.portal_id),
                                         clock=lambda: time.time() - 3600)
    main_store = Store(settings.store_target)
    register(main_store, company, "acme")
    registry = ConnectionRegistry(main_store, cipher=TokenCipher(SECRET_KEY))
    registry.set_hubspot_secret("acme", "oauth", tokens, portal_id=str(company.portal_id))
    registry.save("broken", qbo_realm_id=company.realm_id, slack_team_id=company.team_id,
                  slack_channel="C0BROKEN01")
    registry.set_hubspot_secret("broken", "oauth", {"refresh_token": "not-a-token"})
    main_store.close()

    before = sb.hubspot_oauth.refresh_count
    rows = rows_by_check(collect_connection(settings, "acme", timeout=5))
    assert sb.hubspot_oauth.refresh_count == before + 1
    assert rows["hubspot token"][0] == OK and "hubspot credential" not in rows
    main_store = Store(settings.store_target)
    try:  # the renewed token was kept, as a scan keeps it
        renewed = ConnectionRegistry(main_store, cipher=TokenCipher(SECRET_KEY)).hubspot_secret("acme")
    finally:
        main_store.close()
    assert renewed["access_token"] != tokens["access_token"]

    # Through the command line: a refresh HubSpot refuses is a FAIL row naming the way back.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QBSYNC_", "SLACK_", "QBO_", "HUBSPOT_"))}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "doctor", "--connection", "broken", "--timeout", "5"],
                          cwd=tmp_path, env=clean | env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr[-2000:]
    [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith("hubspot credential")]
    assert "FAIL" in line and "qbsync connect hubspot --connection broken" in line
    assert "not-a-token" not in proc.stdout + proc.stderr
