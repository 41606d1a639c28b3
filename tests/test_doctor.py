"""`qbsync doctor`: each check against a real HTTP peer.

Slack has no stand-in yet (issue #4), so the Slack rows are checked against a tiny local
Web API in this file that answers auth.test the way Slack does: HTTP 200 with
{"ok": true, ...} and the granted scopes in the `x-oauth-scopes` header, or HTTP 200 with
{"ok": false, "error": "invalid_auth"} (Slack's documented shape for a bad token).
HubSpot and QBO rows run against the sandbox stand-ins with the real adapters.
"""
from __future__ import annotations

import re

import io
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient

from bot.config import load_settings
from bot.doctor import (FAIL, OK, SKIP, WARN, CheckResult, check_config, check_qbo, check_slack,
                        check_store, collect, exit_code, format_table, run_doctor)
from bot.slack_scopes import BOT_SCOPES
from sandbox.server import RequestLog, Route, Service, ServiceServer, json_response

GOOD_TOKEN = "xoxb-1111-2222-goodtoken"


class FakeSlackWebApi(Service):
    """auth.test only. `scopes` is what the header reports for GOOD_TOKEN."""

    name = "slack"

    def __init__(self, scopes: str | None):
        self.scopes = scopes
        self.seen_tokens: list[str] = []

    member_of = {"C0123ABCD"}  # conversations.history: channels the bot was invited to

    def routes(self):
        return [Route("POST", "/api/auth.test", self.auth_test),
                Route("POST", "/api/conversations.history", self.history)]

    def history(self, request):
        channel = parse_qs(request.text()).get("channel", [""])[0]
        if channel not in self.member_of:
            return json_response(200, {"ok": False, "error": "not_in_channel"})
        return json_response(200, {"ok": True, "messages": [], "has_more": False})

    def auth_test(self, request):
        token = request.bearer_token() or parse_qs(request.text()).get("token", [""])[0]
        self.seen_tokens.append(token)
        if token != GOOD_TOKEN:
            return json_response(200, {"ok": False, "error": "invalid_auth"},
                                 {"x-oauth-scopes": "", "x-accepted-oauth-scopes": ""})
        headers = {"x-accepted-oauth-scopes": ""}
        if self.scopes is not None:
            headers["x-oauth-scopes"] = self.scopes
        return json_response(200, {
            "ok": True, "url": "https://acme-books.slack.com/", "team": "Acme Books",
            "user": "qbsync", "team_id": "T0123ABCD", "user_id": "U0BOT1234", "bot_id": "B0123ABCD",
            "is_enterprise_install": False}, headers)


@pytest.fixture()
def slack_api(request):
    service = FakeSlackWebApi(getattr(request, "param", ",".join(BOT_SCOPES)))
    server = ServiceServer(service, RequestLog()).start()
    yield service, f"{server.url}/api/"
    server.stop()


def test_slack_ok_with_all_scopes(slack_api):
    service, base = slack_api
    rows = check_slack(WebClient(token=GOOD_TOKEN, base_url=base))
    assert [r.status for r in rows] == [OK, OK]
    assert "Acme Books" in rows[0].detail and "T0123ABCD" in rows[0].detail
    assert service.seen_tokens == [GOOD_TOKEN]


@pytest.mark.parametrize("slack_api", ["chat:write,commands,channels:history"], indirect=True)
def test_slack_missing_scopes_fail_and_are_named(slack_api):
    _, base = slack_api
    auth, scopes = check_slack(WebClient(token=GOOD_TOKEN, base_url=base))
    assert auth.status == OK
    assert scopes.status == FAIL
    assert "users:read" in scopes.detail and "usergroups:read" in scopes.detail
    assert "chat:write" not in scopes.detail.split("missing:")[1].split("(")[0]


@pytest.mark.parametrize("slack_api", [",".join(BOT_SCOPES) + ",channels:history"], indirect=True)
def test_slack_extra_scopes_are_noted_not_failed(slack_api):
    _, base = slack_api
    _, scopes = check_slack(WebClient(token=GOOD_TOKEN, base_url=base))
    assert scopes.status == OK and "channels:history" in scopes.detail


@pytest.mark.parametrize("slack_api", [None], indirect=True)
def test_slack_without_scope_header_warns(slack_api):
    _, base = slack_api
    _, scopes = check_slack(WebClient(token=GOOD_TOKEN, base_url=base))
    assert scopes.status == WARN


