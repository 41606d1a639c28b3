"""`qbsync connect quickbooks` against the sandbox's Intuit OAuth stand-in
(sandbox/qbo_oauth.py) over real HTTP: discovery document, authorize (the stand-in consents
and answers 302 to our redirect URI), our one-shot localhost callback, token exchange, and
the tokens saved in the Store."""
from __future__ import annotations

import hashlib
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from bot.config import load_settings
from bot.connect import ConnectError, connect_quickbooks, write_env
from bot.errors import ApiError, ConfigError
from bot.store import Store
from sandbox.clock import Clock
from sandbox.qbo_oauth import QboOAuthService, QboTokenRegistry
from sandbox.server import RequestLog, ServiceServer

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID = "ABconnectTestClient"
CLIENT_SECRET = "connect-test-secret-value"
REALM = "9341453189012345"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def intuit():
    """The OAuth stand-in with our client registered for one redirect URI."""
    registry = QboTokenRegistry(Clock(), default_realm_id=REALM)
    redirect = f"http://localhost:{free_port()}/callback"
    registry.register_client(CLIENT_ID, CLIENT_SECRET, [redirect])
    server = ServiceServer(QboOAuthService(registry), RequestLog()).start()
    discovery = f"{server.url}/.well-known/openid_sandbox_configuration"
    yield registry, discovery, redirect
    server.stop()


def env_for(discovery: str, redirect: str, db: Path, **extra) -> dict[str, str]:
    env = {"QBO_CLIENT_ID": CLIENT_ID, "QBO_CLIENT_SECRET": CLIENT_SECRET,
           "QBO_ENVIRONMENT": discovery, "QBO_REDIRECT_URI": redirect, "QBSYNC_DB_PATH": str(db)}
    env.update(extra)
    return env


def settings_for(discovery, redirect, db, **extra):
    return load_settings(env_for(discovery, redirect, db, **extra), env_file=None)


