"""`qbsync connect hubspot --service-key`, `connect slack` and `connect quickbooks` for a
connection, run as processes against the sandbox (no browser: the consent pages are driven in
headless Chromium by tests/e2e/test_connect_browser.py). One company is connected all the way,
then built and read like a worker does (bot/wiring.build_for_connection)."""
from __future__ import annotations

import pytest
import requests

from bot.config import load_settings
from bot.connect_hubspot import read_service_key
from bot.connect_slack import connect_slack
from bot.connections import ConnectionProblem, ConnectionRegistry
from bot.errors import ApiError, ConfigError
from bot.slack_oauth_store import SlackInstallationStore
from bot.store import Store
from bot.token_cipher import TokenCipher
from bot.wiring import build_for_connection
from sandbox.app import Sandbox
from sandbox.slack_workspace import BOT_TOKEN, TEAM_ID

from .connect_cli import SECRET_KEY, connect_env, run_connect


@pytest.fixture
def sb():
    s = Sandbox().start()
    yield s
    s.stop()


def registry(db) -> ConnectionRegistry:
    return ConnectionRegistry(Store(db), cipher=TokenCipher(SECRET_KEY))


def test_service_key_is_checked_and_stored_sealed(sb, tmp_path):
    company = sb.add_company(key="acme")
    db = tmp_path / "q.db"
    env = connect_env(sb, db, HUBSPOT_SERVICE_KEY=company.hubspot_service_key)
    url, rc, out, err = run_connect(["hubspot", "--connection", "acme", "--service-key"], env, tmp_path)
    assert rc == 0, err
    assert f"Connected HubSpot portal {company.portal_id} to connection acme with a Service Key" in out
    assert "sealed with QBSYNC_SECRET_KEY" in out and "still needs: quickbooks, slack" in out
    assert company.hubspot_service_key not in out + err
    reg = registry(db)
    conn = reg.require("acme")
    assert (conn.hubspot_auth, conn.hubspot_portal_id) == ("service_key", str(company.portal_id))
    assert reg.hubspot_secret("acme") == {"token": company.hubspot_service_key}
    raw = reg.store.query_rows("SELECT hubspot_secret FROM connections")[0]["hubspot_secret"]
    assert raw.startswith("fernet:") and company.hubspot_service_key not in raw


def test_a_key_hubspot_refuses_saves_nothing(sb, tmp_path):
    db = tmp_path / "q.db"
    env = connect_env(sb, db, HUBSPOT_SERVICE_KEY="CiRub3QtYS1yZWFsLWtleQ")
    url, rc, out, err = run_connect(["hubspot", "--connection", "acme", "--service-key"], env, tmp_path)
    assert rc == 1 and "did not accept the Service Key" in err and "Traceback" not in err
    assert "CiRub3QtYS1yZWFsLWtleQ" not in out + err
    assert registry(db).get("acme") is None


def test_the_key_never_comes_from_the_command_line(sb, tmp_path):
    env = connect_env(sb, tmp_path / "q.db")
    url, rc, out, err = run_connect(["hubspot", "--connection", "acme", "--service-key", "CiRzZWNyZXQ"],
                                    env, tmp_path)
    assert rc == 2 and "unrecognized arguments" in err
    # Without HUBSPOT_SERVICE_KEY and without a terminal to type it in: a clear refusal.
    url, rc, out, err = run_connect(["hubspot", "--connection", "acme", "--service-key"], env, tmp_path)
    assert rc == 2 and "HUBSPOT_SERVICE_KEY" in err
    # With a terminal: typed at a prompt that does not echo (getpass).
    asked = []
    assert read_service_key({}, prompt=lambda text: asked.append(text) or " CiRzZWNyZXQ ") == "CiRzZWNyZXQ"
    assert asked and "not shown" in asked[0]
    with pytest.raises(ConfigError):
        read_service_key({}, prompt=lambda text: "")


def test_oauth_needs_the_hubspot_app(sb, tmp_path):
    env = connect_env(sb, tmp_path / "q.db")
    del env["HUBSPOT_CLIENT_SECRET"]
    url, rc, out, err = run_connect(["hubspot", "--connection", "acme", "--no-browser"], env, tmp_path)
    assert rc == 2 and "HUBSPOT_CLIENT_SECRET is missing" in err and "--service-key" in err
    # A malformed redirect URI is named, not replaced by the default.
    env.update(HUBSPOT_CLIENT_SECRET="x", HUBSPOT_REDIRECT_URI="localhost:8766/cb")
    url, rc, out, err = run_connect(["hubspot", "--connection", "acme", "--no-browser"], env, tmp_path)
    assert rc == 2 and "HUBSPOT_REDIRECT_URI" in err


