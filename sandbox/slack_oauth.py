"""Slack's OAuth v2 install flow for the stand-in: the consent page a person sees, and
oauth.v2.access, which trades the code for a bot token of that workspace.

    GET  /oauth/v2/authorize?client_id&scope&user_scope&redirect_uri&state   consent page
    POST /oauth/v2/authorize                                                 Allow / Cancel
    POST /api/oauth.v2.access                                                code -> token

Behaviour copied from Slack, with where it comes from:
- The flow: the app sends the person to https://slack.com/oauth/v2/authorize with client_id,
  scope (bot scopes), user_scope, redirect_uri and state; the person approves; Slack
  redirects to redirect_uri with `code` and the same `state`; the app calls oauth.v2.access
  with its client id and secret and the code ("Installing with OAuth",
  https://docs.slack.dev/authentication/installing-with-oauth). The consent page has a
  workspace picker and an Allow button; Cancel redirects with `error=access_denied`
  (the OAuth 2.0 error code for a refusal, RFC 6749 section 4.1.2.1).
- oauth.v2.access takes client_id/client_secret as form arguments or, preferably, with HTTP
  Basic authentication; code; redirect_uri, which "must match the originally submitted URI
  (if one was sent)". Errors: invalid_client_id, bad_client_secret, invalid_code,
  bad_redirect_uri (method reference as mirrored in the SDK docs:
  https://hexdocs.pm/slack/Slack.Web.Oauth.html, https://hexdocs.pm/notion_api/SlackWeb.Oauth.V2-function-access.html).
  Errors are HTTP 200 {"ok": false, "error": ...} like every Web API method.
- The answer: access_token (xoxb-), token_type "bot", scope, bot_user_id, app_id,
  team {id, name}, enterprise (null outside Enterprise Grid), is_enterprise_install,
  authed_user {id} (the Node SDK's OauthV2AccessResponse type,
  https://docs.slack.dev/tools/node-slack-sdk/reference/web-api/type-aliases/OauthV2AccessResponse).
- A code works once and expires: CODE_TTL_S (ten minutes, the usual lifetime of Slack's
  temporary codes; our sources do not state it, so tests only rely on "expires").
  A used or expired code is `invalid_code`.
- Each workspace gets its own bot token; the Web API (sandbox/slack.py) accepts it for that
  workspace only (auth.test names that team; users.info sees that team's people only).
  user_scope is shown on the page but no user token is issued (qbsync asks for none).
"""
from __future__ import annotations

import base64
import html
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from .server import Request, Response, Route, json_response, text_response
from .slack_workspace import APP_ID, Workspace

CODE_TTL_S = 600


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_urls: tuple[str, ...]   # the app config's redirect URLs; empty: any http(s) URL


@dataclass
class Grant:
    code: str
    client_id: str
    team_id: str
    user_id: str
    scopes: tuple[str, ...]
    redirect_uri: str | None
    issued_at: float
    used: bool = False


