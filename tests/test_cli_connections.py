"""`qbsync connections list|remove` (bot/cli.py): the companies qbsync watches, listed without a
secret; a connection removed only when confirmed, its own store deleted unless --keep-data,
the removal audited in the main store, "default" refused. Real `python -m bot.cli` processes
on a SQLite store, as tests/test_cli.py runs them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.connections import ConnectionRegistry
from bot.store import Store
from bot.token_cipher import TokenCipher
from tests.tenants import SECRET_KEY
from tests.test_cli import VALID

ROOT = Path(__file__).resolve().parents[1]
ACME_TOKEN = "pat-na1-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def qbsync(*args: str, env: dict[str, str], cwd: Path, stdin: str = ""):
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    base.update({"PYTHONPATH": str(ROOT), "QBSYNC_SECRET_KEY": SECRET_KEY, **env})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=base, input=stdin,  # noqa: S603
                          capture_output=True, text=True, timeout=30)


@pytest.fixture
def db(tmp_path) -> Path:
    """A main store with a complete connection "acme" (its own store holding an alert) and a
    half-connected "half"."""
    path = tmp_path / "qbsync.db"
    store = Store(path)
    try:
        registry = ConnectionRegistry(store, cipher=TokenCipher(SECRET_KEY))
        registry.save("acme", name="Acme\x1b[31m Inc", qbo_realm_id="9341453190000001", slack_team_id="T0ACME0001",
                      slack_channel="C0ACME0001")
        registry.set_hubspot_secret("acme", "private_app", {"token": ACME_TOKEN}, portal_id="40000001")
        registry.save("half", name="Half", slack_team_id="T0ACME0001", slack_channel="C0HALF0001")
    finally:
        store.close()
    own = Store(path, connection="acme")
    own.set_cursor("scan.last_finished_at", "1")
    own.close()
    return path


def test_list_shows_the_environment_company_and_every_connection_without_a_secret(tmp_path, db):
    result = qbsync("connections", "list", env={**VALID, "QBSYNC_DB_PATH": str(db)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "hubspot", "quickbooks", "slack", "missing"]
    default, acme, half = lines[1:]
    assert default.startswith("default") and "company 9341453189012345" in default and "C0123ABCD" in default
    assert acme.startswith("acme ") and "portal 40000001 (private_app)" in acme
    assert "company 9341453190000001" in acme and "T0ACME0001/C0ACME0001" in acme and acme.endswith(" -")
    assert "Acme?[31m Inc" in acme  # a name is printed, its control characters are not
    assert half.startswith("half ") and half.endswith("hubspot, quickbooks")
    for secret in (ACME_TOKEN, SECRET_KEY, *(v for k, v in VALID.items() if "TOKEN" in k or "SECRET" in k)):
        assert secret not in result.stdout + result.stderr


def test_list_without_the_environment_company_or_any_connection(tmp_path, db):
    result = qbsync("connections", "list", env={"QBSYNC_DB_PATH": str(db)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["id", "acme", "half"]
    empty = qbsync("connections", "list", env={"QBSYNC_DB_PATH": str(tmp_path / "empty.db")}, cwd=tmp_path)
    assert empty.returncode == 0 and empty.stdout.startswith("No company configured")


def _ids(db: Path) -> list[str]:
    store = Store(db)
    try:
        return ConnectionRegistry(store).ids(complete_only=False)
    finally:
        store.close()


def _removals(db: Path) -> list[dict]:
    store = Store(db)
    try:
        return [e for e in store.audit_entries() if e["action"] == "connection:remove"]
    finally:
        store.close()


def test_remove_asks_first_then_deletes_the_connection_and_its_data_and_audits_it(tmp_path, db):
    env = {"QBSYNC_DB_PATH": str(db)}
    own = db.parent / "connections" / "acme.db"
    assert own.exists()

    declined = qbsync("connections", "remove", "acme", env=env, cwd=tmp_path, stdin="n\n")
    assert declined.returncode == 1 and "DELETE its data" in declined.stdout and "Not removed." in declined.stdout
    no_answer = qbsync("connections", "remove", "acme", env=env, cwd=tmp_path)  # stdin at its end: not a yes
    assert no_answer.returncode == 1
    assert _ids(db) == ["acme", "half"] and own.exists() and _removals(db) == []

    done = qbsync("connections", "remove", "acme", env=env, cwd=tmp_path, stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert "Removed connection acme" in done.stdout
    assert _ids(db) == ["half"] and not own.exists()
    [entry] = _removals(db)
    assert entry["target"] == "acme" and entry["outcome"] == "ok" and entry["actor"].startswith("cli:")
    assert entry["detail"] == {"keep_data": False}

    again = qbsync("connections", "remove", "acme", "--yes", env=env, cwd=tmp_path)
    assert again.returncode == 1 and "no connection 'acme'" in again.stderr


def test_remove_keep_data_keeps_its_store_and_yes_does_not_ask(tmp_path, db):
    env = {"QBSYNC_DB_PATH": str(db)}
    result = qbsync("connections", "remove", "acme", "--keep-data", "--yes", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[y/N]" not in result.stdout and "Its data is kept" in result.stdout
    assert _ids(db) == ["half"]
    kept = Store(db, connection="acme")
    try:
        assert kept.get_cursor("scan.last_finished_at") == "1"
    finally:
        kept.close()
    assert _removals(db)[0]["detail"] == {"keep_data": True}


@pytest.mark.parametrize("bad, says", [("default", "configured from the environment"),
                                       ("Not An Id", "not a connection id")])
def test_remove_refuses_the_environment_company_and_bad_ids(tmp_path, db, bad, says, capsys):
    from bot.cli import main

    # Refused before any setting is read: in this process (no subprocess needed).
    assert main(["--env-file", str(tmp_path / "none.env"), "connections", "remove", bad, "--yes"]) == 1
    assert says in capsys.readouterr().err
    assert _ids(db) == ["acme", "half"] and _removals(db) == []


@pytest.mark.parametrize("cmd", [["connections"], ["connections", "list"], ["connections", "remove"],
                                 ["connections", "set"]])
def test_help_exits_zero(cmd, capsys):
    from bot.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*cmd, "--help"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage: qbsync connections")


def test_a_worker_with_connections_only_needs_no_company_in_the_environment(tmp_path, db):
    """`qbsync worker`: with no connection every `run` setting is required (a single company,
    as before); with connections, the environment company is optional, but a malformed value
    or the QBO app's missing client id still stops it."""
    from bot.cli import _require_worker_settings
    from bot.config import load_settings
    from bot.errors import ConfigError

    shared = {"QBO_CLIENT_ID": "clientid", "QBO_CLIENT_SECRET": "clientsecret"}
    with_connections = Store(db)
    empty = Store(tmp_path / "empty.db")
    try:
        _require_worker_settings(load_settings(shared, env_file=None), with_connections)
        with pytest.raises(ConfigError) as missing:
            _require_worker_settings(load_settings(shared, env_file=None), empty)
        assert any(p.startswith("HUBSPOT_ACCESS_TOKEN is missing") for p in missing.value.problems)
        with pytest.raises(ConfigError) as bad:
            _require_worker_settings(load_settings({"QBO_CLIENT_ID": "clientid", "QBSYNC_POLL_INTERVAL": "1"},
                                                   env_file=None), with_connections)
        assert [p.split()[0] for p in bad.value.problems] == ["QBSYNC_POLL_INTERVAL", "QBO_CLIENT_SECRET"]
        _require_worker_settings(load_settings(VALID, env_file=None), with_connections)  # both: fine
    finally:
        with_connections.close()
        empty.close()


