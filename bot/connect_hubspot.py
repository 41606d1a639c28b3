"""`qbsync connect hubspot --connection ID [--service-key]`: give a connection its HubSpot portal.

- OAuth (the default; needs HUBSPOT_CLIENT_ID/SECRET of qbsync's project-based HubSpot app):
  the consent page (bot/hubspot_oauth.py authorize_url) and the local callback
  (bot/oauth_callback.py, `state` checked); the code is exchanged for tokens, the portal id read
  from the access token's details, and the token set stored sealed in the connection's row.
- Service Key (--service-key): for a portal without qbsync's app. HubSpot's Service Keys are
  made in the portal (Development > Keys > Service keys) and sent as a Bearer token like a
  private app's (/work/shared/knowledge/apis.md, "Credentials"). The key is read from
  HUBSPOT_SERVICE_KEY or a hidden prompt, never from the command line (argv shows in `ps`),
  and checked against GET /account-info/v3/details, which also names the portal, before it is
  stored sealed.
"""
from __future__ import annotations

import getpass
import os
import secrets
import time
from typing import IO, Callable, Mapping

from . import hubspot_oauth
from .connections import Connection, ConnectionRegistry, check_id
from .errors import ApiError, ConfigError
from .oauth_callback import DEFAULT_TIMEOUT_S, redirect_target, run_consent

SERVICE_KEY_ENV = "HUBSPOT_SERVICE_KEY"


def _registry(settings, main_store) -> ConnectionRegistry:
    from .token_cipher import TokenCipher

    return ConnectionRegistry(main_store, cipher=TokenCipher(settings.secret_key))


def _check_callback(q: dict[str, str]) -> str | None:
    return None if q.get("code") else "the callback lacks a code"


def connect_oauth(settings, main_store, connection_id: str, *, open_browser: bool = True,
                  timeout: float = DEFAULT_TIMEOUT_S, out: IO[str] | None = None,
                  on_url: Callable[[str], None] | None = None, clock: Callable[[], float] = time.time) -> Connection:
    """The whole consent flow; returns the connection as saved. Raises ConfigError, ApiError,
    ConnectError or ConnectionProblem."""
    check_id(connection_id)
    hubspot_oauth.require_app(settings)
    redirect_target(settings.hubspot_redirect_uri, "HUBSPOT_REDIRECT_URI", "qbsync connect hubspot")  # fail early
    state = secrets.token_urlsafe(32)
    q = run_consent(hubspot_oauth.authorize_url(settings, state), redirect_uri=settings.hubspot_redirect_uri,
                    state=state, service="HubSpot", setting="HUBSPOT_REDIRECT_URI",
                    command=f"qbsync connect hubspot --connection {connection_id}", check=_check_callback,
                    open_browser=open_browser, timeout=timeout, out=out, on_url=on_url)
    tokens = hubspot_oauth.exchange_code(settings, q["code"], clock=clock)
    info = hubspot_oauth.token_info(settings, tokens["access_token"])
    hub_id = info.get("hub_id")
    if not hub_id:
        raise ApiError("hubspot", "the access token's details name no portal (hub_id)")
    tokens["hub_id"] = int(hub_id)
    tokens["scopes"] = list(info.get("scopes") or [])
    return _registry(settings, main_store).set_hubspot_secret(connection_id, "oauth", tokens, portal_id=str(hub_id))


def read_service_key(environ: Mapping[str, str] | None = None,
                     prompt: Callable[[str], str] = getpass.getpass) -> str:
    """The key from HUBSPOT_SERVICE_KEY, else typed at a prompt that does not echo."""
    env = os.environ if environ is None else environ
    key = (env.get(SERVICE_KEY_ENV) or "").strip()
    if not key:
        try:
            key = (prompt("HubSpot Service Key (not shown): ") or "").strip()
        except EOFError:   # no terminal to type it in (a pipe, a service)
            key = ""
    if not key:
        raise ConfigError([f"no Service Key: set {SERVICE_KEY_ENV} or type it at the prompt"])
    if any(ch.isspace() for ch in key):
        raise ConfigError(["the Service Key contains spaces; copy it again from HubSpot"])
    return key


def connect_service_key(settings, main_store, connection_id: str, key: str) -> Connection:
    """Check the key against HubSpot (it must read the account's details), then store it sealed
    with the portal id it belongs to. Nothing is stored when HubSpot refuses it."""
    from .adapters.hubspot import HubSpotAdapter

    check_id(connection_id)
    adapter = HubSpotAdapter(key, host=settings.hubspot_api_base, max_attempts=2, timeout=20)
    try:
        details = adapter.account_details()
    except ApiError as exc:
        raise ApiError("hubspot", f"HubSpot did not accept the Service Key ({exc.message}); nothing was saved",
                       status=exc.status) from None
    portal = details.get("portal_id")
    if not portal:
        raise ApiError("hubspot", "HubSpot's account details name no portal; nothing was saved")
    return _registry(settings, main_store).set_hubspot_secret(connection_id, "service_key", {"token": key},
                                                              portal_id=str(portal))
