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
import secrets
import time
from dataclasses import dataclass
from typing import IO, Callable

from .config import Settings
from .errors import ApiError
from .oauth_callback import DEFAULT_TIMEOUT_S, ConnectError, redirect_target, run_consent
from .slack_scopes import QBO_SCOPES

__all__ = ["DEFAULT_TIMEOUT_S", "ConnectError", "ConnectResult", "connect_quickbooks", "report", "write_env"]


@dataclass(frozen=True)
class ConnectResult:
    realm_id: str
    refresh_token: str
    refresh_expires_at: float
    db_path: str
    connection: str | None = None   # the connection the tokens went to (None: the env company)


def _check_qbo_callback(q: dict[str, str]) -> str | None:
    if not q.get("code") or not q.get("realmId", "").isdigit():
        return "the callback lacks a code or a numeric realmId"
    return None


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
                       clock: Callable[[], float] = time.time, connection: str | None = None) -> ConnectResult:
    """Run the whole consent flow; returns what was saved. Raises ConfigError, ApiError or
    ConnectError (all one-line messages for the CLI).

    `connection` (bot/connections.py): the tokens go to that connection's own store and its
    realm id to the connections list; None: the company configured from the environment
    (tokens in the main store, as always)."""
    settings.require("connect")
    redirect_target(settings.qbo_redirect_uri, "QBO_REDIRECT_URI", "qbsync connect quickbooks")  # fail early
    if connection is not None:
        from .connections import check_id

        check_id(connection)
    client = _auth_client(settings)
    from intuitlib.enums import Scopes

    state = secrets.token_urlsafe(32)
    scopes = [Scopes(s) for s in QBO_SCOPES]
    url = client.get_authorization_url(scopes, state_token=state)
    q = run_consent(url, redirect_uri=settings.qbo_redirect_uri, state=state, service="QuickBooks",
                    setting="QBO_REDIRECT_URI", command="qbsync connect quickbooks", check=_check_qbo_callback,
                    open_browser=open_browser, timeout=timeout, out=out, on_url=on_url)
    code, realm_id = q["code"], q["realmId"]
    _exchange(client, code, realm_id)
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
    from .store import Store

    own_store = store is None
    if own_store:
        store = Store(settings.store_target, connection=connection)
    try:
        store.save_qbo_tokens(realm_id, tokens)
    finally:
        if own_store:
            store.close()
    if connection is not None:
        from .connections import ConnectionRegistry

        main = Store(settings.store_target)
        try:
            ConnectionRegistry(main).save(connection, qbo_realm_id=realm_id)
        finally:
            main.close()
    # where the tokens went, for the report (a PostgreSQL URL without its password)
    from .store.db import describe

    return ConnectResult(realm_id, client.refresh_token, refresh_expires_at, describe(settings.store_target),
                         connection)


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
    if result.connection is not None:
        out.write(f"\nConnected QuickBooks company {result.realm_id} to connection {result.connection}. Its tokens "
                  f"are in the connection's own store beside {result.db_path} (the refresh token lasts {days:.0f} "
                  "days and qbsync renews it while it runs).\n")
        return
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
