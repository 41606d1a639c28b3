"""bolt's OAuth stores in qbsync's database (bot/slack_oauth_store.py): a state works once and
expires; an installation is saved, found, replaced by a reinstall and deleted; nothing lists a
token."""
from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation

from bot.slack_oauth_store import SlackInstallationStore, SlackOAuthStateStore
from bot.store import Store
from bot.token_cipher import TokenCipher


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "qbsync.db")
    yield s
    s.close()


def install(team_id="T0ACME0001", *, token="xoxb-1-acme", name="Acme", user="U0ANNA0001", at=1_800_000_000.0,
            enterprise_id=None, app_id="A0QBSYNC001"):
    return Installation(app_id=app_id, enterprise_id=enterprise_id, team_id=team_id, team_name=name,
                        bot_token=token, bot_id="B0BOT", bot_user_id="U0BOT", bot_scopes="chat:write,commands",
                        user_id=user, installed_at=at)


# -- state -----------------------------------------------------------------------------------
def test_a_state_is_consumed_once(store):
    states = SlackOAuthStateStore(store)
    state = states.issue()
    other = states.issue()
    assert state != other and len(state) >= 32
    assert states.consume(state) is True
    assert states.consume(state) is False          # a replayed redirect is refused
    assert states.consume(other) is True
    assert states.consume("never-issued") is False


def test_a_state_expires(store):
    clock = Clock()
    states = SlackOAuthStateStore(store, expiration_seconds=600, clock=clock)
    late, in_time = states.issue(), states.issue()
    clock.t += 599
    assert states.consume(in_time) is True
    clock.t += 2                                   # 601 s after issue
    assert states.consume(late) is False


def test_a_state_survives_a_restart(tmp_path):
    first = Store(tmp_path / "q.db")
    state = SlackOAuthStateStore(first).issue()
    first.close()
    again = Store(tmp_path / "q.db")
    try:
        assert SlackOAuthStateStore(again).consume(state) is True
    finally:
        again.close()


# -- installations ---------------------------------------------------------------------------
def test_an_installation_is_saved_found_and_deleted(store):
    inst = SlackInstallationStore(store)
    assert inst.find_bot(enterprise_id=None, team_id="T0ACME0001") is None
    inst.save(install())
    bot = inst.find_bot(enterprise_id=None, team_id="T0ACME0001")
    assert (bot.bot_token, bot.team_name, bot.bot_scopes, bot.app_id) == (
        "xoxb-1-acme", "Acme", ["chat:write", "commands"], "A0QBSYNC001")
    found = inst.find_installation(enterprise_id=None, team_id="T0ACME0001")
    assert (found.bot_token, found.user_id) == ("xoxb-1-acme", "U0ANNA0001")
    assert inst.find_bot(enterprise_id=None, team_id="T0OTHER001") is None
    assert inst.find_bot(enterprise_id="E0GRID0001", team_id="T0ACME0001") is None   # another org's team
    inst.delete_all(enterprise_id=None, team_id="T0ACME0001")
    assert inst.find_bot(enterprise_id=None, team_id="T0ACME0001") is None
    assert inst.installations() == []


def test_a_reinstall_replaces_the_token_latest_wins(store):
    inst = SlackInstallationStore(store)
    inst.save(install(token="xoxb-old", at=100.0))
    inst.save(install("T0BETA0001", token="xoxb-beta", name="Beta", at=150.0))
    inst.save(install(token="xoxb-new", name="Acme Inc", at=200.0))
    assert inst.find_bot(enterprise_id=None, team_id="T0ACME0001").bot_token == "xoxb-new"
    assert inst.find_bot(enterprise_id=None, team_id="T0BETA0001").bot_token == "xoxb-beta"
    assert [(w.team_id, w.team_name, w.installed_at) for w in inst.installations()] == [
        ("T0BETA0001", "Beta", 150.0), ("T0ACME0001", "Acme Inc", 200.0)]


def test_token_revocation_deletes_the_bot_and_a_user_revocation_does_not(store):
    inst = SlackInstallationStore(store)
    inst.save(install())
    inst.delete_installation(enterprise_id=None, team_id="T0ACME0001", user_id="U0ANNA0001")
    assert inst.find_bot(enterprise_id=None, team_id="T0ACME0001") is not None
    inst.delete_bot(enterprise_id=None, team_id="T0ACME0001")
    assert inst.find_bot(enterprise_id=None, team_id="T0ACME0001") is None


