"""One sandbox serving many companies (issue 13): each added company is its own HubSpot portal,
QBO realm and Slack channel on the same three servers, reached through the official clients
(hubspot-api-client, python-quickbooks via qbsync's adapters, slack_sdk) exactly as qbsync
reaches the real services, and no company sees another's data."""
from __future__ import annotations

import io
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import wiring
from bot.adapters.hubspot import HubSpotAdapter
from bot.adapters.quickbooks import QuickBooksAdapter
from bot.config import load_settings
from bot.connect import connect_quickbooks
from bot.errors import AuthError, RateLimited
from bot.store import Store
from sandbox.app import HUBSPOT_TOKEN, Sandbox
from sandbox.generate import generate
from sandbox.slack_workspace import ALERT_CHANNEL, BOT_TOKEN

ACME = "T0ACME0001"


@pytest.fixture
def sb():
    s = Sandbox(slack_post_rate_per_s=100, slack_post_burst=100).start()
    yield s
    s.stop()


def hubspot(sb: Sandbox, token: str) -> HubSpot:
    return HubSpot(access_token=token, host=sb.hubspot_url)


def contact_emails(sb: Sandbox, token: str) -> set[str]:
    page = hubspot(sb, token).crm.contacts.basic_api.get_page(limit=100, properties=["email"])
    return {c.properties["email"] for c in page.results}


def qbo_adapter(sb: Sandbox, company, tmp_path, refresh_token: str | None = None, **kw) -> QuickBooksAdapter:
    env = company.environment(refresh_token=refresh_token)
    store = Store(tmp_path / f"{company.key}-{env['QBO_REALM_ID']}.db")
    return QuickBooksAdapter(env["QBO_CLIENT_ID"], env["QBO_CLIENT_SECRET"], env["QBO_REALM_ID"],
                             env["QBO_REFRESH_TOKEN"], env["QBO_ENVIRONMENT"], store,
                             api_base=env["QBSYNC_QBO_API_BASE"], timeout=10, **kw)


def customer_names(adapter: QuickBooksAdapter) -> set[str]:
    return {c["DisplayName"] for c in adapter.query("select * from Customer")}


def test_two_companies_from_scenarios_each_see_only_their_own_records(sb, tmp_path):
    sb.load("mixed")
    a = sb.add_company("duplicate-doc-number", key="hooli")
    b = sb.add_company("missing-customer", key="northwind")

    # Distinct ids and credentials wherever the real services would not share them.
    companies = sb.companies
    assert [c.key for c in companies] == ["c0", "hooli", "northwind"]
    assert len({c.portal_id for c in companies}) == 3
    assert len({c.realm_id for c in companies}) == 3
    assert len({c.hubspot_token for c in companies}) == 3
    assert len({c.channel for c in companies}) == 3
    assert a.portal is not b.portal and a.qbo is not b.qbo and a.integration is not b.integration
    assert a.portal._records is not b.portal._records and a.qbo.entities is not b.qbo.entities
    assert sb.company("hooli") is a and sb.company("c0") is companies[0]
    with pytest.raises(ValueError):
        sb.add_company(key="hooli")
    with pytest.raises(ValueError):
        sb.add_company(channel=ALERT_CHANNEL)
    assert len(sb.companies) == 3

    # HubSpot: the token picks the portal. Same record ids (3001, 1001) in both portals, each
    # with its own data; a contact that exists only in b's portal is not found through a's token.
    assert contact_emails(sb, a.hubspot_token) == {"frank@hooli.example"}
    assert contact_emails(sb, b.hubspot_token) == {"ann.jansen@northwind.example", "lisa@globex.example"}
    assert len(contact_emails(sb, HUBSPOT_TOKEN)) == 8  # company 0: mixed, unchanged
    with pytest.raises(ContactsApiException) as missing:
        hubspot(sb, a.hubspot_token).crm.contacts.basic_api.get_by_id("1002")
    assert missing.value.status == 404
    for company in (a, b):
        for hubspot_kind in ("private_app", "service_key"):
            env = company.environment(hubspot=hubspot_kind)
            adapter = HubSpotAdapter(env["HUBSPOT_ACCESS_TOKEN"], env["QBSYNC_HUBSPOT_API_BASE"])
            assert adapter.account_details()["portal_id"] == company.portal_id
            assert sorted(adapter.list_invoice_ids()) == ["3001", "3002"]

    # QBO: the realm in the URL picks the company; each refresh token opens its own realm.
    assert customer_names(qbo_adapter(sb, a, tmp_path)) == {"Hooli", "Pied Piper"}
    assert customer_names(qbo_adapter(sb, b, tmp_path)) == {"Northwind Traders", "Lisa Park"}
    assert "Acme BV" in customer_names(qbo_adapter(sb, sb.companies[0], tmp_path))

    # The integration of each pair ran on its own data only.
    assert set(a.integration.failures) == {"3001", "3002"}
    assert set(b.integration.failures) == {"3001"}


