"""bot/config.py: parsing, validation (every problem at once), .env precedence, secret
masking, per-command requirements, and the docs generated from the settings table."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import (SETTINGS, Settings, env_example, load_settings, markdown_table,
                        parse_settings)
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

BOT = "xoxb-1111-2222-abcdefghijklmnop"
APP = "xapp-1-A0123-3333-deadbeefcafe"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
HUBSPOT = "pat-na1-11111111-2222-3333-4444-555555555555"
QBO_SECRET = "qbo-client-secret-value-xyz"
QBO_REFRESH = "AB11800000000abcdefghijklmnopqrstuvwxyz"

FULL = {
    "SLACK_BOT_TOKEN": BOT,
    "SLACK_APP_TOKEN": APP,
    "SLACK_SIGNING_SECRET": SIGNING,
    "QBSYNC_ALERT_CHANNEL": "C0123ABCD",
    "QBSYNC_SLACK_TRANSPORT": "HTTP",
    "QBSYNC_HTTP_PORT": "8080",
    "HUBSPOT_ACCESS_TOKEN": HUBSPOT,
    "QBSYNC_HUBSPOT_SOURCE_PROPERTY": "hs_source_x",
    "QBO_CLIENT_ID": "ABclientid123",
    "QBO_CLIENT_SECRET": QBO_SECRET,
    "QBO_REALM_ID": "9341453189012345",
    "QBO_REFRESH_TOKEN": QBO_REFRESH,
    "QBO_ENVIRONMENT": "Production",
    "QBO_REDIRECT_URI": "http://localhost:9999/cb",
    "QBSYNC_POLL_INTERVAL": "60",
    "QBSYNC_GRACE_MINUTES": "0",
    "QBSYNC_FIX_TIMEOUT": "900",
    "QBSYNC_FIX_ALLOWED": " U0123ABCD, W0456EFGH ,S0789IJKL,,U0123ABCD",
    "QBSYNC_LANGUAGE": "NL",
    "QBSYNC_DB_PATH": "/var/lib/qbsync/q.db",
    "QBSYNC_LOG_LEVEL": "debug",
    "QBSYNC_HUBSPOT_API_BASE": "http://127.0.0.1:5001",
    "QBSYNC_QBO_API_BASE": "http://127.0.0.1:5002/v3",
    "QBSYNC_SLACK_API_BASE": "http://127.0.0.1:5003/api",
}
SECRETS = [BOT, APP, SIGNING, HUBSPOT, QBO_SECRET, QBO_REFRESH]


def load(env, **kw):
    return load_settings(env, env_file=None, **kw)


def test_table_and_dataclass_list_the_same_settings_in_order():
    names = [f.name for f in dataclasses.fields(Settings) if f.name != "invalid"]
    assert names == [s.name for s in SETTINGS]
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)
    # every field in the table has a default matching the dataclass default
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    for s in SETTINGS:
        if s.name == "hubspot_sync_sources":  # a list: the table holds its text, the field the parsed tuple
            assert defaults[s.name] == s.parse(s.default), s.name
        elif s.name not in ("fix_allowed", "view_allowed"):  # principals: ((), ())
            assert defaults[s.name] == s.default, s.name


def test_every_setting_parsed():
    s = load(FULL, require="run")
    assert s.slack_bot_token == BOT
    assert s.slack_app_token == APP
    assert s.slack_signing_secret == SIGNING
    assert s.alert_channel == "C0123ABCD"
    assert s.slack_transport == "http" and not s.socket_mode
    assert s.http_port == 8080
    assert s.hubspot_token == HUBSPOT
    assert s.hubspot_source_property == "hs_source_x"
    assert s.qbo_client_id == "ABclientid123"
    assert s.qbo_client_secret == QBO_SECRET
    assert s.qbo_realm_id == "9341453189012345"
    assert s.qbo_refresh_token == QBO_REFRESH
    assert s.qbo_environment == "production"
    assert s.qbo_redirect_uri == "http://localhost:9999/cb"
    assert s.poll_interval_s == 60
    assert s.grace_minutes == 0
    assert s.fix_timeout_s == 900
    assert s.fix_users == ("U0123ABCD", "W0456EFGH")  # de-duplicated, blanks ignored
    assert s.fix_usergroups == ("S0789IJKL",)
    assert s.language == "nl"
    assert s.db_path == "/var/lib/qbsync/q.db"
    assert s.log_level == "DEBUG"
    assert s.hubspot_api_base == "http://127.0.0.1:5001"
    assert s.qbo_api_base == "http://127.0.0.1:5002/v3"
    assert s.slack_api_base == "http://127.0.0.1:5003/api/"  # slack_sdk needs the slash
    assert s.invalid == ()


def test_defaults():
    s = load({})
    assert s.slack_transport == "socket" and s.socket_mode
    assert s.http_port == 3000
    assert s.qbo_environment == "sandbox"
    assert s.qbo_redirect_uri == "http://localhost:8765/callback"
    assert s.poll_interval_s == 300
    assert s.grace_minutes == 10
    assert s.fix_timeout_s == 600  # bot.fix_guard.FIX_TIMEOUT_S
    assert s.language == "en"
    assert s.db_path == "./qbsync.db"
    assert s.hubspot_source_property == "hs_invoice_source"
    assert s.fix_users == () and s.fix_usergroups == ()
    assert s.slack_bot_token is None and s.hubspot_api_base is None
    assert s.log_level == "INFO"


def test_four_different_problems_are_all_listed_at_once():
    env = dict(FULL,
               SLACK_BOT_TOKEN="xoxp-user-token-not-bot",   # wrong prefix
               QBO_REALM_ID="93414abc",                      # not digits
               QBSYNC_LANGUAGE="fr",                         # unsupported language
               QBSYNC_POLL_INTERVAL="10")                    # below the minimum
    env.pop("HUBSPOT_ACCESS_TOKEN")                          # and a fifth: missing
    with pytest.raises(ConfigError) as err:
        load(env, require="run")
    text = "\n".join(err.value.problems)
    for name in ("SLACK_BOT_TOKEN", "QBO_REALM_ID", "QBSYNC_LANGUAGE", "QBSYNC_POLL_INTERVAL",
                 "HUBSPOT_ACCESS_TOKEN"):
        assert name in text, name
    assert len(err.value.problems) == 5
    assert "xoxb-" in text and "digits" in text and "en, nl, es" in text and "at least 30" in text
    # a malformed secret is never echoed back
    assert "xoxp-user-token-not-bot" not in text


@pytest.mark.parametrize("env, needle", [
    ({"QBSYNC_ALERT_CHANNEL": "#alerts"}, "QBSYNC_ALERT_CHANNEL"),
    ({"QBSYNC_FIX_ALLOWED": "U0123ABCD,bob,C0123ABCD"}, "'bob', 'C0123ABCD'"),
    ({"QBSYNC_POLL_INTERVAL": "five"}, "whole number"),
    ({"QBSYNC_GRACE_MINUTES": "-1"}, "QBSYNC_GRACE_MINUTES"),
    ({"QBSYNC_FIX_TIMEOUT": "0"}, "QBSYNC_FIX_TIMEOUT"),
    ({"QBSYNC_HTTP_PORT": "70000"}, "between 1 and 65535"),
    ({"QBSYNC_SLACK_TRANSPORT": "websocket"}, "socket, http"),
    ({"QBO_ENVIRONMENT": "staging"}, "sandbox, production"),
    ({"HUBSPOT_ACCESS_TOKEN": "pat-na1-1111 2222"}, "without spaces"),
    ({"QBSYNC_HUBSPOT_SYNC_SOURCES": " , ,"}, "at least one value"),
    ({"SLACK_APP_TOKEN": "xoxb-123"}, "xapp-"),
    ({"QBSYNC_SLACK_API_BASE": "127.0.0.1:9/api"}, "http(s) URL"),
    ({"QBSYNC_LOG_LEVEL": "LOUD"}, "DEBUG"),
])
def test_malformed_values_are_named(env, needle):
    s = load(dict(FULL, **env))
    problems = [str(p) for p in s.problems_for("run")]
    assert len(problems) == 1 and needle in problems[0], problems


def test_requirements_depend_on_the_command():
    s = load({})
    run = {p.env for p in s.problems_for("run")}
    assert run == {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "QBSYNC_ALERT_CHANNEL", "HUBSPOT_ACCESS_TOKEN",
                   "QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REALM_ID", "QBSYNC_FIX_ALLOWED"}
    # QBO_REFRESH_TOKEN is optional: `connect quickbooks` stores the chain in the database
    assert {p.env for p in s.problems_for("connect")} == {"QBO_CLIENT_ID", "QBO_CLIENT_SECRET"}
    assert s.problems_for("doctor") == []  # doctor reports in its table instead
    # connect ignores malformed settings it does not use...
    s = load({"QBO_CLIENT_ID": "x", "QBO_CLIENT_SECRET": "y", "QBSYNC_LANGUAGE": "fr"})
    assert s.problems_for("connect") == []
    # ...but not the ones it uses
    s = load({"QBO_CLIENT_ID": "x", "QBO_CLIENT_SECRET": "y", "QBO_REDIRECT_URI": "nope"})
    assert [p.env for p in s.problems_for("connect")] == ["QBO_REDIRECT_URI"]
    with pytest.raises(ValueError):
        s.problems_for("demo")


def test_transport_decides_which_slack_secret_is_required():
    base = {k: v for k, v in FULL.items() if k not in ("SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")}
    http = load(dict(base, QBSYNC_SLACK_TRANSPORT="http"))
    assert [p.env for p in http.problems_for("run")] == ["SLACK_SIGNING_SECRET"]
    sock = load(dict(base, QBSYNC_SLACK_TRANSPORT="socket"))
    assert [p.env for p in sock.problems_for("run")] == ["SLACK_APP_TOKEN"]


def test_dotenv_fills_gaps_but_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\n"
        f"SLACK_BOT_TOKEN={BOT}\n"
        "QBSYNC_LANGUAGE=es\n"
        "QBSYNC_POLL_INTERVAL=120\n"
        "QBO_CLIENT_ID=from-file\n"
        "QBO_CLIENT_SECRET='se$cret ${NOT_INTERPOLATED}'\n")
    environ = {"QBSYNC_LANGUAGE": "nl", "QBO_CLIENT_ID": "", "UNRELATED": "x"}
    before = dict(environ)
    s = load_settings(environ, env_file=env_file)
    assert s.slack_bot_token == BOT               # only in .env
    assert s.language == "nl"                      # environment wins
    assert s.poll_interval_s == 120
    assert s.qbo_client_id == "from-file"          # an empty variable counts as missing
    assert environ == before                       # nothing written back
    # the secret's "${...}" is taken literally, and its space makes it malformed
    assert [p.env for p in s.invalid] == ["QBO_CLIENT_SECRET"]


def test_missing_env_file_is_fine(tmp_path):
    s = load_settings({"QBSYNC_LANGUAGE": "es"}, env_file=tmp_path / "nope.env")
    assert s.language == "es"


def test_os_environ_is_the_default_source(monkeypatch, tmp_path):
    monkeypatch.setenv("QBSYNC_GRACE_MINUTES", "42")
    monkeypatch.chdir(tmp_path)
    assert load_settings().grace_minutes == 42


def test_secrets_are_masked_in_repr_str_and_redacted():
    s = load(FULL)
    for text in (repr(s), str(s), str(s.redacted()), f"{s}"):
        for secret in SECRETS:
            assert secret not in text
    red = s.redacted()
    assert red["slack_bot_token"] == "xoxb-***"
    assert red["hubspot_token"] == "pat-***"
    assert red["qbo_client_secret"] == "***"
    assert red["qbo_realm_id"] == "9341453189012345"   # not a secret
    assert red["fix_allowed"] == "U0123ABCD,W0456EFGH,S0789IJKL"
    assert sorted(s.secret_values()) == sorted(SECRETS)
    # the problem list of a malformed secret does not echo it either
    bad = load(dict(FULL, SLACK_APP_TOKEN="xoxb-not-an-app-token-secret"))
    assert "xoxb-not-an-app-token-secret" not in repr(bad)
    assert "xoxb-not-an-app-token-secret" not in str(bad.problems_for("run"))


def test_settings_are_frozen():
    s = load(FULL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.slack_bot_token = "x"  # type: ignore[misc]


def test_any_hubspot_bearer_token_is_taken_and_masked_whatever_its_shape():
    """Service keys and project-based apps' tokens are not `pat-` shaped (HubSpot documents no
    shape for service keys): any one-word token is accepted, and masked whole."""
    key = "CiRzZXJ2aWNlLWtleS10ZXN0EgZuYTEtc2sYwMDe_Zb9Lw-Q2xHY7aBn"
    s = load(dict(FULL, HUBSPOT_ACCESS_TOKEN=key))
    assert s.problems_for("run") == [] and s.hubspot_token == key
    assert s.redacted()["hubspot_token"] == "***" and key in s.secret_values() and key not in repr(s)


def test_sync_sources_are_a_comma_separated_list():
    s = load(dict(FULL, QBSYNC_HUBSPOT_SYNC_SOURCES=" Data Sync , legacy_quickbooks_integration,,Data Sync"))
    assert s.hubspot_sync_sources == ("Data Sync", "legacy_quickbooks_integration")
    assert load(FULL).hubspot_sync_sources[0] == "data_sync"


def test_parse_settings_records_instead_of_raising():
    s = parse_settings({"QBSYNC_HTTP_PORT": "abc"})
    assert s.http_port == 3000 and [p.env for p in s.invalid] == ["QBSYNC_HTTP_PORT"]
    assert not s.is_set("http_port")


# ---- docs generated from the table must be what README.md and .env.example carry

def test_readme_configuration_table_matches_the_code():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "regenerate with: python -m bot.config --markdown"


def test_env_example_matches_the_code_and_holds_no_secrets():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert text == env_example(), "regenerate with: python -m bot.config --env-example > .env.example"
    from dotenv import dotenv_values

    values = dotenv_values(ROOT / ".env.example")
    assert set(values) == {s.env for s in SETTINGS}
    for spec in SETTINGS:
        if spec.secret or spec.default is None:
            assert values[spec.env] == "", spec.env
        else:
            assert values[spec.env] == str(spec.default)
    # and the example parses without a single malformed value
    assert load_settings({}, env_file=ROOT / ".env.example").invalid == ()
