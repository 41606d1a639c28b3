"""HubSpot's OAuth 2.0 for the stand-in: the page where a person picks an account and connects
an app, and the token endpoints, served on the HubSpot stand-in's host (HubSpotService).

    GET  /oauth/authorize?client_id&redirect_uri&scope&state   account chooser + "Connect app"
    POST /oauth/authorize                                       Connect app / Cancel
    POST /oauth/v1/token                                        code or refresh token -> tokens
    GET  /oauth/v1/access-tokens/{token}                        what an access token is for

Behaviour copied from HubSpot, with where it comes from:
- The flow: the app sends the person to https://app.hubspot.com/oauth/authorize with
  client_id, scope (space-separated), redirect_uri and optionally state; the person "will be
  presented with a screen that allows them to select their account and grant access"; HubSpot
  redirects to redirect_uri with `code` (and the same `state`); the app POSTs the code to
  /oauth/v1/token, form-encoded, with grant_type=authorization_code, client_id, client_secret
  and redirect_uri ("Working with OAuth",
  https://developers.hubspot.com/docs/apps/legacy-apps/authentication/working-with-oauth;
  "Manage OAuth access tokens using the v1 APIs",
  https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/guide).
  Cancel redirects with `error=access_denied` (OAuth 2.0's refusal code, RFC 6749 4.1.2.1).
- The token answer: access_token, refresh_token, expires_in, token_type "bearer", plus hub_id
  and scopes (added 2025-08-18: https://developers.hubspot.com/changelog/additional-details-returned-when-generating-oauth-access-tokens).
  Access tokens last 30 minutes (expires_in 1800:
  https://developers.hubspot.com/changelog/upcoming-expiration-of-oauth-access-tokens-is-changing).
  A refresh grant returns a new access token; HubSpot documents the refresh token as the
  long-lived credential to "store ... and use it to generate a new access token once the initial
  one expires" (https://developers.hubspot.com/docs/methods/OAuth2/refresh-access-token), i.e.
  it does not rotate: the stand-in answers with the same refresh token (set
  `rotate_refresh_tokens` to test a client against rotation anyway).
- Errors: HTTP 400 JSON with HubSpot's `status` and `message` (BAD_REFRESH_TOKEN "missing or
  invalid refresh token", as quoted in https://nango.dev/blog/hubspot-oauth-bad-refresh-token;
  BAD_AUTH_CODE / EXPIRED_AUTH_CODE for codes, the latter seen in
  https://github.com/HubSpot/hubspot-api-python/issues/115), plus RFC 6749's `error` and
  `error_description`, which HubSpot added alongside
  (https://developers.hubspot.com/changelog/new-oauth-v3-api-endpoints-and-standardized-error-responses).
  BAD_CLIENT_ID / BAD_CLIENT_SECRET / BAD_REDIRECT_URI follow the same pattern; their exact
  text is not in our sources, so qbsync only relies on "a 400 with a status".
- GET /oauth/v1/access-tokens/{token}: token, user, hub_domain, scopes, hub_id, app_id,
  expires_in, user_id, token_type "access"
  (https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/get-oauth-token-metadata).
- An issued access token works against the HubSpot stand-in for the chosen portal only, with
  the scopes asked for, until it expires (then: 401 EXPIRED_AUTHENTICATION, hubspot_http.py).
"""
from __future__ import annotations

import html
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

from .server import Request, Response, Route, json_response, text_response

if TYPE_CHECKING:  # pragma: no cover
    from .hubspot import HubSpotPortal
    from .hubspot_http import HubSpotService

ACCESS_TOKEN_TTL = 1800
CODE_TTL_S = 600
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/v1/token"


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]  # empty: any http(s) URL
    app_id: int


@dataclass
class _Code:
    client_id: str
    portal: "HubSpotPortal"
    scopes: tuple[str, ...]
    redirect_uri: str
    expires_at: float
    used: bool = False


@dataclass
class _Refresh:
    client_id: str
    portal: "HubSpotPortal"
    scopes: tuple[str, ...]
    active: bool = True


@dataclass
class _Access:
    client_id: str
    portal: "HubSpotPortal"
    scopes: tuple[str, ...]
    expires_at: float
    user_id: int = 2718281
    user: str = "owner@sandbox.example"


