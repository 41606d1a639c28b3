"""HubSpot OAuth for connections without a browser: the stand-in's token endpoints
(sandbox/hubspot_oauth.py), and bot/hubspot_oauth.py renewing a connection's access token
(once, also when two workers find it expired at the same moment), over real HTTP."""
from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bot import hubspot_oauth
from bot.adapters.hubspot import HubSpotAdapter
from bot.config import load_settings
from bot.connections import ConnectionRegistry
from bot.errors import ApiError, AuthError
from bot.store import Store
from bot.token_cipher import TokenCipher
from bot.wiring import connection_credentials
from sandbox.app import Sandbox

from .connect_cli import HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET, SECRET_KEY, connect_env


@pytest.fixture
def sb():
    s = Sandbox().start()
    yield s
    s.stop()


@pytest.fixture
def setup(sb, tmp_path):
    """(settings, a company, its consent answered: the code) for qbsync's HubSpot app."""
    company = sb.add_company(key="acme")
    env = connect_env(sb, tmp_path / "q.db")
    settings = load_settings(env, env_file=None)
    return settings, company


def grant_code(sb, settings, portal_id: int) -> str:
    """Answer the consent page as a person would (the form the browser test clicks)."""
    form = {"client_id": settings.hubspot_client_id, "redirect_uri": settings.hubspot_redirect_uri,
            "scope": " ".join(hubspot_oauth.OAUTH_SCOPES), "state": "s", "portal": str(portal_id),
            "decision": "connect"}
    r = requests.post(sb.hubspot_authorize_url, data=form, allow_redirects=False, timeout=10)
    assert r.status_code == 302
    return parse_qs(urlsplit(r.headers["Location"]).query)["code"][0]


def connected(sb, settings, company, tmp_path, *, clock) -> tuple[ConnectionRegistry, object]:
    """An OAuth connection 'acme' as `qbsync connect hubspot` leaves it."""
    tokens = hubspot_oauth.exchange_code(settings, grant_code(sb, settings, company.portal_id), clock=clock)
    reg = ConnectionRegistry(Store(tmp_path / "q.db"), cipher=TokenCipher(SECRET_KEY))
    conn = reg.set_hubspot_secret("acme", "oauth", tokens, portal_id=str(company.portal_id))
    return reg, conn


def portal_of(sb, token: str) -> int:
    return HubSpotAdapter(token, host=sb.hubspot_url, max_attempts=1).account_details()["portal_id"]


def token_post(sb, **form):
    return requests.post(f"{sb.hubspot_url}/oauth/v1/token", data=form, timeout=10)


# -- the stand-in ------------------------------------------------------------------------------
def test_the_stand_in_answers_as_hubspot(sb, setup):
    settings, company = setup
    code = grant_code(sb, settings, company.portal_id)
    base = {"client_id": HUBSPOT_CLIENT_ID, "client_secret": HUBSPOT_CLIENT_SECRET,
            "redirect_uri": settings.hubspot_redirect_uri}
    wrong = token_post(sb, grant_type="authorization_code", code=code, **{**base, "client_secret": "nope"})
    assert wrong.status_code == 400 and wrong.json()["status"] == "BAD_CLIENT_SECRET"
    ok = token_post(sb, grant_type="authorization_code", code=code, **base)
    body = ok.json()
    assert ok.status_code == 200 and body["token_type"] == "bearer" and body["expires_in"] == 1800
    assert body["hub_id"] == company.portal_id and "crm.objects.invoices.read" in body["scopes"]
    again = token_post(sb, grant_type="authorization_code", code=code, **base)   # a code works once
    assert again.status_code == 400 and again.json()["status"] == "BAD_AUTH_CODE"
    bad = token_post(sb, grant_type="refresh_token", refresh_token="not-a-token", **base)
    assert bad.status_code == 400 and bad.json() | {"correlationId": ""} == {
        "status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token", "error": "invalid_grant",
        "error_description": "missing or invalid refresh token", "correlationId": ""}
    info = requests.get(f"{sb.hubspot_url}/oauth/v1/access-tokens/{body['access_token']}", timeout=10).json()
    assert info["hub_id"] == company.portal_id and info["token_type"] == "access" and 0 < info["expires_in"] <= 1800
    # the access token reads its own portal only, until it expires
    assert portal_of(sb, body["access_token"]) == company.portal_id
    sb.hubspot_oauth.expire_access_tokens()
    with pytest.raises(ApiError) as err:
        portal_of(sb, body["access_token"])
    assert err.value.status == 401