def test_a_refresh_token_opens_only_its_own_realm(sb, tmp_path):
    sb.load("mixed")
    a = sb.add_company("duplicate-doc-number")
    b = sb.add_company("missing-customer")
    # b's realm with a's refresh token: Intuit's token is for a's company only (403 on another realm).
    crossed = qbo_adapter(sb, b, tmp_path, refresh_token=a.new_qbo_refresh_token(), max_attempts=1)
    with pytest.raises(AuthError):
        crossed.query("select * from Customer")
    assert sb.log.count_status("qbo", 403) >= 1
    # ... while its own realm answers with it.
    assert customer_names(qbo_adapter(sb, a, tmp_path, refresh_token=a.new_qbo_refresh_token())) == {
        "Hooli", "Pied Piper"}


def test_company_zero_is_the_sandbox_own_company(sb):
    sb.load("mixed")
    c0 = sb.companies[0]
    assert (c0.portal, c0.qbo, c0.integration) == (sb.portal, sb.qbo, sb.integration)
    token = sb.new_qbo_refresh_token()
    assert c0.environment(refresh_token=token) == sb.bot_environment(refresh_token=token)
    assert c0.channel == ALERT_CHANNEL and c0.slack_bot_token == BOT_TOKEN
    added = sb.add_company("missing-customer")
    # Adding a company changes nothing of company 0's settings or ids.
    assert sb.bot_environment(refresh_token=token) == c0.environment(refresh_token=token)
    assert sb.realm_id == "9341453189012345" and sb.portal.portal_id == 24681357
    assert added.environment()["QBO_REALM_ID"] == added.realm_id != sb.realm_id
    # Loading company 0 again leaves the added company alone.
    sb.load("duplicate-doc-number")
    assert len(added.portal._live("contacts")) == 2


def test_rate_limits_are_counted_per_token_and_per_realm(tmp_path):
    with Sandbox(hubspot_limit_per_10s=3, qbo_per_second=2) as sb:
        a = sb.add_company("duplicate-doc-number")
        b = sb.add_company("missing-customer")
        for _ in range(3):
            hubspot(sb, a.hubspot_token).crm.contacts.basic_api.get_page(limit=1)
        with pytest.raises(ContactsApiException) as limited:
            hubspot(sb, a.hubspot_token).crm.contacts.basic_api.get_page(limit=1)
        assert limited.value.status == 429
        # b's portal, its own token: a fresh window.
        assert hubspot(sb, b.hubspot_token).crm.contacts.basic_api.get_page(limit=1).results

        # QBO: 2 a second per realm. Pacing off and one attempt, so the adapter meets the 429.
        qa = qbo_adapter(sb, a, tmp_path, max_attempts=1, pace_limits=[])
        qb = qbo_adapter(sb, b, tmp_path, max_attempts=1, pace_limits=[])
        sb.clock.advance(5)
        qa.query("select * from Customer")
        qa.query("select * from Customer")
        with pytest.raises(RateLimited):
            qa.query("select * from Customer")
        assert customer_names(qb) == {"Northwind Traders", "Lisa Park"}
        assert customer_names(qb) == {"Northwind Traders", "Lisa Park"}


