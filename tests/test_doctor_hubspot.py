"""`qbsync doctor` and HubSpot credentials new customers can create (service keys, whose tokens
are not `pat-` shaped and which HubSpot's private-app token-info endpoint does not describe),
and the split of recent invoices by Invoice Source. Real adapters against the sandbox over HTTP."""
from __future__ import annotations

import copy
import io
from datetime import datetime, timedelta, timezone

import pytest

from bot import wiring
from bot.config import load_settings
from bot.doctor import FAIL, OK, SKIP, WARN, check_hubspot, check_hubspot_sources, run_doctor
from sandbox import scenario as scenarios
from sandbox.app import HUBSPOT_SERVICE_KEY, Sandbox

LIMITED_KEY = "CgZsaW1pdGVkEgZuYTEtc2sYwMDe_Zb9Lw-limited-service-key"


@pytest.fixture()
def sandbox():
    with Sandbox() as sb:
        sb.load("mixed")
        yield sb


def settings(sb, tmp_path, **env):
    base = sb.bot_environment(hubspot="service_key") | {"QBSYNC_DB_PATH": str(tmp_path / "q.db"),
                                                        "QBSYNC_FIX_ALLOWED": "U0123ABCD"}
    return load_settings(base | env, env_file=None)


def rows_of(table: str) -> dict[str, str]:
    return {line.split("  ")[0]: line for line in table.splitlines()[2:] if line.strip()}


def test_doctor_all_green_with_a_service_key(sandbox, tmp_path):
    s = settings(sandbox, tmp_path)
    assert s.invalid == () and not s.hubspot_token.startswith("pat-")
    out = io.StringIO()
    code = run_doctor(s, out=out, timeout=10)
    table = out.getvalue()
    assert code == 0, table
    rows = rows_of(table)
    for check in ("hubspot token", "hubspot scopes", "hubspot invoice sources"):
        assert " OK " in rows[check], (check, table)
    # scopes proven by reads, the write scope named as not checkable
    assert "crm.objects.contacts.read" in rows["hubspot scopes"]
    assert "not checkable without writing: crm.objects.invoices.write" in rows["hubspot scopes"]
    assert HUBSPOT_SERVICE_KEY not in table


def test_service_key_missing_scopes_are_named_from_hubspots_403(sandbox):
    sandbox.hubspot_service.tokens[LIMITED_KEY] = frozenset({"crm.objects.invoices.read", "crm.objects.companies.read"})
    adapter = wiring.hubspot_adapter(load_settings({"HUBSPOT_ACCESS_TOKEN": LIMITED_KEY,
                                                    "QBSYNC_HUBSPOT_API_BASE": sandbox.hubspot_url}, env_file=None),
                                     max_attempts=1)
    token, scopes = check_hubspot(adapter)
    assert token.status == OK
    assert scopes.status == FAIL
    missing = scopes.detail.split("missing:")[1].split("(")[0]
    assert [m.strip() for m in missing.split(",")] == ["crm.objects.contacts.read", "crm.objects.line_items.read"]
    assert LIMITED_KEY not in scopes.detail


def test_service_key_that_cannot_read_invoices_fails(sandbox):
    sandbox.hubspot_service.tokens[LIMITED_KEY] = frozenset({"crm.objects.contacts.read"})
    adapter = wiring.hubspot_adapter(load_settings({"HUBSPOT_ACCESS_TOKEN": LIMITED_KEY,
                                                    "QBSYNC_HUBSPOT_API_BASE": sandbox.hubspot_url}, env_file=None),
                                     max_attempts=1)
    rows = check_hubspot(adapter)
    assert len(rows) == 1 and rows[0].status == FAIL and "crm.objects.invoices.read" in rows[0].detail


# ---------------------------------------------------------------- invoice sources

def adapter_for(sb, tmp_path, **env):
    return wiring.hubspot_adapter(settings(sb, tmp_path, **env), max_attempts=1)