def test_remove_on_postgresql_drops_the_connections_schema(tmp_path, pg_url):
    import psycopg

    store = Store(pg_url)
    try:
        ConnectionRegistry(store).save("acme", name="Acme", slack_team_id="T0ACME0001", slack_channel="C0ACME0001")
        Store(pg_url, connection="acme").close()  # its schema, made as a connect command makes it

        def schemas() -> set[str]:
            with psycopg.connect(pg_url) as conn:
                return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'qbsync_c_%'")}

        assert schemas() == {"qbsync_c_acme"}
        env = {"QBSYNC_DATABASE_URL": pg_url}
        listed = qbsync("connections", "list", env=env, cwd=tmp_path)
        assert [line.split()[0] for line in listed.stdout.splitlines()] == ["id", "acme"], listed.stderr
        result = qbsync("connections", "remove", "acme", "--yes", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert schemas() == set() and ConnectionRegistry(store).all() == []
        assert [e["target"] for e in store.audit_entries() if e["action"] == "connection:remove"] == ["acme"]
    finally:
        store.close()


def test_set_changes_a_connections_own_settings_checked_first_and_audited(tmp_path, db):
    env = {"QBSYNC_DB_PATH": str(db)}
    done = qbsync("connections", "set", "acme", "QBSYNC_LANGUAGE=nl", "QBSYNC_FIX_ALLOWED=U0ANNA0001,S0FIXERS1",
                  "QBSYNC_DIGEST=daily", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "QBSYNC_LANGUAGE=nl" in done.stdout and "QBSYNC_FIX_ALLOWED=U0ANNA0001,S0FIXERS1" in done.stdout
    unset = qbsync("connections", "set", "acme", "--unset", "QBSYNC_DIGEST", env=env, cwd=tmp_path)
    assert unset.returncode == 0 and "QBSYNC_DIGEST=" not in unset.stdout
    # Refused, nothing saved: a setting of the process, a bad value, a bare word, no change.
    for args, says in ((["QBSYNC_DATABASE_URL=postgresql://x"], "not a per-company setting: QBSYNC_DATABASE_URL"),
                       (["QBSYNC_LANGUAGE=fr", "QBSYNC_DIGEST=off"], "QBSYNC_LANGUAGE"),
                       (["QBSYNC_FIX_ALLOWED=bob"], "QBSYNC_FIX_ALLOWED"),
                       (["nl"], "is not NAME=VALUE"), ([], "nothing to change")):
        refused = qbsync("connections", "set", "acme", *args, env=env, cwd=tmp_path)
        assert refused.returncode == 1 and says in refused.stderr, (args, refused.stderr)
    # A route needs the connection's workspace to check the channel with: without an
    # installation or SLACK_BOT_TOKEN it is refused, not saved unchecked.
    route = qbsync("connections", "set", "acme", "QBSYNC_ROUTES=missing-customer=C0ACMECUST", env=env, cwd=tmp_path)
    assert route.returncode == 1 and "cannot be checked" in route.stderr
    store = Store(db)
    try:
        assert ConnectionRegistry(store).require("acme").overrides == {
            "QBSYNC_LANGUAGE": "nl", "QBSYNC_FIX_ALLOWED": "U0ANNA0001,S0FIXERS1"}
        audited = [e for e in store.audit_entries(target="acme") if e["action"] == "connection:set"]
        assert [e["detail"] for e in audited] == [
            {"set": ["QBSYNC_DIGEST", "QBSYNC_FIX_ALLOWED", "QBSYNC_LANGUAGE"], "unset": []},
            {"set": [], "unset": ["QBSYNC_DIGEST"]}]
    finally:
        store.close()
    assert qbsync("connections", "set", "nobody", "QBSYNC_LANGUAGE=nl", env=env, cwd=tmp_path).returncode == 1


def test_set_refuses_a_route_into_the_environment_companys_channel(tmp_path, db):
    env = {"QBSYNC_DB_PATH": str(db), "QBSYNC_ALERT_CHANNEL": "C0ENVALERT1",
           "QBSYNC_ROUTES": "duplicate-doc-number=C0ENVNUMS01"}
    for channel in ("C0ENVALERT1", "C0ENVNUMS01"):
        refused = qbsync("connections", "set", "acme", f"QBSYNC_ROUTES=missing-customer={channel}", env=env,
                         cwd=tmp_path)
        assert refused.returncode == 1 and f"{channel} belongs to the company configured from the environment" \
            in refused.stderr, refused.stderr