def test_slack_binding_checks_the_channel(sb, tmp_path):
    mine = sb.add_company(key="acme")                       # a channel in the default workspace
    other = sb.add_company(key="beta", team_id="T0BETA0001")  # a channel of another workspace
    sb.slack.workspace.add_channel("C0NOBOT001", "no-bot", members=["U0ALICE001"], team_id=TEAM_ID)
    db = tmp_path / "q.db"
    env = connect_env(sb, db, SLACK_BOT_TOKEN=BOT_TOKEN)
    settings = load_settings(env, env_file=None)

    url, rc, out, err = run_connect(["slack", "--connection", "acme", "--channel", mine.channel], env, tmp_path)
    assert rc == 0, err
    assert f"go to channel {mine.channel} of workspace {TEAM_ID}" in out
    assert "still needs: hubspot, quickbooks" in out
    conn = registry(db).require("acme")
    assert (conn.slack_team_id, conn.slack_channel) == (TEAM_ID, mine.channel)

    # Channels the bot cannot post in are refused, and nothing is saved.
    with pytest.raises(ApiError, match="channel_not_found"):
        connect_slack(settings, Store(db), "beta", other.channel)        # another workspace's
    with pytest.raises(ApiError, match="not_in_channel.*/invite @qbsync"):
        connect_slack(settings, Store(db), "beta", "C0NOBOT001")         # the bot is not in it
    with pytest.raises(ConnectionProblem, match="already belongs to connection 'acme'"):
        connect_slack(settings, Store(db), "beta", mine.channel)         # another connection's
    with pytest.raises(ConfigError):
        connect_slack(settings, Store(db), "beta", "#general")            # a name, not an id
    # The env company's channel (the bot can read it): a connection there would take it over.
    with_env_company = load_settings(env | {"QBSYNC_ALERT_CHANNEL": "C0ALERTS01"}, env_file=None)
    with pytest.raises(ConnectionProblem, match="belongs to the company configured from the environment"):
        connect_slack(with_env_company, Store(db), "beta", "C0ALERTS01")
    assert registry(db).get("beta") is None

    # A workspace qbsync is not installed in: the Add to Slack link, nothing saved.
    url, rc, out, err = run_connect(["slack", "--connection", "beta", "--channel", other.channel,
                                     "--team", "T0BETA0001"], env, tmp_path)
    assert rc == 1 and "not installed in Slack workspace T0BETA0001" in err and "/slack/install" in err
    assert registry(db).get("beta") is None

    # Once it is installed there (Add to Slack stored its bot token), the binding works.
    from slack_sdk.oauth.installation_store import Bot

    SlackInstallationStore(Store(db), cipher=TokenCipher(SECRET_KEY)).save_bot(Bot(
        team_id="T0BETA0001", bot_token=other.slack_bot_token, bot_id="B0BETA", bot_user_id="U0BETABOT",
        installed_at=0.0))
    conn = connect_slack(settings, Store(db), "beta", other.channel, "T0BETA0001").connection
    assert (conn.slack_team_id, conn.slack_channel) == ("T0BETA0001", other.channel)


def test_one_company_connected_all_the_way(sb, tmp_path):
    company = sb.add_company("mixed", key="acme")
    db = tmp_path / "q.db"
    env = connect_env(sb, db, SLACK_BOT_TOKEN=BOT_TOKEN, HUBSPOT_SERVICE_KEY=company.hubspot_service_key,
                      QBO_REALM_ID=sb.realm_id)   # the env company's realm: --connection must not touch it
    rc = run_connect(["hubspot", "--connection", "acme", "--service-key"], env, tmp_path)[1]
    assert rc == 0
    # QuickBooks: the stand-in consents at once when no consent page is switched on.
    sb.qbo_service.registry.consent_realms = None
    sb.qbo_service.registry._realm_source = lambda: company.realm_id
    url, rc, out, err = run_connect(["quickbooks", "--connection", "acme", "--no-browser"], env, tmp_path,
                                    visit=lambda u: requests.get(u, timeout=10).raise_for_status())
    assert rc == 0, err
    assert "QBO_REALM_ID=" not in out          # nothing for the environment's configuration
    url, rc, out, err = run_connect(["slack", "--connection", "acme", "--channel", company.channel], env, tmp_path)
    assert rc == 0, err
    assert (f"Connection acme is complete: HubSpot portal {company.portal_id}, QuickBooks company "
            f"{company.realm_id}, Slack {TEAM_ID}/{company.channel}") in out
    assert Store(db).load_qbo_tokens(company.realm_id) is None

    # A worker builds the connection's parts: its portal, its company, its channel.
    settings = load_settings(env, env_file=None)
    main = Store(db)
    parts = build_for_connection(settings, main, "acme", qbo_options={"max_attempts": 1})
    assert parts.hubspot.account_details()["portal_id"] == company.portal_id
    assert parts.qbo.company_info()["CompanyName"] == company.scenario["qbo"]["company_name"]
    assert parts.settings.alert_channel == company.channel and parts.store.connection == "acme"
