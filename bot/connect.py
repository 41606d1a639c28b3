"""`qbsync connect quickbooks`: the OAuth 2.0 authorization-code flow with intuit-oauth.

1. Build the consent URL with AuthClient (scope com.intuit.quickbooks.accounting and a
   fresh random `state`); listen on the redirect URI's localhost port before printing the
   URL (so a busy port fails early); print it, open a browser unless told not to.
2. The callback `GET <redirect path>?code=&state=&realmId=` (or `?error=access_denied`)
   arrives once; a wrong `state` is refused (it did not come from our consent page).
3. Exchange the code (AuthClient.get_bearer_token), save the tokens in the Store
   (seed_hash = sha256 of the new refresh token: it seeds qbsync's token chain), and say
   what to put in the configuration.
"""
from __future__ import annotations

import hashlib
import html
import secrets
import sys
import threading
import time
import webbrowser
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import IO, Callable
from urllib.parse import parse_qs, urlsplit

from .config import Settings
from .errors import ApiError, ConfigError, QbsyncError
from .slack_scopes import QBO_SCOPES

DEFAULT_TIMEOUT_S = 300
_LOCAL_HOSTS = ("localhost", "127.0.0.1")


class ConnectError(QbsyncError):
    """The consent flow did not complete (timeout, refused, wrong state)."""


@dataclass(frozen=True)
class ConnectResult:
    realm_id: str
    refresh_token: str
    refresh_expires_at: float
    db_path: str


@dataclass
class _Callback:
    code: str | None = None
    realm_id: str | None = None
    error: str | None = None