def test_each_company_channel_takes_posts_from_its_own_workspace_bot(sb):
    a = sb.add_company("duplicate-doc-number", channel="C0HOOLI0001")
    b = sb.add_company("missing-customer", team_id=ACME)
    assert a.channel == "C0HOOLI0001" and a.slack_bot_token == BOT_TOKEN
    assert a.team_id == "T0SANDBOX01" and b.team_id == ACME and b.slack_bot_token != BOT_TOKEN
    for company in (a, b):
        env = company.environment()
        client = WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["QBSYNC_SLACK_API_BASE"])
        assert client.auth_test()["team_id"] == company.team_id
        client.chat_postMessage(channel=env["QBSYNC_ALERT_CHANNEL"], text=f"hello {company.key}")
        assert [m.text for m in sb.slack.driver.transcript(company.channel)] == [f"hello {company.key}"]
    # A workspace's bot token does not see another workspace's channels.
    acme = WebClient(token=b.slack_bot_token, base_url=sb.slack_api_base)
    for channel in (a.channel, ALERT_CHANNEL):
        with pytest.raises(SlackApiError) as refused:
            acme.chat_postMessage(channel=channel, text="wrong workspace")
        assert refused.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError):
        WebClient(token=BOT_TOKEN, base_url=sb.slack_api_base).conversations_info(channel=b.channel)


def test_ten_companies_and_a_generated_world(sb, tmp_path):
    sb.load("mixed")
    shipped = ["duplicate-doc-number", "missing-customer", "books-closed", "currency-mismatch",
               "duplicate-display-name", "invalid-reference", "tax-code-required", "mixed", "doc-number-too-long"]
    added = [sb.add_company(name) for name in shipped]
    world = generate(60, failure_rate=0.1, seed=3)
    big = sb.add_company(world, key="generated")
    assert len(sb.companies) == 11
    assert len({c.portal_id for c in sb.companies}) == 11 and len({c.realm_id for c in sb.companies}) == 11
    for company, name in zip(added, shipped, strict=True):
        env = company.environment()
        assert HubSpotAdapter(env["HUBSPOT_ACCESS_TOKEN"], sb.hubspot_url).account_details()["portal_id"] == \
            company.portal_id
        assert set(company.integration.failures) == set(company.scenario["expect"]), name
    generated = HubSpotAdapter(big.hubspot_token, sb.hubspot_url)
    assert len(list(generated.list_invoice_ids())) == len(world["hubspot"]["invoices"])
    assert set(big.integration.failures) == set(world["expect"])
    assert customer_names(qbo_adapter(sb, big, tmp_path)) == {
        c["DisplayName"] for c in world["qbo"]["customers"]}
    # Company 0 still serves mixed, untouched by the others.
    assert set(sb.integration.failures) == set(sb.scenario["expect"])


def test_the_scanner_of_each_company_alerts_only_in_its_own_channel(sb, tmp_path):
    """Two qbsync scanners, one per company, each with its own SQLite store, against the one sandbox."""
    sb.load("mixed")
    a = sb.add_company("duplicate-doc-number", key="hooli")
    b = sb.add_company("missing-customer", key="northwind", team_id=ACME)
    parts = []
    for company in (a, b):
        env = company.environment() | {"QBSYNC_DB_PATH": str(tmp_path / f"{company.key}.db")}
        settings = load_settings(env, env_file=None)
        parts.append(wiring.build(settings, store=Store(settings.store_target), post_interval=0))
    # Both scans at once, as two workers would run them.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda part: part.scanner.scan(), parts))
    try:
        driver = sb.slack.driver
        alerts_a = [m for m in driver.transcript(a.channel) if not m.is_reply]
        alerts_b = [m for m in driver.transcript(b.channel) if not m.is_reply]
        assert len(alerts_a) == 2 and len(alerts_b) == 1   # the scenarios' expected failures
        assert all("INV-100" in m.visible_text() for m in alerts_a + alerts_b)
        text_b = " ".join(m.visible_text() for m in driver.transcript(b.channel)).lower()
        assert "northwind" in text_b or "ann.jansen" in text_b
        assert "hooli" not in text_b
        assert driver.transcript(ALERT_CHANNEL) == []      # company 0 was not scanned
        # Each store holds its own company's alerts, posted to its own channel.
        for part, company, n in ((parts[0], a, 2), (parts[1], b, 1)):
            stored = part.store.open_alerts()
            assert len(stored) == n
            assert {s["channel"] for s in stored} == {company.channel}
    finally:
        for part in parts:
            part.store.close()


