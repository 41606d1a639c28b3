"""Connections (bot/connections.py) and their own stores, on SQLite and PostgreSQL: a
connection's alerts, cursors and tokens are invisible from another connection's store and from
the main store; the list lives in the main store; secrets are sealed; removing a connection
deletes its data."""
from __future__ import annotations

import dataclasses

import pytest
from cryptography.fernet import Fernet

from bot.config import parse_settings
from bot.connections import ConnectionProblem, ConnectionRegistry, check_id, drop_store, settings_for
from bot.store import Store
from bot.token_cipher import TokenCipher


@pytest.fixture
def main(store_target):
    s = Store(store_target)
    yield s
    s.close()


def _detect(store: Store, invoice: str) -> None:
    store.record_detection(key=f"{invoice}:missing-customer", rule="missing-customer", invoice_id=invoice,
                           invoice_number=f"INV-{invoice}", summary="s", evidence={}, fingerprint="f")


def test_each_connection_store_sees_only_its_own_rows(main, store_target):
    acme = Store(store_target, connection="acme")
    globex = Store(store_target, connection="globex")
    try:
        _detect(acme, "1")
        _detect(globex, "2")
        _detect(main, "3")
        acme.set_cursor("cdc", "a")
        globex.save_qbo_tokens("9130", {"access_token": "a", "access_expires_at": 1.0, "refresh_token": "r-globex",
                                        "refresh_expires_at": 2.0, "seed_hash": "h", "updated_at": 0.0})
        assert [a["invoice_id"] for a in acme.list_alerts()] == ["1"]
        assert [a["invoice_id"] for a in globex.list_alerts()] == ["2"]
        assert [a["invoice_id"] for a in main.list_alerts()] == ["3"]
        assert acme.get_cursor("cdc") == "a" and globex.get_cursor("cdc") is None and main.get_cursor("cdc") is None
        assert acme.load_qbo_tokens("9130") is None and globex.load_qbo_tokens("9130")["refresh_token"] == "r-globex"
        # the same migrations ran in each
        assert acme.schema_version() == globex.schema_version() == main.schema_version()
        # a second Store on the same connection (another process) sees the same rows
        again = Store(store_target, connection="acme")
        assert [a["invoice_id"] for a in again.list_alerts()] == ["1"]
        again.close()
    finally:
        acme.close()
        globex.close()


def test_default_is_the_main_store(main, store_target):
    _detect(main, "7")
    default = Store(store_target, connection="default")
    try:
        assert default.connection is None
        assert [a["invoice_id"] for a in default.list_alerts()] == ["7"]
    finally:
        default.close()


def test_registry_saves_lists_and_finds_by_channel(main):
    reg = ConnectionRegistry(main)
    reg.save("acme", name="Acme BV", qbo_realm_id="9130")
    reg.save("acme", slack_team_id="T1", slack_channel="C1")
    reg.save("globex", name="Globex", slack_team_id="T2", slack_channel="C1")
    acme = reg.require("acme")
    assert (acme.name, acme.qbo_realm_id, acme.slack_channel) == ("Acme BV", "9130", "C1")
    assert acme.missing == ["hubspot"] and not acme.complete
    assert [c.id for c in reg.all()] == ["acme", "globex"]
    assert reg.for_channel("T1", "C1").id == "acme"
    assert reg.for_channel("T2", "C1").id == "globex"       # same channel id, other workspace
    assert reg.for_channel("T1", "C9") is None and reg.for_channel("T3", "C1") is None
    with pytest.raises(ConnectionProblem, match="already belongs to connection 'acme'"):
        reg.save("initech", slack_team_id="T1", slack_channel="C1")
    assert reg.get("initech") is None                        # nothing half-saved
    assert reg.ids() == []                                   # none complete yet
    reg.set_hubspot_secret("acme", "service_key", {"token": "sk-1"}, portal_id="111")
    assert reg.ids() == ["acme"]


@pytest.mark.parametrize("bad", ["", "Default", "default", "acme corp", "a" * 41, "-acme", "acme-", "ac;drop", "ü"])
def test_ids_that_would_reach_sql_or_a_file_name_are_refused(bad):
    with pytest.raises(ConnectionProblem):
        check_id(bad)


def test_hubspot_secret_is_sealed_with_the_key(main):
    key = Fernet.generate_key().decode()
    reg = ConnectionRegistry(main, cipher=TokenCipher(key))
    reg.set_hubspot_secret("acme", "oauth", {"refresh_token": "rt-secret-1", "access_token": "at-1"}, portal_id="42")
    raw = main.query_rows("SELECT hubspot_secret FROM connections WHERE id = 'acme'")[0]["hubspot_secret"]
    assert "rt-secret-1" not in raw and raw.startswith("fernet:")
    assert reg.hubspot_secret("acme")["refresh_token"] == "rt-secret-1"
    other_key = ConnectionRegistry(main, cipher=TokenCipher(Fernet.generate_key().decode()))
    assert other_key.hubspot_secret("acme") is None          # another key opens nothing
    assert "rt-secret-1" not in repr(reg.require("acme"))


