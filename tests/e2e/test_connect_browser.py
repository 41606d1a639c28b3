"""`qbsync connect hubspot|quickbooks --connection acme` the way a person does it: the CLI runs
as a process and prints the consent URL; headless Chromium (Debian's package, driven by
Playwright: the same launch as test_slack_install_browser.py) opens it, picks the account or
company on the stand-in's consent page (sandbox/hubspot_oauth.py, sandbox/qbo_oauth.py) and
clicks "Connect app" / "Connect" or Cancel; the stand-in redirects to the CLI's localhost
callback. Then the connections list and the connection's own store say what was saved."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from bot.adapters.hubspot import HubSpotAdapter
from bot.adapters.quickbooks import QuickBooksAdapter
from bot.connections import ConnectionRegistry
from bot.store import Store
from bot.token_cipher import TokenCipher
from sandbox.app import QBO_CLIENT_ID, QBO_CLIENT_SECRET, Sandbox

from ..connect_cli import SECRET_KEY, connect_env, run_connect
from .browser import chromium_context, starts


@pytest.fixture(scope="module")
def browser():
    with chromium_context() as context:
        yield context


@pytest.fixture
def sb():
    s = Sandbox().start()
    yield s
    s.stop()


def click(browser, url: str, *, choose: tuple[str, str] | None, button: str, back_to: str) -> str:
    """Open `url`, pick `choose` = (select id, option label), click `button`; return the text
    of the page the browser lands on under `back_to` (the CLI's callback)."""
    page = browser.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(url)
        if choose:
            page.select_option(choose[0], label=choose[1])
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_url(starts(back_to))
        return page.locator("body").inner_text()
    finally:
        page.close()


def registry(db) -> ConnectionRegistry:
    return ConnectionRegistry(Store(db), cipher=TokenCipher(SECRET_KEY))


def test_hubspot_oauth_connect_in_the_browser(sb, browser, tmp_path):
    company = sb.add_company("mixed", key="acme")   # a second portal: the chooser offers both
    db = tmp_path / "q.db"
    env = connect_env(sb, db)
    pages = []
    url, rc, out, err = run_connect(
        ["hubspot", "--connection", "acme", "--no-browser", "--name", "Acme BV"], env, tmp_path,
        visit=lambda u: pages.append(click(browser, u, choose=("#portal", f"Account {company.portal_id}"),
                                           button="Connect app", back_to=env["HUBSPOT_REDIRECT_URI"])))
    assert url and url.startswith(sb.hubspot_authorize_url + "?"), out + err
    q = parse_qs(urlsplit(url).query)
    assert q["client_id"] == [env["HUBSPOT_CLIENT_ID"]] and q["redirect_uri"] == [env["HUBSPOT_REDIRECT_URI"]]
    assert "crm.objects.invoices.read" in q["scope"][0].split() and len(q["state"][0]) >= 32
    assert "connected" in pages[0].lower()
    assert rc == 0, err
    assert f"Connected HubSpot portal {company.portal_id} to connection acme with OAuth" in out
    assert "still needs: quickbooks, slack" in out

    reg = registry(db)
    conn = reg.require("acme")
    assert (conn.hubspot_auth, conn.hubspot_portal_id, conn.name) == ("oauth", str(company.portal_id), "Acme BV")
    secret = reg.hubspot_secret("acme")
    assert sb.hubspot_oauth.refresh_token_valid(secret["refresh_token"])
    stored = reg.store.query_rows("SELECT hubspot_secret FROM connections WHERE id = 'acme'")[0]["hubspot_secret"]
    assert stored.startswith("fernet:")
    for value in (secret["access_token"], secret["refresh_token"], env["HUBSPOT_CLIENT_SECRET"]):
        assert value not in stored and value not in out + err
    # The token reads the portal the person chose, not the sandbox's first one.
    details = HubSpotAdapter(secret["access_token"], host=sb.hubspot_url, max_attempts=1).account_details()
    assert details["portal_id"] == company.portal_id != sb.portal.portal_id


def test_hubspot_cancel_saves_nothing(sb, browser, tmp_path):
    db = tmp_path / "q.db"
    env = connect_env(sb, db)
    pages = []
    url, rc, out, err = run_connect(
        ["hubspot", "--connection", "acme", "--no-browser"], env, tmp_path,
        visit=lambda u: pages.append(click(browser, u, choose=None, button="Cancel",
                                           back_to=env["HUBSPOT_REDIRECT_URI"])))
    assert url, out + err
    assert "not connected" in pages[0]
    assert rc == 1 and "access_denied" in err and "Traceback" not in err
    assert registry(db).get("acme") is None


def test_hubspot_callback_with_another_state_is_refused(sb, browser, tmp_path):
    """A consent link that is not the one the CLI printed (its state changed) ends the flow
    without saving, although HubSpot issued a code for it."""
    db = tmp_path / "q.db"
    env = connect_env(sb, db)

    def forged(u: str) -> str:
        parts = urlsplit(u)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        q["state"] = "someone-elses-" + q["state"]
        return urlunsplit(parts._replace(query=urlencode(q)))

    pages = []
    url, rc, out, err = run_connect(
        ["hubspot", "--connection", "acme", "--no-browser"], env, tmp_path,
        visit=lambda u: pages.append(click(browser, forged(u), choose=None, button="Connect app",
                                           back_to=env["HUBSPOT_REDIRECT_URI"])))
    assert url, out + err
    assert "wrong state" in pages[0]
    assert rc == 1 and "state does not match" in err
    assert registry(db).get("acme") is None
    assert sb.hubspot_oauth.refresh_count == 0 and sb.hubspot_oauth.issued == []   # no code was exchanged


def test_quickbooks_connect_in_the_browser(sb, browser, tmp_path):
    company = sb.add_company("mixed", key="acme")
    sb.qbo_service.registry.consent_realms = lambda: list(sb.qbo_service.companies)  # the consent page
    db = tmp_path / "q.db"
    env = connect_env(sb, db)
    pages = []
    url, rc, out, err = run_connect(
        ["quickbooks", "--connection", "acme", "--no-browser"], env, tmp_path,
        visit=lambda u: pages.append(click(browser, u, choose=("#company", f"Company {company.realm_id}"),
                                           button="Connect", back_to=env["QBO_REDIRECT_URI"])))
    assert url and "/connect/oauth2?" in url, out + err
    assert "connected" in pages[0].lower()
    assert rc == 0, err
    assert f"Connected QuickBooks company {company.realm_id} to connection acme" in out
    assert "still needs: hubspot, slack" in out
    assert registry(db).require("acme").qbo_realm_id == company.realm_id

    # The tokens are in the connection's own store, not the main one, and drive the adapter.
    own = Store(db, connection="acme")
    tokens = own.load_qbo_tokens(company.realm_id)
    assert tokens and sb.qbo_service.registry.refresh_token_valid(tokens["refresh_token"])
    assert Store(db).load_qbo_tokens(company.realm_id) is None
    assert tokens["refresh_token"] not in out + err
    adapter = QuickBooksAdapter(client_id=QBO_CLIENT_ID, client_secret=QBO_CLIENT_SECRET, realm_id=company.realm_id,
                                refresh_token=None, environment=sb.qbo_discovery_url, store=own,
                                api_base=sb.qbo_api_base, max_attempts=1)
    assert adapter.company_info()["CompanyName"] == company.scenario["qbo"]["company_name"]


def test_quickbooks_cancel_saves_nothing(sb, browser, tmp_path):
    sb.qbo_service.registry.consent_realms = lambda: list(sb.qbo_service.companies)
    db = tmp_path / "q.db"
    env = connect_env(sb, db)
    pages = []
    url, rc, out, err = run_connect(
        ["quickbooks", "--connection", "acme", "--no-browser"], env, tmp_path,
        visit=lambda u: pages.append(click(browser, u, choose=None, button="Cancel",
                                           back_to=env["QBO_REDIRECT_URI"])))
    assert url, out + err
    assert rc == 1 and "access_denied" in err
    assert registry(db).get("acme") is None
    assert Store(db, connection="acme").load_qbo_tokens(sb.realm_id) is None