def _redirect_target(redirect_uri: str) -> tuple[str, int, str]:
    """(host, port, path) to listen on; the redirect URI must be local plain http."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in _LOCAL_HOSTS:
        raise ConfigError([
            f"QBO_REDIRECT_URI must be http://localhost:PORT/PATH for `qbsync connect quickbooks` "
            f"(it runs the callback server itself), got {redirect_uri!r}"])
    return "127.0.0.1", parts.port or 80, parts.path or "/"


class _CallbackServer(HTTPServer):
    """A one-shot server: the first request to the redirect path with a matching state (or
    an OAuth error) settles the flow; everything else gets 404/400 and is ignored."""

    allow_reuse_address = True

    def __init__(self, host: str, port: int, path: str, state: str):
        self.expected_path = path
        self.expected_state = state
        self.result = _Callback()
        self.done = threading.Event()
        super().__init__((host, port), _CallbackHandler)


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def log_message(self, format, *args):  # the query holds the authorization code: never log it
        pass

    def _page(self, status: int, title: str, text: str) -> None:
        body = (f"<!doctype html><meta charset=utf-8><title>qbsync</title>"
                f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        parts = urlsplit(self.path)
        if parts.path != srv.expected_path or srv.done.is_set():
            self._page(404, "Not found", "This is qbsync's one-time QuickBooks callback.")
            return
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        # Constant-time compare: the state is what proves the callback followed our URL.
        if not secrets.compare_digest(q.get("state", ""), srv.expected_state):
            srv.result = _Callback(error="the callback's state does not match the consent URL qbsync "
                                         "printed (a stale or forged link); nothing was saved")
            self._page(400, "qbsync: wrong state", "This link did not come from qbsync's consent page.")
            srv.done.set()
            return
        if "error" in q:
            reason = q.get("error", "")
            srv.result = _Callback(error=f"QuickBooks answered '{reason}' (consent refused or cancelled)")
            self._page(200, "qbsync: not connected", "QuickBooks did not grant access. You can close this tab.")
            srv.done.set()
            return
        code, realm = q.get("code", ""), q.get("realmId", "")
        if not code or not realm.isdigit():
            srv.result = _Callback(error="the callback lacks a code or a numeric realmId")
            self._page(400, "qbsync: incomplete callback", "The callback lacks code or realmId.")
            srv.done.set()
            return
        srv.result = _Callback(code=code, realm_id=realm)
        self._page(200, "qbsync: QuickBooks connected",
                   f"Company {realm} is connected. You can close this tab and return to the terminal.")
        srv.done.set()


def _auth_client(settings: Settings):
    from intuitlib.client import AuthClient
    from requests import RequestException

    try:
        # The constructor fetches the discovery document for the environment.
        return AuthClient(settings.qbo_client_id, settings.qbo_client_secret,
                          settings.qbo_redirect_uri, settings.qbo_environment)
    except RequestException as exc:
        raise ApiError("qbo", f"cannot fetch Intuit's OAuth discovery document ({type(exc).__name__})") from exc
    except Exception as exc:  # AuthClientError (non-200) or a malformed document
        status = getattr(exc, "status_code", None)
        raise ApiError("qbo", "cannot read Intuit's OAuth discovery document", status=status) from exc


def _exchange(client, code: str, realm_id: str) -> None:
    from intuitlib.exceptions import AuthClientError
    from requests import RequestException

    try:
        client.get_bearer_token(code, realm_id=realm_id)
    except AuthClientError as exc:
        # Intuit's body here is {"error": "invalid_grant"} and the like: no secrets, but
        # keep only the error field rather than echoing a whole body.
        error = ""
        try:
            error = exc.response.json().get("error", "")
        except Exception:  # noqa: S110 - best effort: the message below stands without it
            pass
        raise ApiError("qbo", f"the authorization code was refused{': ' + error if error else ''}",
                       status=exc.status_code) from None
    except RequestException as exc:
        raise ApiError("qbo", f"cannot reach Intuit's token endpoint ({type(exc).__name__})") from None


def connect_quickbooks(settings: Settings, *, open_browser: bool = True,
                       timeout: float = DEFAULT_TIMEOUT_S, out: IO[str] | None = None,
                       on_url: Callable[[str], None] | None = None, store=None,
                       clock: Callable[[], float] = time.time) -> ConnectResult:
    """Run the whole consent flow; returns what was saved. Raises ConfigError, ApiError or
    ConnectError (all one-line messages for the CLI)."""
    settings.require("connect")
    out = out or sys.stdout
    host, port, path = _redirect_target(settings.qbo_redirect_uri)
    client = _auth_client(settings)
    from intuitlib.enums import Scopes

    state = secrets.token_urlsafe(32)
    scopes = [Scopes(s) for s in QBO_SCOPES]
    url = client.get_authorization_url(scopes, state_token=state)
    try:
        server = _CallbackServer(host, port, path, state)
    except OSError as exc:
        raise ConnectError(f"cannot listen on {host}:{port} for the callback ({exc.strerror}); "
                           f"free the port or change QBO_REDIRECT_URI (and the app's redirect URI)") from None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="qbsync-connect-callback", daemon=True)
    thread.start()
    try:
        out.write("Open this URL to let qbsync read and write your QuickBooks company:\n\n"
                  f"  {url}\n\n"
                  f"Waiting for QuickBooks to send you back to {settings.qbo_redirect_uri} "
                  f"(up to {timeout:.0f} s)...\n")
        out.flush()
        if on_url:
            on_url(url)
        if open_browser:
            try:
                webbrowser.open(url)
            except Exception:  # noqa: S110 - the URL is printed; a missing browser is not an error
                pass
        if not server.done.wait(timeout):
            raise ConnectError(f"no answer from QuickBooks within {timeout:.0f} s; nothing was saved. "
                               "Run `qbsync connect quickbooks` again and finish the consent page "
                               "(check that the app's redirect URI is exactly "
                               f"{settings.qbo_redirect_uri}).")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    result = server.result
    if result.error or not result.code or not result.realm_id:  # a callback sets an error or both
        raise ConnectError(result.error or "the callback lacks a code or a realmId")
    _exchange(client, result.code, result.realm_id)
    if not client.refresh_token or not client.access_token:
        raise ApiError("qbo", "the token endpoint answered without tokens")

    now = clock()
    refresh_expires_at = now + float(client.x_refresh_token_expires_in or 0)
    tokens = {
        "access_token": client.access_token,
        "access_expires_at": now + float(client.expires_in or 0),
        "refresh_token": client.refresh_token,
        "refresh_expires_at": refresh_expires_at,
        # The chain starts from this refresh token; the config carries it as QBO_REFRESH_TOKEN.
        "seed_hash": hashlib.sha256(client.refresh_token.encode()).hexdigest(),
        "updated_at": now,
    }
    own_store = store is None
    if own_store:
        from .store import Store

        store = Store(settings.store_target)
    try:
        store.save_qbo_tokens(result.realm_id, tokens)
    finally:
        if own_store:
            store.close()
    # where the tokens went, for the report (a PostgreSQL URL without its password)
    from .store.db import describe

    return ConnectResult(result.realm_id, client.refresh_token, refresh_expires_at, describe(settings.store_target))


def write_env(path: str, result: ConnectResult) -> None:
    """Set QBO_REALM_ID and QBO_REFRESH_TOKEN in a dotenv file (created owner-only)."""
    import os

    from dotenv import set_key

    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    set_key(path, "QBO_REALM_ID", result.realm_id)
    set_key(path, "QBO_REFRESH_TOKEN", result.refresh_token)


def report(result: ConnectResult, settings: Settings, out: IO[str], *, env_file: str | None = None,
           show_token: bool = False) -> None:
    """Say what was saved and what the configuration needs. The refresh token is printed
    only on request: the database already holds it, and terminals get logged/recorded."""
    days = max(0.0, (result.refresh_expires_at - time.time()) / 86400)
    out.write(f"\nConnected QuickBooks company {result.realm_id}. Tokens saved in {result.db_path} "
              f"(the refresh token lasts {days:.0f} days and qbsync renews it while it runs).\n")
    if settings.qbo_realm_id and settings.qbo_realm_id != result.realm_id:
        out.write(f"Note: your configuration has QBO_REALM_ID={settings.qbo_realm_id}, a different company.\n")
    if env_file:
        out.write(f"Wrote QBO_REALM_ID and QBO_REFRESH_TOKEN to {env_file}.\n")
        return
    out.write(f"\nPut this in your configuration (.env or your secret store):\n\n"
              f"  QBO_REALM_ID={result.realm_id}\n")
    if show_token:
        out.write(f"  QBO_REFRESH_TOKEN={result.refresh_token}\n\n"
                  "The refresh token is a secret: do not paste it into chat or commit it.\n")
    else:
        out.write("\nQBO_REFRESH_TOKEN can stay empty while qbsync uses this database. If qbsync "
                  "runs with another database (another machine or container), connect again with "
                  "--write-env or --show-token to carry the token over.\n")