def test_remove_deletes_the_connection_and_its_data(main, store_target):
    reg = ConnectionRegistry(main)
    reg.save("acme", name="Acme")
    own = Store(store_target, connection="acme")
    _detect(own, "1")
    own.close()
    assert reg.remove("acme") is True
    assert reg.get("acme") is None and reg.remove("acme") is False
    fresh = Store(store_target, connection="acme")
    try:
        assert fresh.list_alerts() == []                     # a new, empty store
    finally:
        fresh.close()
    drop_store(store_target, "acme")


def test_overrides_merge_and_feed_settings(main):
    reg = ConnectionRegistry(main)
    reg.save("acme", overrides={"QBSYNC_LANGUAGE": "nl", "QBSYNC_FIX_ALLOWED": "U0ANNA0001,U0BEN00001"})
    reg.save("acme", overrides={"QBSYNC_FIX_ALLOWED": None, "QBSYNC_GRACE_MINUTES": "5"},
             qbo_realm_id="9130", slack_team_id="T1", slack_channel="C1")
    conn = reg.require("acme")
    assert conn.overrides == {"QBSYNC_LANGUAGE": "nl", "QBSYNC_GRACE_MINUTES": "5"}
    with pytest.raises(ConnectionProblem, match="not a per-company setting"):
        reg.save("acme", overrides={"QBSYNC_DATABASE_URL": "postgresql://x"})
    base = parse_settings({"QBSYNC_LANGUAGE": "en", "QBO_REALM_ID": "1", "QBO_REFRESH_TOKEN": "rt-env",
                           "QBSYNC_ALERT_CHANNEL": "C0ENV00001", "HUBSPOT_ACCESS_TOKEN": "pat-na1-env"})
    mine = settings_for(base, conn, hubspot_token="pat-na1-acme", slack_bot_token="xoxb-acme")
    assert (mine.language, mine.grace_minutes, mine.qbo_realm_id, mine.alert_channel) == ("nl", 5, "9130", "C1")
    assert mine.hubspot_token == "pat-na1-acme" and mine.slack_bot_token == "xoxb-acme"
    assert mine.qbo_refresh_token is None                    # the connection's tokens are in its own store
    assert dataclasses.replace(base) == base and base.language == "en"   # the process's settings untouched


def test_a_route_channel_is_its_connections_and_bad_settings_are_refused_when_saved(main):
    reg = ConnectionRegistry(main)
    reg.save("acme", slack_team_id="T1", slack_channel="C0ACME0001",
             overrides={"QBSYNC_ROUTES": "missing-customer=C0ACMECUST"})
    reg.save("globex", slack_team_id="T2", slack_channel="C0GLOBEX01")
    # A button or /qbsync in a route channel acts on the connection that routes there.
    assert reg.for_channel("T1", "C0ACMECUST").id == "acme"
    assert reg.for_channel("T2", "C0ACMECUST") is None       # not in Globex's workspace
    # One channel of a workspace names one company: a route into another's channel (alert or
    # route), or an alert channel that is another's route, is refused; nothing is saved.
    for changes in ({"overrides": {"QBSYNC_ROUTES": "duplicate-doc-number=C0ACME0001"}},
                    {"overrides": {"QBSYNC_ROUTES": "duplicate-doc-number=C0ACMECUST"}},
                    {"slack_channel": "C0ACMECUST"}):
        with pytest.raises(ConnectionProblem, match="already belongs to connection 'acme'"):
            reg.save("initech", slack_team_id="T1", **changes)
        assert reg.get("initech") is None
    # A value that would not parse is refused now, naming the setting, not when a scan builds
    # the connection's parts.
    for bad in ({"QBSYNC_ROUTES": "no-such-rule=C0ACMEX001"}, {"QBSYNC_LANGUAGE": "fr"},
                {"QBSYNC_DIGEST": "hourly"}):
        with pytest.raises(ConnectionProblem, match=next(iter(bad))):
            reg.save("globex", overrides=bad)
    assert reg.require("globex").overrides == {}


def test_a_connection_does_not_inherit_the_environments_routes(main):
    """The env's QBSYNC_ROUTES are channels of the env company: a connection routes only with
    its own."""
    reg = ConnectionRegistry(main)
    base = parse_settings({"QBSYNC_ROUTES": "missing-customer=C0ENVCUST01", "QBSYNC_ALERT_CHANNEL": "C0ENV00001"})
    bare = reg.save("acme", slack_team_id="T1", slack_channel="C0ACME0001")
    assert settings_for(base, bare, hubspot_token=None, slack_bot_token=None).route_map == {}
    own = reg.save("acme", overrides={"QBSYNC_ROUTES": "duplicate-doc-number=C0ACMENUMS"})
    assert settings_for(base, own, hubspot_token=None, slack_bot_token=None).route_map == {
        "duplicate-doc-number": "C0ACMENUMS"}
    assert base.route_map == {"missing-customer": "C0ENVCUST01"}