class SlackOAuth:
    """The install flow over a Workspace's teams (Workspace.add_team adds more)."""

    def __init__(self, workspace: Workspace):
        self.ws = workspace
        self.clock = workspace.clock
        self.clients: dict[str, OAuthClient] = {}
        self.grants: dict[str, Grant] = {}
        self.issued: list[tuple[str, str]] = []   # (team id, bot token) in order, for tests
        self._lock = threading.Lock()

    def register_client(self, client_id: str, client_secret: str, redirect_urls=()) -> OAuthClient:
        c = OAuthClient(client_id, client_secret, tuple(redirect_urls))
        self.clients[client_id] = c
        return c

    def routes(self) -> list[Route]:
        return [Route("GET", "/oauth/v2/authorize", self._consent_page),
                Route("POST", "/oauth/v2/authorize", self._decide),
                Route("POST", "/api/oauth.v2.access", self._access),
                Route("GET", "/api/oauth.v2.access", self._access)]

    # -- the person's side ---------------------------------------------------------------
    def _check_request(self, q: dict) -> tuple[OAuthClient | None, str | None]:
        client = self.clients.get(q.get("client_id", ""))
        if client is None:
            return None, "invalid_client_id"
        uri = q.get("redirect_uri")
        if uri and client.redirect_urls and uri not in client.redirect_urls:
            return client, "bad_redirect_uri"
        if not uri and not client.redirect_urls:
            return client, "bad_redirect_uri"  # nowhere to send the person back to
        if uri and urlsplit(uri).scheme not in ("http", "https"):
            return client, "bad_redirect_uri"
        return client, None

    def _consent_page(self, request: Request) -> Response:
        q = {k: v[0] for k, v in request.query.items()}
        _, error = self._check_request(q)
        if error:
            return _page(400, "Something went wrong", f"<p id='error'>{html.escape(error)}</p>")
        scopes = [s for s in (q.get("scope") or "").split(",") if s]
        hidden = "".join(f"<input type='hidden' name='{k}' value='{html.escape(q.get(k, ''), quote=True)}'>"
                         for k in ("client_id", "scope", "user_scope", "redirect_uri", "state"))
        options = "".join(f"<option value='{html.escape(t.id)}'>{html.escape(t.name)}</option>"
                          for t in self.ws.teams.values())
        items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
        body = (f"<form method='post' action='/oauth/v2/authorize'>{hidden}"
                f"<label>Workspace <select name='team' id='team'>{options}</select></label>"
                f"<p>qbsync is requesting permission to access the workspace</p><ul id='scopes'>{items}</ul>"
                "<button type='submit' name='decision' value='cancel'>Cancel</button>"
                "<button type='submit' name='decision' value='allow' id='allow'>Allow</button></form>")
        return _page(200, "qbsync is requesting permission", body)

    def _decide(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.text(), keep_blank_values=True).items()}
        client, error = self._check_request(form)
        if error or client is None:
            return _page(400, "Something went wrong", f"<p id='error'>{html.escape(error or '')}</p>")
        redirect = form.get("redirect_uri") or client.redirect_urls[0]
        back: dict[str, str] = {}
        if form.get("decision") != "allow":
            back["error"] = "access_denied"
        else:
            team = self.ws.teams.get(form.get("team", ""))
            if team is None:
                return _page(400, "Something went wrong", "<p id='error'>unknown workspace</p>")
            code = f"{team.id[1:]}.{secrets.token_hex(20)}"
            with self._lock:
                self.grants[code] = Grant(code, client.client_id, team.id, team.installer,
                                          tuple(s for s in form.get("scope", "").split(",") if s),
                                          form.get("redirect_uri") or None, self.clock.time())
            back["code"] = code
        if form.get("state"):
            back["state"] = form["state"]
        sep = "&" if urlsplit(redirect).query else "?"
        return Response(302, b"", {"Location": redirect + sep + urlencode(back)})

    # -- the app's side ------------------------------------------------------------------
    def _access(self, request: Request) -> Response:
        args = {k: v[0] for k, v in request.query.items()}
        if request.body:
            args.update({k: v[0] for k, v in parse_qs(request.text(), keep_blank_values=True).items()})
        client_id, secret = args.get("client_id"), args.get("client_secret")
        auth = request.header("authorization") or ""
        if auth[:6].lower() == "basic ":
            try:
                client_id, _, secret = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            except ValueError:
                return _error("invalid_client_id")
        client = self.clients.get(client_id or "")
        if client is None:
            return _error("invalid_client_id")
        if not secrets.compare_digest((secret or "").encode(), client.client_secret.encode()):
            return _error("bad_client_secret")
        now = self.clock.time()
        with self._lock:
            grant = self.grants.get(args.get("code") or "")
            if (grant is None or grant.used or grant.client_id != client.client_id
                    or now - grant.issued_at > CODE_TTL_S):
                return _error("invalid_code")
            if grant.redirect_uri is not None and args.get("redirect_uri") != grant.redirect_uri:
                return _error("bad_redirect_uri")
            grant.used = True  # single use, even if what follows fails
        team = self.ws.teams[grant.team_id]
        token = f"xoxb-{team.id[1:]}-{secrets.randbelow(10**12):012d}-{secrets.token_hex(12)}"
        self.ws.add_token(token, "bot", grant.scopes, team.bot_user_id, team_id=team.id)
        self.issued.append((team.id, token))
        return json_response(200, {
            "ok": True, "access_token": token, "token_type": "bot", "scope": ",".join(grant.scopes),
            "bot_user_id": team.bot_user_id, "app_id": APP_ID,
            "team": {"id": team.id, "name": team.name}, "enterprise": None,
            "is_enterprise_install": False, "authed_user": {"id": grant.user_id},
        })


def _error(error: str) -> Response:
    return json_response(200, {"ok": False, "error": error})


def _page(status: int, title: str, body: str) -> Response:
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
           f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return text_response(status, doc, "text/html; charset=utf-8")