def test_messages_in_another_workspace_carry_that_workspace(sb):
    b = sb.add_company("missing-customer", team_id=ACME)
    client = WebClient(token=b.slack_bot_token, base_url=sb.slack_api_base)
    posted = client.chat_postMessage(channel=b.channel, text="hi")
    team = sb.slack.workspace.teams[ACME]
    assert posted["message"]["team"] == ACME and posted["message"]["bot_id"] == team.bot_id
    link = client.chat_getPermalink(channel=b.channel, message_ts=posted["ts"])["permalink"]
    assert f"//{team.domain}.slack.com/" in link
    # The default workspace's messages are as before.
    home = WebClient(token=BOT_TOKEN, base_url=sb.slack_api_base).chat_postMessage(channel=ALERT_CHANNEL, text="x")
    assert home["message"]["team"] == "T0SANDBOX01" and home["message"]["bot_id"] == "B0QBSYNC001"


def test_each_portal_has_its_own_tier_limit(sb):
    """Without an override, a token's limit is its portal's tier (starter 100, professional 190
    per 10 s: apis.md), and its window counts only its own requests."""
    a = sb.add_company("missing-customer")                   # starter
    big = sb.add_company(generate(10, seed=1), key="pro")    # generate() makes a professional portal
    api_a = hubspot(sb, a.hubspot_token).crm.contacts.basic_api
    api_pro = hubspot(sb, big.hubspot_token).crm.contacts.basic_api
    for _ in range(3):
        _, status, headers = api_a.get_page_with_http_info(limit=1)
    assert status == 200
    assert (headers["X-HubSpot-RateLimit-Max"], headers["X-HubSpot-RateLimit-Remaining"]) == ("100", "97")
    _, _, headers = api_pro.get_page_with_http_info(limit=1)
    assert (headers["X-HubSpot-RateLimit-Max"], headers["X-HubSpot-RateLimit-Remaining"]) == ("190", "189")


