"""HubSpot OAuth for connections: the consent URL, the code exchange, what a token is for, and
`current_access_token`, which renews a connection's access token when it is near expiry.

Facts (HubSpot's docs):
- Consent page: https://app.hubspot.com/oauth/authorize?client_id&scope&redirect_uri&state,
  scopes space-separated; the person picks an account and grants access; HubSpot redirects
  with `code` ("Working with OAuth",
  https://developers.hubspot.com/docs/apps/legacy-apps/authentication/working-with-oauth).
- Tokens: POST /oauth/v1/token, form-encoded, grant_type=authorization_code (code,
  redirect_uri) or refresh_token (refresh_token), with client_id and client_secret; the
  answer has access_token, refresh_token, expires_in (seconds; 1800 today) and token_type
  (https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/guide,
  https://developers.hubspot.com/changelog/upcoming-expiration-of-oauth-access-tokens-is-changing).
  hubspot-api-client 12 wraps it as `client.oauth.tokens_api.create(grant_type=..., ...)`.
  HubSpot tells apps to follow expires_in rather than hard-code a lifetime (same changelog).
- GET /oauth/v1/access-tokens/{token} answers hub_id (the portal) and scopes
  (https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/get-oauth-token-metadata;
  `client.oauth.access_tokens_api.get(token)`).
- Refresh tokens: HubSpot documents the refresh token as the long-lived credential to store
  and reuse (https://developers.hubspot.com/docs/methods/OAuth2/refresh-access-token); it
  does not say it rotates. We do not depend on either: whatever refresh_token an answer
  carries is stored, and two workers never refresh one connection at once (below), so a
  rotating server would not strand the second one with a spent token.
- The v1 endpoints are to be retired on 2027-02-16 in favour of /oauth/2026-03/token
  (https://developers.hubspot.com/changelog/v1-oauth-api-deprecation); hubspot-api-client
  12 calls v1, so this follows the client; moving is a change of client version.

Concurrency: the token set is one sealed value in the `connections` row of the main store.
A worker whose copy is near expiry takes the main store's write lock (SQLite BEGIN IMMEDIATE,
PostgreSQL's transaction advisory lock: bot/store/db.py), reads the row again, and refreshes
only if it is still near expiry; the new set is written in that transaction. A second worker
waiting on the lock then finds the fresh token and uses it. The lock is held for one HTTP call
to HubSpot (timeout REFRESH_TIMEOUT_S), about once per connection per 20 minutes.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable
from urllib.parse import urlencode

from .errors import ApiError, AuthError, ConfigError
from .slack_scopes import HUBSPOT_SCOPES

AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
# "oauth" is in every scope list of HubSpot's OAuth examples (e.g. the token answer in
# https://developers.hubspot.com/changelog/additional-details-returned-when-generating-oauth-access-tokens).
OAUTH_SCOPES: tuple[str, ...] = ("oauth", *HUBSPOT_SCOPES)
# Renew when less than this is left: a scan started with the token finishes before it expires.
REFRESH_MARGIN_S = 600
REFRESH_TIMEOUT_S = 20


def require_app(settings) -> None:
    missing = [env for env, value in (("HUBSPOT_CLIENT_ID", settings.hubspot_client_id),
                                      ("HUBSPOT_CLIENT_SECRET", settings.hubspot_client_secret)) if not value]
    if missing:
        raise ConfigError([f"{env} is missing: HubSpot OAuth needs qbsync's HubSpot app (its Auth tab); "
                           "or connect with a Service Key (--service-key)" for env in missing])


def authorize_url(settings, state: str) -> str:
    base = settings.hubspot_authorize_url or AUTHORIZE_URL
    query = urlencode({"client_id": settings.hubspot_client_id, "redirect_uri": settings.hubspot_redirect_uri,
                       "scope": " ".join(OAUTH_SCOPES), "state": state})
    return f"{base}?{query}"


def _client(settings):
    from hubspot import HubSpot
    from urllib3 import Retry

    # No retries: an authorization code works once, and a failed refresh is tried again by the
    # next scan.
    kwargs: dict[str, Any] = {"retry": Retry(total=0, redirect=0, raise_on_status=False)}
    if settings.hubspot_api_base:
        kwargs["host"] = settings.hubspot_api_base.rstrip("/")
    return HubSpot(**kwargs)


def _call(what: str, fn: Callable, **kwargs) -> dict:
    """One OAuth call, its JSON answer; HubSpot's refusal as ApiError/AuthError with its
    `status` code only (never the tokens or the client secret sent)."""
    import urllib3
    from hubspot.oauth import ApiException

    try:
        resp = fn(**kwargs, _preload_content=False, _request_timeout=REFRESH_TIMEOUT_S)
        return json.loads(resp.data or b"{}")
    except ApiException as exc:
        code = ""
        try:
            body = json.loads(exc.body or "{}")
            code = str(body.get("status") or body.get("error") or "")
        except (ValueError, AttributeError):
            pass
        cls = AuthError if exc.status in (400, 401) else ApiError
        raise cls("hubspot", f"{what} was refused", status=exc.status, code=code or None) from None
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise ApiError("hubspot", f"cannot {what} ({type(exc).__name__})") from None


def token_set(answer: dict, now: float, previous: dict | None = None) -> dict:
    """What is stored (sealed) for a connection: the tokens and when the access token expires."""
    if not answer.get("access_token"):
        raise ApiError("hubspot", "the token endpoint answered without an access token")
    refresh = answer.get("refresh_token") or (previous or {}).get("refresh_token")
    if not refresh:
        raise ApiError("hubspot", "the token endpoint answered without a refresh token")
    return {"access_token": answer["access_token"], "refresh_token": refresh,
            "expires_at": now + float(answer.get("expires_in") or 0),
            "token_type": answer.get("token_type") or "bearer", "updated_at": now}


def exchange_code(settings, code: str, *, clock: Callable[[], float] = time.time) -> dict:
    answer = _call("exchange the authorization code", _client(settings).oauth.tokens_api.create,
                   grant_type="authorization_code", code=code, redirect_uri=settings.hubspot_redirect_uri,
                   client_id=settings.hubspot_client_id, client_secret=settings.hubspot_client_secret)
    return token_set(answer, clock())


def refresh(settings, tokens: dict, *, clock: Callable[[], float] = time.time) -> dict:
    answer = _call("renew the HubSpot access token", _client(settings).oauth.tokens_api.create,
                   grant_type="refresh_token", refresh_token=tokens["refresh_token"],
                   client_id=settings.hubspot_client_id, client_secret=settings.hubspot_client_secret,
                   redirect_uri=settings.hubspot_redirect_uri)
    return token_set(answer, clock(), previous=tokens)


def token_info(settings, access_token: str) -> dict:
    """{"hub_id", "scopes", ...} of an access token."""
    return _call("read the access token's details", _client(settings).oauth.access_tokens_api.get,
                 token=access_token)


def _fresh(tokens: dict | None, now: float) -> bool:
    return bool(tokens and tokens.get("access_token") and float(tokens.get("expires_at") or 0) - now > REFRESH_MARGIN_S)


def current_access_token(settings, main_store, connection, secret: dict, *, cipher,
                         clock: Callable[[], float] = time.time) -> str:
    """The connection's HubSpot access token, renewed first when less than REFRESH_MARGIN_S is
    left (see the module's note on two workers). Raises ConfigError without the HubSpot app's
    settings, AuthError when HubSpot refuses the refresh token (the app was uninstalled:
    connect again)."""
    if _fresh(secret, clock()):
        return secret["access_token"]
    require_app(settings)
    from .connections import ConnectionRegistry
    from .store import Store

    # A Store of our own on the main database: its write transaction is the lock, and the
    # caller's Store (shared with Slack handlers in `qbsync run`) is not held during the call.
    # ':memory:' exists only in its one connection: use it as is.
    own = None if main_store.main_path in (":memory:", "") else Store(main_store.main_path)
    store = own or main_store
    try:
        registry = ConnectionRegistry(store, cipher=cipher)
        with store.transaction():
            current = registry.hubspot_secret(connection.id)
            if current is None:
                raise ConfigError([f"connection {connection.id!r}: its HubSpot credential cannot be read "
                                   "(removed, or sealed with another QBSYNC_SECRET_KEY); connect it again"])
            if _fresh(current, clock()):
                return current["access_token"]    # another worker renewed it while we waited
            try:
                renewed = refresh(settings, current, clock=clock)
            except AuthError as exc:
                raise AuthError("hubspot", f"connection {connection.id!r}: {exc.message} (was the app "
                                f"uninstalled? run qbsync connect hubspot --connection {connection.id})",
                                status=exc.status, code=exc.code, words="hubspot_refresh_refused",
                                values={"connection": connection.id}, quoted="") from None
            registry.set_hubspot_secret(connection.id, "oauth", renewed)
        return renewed["access_token"]
    finally:
        if own is not None:
            own.close()