def run_cli_flow(tmp_path, discovery, redirect, *args, global_args=()):
    """Run `qbsync connect quickbooks` as a process, open the consent URL it prints the way a
    browser would (following the stand-in's 302 to our callback). Returns (url, page, rc, out, err)."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(env_for(discovery, redirect, tmp_path / "q.db"), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *global_args, "connect", "quickbooks",
                             "--no-browser", "--timeout", "20", *args],
                            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, url, page = [], None, None
    try:
        while url is None:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+/connect/oauth2\?\S+)", line)
            url = m.group(1) if m else None
        if url:
            page = requests.get(url, timeout=10)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return url, page, proc.returncode, "".join(seen) + out, err


def test_full_flow_through_the_cli(intuit, tmp_path):
    registry, discovery, redirect = intuit
    url, page, rc, out, err = run_cli_flow(tmp_path, discovery, redirect)
    assert url, out + err
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
    assert q["scope"] == "com.intuit.quickbooks.accounting"
    assert q["redirect_uri"] == redirect
    assert len(q["state"]) >= 32
    assert page.status_code == 200 and "connected" in page.text.lower()
    assert page.url.startswith(redirect)  # the stand-in redirected to our callback

    assert rc == 0, err
    assert "Traceback" not in err
    assert f"QBO_REALM_ID={REALM}" in out

    tokens = Store(tmp_path / "q.db").load_qbo_tokens(REALM)
    now = time.time()
    refresh = tokens["refresh_token"]
    assert registry.refresh_token_valid(refresh)
    assert tokens["seed_hash"] == hashlib.sha256(refresh.encode()).hexdigest()
    assert registry.check_access(tokens["access_token"]) is not None
    assert abs(tokens["access_expires_at"] - (now + 3600)) < 60
    assert abs(tokens["refresh_expires_at"] - (now + 8726400)) < 60
    assert abs(tokens["updated_at"] - now) < 60
    # secrets stay off the terminal unless asked for
    for secret in (refresh, tokens["access_token"], CLIENT_SECRET):
        assert secret not in out + err


def test_show_token_prints_the_refresh_token(intuit, tmp_path):
    registry, discovery, redirect = intuit
    url, page, rc, out, err = run_cli_flow(tmp_path, discovery, redirect, "--show-token")
    assert rc == 0, err
    printed = re.search(r"QBO_REFRESH_TOKEN=(\S+)", out).group(1)
    assert printed == Store(tmp_path / "q.db").load_qbo_tokens(REALM)["refresh_token"]
    assert registry.refresh_token_valid(printed)


def test_write_env_puts_the_token_in_the_env_file(intuit, tmp_path):
    registry, discovery, redirect = intuit
    url, page, rc, out, err = run_cli_flow(tmp_path, discovery, redirect, "--write-env",
                                         global_args=("--env-file", "my.env"))
    assert rc == 0, err
    env_file = tmp_path / "my.env"
    from dotenv import dotenv_values

    values = dotenv_values(env_file)
    assert values["QBO_REALM_ID"] == REALM
    assert registry.refresh_token_valid(values["QBO_REFRESH_TOKEN"])
    assert values["QBO_REFRESH_TOKEN"] not in out
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    # and the file configures qbsync: the seed it names is the chain the store holds
    s = load_settings({}, env_file=env_file)
    stored = Store(tmp_path / "q.db").load_qbo_tokens(REALM)
    assert hashlib.sha256(s.qbo_refresh_token.encode()).hexdigest() == stored["seed_hash"]


def _follow_without_redirect(url: str) -> str:
    """Ask the stand-in to authorize, but do not follow its redirect: return the Location."""
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302
    return r.headers["Location"]


def test_wrong_state_is_refused_and_nothing_is_saved(intuit, tmp_path):
    registry, discovery, redirect = intuit
    store = Store(tmp_path / "q.db")
    pages = []

    def forge(url):
        loc = _follow_without_redirect(url)
        parts = urlsplit(loc)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        q["state"] = "forged-" + q["state"]
        pages.append(requests.get(f"{redirect}?{urlencode(q)}", timeout=10))

    with pytest.raises(ConnectError, match="state"):
        connect_quickbooks(settings_for(discovery, redirect, tmp_path / "q.db"), open_browser=False,
                           timeout=10, out=open(os.devnull, "w"), on_url=forge, store=store)
    assert pages[0].status_code == 400
    assert store.load_qbo_tokens(REALM) is None


def test_consent_refused(intuit, tmp_path):
    registry, discovery, redirect = intuit

    def deny(url):
        state = parse_qs(urlsplit(url).query)["state"][0]
        requests.get(f"{redirect}?{urlencode({'error': 'access_denied', 'state': state})}", timeout=10)

    with pytest.raises(ConnectError, match="access_denied"):
        connect_quickbooks(settings_for(discovery, redirect, tmp_path / "q.db"), open_browser=False,
                           timeout=10, out=open(os.devnull, "w"), on_url=deny)


def test_other_paths_are_ignored_until_the_real_callback(intuit, tmp_path):
    registry, discovery, redirect = intuit
    port = urlsplit(redirect).port
    statuses = []

    def browse(url):
        statuses.append(requests.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=10).status_code)
        statuses.append(requests.get(url, timeout=10).status_code)

    store = Store(tmp_path / "q.db")
    result = connect_quickbooks(settings_for(discovery, redirect, tmp_path / "q.db"), open_browser=False,
                                timeout=10, out=open(os.devnull, "w"), on_url=browse, store=store)
    assert statuses == [404, 200]
    assert result.realm_id == REALM
    assert store.load_qbo_tokens(REALM)["refresh_token"] == result.refresh_token


def test_timeout_has_a_clear_message(intuit, tmp_path):
    registry, discovery, redirect = intuit
    started = time.monotonic()
    with pytest.raises(ConnectError, match=r"no answer from QuickBooks within 1 s"):
        connect_quickbooks(settings_for(discovery, redirect, tmp_path / "q.db"), open_browser=False,
                           timeout=0.6, out=open(os.devnull, "w"))
    assert time.monotonic() - started < 5
    # the port is released afterwards
    with socket.socket() as s:
        s.bind(("127.0.0.1", urlsplit(redirect).port))


def test_wrong_client_secret_is_an_api_error(intuit, tmp_path):
    registry, discovery, redirect = intuit
    settings = settings_for(discovery, redirect, tmp_path / "q.db", QBO_CLIENT_SECRET="wrong-secret")
    with pytest.raises(ApiError) as err:
        connect_quickbooks(settings, open_browser=False, timeout=10, out=open(os.devnull, "w"),
                           on_url=lambda url: requests.get(url, timeout=10))
    assert err.value.status == 401 and "invalid_client" in str(err.value)
    assert "wrong-secret" not in str(err.value)


def test_redirect_uri_must_be_local_http(intuit, tmp_path):
    registry, discovery, _ = intuit
    settings = settings_for(discovery, "https://example.com/callback", tmp_path / "q.db")
    with pytest.raises(ConfigError, match="QBO_REDIRECT_URI"):
        connect_quickbooks(settings, open_browser=False, timeout=1, out=open(os.devnull, "w"))


def test_busy_port_is_reported(intuit, tmp_path):
    registry, discovery, redirect = intuit
    with socket.socket() as s:
        s.bind(("127.0.0.1", urlsplit(redirect).port))
        s.listen(1)
        with pytest.raises(ConnectError, match="cannot listen"):
            connect_quickbooks(settings_for(discovery, redirect, tmp_path / "q.db"), open_browser=False,
                               timeout=1, out=open(os.devnull, "w"))


def test_write_env_keeps_other_lines(tmp_path):
    from bot.connect import ConnectResult

    path = tmp_path / ".env"
    path.write_text("SLACK_BOT_TOKEN=xoxb-keep\nQBO_REALM_ID=1\n")
    write_env(str(path), ConnectResult("42", "AB11new", 0.0, "q.db"))
    from dotenv import dotenv_values

    assert dotenv_values(path) == {"SLACK_BOT_TOKEN": "xoxb-keep", "QBO_REALM_ID": "42",
                                   "QBO_REFRESH_TOKEN": "AB11new"}


def test_tokens_saved_by_connect_drive_the_qbo_adapter(tmp_path):
    """Whole sandbox: connect against the QBO stand-in's discovery URL, then the real
    QuickBooksAdapter, with no QBO_REFRESH_TOKEN configured, works from the stored chain."""
    from bot.adapters.quickbooks import QuickBooksAdapter
    from sandbox.app import Sandbox

    with Sandbox() as sb:
        sb.load("mixed")
        env = sb.bot_environment()
        redirect = f"http://localhost:{free_port()}/callback"
        settings = load_settings({"QBO_CLIENT_ID": env["QBO_CLIENT_ID"],
                                  "QBO_CLIENT_SECRET": env["QBO_CLIENT_SECRET"],
                                  "QBO_ENVIRONMENT": sb.qbo_discovery_url, "QBO_REDIRECT_URI": redirect,
                                  "QBSYNC_DB_PATH": str(tmp_path / "q.db")}, env_file=None)
        result = connect_quickbooks(settings, open_browser=False, timeout=10, out=open(os.devnull, "w"),
                                    on_url=lambda url: requests.get(url, timeout=10).raise_for_status())
        assert result.realm_id == sb.realm_id
        adapter = QuickBooksAdapter(client_id=env["QBO_CLIENT_ID"], client_secret=env["QBO_CLIENT_SECRET"],
                                    realm_id=result.realm_id, refresh_token=None,
                                    environment=sb.qbo_discovery_url, store=Store(tmp_path / "q.db"),
                                    api_base=sb.qbo_api_base, max_attempts=1)
        assert adapter.company_info()["CompanyName"] == sb.scenario["qbo"]["company_name"]