def test_slack_invalid_auth(slack_api):
    _, base = slack_api
    rows = check_slack(WebClient(token="xoxb-revoked", base_url=base))
    assert len(rows) == 1 and rows[0].status == FAIL
    assert "invalid_auth" in rows[0].detail
    assert "xoxb-revoked" not in rows[0].detail


def test_slack_unreachable():
    from tests.test_cli import _closed_port

    rows = check_slack(WebClient(token=GOOD_TOKEN, base_url=f"http://127.0.0.1:{_closed_port()}/api/",
                                 timeout=2))
    assert rows[0].status == FAIL and "cannot reach Slack" in rows[0].detail


def test_store_check_migrates_and_reports_bad_paths(tmp_path):
    rows, store = check_store(str(tmp_path / "sub" / "q.db"))
    assert rows[0].status == OK and "schema version" in rows[0].detail
    assert store.schema_version() >= 1
    store.close()
    (tmp_path / "file").write_text("x")
    rows, store = check_store(str(tmp_path / "file" / "q.db"))  # parent is a file
    assert rows[0].status == FAIL and store is None


def test_config_rows_and_exit_code():
    rows = check_config(load_settings({"QBSYNC_LANGUAGE": "xx"}, env_file=None))
    assert all(r.status == FAIL for r in rows)
    assert any("QBSYNC_LANGUAGE" in r.detail for r in rows)
    assert any("SLACK_BOT_TOKEN" in r.detail for r in rows)
    assert exit_code([CheckResult("a", OK), CheckResult("b", WARN), CheckResult("c", SKIP)]) == 0
    assert exit_code([CheckResult("a", OK), CheckResult("b", FAIL)]) == 1


def test_table_layout_and_control_characters_are_dropped():
    text = format_table([CheckResult("slack auth.test", OK, "team x"),
                         CheckResult("qbo company", FAIL, "bad")])
    lines = text.splitlines()
    assert lines[0].split() == ["check", "status", "detail"]
    assert lines[2] == "slack auth.test  OK      team x"
    from bot.doctor import _clean

    assert _clean("Acme\x1b[2J Inc\n") == "Acme [2J Inc"


def test_doctor_with_only_slack_configured(slack_api, tmp_path):
    """The runner wires settings to checks: Slack via QBSYNC_SLACK_API_BASE, others SKIP."""
    _, base = slack_api
    settings = load_settings({"SLACK_BOT_TOKEN": GOOD_TOKEN, "QBSYNC_SLACK_API_BASE": base,
                              "QBSYNC_DB_PATH": str(tmp_path / "q.db")}, env_file=None)
    out = io.StringIO()
    code = run_doctor(settings, out=out, timeout=5)
    rows = {r.check: r for r in collect(settings, timeout=5)}
    assert code == 1  # config incomplete for `run`
    assert rows["slack auth.test"].status == OK and rows["slack scopes"].status == OK
    assert rows["hubspot token"].status == SKIP and "HUBSPOT_ACCESS_TOKEN" in rows["hubspot token"].detail
    assert rows["qbo company"].status == SKIP
    assert rows["database"].status == OK
    found = re.search(r"\n(\d+) (problems?) found\.\n", out.getvalue())
    assert found and (found[2] == "problem") == (found[1] == "1")  # "1 problem", "3 problems"
    assert GOOD_TOKEN not in out.getvalue()


# ---------------------------------------------------------------- HubSpot + QBO via the sandbox
# The real adapters (bot/adapters) against the sandbox stand-ins over HTTP.

from bot.doctor import check_hubspot  # noqa: E402

LIMITED_TOKEN = "pat-na1-limited-1111-2222-333333333333"


@pytest.fixture()
def sandbox():
    from sandbox.app import Sandbox

    with Sandbox() as sb:
        sb.load("mixed")
        yield sb


def qbo_adapter(env: dict, store, **kw):
    from bot.adapters.quickbooks import QuickBooksAdapter

    return QuickBooksAdapter(client_id=env["QBO_CLIENT_ID"], client_secret=env["QBO_CLIENT_SECRET"],
                             realm_id=env["QBO_REALM_ID"], refresh_token=env.get("QBO_REFRESH_TOKEN"),
                             environment=env["QBO_ENVIRONMENT"], store=store,
                             api_base=env["QBSYNC_QBO_API_BASE"], max_attempts=1, **kw)