def test_remove_says_whether_there_was_one(store):
    inst = SlackInstallationStore(store)
    inst.save(install())
    assert inst.remove("T0ACME0001") is True
    assert inst.remove("T0ACME0001") is False


def test_listing_and_logs_never_carry_the_token(store, caplog):
    inst = SlackInstallationStore(store)
    with caplog.at_level(logging.DEBUG):
        inst.save(install(token="xoxb-secret-token-123"))
        listed = inst.installations()
        inst.remove("T0ACME0001")
    assert "xoxb-secret-token-123" not in repr(listed)
    assert listed[0].installed_by == "U0ANNA0001"
    assert "xoxb-secret-token-123" not in caplog.text
    assert "T0ACME0001" in caplog.text


def test_app_of_tells_installed_from_not(store):
    inst = SlackInstallationStore(store)
    inst.save(install())
    assert inst.app_of("T0ACME0001") == "A0QBSYNC001"
    assert inst.app_of("T0OTHER001") is None
    assert inst.app_of(None) is None


# -- tokens at rest (QBSYNC_SECRET_KEY) -----------------------------------------------------------
def _raw_tokens(store) -> list[str]:
    return [r["bot_token"] for r in store.query_rows("SELECT bot_token FROM slack_installations")]


def test_with_a_key_the_database_holds_no_token_and_the_store_reads_it_back(store):
    key = Fernet.generate_key().decode()
    inst = SlackInstallationStore(store, cipher=TokenCipher(key))
    inst.save(install(token="xoxb-secret-token-123"))
    [raw] = _raw_tokens(store)
    assert raw.startswith("fernet:") and "xoxb-secret-token-123" not in raw
    assert inst.find_bot(enterprise_id=None, team_id="T0ACME0001").bot_token == "xoxb-secret-token-123"
    # Another key, or none: the installation cannot be used (and nothing crashes).
    other = SlackInstallationStore(store, cipher=TokenCipher(Fernet.generate_key().decode()))
    assert other.find_bot(enterprise_id=None, team_id="T0ACME0001") is None
    assert SlackInstallationStore(store).find_bot(enterprise_id=None, team_id="T0ACME0001") is None


def test_a_token_saved_before_the_key_was_set_is_still_read_and_sealed_at_the_next_install(store):
    SlackInstallationStore(store).save(install(token="xoxb-plain"))
    keyed = SlackInstallationStore(store, cipher=TokenCipher(Fernet.generate_key().decode()))
    assert keyed.find_bot(enterprise_id=None, team_id="T0ACME0001").bot_token == "xoxb-plain"
    keyed.save(install(token="xoxb-again"))
    assert _raw_tokens(store)[0].startswith("fernet:")


def test_a_malformed_key_is_a_configuration_problem():
    from bot.config import load_settings

    settings = load_settings({"QBSYNC_SECRET_KEY": "not-a-fernet-key"}, env_file=None)
    assert [p.env for p in settings.invalid] == ["QBSYNC_SECRET_KEY"]
    assert "not-a-fernet-key" not in str(settings.invalid[0])
    good = Fernet.generate_key().decode()
    assert load_settings({"QBSYNC_SECRET_KEY": good}, env_file=None).secret_key == good


# -- the HTTP guard's installation check with installed workspaces --------------------------------
def test_the_guard_accepts_the_home_and_installed_workspaces_for_their_app_only(store):
    from bot.slack_installation import Installation, Installations

    inst = SlackInstallationStore(store)
    inst.save(install())                                       # T0ACME0001, app A0QBSYNC001
    check = Installations(Installation("T0HOME0001", "A0QBSYNC001"), inst)
    assert check.refuses("T0HOME0001", "A0QBSYNC001") is None
    assert check.refuses("T0ACME0001", "A0QBSYNC001") is None
    assert check.refuses("T0ACME0001", "A0OTHERAPP1") == "api_app_id is not this app"
    assert check.refuses("T0NEVER001", "A0QBSYNC001") == "team_id is not this workspace"
    assert check.refuses(None, "A0QBSYNC001") == "team_id is not this workspace"
    inst.remove("T0ACME0001")
    assert check.refuses("T0ACME0001", "A0QBSYNC001") == "team_id is not this workspace"
    without_home = Installations(None, inst)
    assert without_home.refuses("T0HOME0001", "A0QBSYNC001") == "team_id is not an installed workspace"
