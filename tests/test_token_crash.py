"""A QBO refresh-token rotation and a REAL crash (SIGKILL) around saving the new tokens.

A child process builds the QBO adapter through bot.wiring.qbo_adapter against the sandbox
this test started, with a Store whose save_qbo_tokens kills the process (a) just BEFORE the
real save or (b) just AFTER it. The test then starts a fresh adapter on the same SQLite file.

- (b): the new chain was durable before the new access token was returned or used: the
  restart just works, with the new refresh token, which the sandbox accepts.
- (a) with strict rotation (the sandbox retires the old refresh token at once): the new
  token died with the process. Nothing can recover it; the honest outcome is a clear
  AuthError telling the operator to reconnect (`qbsync connect quickbooks`), no token in
  it or in the logs, no crash, and the scan turns it into ONE global qbo-auth alert.
- (a) when Intuit hands back the same refresh token (no rotation): the restart just works.

Does Intuit keep the previous refresh token valid for a while after a rotation? We found no
authoritative statement either way. Intuit's Authorization FAQ
(developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq)
only says to refresh with "the latest refresh_token returned to you from the previous
request"; a grace period for the old one is not documented there, nor in Intuit's token
management post (blogs.intuit.com/2024/06/03/oauth-token-management-done-the-right-way/).
Third-party write-ups (e.g. nango.dev's on invalid_grant) say the old token "becomes
unusable". So the strict case is the one to plan for, and the one the sandbox plays.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot import wiring
from bot.config import load_settings
from bot.errors import AuthError
from bot.store import Store
from sandbox.app import Sandbox

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent('''
    import os, signal, sys
    from bot import wiring
    from bot.config import load_settings
    from bot.store import Store

    WHEN = sys.argv[1]  # "before" | "after": kill around the real save

    class KillingStore(Store):
        def save_qbo_tokens(self, realm_id, tokens):
            if WHEN == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            super().save_qbo_tokens(realm_id, tokens)
            if WHEN == "after":
                os.kill(os.getpid(), signal.SIGKILL)

    settings = load_settings(dict(os.environ), env_file=None)
    qbo = wiring.qbo_adapter(settings, KillingStore(settings.db_path))
    qbo.company_info()
    print("survived")  # must not be reached: every path here refreshes, so saves
''')


@pytest.fixture
def sandbox():
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000) as sb:
        sb.load("mixed")
        yield sb


def _env(sb, tmp_path) -> dict[str, str]:
    return sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"),
                                   "QBSYNC_FIX_ALLOWED": "U0ALLOWED1"}


def _kill_in_child(tmp_path, env: dict[str, str], when: str) -> subprocess.CompletedProcess:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("QBSYNC_", "SLACK_", "QBO_", "HUBSPOT_"))}
    child_env.update(env)
    child_env["PYTHONPATH"] = str(ROOT) + os.pathsep + child_env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, str(script), when], cwd=tmp_path, env=child_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr[-2000:])
    assert "survived" not in done.stdout
    return done


def _fresh_adapter(env):
    settings = load_settings(env, env_file=None)
    store = Store(settings.db_path)
    return settings, store, wiring.qbo_adapter(settings, store)


def _api_calls(sb, what: str) -> int:
    return sum(n for endpoint, n in sb.log.snapshot().get("qbo", {}).items() if what in endpoint)


def _token_secrets(sb, env, store) -> list[str]:
    stored = store.load_qbo_tokens(sb.realm_id) or {}
    return [t for t in (env["QBO_REFRESH_TOKEN"], env["QBO_CLIENT_SECRET"], stored.get("refresh_token"),
                        stored.get("access_token")) if t]


def test_killed_right_after_the_save_the_restart_uses_the_new_chain(sandbox, tmp_path):
    sb, env = sandbox, _env(sandbox, tmp_path)
    registry = sb.qbo_service.registry
    assert registry.rotate_refresh_tokens                 # strict rotation: the seed dies at the refresh
    sb.log.reset()
    _kill_in_child(tmp_path, env, "after")
    assert registry.refresh_count == 1

    # Persisted BEFORE the access token was returned: the DB holds the rotated chain, and
    # the child never got to use its new access token (it died inside the save).
    store = Store(env["QBSYNC_DB_PATH"])
    saved = store.load_qbo_tokens(sb.realm_id)
    assert saved and saved["refresh_token"] != env["QBO_REFRESH_TOKEN"] and saved["access_token"]
    assert _api_calls(sb, "companyinfo") == 0
    store.close()

    _, store, qbo = _fresh_adapter(env)
    assert qbo.company_info()["Id"]                       # the saved access token works
    assert registry.refresh_count == 1                    # ... without a refresh
    qbo.tokens.force_refresh()                            # and the sandbox accepts the saved refresh token
    assert registry.refresh_count == 2
    newest = store.load_qbo_tokens(sb.realm_id)["refresh_token"]
    assert newest not in (saved["refresh_token"], env["QBO_REFRESH_TOKEN"])
    assert qbo.company_info()["Id"]
    store.close()


def test_killed_mid_chain_before_the_save_strict_rotation_asks_to_reconnect(sandbox, tmp_path, caplog):
    sb, env = sandbox, _env(sandbox, tmp_path)
    # A bot that has been running: the chain is in the DB (seed -> R1).
    settings, store, qbo = _fresh_adapter(env)
    qbo.company_info()
    r1 = store.load_qbo_tokens(sb.realm_id)["refresh_token"]
    store.close()
    sb.clock.advance(3601)                                # R1's access token expires at Intuit

    _kill_in_child(tmp_path, env, "before")               # 401 -> refresh R1 -> R2 -> killed before saving R2
    assert sb.qbo_service.registry.refresh_count == 2
    _, store, qbo = _fresh_adapter(env)
    assert store.load_qbo_tokens(sb.realm_id)["refresh_token"] == r1      # R2 is lost

    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as info:
        qbo.company_info()
    err = info.value
    assert err.service == "qbo" and err.code == "invalid_grant"
    assert "qbsync connect quickbooks" in str(err)
    calls_after_first = sb.log.snapshot()
    with pytest.raises(AuthError):                        # no loop: each call fails fast, the same way
        qbo.company_info()
    token_requests = lambda snap: sum(n for e, n in snap.get("qbo", {}).items() if "tokens/bearer" in e)
    assert token_requests(sb.log.snapshot()) - token_requests(calls_after_first) <= 1

    # The scan turns it into the single global qbo-auth alert, however often it runs.
    parts = wiring.build(settings, post_interval=0)
    results = [parts.scanner.scan() for _ in range(2)]
    assert [r.problem for r in results] == ["qbo-auth", "qbo-auth"]
    open_alerts = parts.store.open_alerts()
    assert [(a["key"], a["rule"]) for a in open_alerts] == [("global:qbo-auth", "qbo-auth")]
    assert "qbsync connect quickbooks" in open_alerts[0]["evidence"]["text"]
    assert len(sb.slack.driver.transcript()) == 1         # one Slack message for both scans

    shown = caplog.text + str(err) + (err.raw or "") + " ".join(str(m.text) for m in sb.slack.driver.transcript())
    for secret in _token_secrets(sb, env, store) + [r1]:
        assert secret not in shown
    store.close()


def test_killed_before_the_save_without_rotation_the_restart_just_works(sandbox, tmp_path):
    sb, env = sandbox, _env(sandbox, tmp_path)
    registry = sb.qbo_service.registry
    registry.rotate_refresh_tokens = False                # Intuit handing back the same refresh token
    _kill_in_child(tmp_path, env, "before")               # first start: seed refreshed, nothing saved
    assert registry.refresh_count == 1
    _, store, qbo = _fresh_adapter(env)
    assert store.load_qbo_tokens(sb.realm_id) is None
    assert qbo.company_info()["Id"]                       # the seed still works
    assert registry.refresh_count == 2
    assert store.load_qbo_tokens(sb.realm_id)["refresh_token"] == env["QBO_REFRESH_TOKEN"]
    store.close()


def test_killed_before_the_save_on_first_start_strict_rotation_asks_to_reconnect(sandbox, tmp_path):
    sb, env = sandbox, _env(sandbox, tmp_path)
    _kill_in_child(tmp_path, env, "before")               # the seed was spent on a refresh nobody saved
    _, store, qbo = _fresh_adapter(env)
    with pytest.raises(AuthError) as info:
        qbo.company_info()
    assert "qbsync connect quickbooks" in str(info.value)
    assert env["QBO_REFRESH_TOKEN"] not in str(info.value)
    assert store.load_qbo_tokens(sb.realm_id) is None     # nothing half-written
    store.close()