class _Refused(Exception):
    def __init__(self, status: str, message: str, error: str = "invalid_grant"):
        super().__init__(message)
        self.status, self.message, self.error = status, message, error


@dataclass
class HubSpotOAuth:
    """OAuth apps, codes and tokens for one HubSpotService (all its portals)."""

    service: "HubSpotService"
    access_ttl: float = ACCESS_TOKEN_TTL
    rotate_refresh_tokens: bool = False
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    refresh_count: int = 0          # successful refresh grants, for tests
    issued: list[str] = field(default_factory=list)   # access tokens in order, for tests

    def __post_init__(self):
        self.clock = self.service.clock
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, _Access] = {}
        self.service.extra_routes.extend(self.routes())

    # -- setup and test controls -------------------------------------------------------------
    def register_app(self, client_id: str, client_secret: str, redirect_uris=(), app_id: int = 4242001) -> OAuthApp:
        app = OAuthApp(client_id, client_secret, tuple(redirect_uris), app_id)
        with self._lock:
            self.apps[client_id] = app
        return app

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working now."""
        now = self.clock.time()
        with self._lock:
            for token, grant in self._access.items():
                grant.expires_at = min(grant.expires_at, now - 1)
                self.service.expire_token_at(token, grant.expires_at)

    def revoke(self, refresh_token: str) -> None:
        """The app was uninstalled from the portal: the refresh token stops working."""
        with self._lock:
            if refresh_token in self._refresh:
                self._refresh[refresh_token].active = False

    def refresh_token_valid(self, token: str) -> bool:
        with self._lock:
            grant = self._refresh.get(token)
            return bool(grant and grant.active)

    def routes(self) -> list[Route]:
        return [Route("GET", AUTHORIZE_PATH, self._consent_page),
                Route("POST", AUTHORIZE_PATH, self._decide),
                Route("POST", TOKEN_PATH, self._token),
                Route("GET", "/oauth/v1/access-tokens/{token}", self._access_token_info)]

    # -- the person's side -------------------------------------------------------------------
    def _check(self, q: dict) -> tuple[OAuthApp | None, str | None]:
        app = self.apps.get(q.get("client_id", ""))
        if app is None:
            return None, "The client_id is not a known app."
        uri = q.get("redirect_uri", "")
        if urlsplit(uri).scheme not in ("http", "https") or (app.redirect_uris and uri not in app.redirect_uris):
            return app, "The redirect_uri does not match the app's redirect URLs."
        if not q.get("scope"):
            return app, "The scope parameter is missing."
        return app, None

    def _consent_page(self, request: Request) -> Response:
        q = {k: v[0] for k, v in request.query.items()}
        _, problem = self._check(q)
        if problem:
            return _page(400, "Authorization failed", f"<p id='error'>{html.escape(problem)}</p>")
        hidden = "".join(f"<input type='hidden' name='{k}' value='{html.escape(q.get(k, ''), quote=True)}'>"
                         for k in ("client_id", "redirect_uri", "scope", "state"))
        options = "".join(f"<option value='{p.portal_id}'>Account {p.portal_id}</option>"
                          for p in self.service.portals)
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in q["scope"].split())
        body = (f"<form method='post' action='{AUTHORIZE_PATH}'>{hidden}"
                f"<label>Choose an account <select name='portal' id='portal'>{options}</select></label>"
                f"<p>The app is requesting access to:</p><ul id='scopes'>{scopes}</ul>"
                "<button type='submit' name='decision' value='cancel'>Cancel</button>"
                "<button type='submit' name='decision' value='connect' id='connect'>Connect app</button>"
                "</form>")
        return _page(200, "Connect app to your HubSpot account", body)

    def _decide(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.text(), keep_blank_values=True).items()}
        app, problem = self._check(form)
        if problem or app is None:
            return _page(400, "Authorization failed", f"<p id='error'>{html.escape(problem or '')}</p>")
        back: dict[str, str] = {}
        if form.get("decision") != "connect":
            back["error"] = "access_denied"
        else:
            portal = next((p for p in self.service.portals if str(p.portal_id) == form.get("portal")), None)
            if portal is None:
                return _page(400, "Authorization failed", "<p id='error'>Unknown account.</p>")
            code = str(uuid.uuid4())
            with self._lock:
                self._codes[code] = _Code(app.client_id, portal, tuple(form["scope"].split()),
                                          form["redirect_uri"], self.clock.time() + CODE_TTL_S)
            back["code"] = code
        if form.get("state"):
            back["state"] = form["state"]
        uri = form["redirect_uri"]
        sep = "&" if urlsplit(uri).query else "?"
        return Response(302, b"", {"Location": uri + sep + urlencode(back)})

    # -- the app's side ----------------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.text(), keep_blank_values=True).items()}
        try:
            app = self.apps.get(form.get("client_id", ""))
            if app is None:
                raise _Refused("BAD_CLIENT_ID", "missing or unknown client id", "invalid_client")
            if not secrets.compare_digest(form.get("client_secret", "").encode(), app.client_secret.encode()):
                raise _Refused("BAD_CLIENT_SECRET", "missing or invalid client secret", "invalid_client")
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                payload = self._exchange(app, form)
            elif grant_type == "refresh_token":
                payload = self._refresh_grant(app, form)
            else:
                raise _Refused("BAD_GRANT_TYPE", "grant_type must be authorization_code or refresh_token",
                               "unsupported_grant_type")
        except _Refused as no:
            return json_response(400, {"status": no.status, "message": no.message, "error": no.error,
                                       "error_description": no.message, "correlationId": str(uuid.uuid4())})
        return json_response(200, payload, {"Cache-Control": "no-store"})

    def _exchange(self, app: OAuthApp, form: dict) -> dict:
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.used or code.client_id != app.client_id:
                raise _Refused("BAD_AUTH_CODE", "missing or unknown auth code")
            if code.expires_at <= self.clock.time():
                raise _Refused("EXPIRED_AUTH_CODE", "auth code is expired")
            if form.get("redirect_uri") != code.redirect_uri:
                raise _Refused("BAD_REDIRECT_URI", "redirect_uri does not match the authorization request")
            code.used = True
            refresh = str(uuid.uuid4())
            self._refresh[refresh] = _Refresh(app.client_id, code.portal, code.scopes)
        return self._tokens(app, refresh)

    def _refresh_grant(self, app: OAuthApp, form: dict) -> dict:
        with self._lock:
            token = form.get("refresh_token", "")
            grant = self._refresh.get(token)
            if grant is None or not grant.active or grant.client_id != app.client_id:
                raise _Refused("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
            self.refresh_count += 1
            if self.rotate_refresh_tokens:
                grant.active = False
                token = str(uuid.uuid4())
                self._refresh[token] = _Refresh(app.client_id, grant.portal, grant.scopes)
        return self._tokens(app, token)

    def _tokens(self, app: OAuthApp, refresh_token: str) -> dict:
        grant = self._refresh[refresh_token]
        access = "CK" + secrets.token_urlsafe(60)  # opaque, ~80 characters like HubSpot's
        expires_at = self.clock.time() + self.access_ttl
        with self._lock:
            self._access[access] = _Access(app.client_id, grant.portal, grant.scopes, expires_at)
            self.issued.append(access)
        self.service.add_token(access, grant.portal, grant.scopes)
        self.service.expire_token_at(access, expires_at)
        return {"token_type": "bearer", "refresh_token": refresh_token, "access_token": access,
                "expires_in": int(self.access_ttl), "hub_id": grant.portal.portal_id, "scopes": list(grant.scopes)}

    def _access_token_info(self, request: Request) -> Response:
        token = request.path_params["token"]
        with self._lock:
            grant = self._access.get(token)
        now = self.clock.time()
        if grant is None or grant.expires_at <= now:
            return json_response(400, {"status": "BAD_ACCESS_TOKEN", "message": "missing or invalid access token",
                                       "error": "invalid_token", "correlationId": str(uuid.uuid4())})
        app = self.apps[grant.client_id]
        return json_response(200, {
            "token": token, "user": grant.user, "hub_domain": f"portal-{grant.portal.portal_id}.sandbox.example",
            "scopes": list(grant.scopes), "hub_id": grant.portal.portal_id, "app_id": app.app_id,
            "expires_in": int(grant.expires_at - now), "user_id": grant.user_id, "token_type": "access"})


def _page(status: int, title: str, body: str) -> Response:
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
           f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return text_response(status, doc, "text/html; charset=utf-8")
