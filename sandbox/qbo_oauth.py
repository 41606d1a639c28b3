"""Intuit's OAuth 2.0 side, as the sandbox plays it: discovery document, authorize (the
sandbox consents for the user), token, revoke, plus the registry of issued tokens that the
QBO API stand-in (qbo.py) checks bearer tokens against.

Layout choice: `oauth_routes(registry)` returns the routes, and `QboService` (qbo.py) serves
them next to the accounting API on one port by default, because a test then needs one
server and one URL. `QboOAuthService` serves the same routes alone, for a test that wants
the token host separate from the API host as it is at Intuit.

Behaviour copied from Intuit (intuit-oauth 1.2.6 source and Intuit's OAuth docs):
- discovery keys issuer, authorization_endpoint, token_endpoint, revocation_endpoint,
  jwks_uri, userinfo_endpoint (intuitlib.utils.get_discovery_doc reads exactly these);
  paths mirror Intuit's (/connect/oauth2, /oauth2/v1/tokens/bearer,
  /v2/oauth2/tokens/revoke, /op/v1/jwks, /v1/openid_connect/userinfo);
- token answers: access_token, refresh_token, token_type "bearer", expires_in 3600,
  x_refresh_token_expires_in 8726400 (101 days);
- client authentication by HTTP Basic (AuthClient sends it); a wrong secret is
  401 {"error":"invalid_client"}; a refresh token that is unknown, used, expired or revoked
  is 400 {"error":"invalid_grant"}.
- The consent page (opt-in, `registry.consent_realms`): Intuit's authorization page has the
  person sign in, pick the QuickBooks company and click Connect; it then redirects with
  `code`, `state` and `realmId` ("the unique ID of the connected user's QuickBooks Online
  company", Intuit's OAuth 2.0 guide step as quoted in
  https://github.com/intuit/oauth-pythonclient/issues/28). Without it the sandbox consents at
  once with a 302 (tests driving the flow with `requests`); a browser test turns it on.
- A refresh here ROTATES the refresh token and the old one stops working at once. Intuit
  may hand back the same refresh token for a while; rotation is the harder case for a
  client, so the sandbox plays it (configurable: rotate_refresh_tokens=False).
Every expiry reads the sandbox Clock, so a test can `clock.advance(3601)`.
"""
from __future__ import annotations

import base64
import html
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qs, urlencode

from .clock import Clock
from .server import Request, Response, Route, Service, json_response, text_response

ACCESS_TOKEN_TTL = 3600
REFRESH_TOKEN_TTL = 8726400
AUTH_CODE_TTL = 600
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"

DISCOVERY_PATHS = (
    "/.well-known/openid_sandbox_configuration",
    "/.well-known/openid_sandbox_configuration/",
    "/.well-known/openid_configuration",
    "/.well-known/openid_configuration/",
)
AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
JWKS_PATH = "/op/v1/jwks"
USERINFO_PATH = "/v1/openid_connect/userinfo"


class OAuthError(Exception):
    def __init__(self, status: int, error: str):
        self.status = status
        self.error = error
        super().__init__(f"{status} {error}")


@dataclass
class AccessGrant:
    token: str
    client_id: str
    realm_id: str
    expires_at: float
    active: bool = True


@dataclass
class RefreshGrant:
    token: str
    client_id: str
    realm_id: str
    expires_at: float
    active: bool = True


@dataclass
class _Client:
    client_id: str
    client_secret: str
    redirect_uris: set[str] = field(default_factory=set)


@dataclass
class _Code:
    code: str
    client_id: str
    realm_id: str
    redirect_uri: str
    expires_at: float
    used: bool = False