def test_doctor_all_green_against_the_sandbox(sandbox, slack_api, tmp_path):
    _, slack_base = slack_api
    env = dict(sandbox.bot_environment(), SLACK_BOT_TOKEN=GOOD_TOKEN, QBSYNC_SLACK_API_BASE=slack_base,
               SLACK_APP_TOKEN="xapp-1-A1-2-abc", QBSYNC_ALERT_CHANNEL="C0123ABCD",
               QBSYNC_FIX_ALLOWED="U0123ABCD", QBSYNC_DB_PATH=str(tmp_path / "q.db"))
    settings = load_settings(env, env_file=None)
    out = io.StringIO()
    code = run_doctor(settings, out=out, timeout=10)
    table = out.getvalue()
    assert code == 0, table
    rows = {line.split("  ")[0]: line for line in table.splitlines()[2:] if line.strip()}
    for check in ("config", "slack auth.test", "slack scopes", "hubspot token", "hubspot scopes",
                  "database", "qbo company", "qbo refresh token"):
        assert check in rows and " OK " in rows[check], (check, table)
    assert str(sandbox.scenario["hubspot"]["portal_id"]) in rows["hubspot token"]
    assert sandbox.scenario["qbo"]["company_name"] in rows["qbo company"]
    assert "All checks passed." in table
    for secret in settings.secret_values():
        assert secret not in table


def test_hubspot_unknown_token_fails(sandbox):
    from bot.adapters.hubspot import HubSpotAdapter

    rows = check_hubspot(HubSpotAdapter("pat-na1-wrong-0000", host=sandbox.hubspot_url, max_attempts=1))
    assert len(rows) == 1 and rows[0].status == FAIL and rows[0].detail.startswith("token refused")
    assert "pat-na1-wrong-0000" not in rows[0].detail


def test_hubspot_token_without_some_scopes(sandbox):
    from bot.adapters.hubspot import HubSpotAdapter

    # a private app that may read invoices and line items (through e-commerce) only
    sandbox.hubspot_service.tokens[LIMITED_TOKEN] = frozenset(
        {"crm.objects.invoices.read", "e-commerce"})
    token, scopes = check_hubspot(HubSpotAdapter(LIMITED_TOKEN, host=sandbox.hubspot_url, max_attempts=1))
    assert token.status == OK
    assert scopes.status == FAIL
    missing = scopes.detail.split("missing:")[1].split("(")[0]
    assert {m.strip() for m in missing.split(",")} == {
        "crm.objects.invoices.write", "crm.objects.contacts.read", "crm.objects.companies.read"}


def test_hubspot_token_that_cannot_read_invoices(sandbox):
    from bot.adapters.hubspot import HubSpotAdapter

    sandbox.hubspot_service.tokens[LIMITED_TOKEN] = frozenset({"crm.objects.contacts.read"})
    rows = check_hubspot(HubSpotAdapter(LIMITED_TOKEN, host=sandbox.hubspot_url, max_attempts=1))
    assert len(rows) == 1 and rows[0].status == FAIL
    assert rows[0].detail.startswith("token lacks a scope") and "crm.objects.invoices.read" in rows[0].detail


def test_hubspot_scope_lists_agree():
    from bot.adapters.hubspot import REQUIRED_SCOPES
    from bot.slack_scopes import HUBSPOT_SCOPES

    assert set(REQUIRED_SCOPES) == set(HUBSPOT_SCOPES)


def test_qbo_ok_then_revoked(sandbox, tmp_path):
    from bot.store import Store

    env = sandbox.bot_environment()
    adapter = qbo_adapter(env, Store(tmp_path / "q.db"))
    company, refresh = check_qbo(adapter)
    assert company.status == OK and sandbox.scenario["qbo"]["company_name"] in company.detail
    assert refresh.status == OK and 95 <= float(refresh.detail.split()[0]) <= 101

    sandbox.qbo_service.revoke_all_tokens()  # the user disconnected qbsync in QuickBooks
    rows = check_qbo(qbo_adapter(env, Store(tmp_path / "q2.db")))
    assert len(rows) == 1 and rows[0].status == FAIL and "connect quickbooks" in rows[0].detail


def test_qbo_uses_the_chain_connect_stored_when_no_seed_is_configured(sandbox, tmp_path):
    """QBO_REFRESH_TOKEN may stay empty after `qbsync connect quickbooks`."""
    from bot.store import Store

    env = sandbox.bot_environment()
    store = Store(tmp_path / "q.db")
    assert check_qbo(qbo_adapter(env, store))[0].status == OK  # stores the chain
    no_seed = dict(env, QBO_REFRESH_TOKEN=None)
    assert check_qbo(qbo_adapter(no_seed, store))[0].status == OK
    rows = check_qbo(qbo_adapter(no_seed, Store(tmp_path / "empty.db")))
    assert rows[0].status == FAIL and "connect quickbooks" in rows[0].detail


