"""The Slack stand-in's install flow (sandbox/slack_oauth.py) over real HTTP, with slack_sdk's
WebClient for oauth.v2.access: consent page, redirect with code and state, code for a token
of that workspace only, and Slack's errors."""
from __future__ import annotations

import re
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack import SlackStandIn
from sandbox.slack_oauth import CODE_TTL_S
from sandbox.slack_workspace import TEAM_ID

CLIENT_ID, SECRET = "1111.2222", "sandbox-client-secret"
REDIRECT = "http://127.0.0.1:9/slack/oauth_redirect"  # never fetched: the test reads Location


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(method: str, url: str, form: dict | None = None) -> tuple[int, dict, str]:
    data = urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture
def slack():
    sb = SlackStandIn().start()
    sb.oauth.register_client(CLIENT_ID, SECRET, [REDIRECT])
    sb.workspace.add_team("T0ACME0001", "Acme Books", installer="U0ANNA0001", installer_name="anna", locale="nl-NL")
    yield sb
    sb.stop()


def authorize(slack, *, team="T0ACME0001", decision="allow", state="st-1", redirect=REDIRECT, client_id=CLIENT_ID):
    query = {"client_id": client_id, "scope": "chat:write,commands,users:read", "user_scope": "", "redirect_uri": redirect,
             "state": state}
    status, _, page = http("GET", f"{slack.authorize_url}?{urlencode(query)}")
    if status != 200:
        return status, page, {}
    # What the page's form posts: its hidden fields, the workspace chosen, the button pressed.
    fields = dict(re.findall(r"name='([a-z_]+)' value='([^']*)'", page))
    assert fields["state"] == state and "Allow" in page and "Acme Books" in page
    status, headers, _ = http("POST", slack.authorize_url, fields | {"team": team, "decision": decision})
    location = headers.get("Location", "")
    return status, location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def client(slack, token=None) -> WebClient:
    return WebClient(token=token, base_url=slack.api_base)


def test_allow_redirects_with_code_and_state_and_the_code_buys_a_token_for_that_workspace(slack):
    status, location, back = authorize(slack)
    assert status == 302 and location.startswith(REDIRECT + "?")
    assert back["state"] == "st-1" and back["code"]
    resp = client(slack).oauth_v2_access(client_id=CLIENT_ID, client_secret=SECRET, code=back["code"],
                                         redirect_uri=REDIRECT)
    token = resp["access_token"]
    assert token.startswith("xoxb-") and resp["token_type"] == "bot"
    assert resp["team"] == {"id": "T0ACME0001", "name": "Acme Books"} and resp["enterprise"] is None
    assert resp["scope"] == "chat:write,commands,users:read" and resp["app_id"] and resp["bot_user_id"]
    assert resp["authed_user"]["id"] == "U0ANNA0001"
    # The token acts in that workspace only.
    me = client(slack, token).auth_test()
    assert (me["team_id"], me["user_id"]) == ("T0ACME0001", resp["bot_user_id"])
    assert client(slack, token).users_info(user="U0ANNA0001", include_locale=True)["user"]["locale"] == "nl-NL"
    with pytest.raises(SlackApiError) as err:
        client(slack, token).users_info(user="U0ALICE001")      # a person of the first workspace
    assert err.value.response["error"] == "user_not_found"


def test_each_workspace_gets_its_own_token(slack):
    slack.workspace.add_team("T0BETA0001", "Beta Ltd", installer="U0BEN00001", installer_name="ben")
    tokens = {}
    for team in ("T0ACME0001", "T0BETA0001", TEAM_ID):
        _, _, back = authorize(slack, team=team)
        tokens[team] = client(slack).oauth_v2_access(client_id=CLIENT_ID, client_secret=SECRET, code=back["code"],
                                                     redirect_uri=REDIRECT)["access_token"]
    assert len(set(tokens.values())) == 3
    assert {t: client(slack, tok).auth_test()["team_id"] for t, tok in tokens.items()} == {t: t for t in tokens}


def test_a_code_works_once(slack):
    _, _, back = authorize(slack)
    web = client(slack)
    web.oauth_v2_access(client_id=CLIENT_ID, client_secret=SECRET, code=back["code"], redirect_uri=REDIRECT)
    with pytest.raises(SlackApiError) as err:
        web.oauth_v2_access(client_id=CLIENT_ID, client_secret=SECRET, code=back["code"], redirect_uri=REDIRECT)
    assert err.value.response["error"] == "invalid_code"


def test_a_code_expires(slack):
    _, _, back = authorize(slack)
    slack.clock.advance(CODE_TTL_S + 1)
    with pytest.raises(SlackApiError) as err:
        client(slack).oauth_v2_access(client_id=CLIENT_ID, client_secret=SECRET, code=back["code"],
                                      redirect_uri=REDIRECT)
    assert err.value.response["error"] == "invalid_code"


@pytest.mark.parametrize("change, error", [
    ({"client_id": "9999.0000"}, "invalid_client_id"),
    ({"client_secret": "wrong"}, "bad_client_secret"),
    ({"redirect_uri": "http://127.0.0.1:9/elsewhere"}, "bad_redirect_uri"),
    ({"code": "never-issued"}, "invalid_code"),
])
def test_oauth_v2_access_errors(slack, change, error):
    _, _, back = authorize(slack)
    args = {"client_id": CLIENT_ID, "client_secret": SECRET, "code": back["code"], "redirect_uri": REDIRECT} | change
    with pytest.raises(SlackApiError) as err:
        client(slack).oauth_v2_access(**args)
    assert err.value.response["error"] == error


def test_credentials_in_the_form_work_as_well_as_basic_auth(slack):
    _, _, back = authorize(slack)
    status, _, body = http("POST", f"{slack.url}/api/oauth.v2.access",
                           {"client_id": CLIENT_ID, "client_secret": SECRET, "code": back["code"],
                            "redirect_uri": REDIRECT})
    assert status == 200 and '"ok":true' in body and '"access_token":"xoxb-' in body


def test_cancel_redirects_with_access_denied_and_no_code(slack):
    status, _, back = authorize(slack, decision="cancel")
    assert status == 302 and back == {"error": "access_denied", "state": "st-1"}


def test_the_consent_page_refuses_an_unknown_client_or_redirect(slack):
    status, page, _ = authorize(slack, client_id="9999.0000")
    assert status == 400 and "invalid_client_id" in page
    status, page, _ = authorize(slack, redirect="http://127.0.0.1:9/not-registered")
    assert status == 400 and "bad_redirect_uri" in page