class QboTokenRegistry:
    """Clients, authorization codes, refresh and access tokens. Thread-safe."""

    def __init__(self, clock: Clock, default_realm_id: str = "9341453189012345", *,
                 rotate_refresh_tokens: bool = True, realm_source: Callable[[], str] | None = None):
        self.clock = clock
        self._default_realm_id = default_realm_id
        self._realm_source = realm_source
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.lock = threading.RLock()
        self._clients: dict[str, _Client] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, AccessGrant] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self.refresh_count = 0  # successful refresh_token grants, for tests
        # Realms a person may pick on a consent page; None: no page, consent at once.
        self.consent_realms: Callable[[], list[str]] | None = None

    @property
    def default_realm_id(self) -> str:
        """The company a user connecting the app picks (the authorize step's realmId)."""
        return self._realm_source() if self._realm_source else self._default_realm_id

    # -- setup ------------------------------------------------------------------------------
    def register_client(self, client_id: str, client_secret: str, redirect_uris=()) -> None:
        with self.lock:
            self._clients[client_id] = _Client(client_id, client_secret, set(redirect_uris))

    @property
    def default_client_id(self) -> str:
        with self.lock:
            return next(iter(self._clients))

    def issue_refresh_token(self, client_id: str | None = None, realm_id: str | None = None) -> str:
        """Mint a refresh token as if the user had connected the app (test and demo setup)."""
        with self.lock:
            client_id = client_id or self.default_client_id
            token = "AB11" + secrets.token_urlsafe(36)
            self._refresh[token] = RefreshGrant(token, client_id, realm_id or self.default_realm_id,
                                                self.clock.time() + REFRESH_TOKEN_TTL)
            return token

    def issue_access_token(self, client_id: str | None = None, realm_id: str | None = None,
                           ttl: float = ACCESS_TOKEN_TTL) -> str:
        with self.lock:
            client_id = client_id or self.default_client_id
            token = "eyJ" + secrets.token_urlsafe(48)
            self._access[token] = AccessGrant(token, client_id, realm_id or self.default_realm_id,
                                              self.clock.time() + ttl)
            return token

    # -- test controls ----------------------------------------------------------------------
    def expire_access_tokens(self) -> None:
        with self.lock:
            for grant in self._access.values():
                grant.expires_at = min(grant.expires_at, self.clock.time() - 1)

    def expire_refresh_token(self, token: str) -> None:
        with self.lock:
            if token in self._refresh:
                self._refresh[token].expires_at = self.clock.time() - 1

    def revoke_all(self) -> None:
        """The user disconnected the app: every token stops working."""
        with self.lock:
            for grant in list(self._access.values()) + list(self._refresh.values()):
                grant.active = False

    def refresh_token_valid(self, token: str) -> bool:
        with self.lock:
            grant = self._refresh.get(token)
            return bool(grant and grant.active and grant.expires_at > self.clock.time())

    # -- checks the API side uses -----------------------------------------------------------
    def check_access(self, token: str | None) -> AccessGrant | None:
        """The grant behind a bearer token if it is valid now, else None."""
        if not token:
            return None
        with self.lock:
            grant = self._access.get(token)
            if grant is None or not grant.active or grant.expires_at <= self.clock.time():
                return None
            return grant

    # -- grants -----------------------------------------------------------------------------
    def authenticate_client(self, client_id: str | None, client_secret: str | None) -> _Client:
        with self.lock:
            client = self._clients.get(client_id or "")
            if client is None or not secrets.compare_digest(client.client_secret, client_secret or ""):
                raise OAuthError(401, "invalid_client")
            return client

    def authorize(self, client_id: str, redirect_uri: str, realm_id: str | None = None) -> str:
        with self.lock:
            client = self._clients.get(client_id)
            if client is None:
                raise OAuthError(400, "invalid_client")
            if client.redirect_uris and redirect_uri not in client.redirect_uris:
                raise OAuthError(400, "invalid_redirect_uri")
            code = "AB11" + secrets.token_urlsafe(24)
            self._codes[code] = _Code(code, client_id, realm_id or self.default_realm_id, redirect_uri,
                                      self.clock.time() + AUTH_CODE_TTL)
            return code

    def _tokens_for(self, client_id: str, realm_id: str, refresh_token: str | None = None) -> dict:
        now = self.clock.time()
        if refresh_token is None:
            refresh_token = "AB11" + secrets.token_urlsafe(36)
            self._refresh[refresh_token] = RefreshGrant(refresh_token, client_id, realm_id, now + REFRESH_TOKEN_TTL)
        grant = self._refresh[refresh_token]
        access = self.issue_access_token(client_id, realm_id)
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh_token,
            "expires_in": ACCESS_TOKEN_TTL,
            "x_refresh_token_expires_in": int(round(grant.expires_at - now)),
        }

    def exchange_code(self, client: _Client, code: str | None, redirect_uri: str | None) -> dict:
        with self.lock:
            entry = self._codes.get(code or "")
            if (entry is None or entry.used or entry.client_id != client.client_id
                    or entry.expires_at <= self.clock.time() or entry.redirect_uri != (redirect_uri or "")):
                raise OAuthError(400, "invalid_grant")
            entry.used = True
            return self._tokens_for(client.client_id, entry.realm_id)

    def refresh(self, client: _Client, refresh_token: str | None) -> dict:
        with self.lock:
            grant = self._refresh.get(refresh_token or "")
            if (grant is None or not grant.active or grant.client_id != client.client_id
                    or grant.expires_at <= self.clock.time()):
                raise OAuthError(400, "invalid_grant")
            self.refresh_count += 1
            if not self.rotate_refresh_tokens:
                grant.expires_at = self.clock.time() + REFRESH_TOKEN_TTL  # rolling lifetime
                return self._tokens_for(client.client_id, grant.realm_id, grant.token)
            grant.active = False
            return self._tokens_for(client.client_id, grant.realm_id)

    def revoke(self, client: _Client, token: str | None) -> None:
        with self.lock:
            refresh = self._refresh.get(token or "")
            if refresh is not None and refresh.client_id == client.client_id:
                refresh.active = False
                # Revoking the refresh token ends the connection: its access tokens go too.
                for grant in self._access.values():
                    if grant.client_id == client.client_id and grant.realm_id == refresh.realm_id:
                        grant.active = False
            access = self._access.get(token or "")
            if access is not None and access.client_id == client.client_id:
                access.active = False


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------
def _basic_auth(request: Request) -> tuple[str | None, str | None]:
    header = request.header("authorization") or ""
    if header[:6].lower() != "basic ":
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _oauth_error(err: OAuthError) -> Response:
    return json_response(err.status, {"error": err.error})