class _QboStub:
    """Threshold logic only (unit test): company info + a given number of days left."""

    def __init__(self, days):
        self.days = days

    def company_info(self):
        return {"CompanyName": "Acme Books Inc"}

    def refresh_token_days_left(self):
        return self.days


@pytest.mark.parametrize("days, status", [(60.0, OK), (14.0, OK), (13.9, WARN), (0.5, WARN),
                                          (0.0, FAIL), (-3.0, FAIL), (None, SKIP)])
def test_qbo_refresh_token_thresholds(days, status):
    company, refresh = check_qbo(_QboStub(days))
    assert company.status == OK and refresh.status == status


def test_doctor_lists_each_sync_risk_with_where_to_change_it(slack_api, tmp_path):
    """Issue 11: a company with every risk shows each as a WARN row (live reads)."""
    from sandbox.app import Sandbox
    from tests.e2e.test_commands import RISK_IDS, risky_world

    _, slack_base = slack_api
    with Sandbox() as sb:
        sb.load(risky_world())
        sb.qbo.entities["CompanyInfo"]["1"]["Country"] = "NL"
        env = dict(sb.bot_environment(), SLACK_BOT_TOKEN=GOOD_TOKEN, QBSYNC_SLACK_API_BASE=slack_base,
                   SLACK_APP_TOKEN="xapp-1-A1-2-abc", QBSYNC_ALERT_CHANNEL="C0123ABCD",
                   QBSYNC_FIX_ALLOWED="U0123ABCD", QBSYNC_DB_PATH=str(tmp_path / "q.db"))
        rows = {r.check: r for r in collect(load_settings(env, env_file=None), timeout=10)}
    for risk in RISK_IDS:
        row = rows[f"sync risk {risk}"]
        assert row.status == WARN and "Where:" in row.detail, (risk, row)
    assert "October 31, 2026" in rows["sync risk books-closed"].detail  # the date in words (locale_format)
    assert "INV-2026-NORTHWIND-000123" in rows["sync risk doc-number-too-long"].detail
    assert "EUR" in rows["sync risk multicurrency-off"].detail and "NL" in rows["sync risk non-us-tax"].detail


def test_doctor_sync_risks_ok_for_a_healthy_company(sandbox, tmp_path):
    from bot.adapters.hubspot import HubSpotAdapter
    from bot.doctor import check_sync_risks
    from bot.store import Store

    env = sandbox.bot_environment()
    store = Store(tmp_path / "q.db")
    try:
        rows = check_sync_risks(qbo_adapter(env, store),
                                HubSpotAdapter(env["HUBSPOT_ACCESS_TOKEN"], host=env["QBSYNC_HUBSPOT_API_BASE"]))
    finally:
        store.close()
    assert [(r.check, r.status) for r in rows] == [("sync risks", OK)]


def test_doctor_shows_the_routes_and_fails_a_route_channel_the_bot_is_not_in(slack_api, tmp_path):
    service, base = slack_api
    settings = load_settings({"SLACK_BOT_TOKEN": GOOD_TOKEN, "QBSYNC_SLACK_API_BASE": base,
                              "QBSYNC_ALERT_CHANNEL": "C0123ABCD", "QBSYNC_DB_PATH": str(tmp_path / "q.db"),
                              "QBSYNC_ROUTES": "missing-customer=C0FIN00001,duplicate-display-name=C0FIN00001,"
                                               "books-closed=C0123ABCD"}, env_file=None)
    rows = {r.check: r for r in collect(settings, timeout=5)}
    assert rows["slack routes"].status == OK
    assert rows["slack routes"].detail == ("missing-customer -> C0FIN00001; duplicate-display-name -> C0FIN00001; "
                                           "books-closed -> C0123ABCD; everything else -> C0123ABCD")
    assert rows["slack channel C0123ABCD"].status == OK
    assert "alerts not routed elsewhere, books-closed" in rows["slack channel C0123ABCD"].detail
    bad = rows["slack channel C0FIN00001"]
    assert bad.status == FAIL and bad.detail.startswith("not_in_channel: the bot is not a member: invite it")
    assert "missing-customer, duplicate-display-name" in bad.detail
    service.member_of = {"C0123ABCD", "C0FIN00001"}
    rows = {r.check: r for r in collect(settings, timeout=5)}
    assert rows["slack channel C0FIN00001"].status == OK