# -- renewing a connection's access token ----------------------------------------------------
def test_an_expired_access_token_is_renewed_once(sb, setup, tmp_path):
    settings, company = setup
    reg, conn = connected(sb, settings, company, tmp_path, clock=sb.clock.time)
    first = reg.hubspot_secret("acme")
    # Still fresh: used as it is.
    assert hubspot_oauth.current_access_token(settings, reg.store, conn, first, cipher=reg.cipher,
                                              clock=sb.clock.time) == first["access_token"]
    assert sb.hubspot_oauth.refresh_count == 0

    sb.clock.advance(1800)     # HubSpot's 30 minutes are over
    with pytest.raises(ApiError):
        portal_of(sb, first["access_token"])
    token = hubspot_oauth.current_access_token(settings, reg.store, conn, first, cipher=reg.cipher,
                                               clock=sb.clock.time)
    assert token != first["access_token"] and portal_of(sb, token) == company.portal_id
    assert sb.hubspot_oauth.refresh_count == 1
    stored = reg.hubspot_secret("acme")
    assert stored["access_token"] == token and stored["expires_at"] == pytest.approx(sb.clock.time() + 1800, abs=5)
    raw = reg.store.query_rows("SELECT hubspot_secret FROM connections WHERE id = 'acme'")[0]["hubspot_secret"]
    assert raw.startswith("fernet:") and token not in raw
    # The caller still holding the old copy gets the stored new token, not a second refresh.
    assert hubspot_oauth.current_access_token(settings, reg.store, conn, first, cipher=reg.cipher,
                                              clock=sb.clock.time) == token
    assert sb.hubspot_oauth.refresh_count == 1


@pytest.mark.parametrize("rotate", [False, True], ids=["same-refresh-token", "rotating-refresh-token"])
def test_two_workers_renewing_at_once_refresh_once(sb, setup, tmp_path, rotate):
    settings, company = setup
    sb.hubspot_oauth.rotate_refresh_tokens = rotate
    reg, conn = connected(sb, settings, company, tmp_path, clock=sb.clock.time)
    stale = reg.hubspot_secret("acme")
    sb.clock.advance(1800)
    # HubSpot takes its time answering, so both workers are inside current_access_token together.
    sb.hubspot_service.inject_fault(0, delay_s=0.5, match="/oauth/v1/token", times=2)
    results, errors = [], []

    def worker():
        store = Store(tmp_path / "q.db")   # each worker process has its own connection
        try:
            results.append(hubspot_oauth.current_access_token(settings, store, conn, stale,
                                                              cipher=TokenCipher(SECRET_KEY), clock=sb.clock.time))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(results) == 2
    assert results[0] == results[1] and portal_of(sb, results[0]) == company.portal_id
    assert sb.hubspot_oauth.refresh_count == 1
    # The stored refresh token is the one HubSpot now honours (the new one when it rotates).
    stored = reg.hubspot_secret("acme")
    assert sb.hubspot_oauth.refresh_token_valid(stored["refresh_token"])
    assert (stored["refresh_token"] != stale["refresh_token"]) is rotate
    sb.clock.advance(1800)
    again = hubspot_oauth.current_access_token(settings, reg.store, conn, stored, cipher=reg.cipher,
                                               clock=sb.clock.time)
    assert portal_of(sb, again) == company.portal_id and sb.hubspot_oauth.refresh_count == 2


def test_a_revoked_refresh_token_says_to_connect_again(sb, setup, tmp_path):
    settings, company = setup
    reg, conn = connected(sb, settings, company, tmp_path, clock=sb.clock.time)
    secret = reg.hubspot_secret("acme")
    sb.hubspot_oauth.revoke(secret["refresh_token"])
    sb.clock.advance(1800)
    with pytest.raises(AuthError) as err:
        hubspot_oauth.current_access_token(settings, reg.store, conn, secret, cipher=reg.cipher,
                                           clock=sb.clock.time)
    assert err.value.code == "BAD_REFRESH_TOKEN" and "qbsync connect hubspot --connection acme" in str(err.value)
    assert secret["refresh_token"] not in str(err.value) and HUBSPOT_CLIENT_SECRET not in str(err.value)
    assert reg.hubspot_secret("acme") == secret     # nothing overwritten


def test_wiring_gives_a_connection_its_oauth_token(sb, setup, tmp_path):
    settings, company = setup
    reg, conn = connected(sb, settings, company, tmp_path, clock=lambda: __import__("time").time())
    hubspot_token, _ = connection_credentials(settings, reg.store, conn)
    assert hubspot_token == reg.hubspot_secret("acme")["access_token"]
    assert portal_of(sb, hubspot_token) == company.portal_id


def test_a_refused_exchange_names_hubspots_code_only(sb, setup):
    settings, company = setup
    code = grant_code(sb, settings, company.portal_id)
    from dataclasses import replace

    with pytest.raises(AuthError) as err:
        hubspot_oauth.exchange_code(replace(settings, hubspot_client_secret="wrong-secret-value"), code)
    assert err.value.status == 400 and err.value.code == "BAD_CLIENT_SECRET"
    assert "wrong-secret-value" not in str(err.value) and code not in str(err.value)
    tokens = hubspot_oauth.exchange_code(settings, code)     # the stand-in checks the client before the code
    assert portal_of(sb, tokens["access_token"]) == company.portal_id