def oauth_routes(registry: QboTokenRegistry) -> list[Route]:
    """The OAuth endpoints, for any Service to serve."""

    def base_url(request: Request) -> str:
        # Point at whatever host:port the client reached us on, so the document is right
        # whichever port the server got.
        return f"http://{request.header('host') or '127.0.0.1'}"

    def discovery(request: Request) -> Response:
        base = base_url(request)
        return json_response(200, {
            "issuer": f"{base}/op/v1",
            "authorization_endpoint": f"{base}{AUTHORIZE_PATH}",
            "token_endpoint": f"{base}{TOKEN_PATH}",
            "userinfo_endpoint": f"{base}{USERINFO_PATH}",
            "revocation_endpoint": f"{base}{REVOKE_PATH}",
            "jwks_uri": f"{base}{JWKS_PATH}",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        })

    def authorize(request: Request) -> Response:
        q = {k: v[0] for k, v in request.query.items()}
        if registry.consent_realms is not None:
            return consent_page(q)
        # The sandbox plays the user: it consents at once and redirects back.
        return consent(q, registry.default_realm_id)

    def consent(q: dict, realm_id: str) -> Response:
        client_id = q.get("client_id") or ""
        redirect_uri = q.get("redirect_uri") or ""
        if q.get("response_type") != "code" or not redirect_uri:
            return text_response(400, "invalid_request", "text/html; charset=utf-8")
        try:
            code = registry.authorize(client_id, redirect_uri, realm_id)
        except OAuthError as err:
            return text_response(400, err.error, "text/html; charset=utf-8")
        params = {"code": code, "state": q.get("state") or ""}
        if ACCOUNTING_SCOPE in (q.get("scope") or "").split():
            params["realmId"] = realm_id
        sep = "&" if "?" in redirect_uri else "?"
        return Response(302, b"", {"Location": redirect_uri + sep + urlencode(params)})

    def consent_page(q: dict) -> Response:
        """The page a person sees: pick a company, Connect or Cancel (a real HTML form)."""
        realms = registry.consent_realms() if registry.consent_realms else []
        hidden = "".join(f"<input type='hidden' name='{k}' value='{html.escape(q.get(k, ''), quote=True)}'>"
                         for k in ("client_id", "redirect_uri", "response_type", "scope", "state"))
        options = "".join(f"<option value='{html.escape(r)}'>Company {html.escape(r)}</option>" for r in realms)
        body = (f"<form method='post' action='{AUTHORIZE_PATH}'>{hidden}"
                f"<label>Select a company <select name='realm' id='company'>{options}</select></label>"
                "<p>qbsync wants to read and write your QuickBooks accounting data.</p>"
                "<button type='submit' name='decision' value='cancel'>Cancel</button>"
                "<button type='submit' name='decision' value='connect' id='connect'>Connect</button></form>")
        doc = ("<!doctype html><html><head><meta charset='utf-8'><title>Intuit: connect an app</title></head>"
               f"<body><h1>Connect qbsync to QuickBooks</h1>{body}</body></html>")
        return text_response(200, doc, "text/html; charset=utf-8")

    def decide(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        if form.get("decision") != "connect":
            redirect_uri = form.get("redirect_uri") or ""
            with registry.lock:
                client = registry._clients.get(form.get("client_id") or "")
                if client is None or not redirect_uri or (client.redirect_uris
                                                          and redirect_uri not in client.redirect_uris):
                    return text_response(400, "invalid_request", "text/html; charset=utf-8")
            sep = "&" if "?" in redirect_uri else "?"
            params = {"error": "access_denied", "state": form.get("state") or ""}
            return Response(302, b"", {"Location": redirect_uri + sep + urlencode(params)})
        realms = registry.consent_realms() if registry.consent_realms else []
        if form.get("realm") not in realms:
            return text_response(400, "unknown company", "text/html; charset=utf-8")
        return consent(form, form["realm"])

    def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        client_id, secret = _basic_auth(request)
        if client_id is None:  # client_secret_post
            client_id, secret = form.get("client_id"), form.get("client_secret")
        try:
            client = registry.authenticate_client(client_id, secret)
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                payload = registry.exchange_code(client, form.get("code"), form.get("redirect_uri"))
            elif grant_type == "refresh_token":
                payload = registry.refresh(client, form.get("refresh_token"))
            elif not grant_type:
                raise OAuthError(400, "invalid_request")
            else:
                raise OAuthError(400, "unsupported_grant_type")
        except OAuthError as err:
            return _oauth_error(err)
        return json_response(200, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def revoke(request: Request) -> Response:
        client_id, secret = _basic_auth(request)
        try:
            client = registry.authenticate_client(client_id, secret)
        except OAuthError as err:
            return _oauth_error(err)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        registry.revoke(client, body.get("token"))
        return Response(200, b"", {})

    def jwks(request: Request) -> Response:
        return json_response(200, {"keys": []})

    def userinfo(request: Request) -> Response:
        grant = registry.check_access(request.bearer_token())
        if grant is None:
            return json_response(401, {"error": "invalid_token"})
        return json_response(200, {"sub": f"sandbox-user-{grant.realm_id}", "email": "owner@sandbox.example",
                                   "emailVerified": True, "givenName": "Sandbox", "familyName": "Owner"})

    routes = [Route("GET", p, discovery) for p in DISCOVERY_PATHS]
    routes += [
        Route("GET", AUTHORIZE_PATH, authorize),
        Route("POST", AUTHORIZE_PATH, decide),
        Route("POST", TOKEN_PATH, token),
        Route("POST", REVOKE_PATH, revoke),
        Route("GET", JWKS_PATH, jwks),
        Route("GET", USERINFO_PATH, userinfo),
    ]
    return routes


def is_oauth_path(path: str) -> bool:
    return (path.startswith("/.well-known/") or path in (AUTHORIZE_PATH, TOKEN_PATH, REVOKE_PATH,
                                                          JWKS_PATH, USERINFO_PATH))


class QboOAuthService(Service):
    """Intuit's OAuth host alone (the accounting API lives in qbo.QboService)."""

    name = "qbo-oauth"

    def __init__(self, registry: QboTokenRegistry):
        self.registry = registry

    def routes(self) -> list[Route]:
        return oauth_routes(self.registry)

    def issue_refresh_token(self, client_id: str | None = None, realm_id: str | None = None) -> str:
        return self.registry.issue_refresh_token(client_id, realm_id)