def test_source_split_counts_native_and_synced_values(sandbox, tmp_path):
    [row] = check_hubspot_sources(adapter_for(sandbox, tmp_path))
    invoices = sandbox.scenario["hubspot"]["invoices"]
    synced = sum(1 for i in invoices if i.get("source") == "quickbooks")
    assert synced and row.status == OK
    assert f"{len(invoices)} invoices changed in the last 90 days" in row.detail
    assert f"{len(invoices) - synced} native (hubspot {len(invoices) - synced})" in row.detail
    assert f"{synced} from a sync (data_sync {synced})" in row.detail


def test_source_split_warns_when_no_invoice_counts_as_native(sandbox, tmp_path):
    # a wrong guess: the value HubSpot-created invoices carry is configured as a sync source
    [row] = check_hubspot_sources(adapter_for(sandbox, tmp_path, QBSYNC_HUBSPOT_SYNC_SOURCES="HubSpot,Data Sync"))
    assert row.status == WARN and "0 native" in row.detail
    assert "QBSYNC_HUBSPOT_SYNC_SOURCES" in row.detail and "never alert" in row.detail


def test_source_split_warns_when_every_invoice_was_imported(tmp_path):
    data = copy.deepcopy(scenarios.read("mixed"))
    for inv in data["hubspot"]["invoices"]:
        inv["source"] = "Legacy Quickbooks integration"
    with Sandbox() as sb:
        sb.load(data)
        [row] = check_hubspot_sources(adapter_for(sb, tmp_path))
    assert row.status == WARN and "0 native" in row.detail and "Legacy Quickbooks integration" in row.detail


def test_source_split_warns_when_the_property_name_is_wrong(sandbox, tmp_path):
    [row] = check_hubspot_sources(adapter_for(sandbox, tmp_path, QBSYNC_HUBSPOT_SOURCE_PROPERTY="hs_no_such_prop"))
    assert row.status == WARN and "(empty)" in row.detail
    assert "hs_no_such_prop" in row.detail and "QBSYNC_HUBSPOT_SOURCE_PROPERTY" in row.detail


def test_source_split_window_and_sample_limit(sandbox, tmp_path):
    adapter = adapter_for(sandbox, tmp_path)
    later = datetime.now(timezone.utc) + timedelta(days=91)
    [row] = check_hubspot_sources(adapter, now=later)
    assert row.status == SKIP and "no invoices changed in the last 90 days" in row.detail
    [row] = check_hubspot_sources(adapter, limit=3)
    assert row.detail.startswith("first 3 invoices changed")


def test_doctor_shows_the_split_in_its_table(sandbox, tmp_path):
    out = io.StringIO()
    run_doctor(settings(sandbox, tmp_path, QBSYNC_HUBSPOT_SYNC_SOURCES="hubspot,data_sync"), out=out, timeout=10)
    row = rows_of(out.getvalue())["hubspot invoice sources"]
    assert " WARN " in row and "0 native" in row


@pytest.mark.parametrize("body, expected", [
    # "one or more": any of them will do
    ({"errors": [{"message": "One or more of the following scopes are required.",
                  "context": {"requiredGranularScopes": ["crm.objects.line_items.read", "e-commerce"]}}]},
     ["crm.objects.line_items.read or e-commerce"]),
    # "all of": each is missing
    ({"errors": [{"message": "All of the following scopes are required.",
                  "context": {"requiredGranularScopes": ["crm.objects.invoices.read", "crm.objects.contacts.read"]}}]},
     ["crm.objects.invoices.read", "crm.objects.contacts.read"]),
    # older answers: requiredScopes at the top level
    ({"category": "MISSING_SCOPES", "context": {"requiredScopes": ["e-commerce"]}}, ["e-commerce"]),
    ({"category": "MISSING_SCOPES", "message": "no detail"}, []),
])
def test_missing_scopes_as_hubspots_403_words_them(body, expected):
    from bot.adapters.hubspot import _scope_groups

    assert _scope_groups(body) == expected