def test_people_of_another_workspace_act_there(sb):
    """The driver's clicks and commands in a company's channel of another workspace name that
    workspace (team id and domain), as Slack's payloads do."""
    ws = sb.slack.workspace
    ws.add_team(ACME, "Acme Books", installer="U0ANNA0001", installer_name="anna")
    b = sb.add_company("missing-customer", team_id=ACME)
    assert "U0ANNA0001" in ws.channels[b.channel].members
    button = {"type": "actions", "elements": [{"type": "button", "action_id": "hello", "value": "1",
                                               "text": {"type": "plain_text", "text": "Hello"}}]}
    ts = WebClient(token=b.slack_bot_token, base_url=sb.slack_api_base).chat_postMessage(
        channel=b.channel, text="x", blocks=[button])["ts"]
    received: list[bytes] = []

    class Ack(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(body)
            # A slash command is answered in the channel; a click with an empty ack.
            answer = b'{"response_type": "in_channel", "text": "hi all"}' if b"command=" in body else b""
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    app = ThreadingHTTPServer(("127.0.0.1", 0), Ack)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    try:
        driver = sb.slack.driver
        driver.use_http(f"http://127.0.0.1:{app.server_address[1]}/slack/events")
        click = driver.click("U0ANNA0001", b.channel, ts, "hello")
        command = driver.slash("U0ANNA0001", "/qbsync", "help", channel=b.channel)
    finally:
        app.shutdown()
        app.server_close()
    assert click.acked and command.acked and len(received) == 2
    assert click.payload["team"] == {"id": ACME, "domain": "acme-books"}
    assert click.payload["user"]["team_id"] == ACME and click.payload["message"]["team"] == ACME
    assert (command.payload["team_id"], command.payload["team_domain"]) == (ACME, "acme-books")
    said = [m for m in sb.slack.driver.transcript(b.channel) if m.text == "hi all"]
    assert [(m.user, m.team) for m in said] == [(ws.teams[ACME].bot_user_id, ACME)]


def test_connect_quickbooks_ends_on_the_company_picked_at_consent(sb, tmp_path):
    """`qbsync connect quickbooks` against the one sandbox: the person picks company b in
    Intuit's company selector; the saved tokens then open b's books, not company 0's."""
    sb.load("mixed")
    b = sb.add_company("missing-customer")
    b.pick_for_consent()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = b.environment()
    settings = load_settings({"QBO_CLIENT_ID": env["QBO_CLIENT_ID"], "QBO_CLIENT_SECRET": env["QBO_CLIENT_SECRET"],
                              "QBO_ENVIRONMENT": env["QBO_ENVIRONMENT"],
                              "QBO_REDIRECT_URI": f"http://localhost:{port}/callback",
                              "QBSYNC_DB_PATH": str(tmp_path / "b.db")}, env_file=None)
    result = connect_quickbooks(settings, open_browser=False, timeout=10, out=io.StringIO(),
                                on_url=lambda url: requests.get(url, timeout=10).raise_for_status())
    assert result.realm_id == b.realm_id != sb.realm_id
    store = Store(tmp_path / "b.db")
    try:
        adapter = QuickBooksAdapter(env["QBO_CLIENT_ID"], env["QBO_CLIENT_SECRET"], result.realm_id, None,
                                    env["QBO_ENVIRONMENT"], store, api_base=env["QBSYNC_QBO_API_BASE"],
                                    max_attempts=1)
        assert customer_names(adapter) == {"Northwind Traders", "Lisa Park"}
    finally:
        store.close()


def test_two_companies_from_one_world_dict_do_not_share_records(sb, tmp_path):
    """The same dict loaded twice: a write in one company through the APIs changes neither the
    other company nor the dict."""
    world = generate(20, seed=5)
    a = sb.add_company(world, key="a")
    b = sb.add_company(world, key="b")
    invoice_id = next(iter(a.portal.objects("invoices")))
    hubspot(sb, a.hubspot_token).crm.commerce.invoices.basic_api.update(
        invoice_id, {"properties": {"hs_due_date": "2031-01-01"}})
    assert a.portal.get("invoices", invoice_id)["properties"]["hs_due_date"].startswith("2031-01-01")
    assert not b.portal.get("invoices", invoice_id)["properties"]["hs_due_date"].startswith("2031-01-01")

    qa = qbo_adapter(sb, a, tmp_path)
    customer = qa.query("select * from Customer")[0]
    qa.update("Customer", {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True,
                           "DisplayName": "Renamed In A"}, request_id="rename-a", sparse=True)
    assert "Renamed In A" in customer_names(qa)
    assert "Renamed In A" not in customer_names(qbo_adapter(sb, b, tmp_path))
    assert all(c["DisplayName"] != "Renamed In A" for c in world["qbo"]["customers"])


def test_stop_stops_every_company_integration():
    sb = Sandbox().start()
    added = [sb.add_company("missing-customer"), sb.add_company("duplicate-doc-number")]
    for company in sb.companies:
        company.integration.start(interval_s=0.05)
    threads = [c.integration._thread for c in sb.companies]
    assert all(t is not None and t.is_alive() for t in threads)
    sb.stop()
    assert all(not t.is_alive() for t in threads)
    assert all(c.integration._thread is None for c in added)
