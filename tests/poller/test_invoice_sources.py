"""Which invoices are HubSpot's own, end to end: the bot, configured with a service key (no
`pat-` shape), scans the sandbox over HTTP and alerts only on invoices whose Invoice Source
names no sync source. HubSpot documents the labels "HubSpot", "Data Sync" and "Legacy
Quickbooks integration"; a real portal showed `data_sync` (../shared/knowledge/apis.md)."""
from __future__ import annotations

import copy

import pytest

from sandbox import scenario as scenarios

from .conftest import build, open_keys, parents

# Ann's invoices all fail (no QBO customer has her email); only the source differs.
SOURCES = {
    "3003": "data_sync",                        # seen on a real portal
    "3004": "Legacy Quickbooks integration",    # HubSpot's KB label
    "3005": "DATA-SYNC",                        # another spelling of the same value
    "3006": "HubSpot",                          # HubSpot's KB label for its own invoices
    "3007": "",                                 # no value at all
    "3008": "quickbooks",                       # the scenario alias: served as data_sync
}
SYNCED = {"3003", "3004", "3005", "3008"}


def world() -> dict:
    data = copy.deepcopy(scenarios.read("missing-customer"))
    hs = data["hubspot"]
    for n, (iid, source) in enumerate(SOURCES.items()):
        hs["line_items"].append({"id": f"49{n}", "name": "Consulting", "quantity": 1, "price": 100 + n})
        hs["invoices"].append({"id": iid, "number": f"INV-2{n}", "status": "open", "currency": "USD",
                               "source": source, "contact": "1001", "company": "2001",
                               "line_items": [f"49{n}"], "age_minutes": 60})
    scenarios.validate(data)
    return data


NATIVE = {"3001", "3006", "3007"}   # 3001 is the scenario's `native` (served as "hubspot")


@pytest.mark.parametrize("incremental", [True, False])
def test_service_key_bot_alerts_on_native_invoices_only(sandbox, tmp_path, incremental):
    sb = sandbox
    sb.load(world())
    served = {i: r["properties"].get("hs_invoice_source") for i, r in sb.portal.objects("invoices").items()}
    assert served["3001"] == "hubspot" and served["3008"] == "data_sync" and served["3007"] is None
    parts = build(sb, tmp_path / "q.db", hubspot="service_key", incremental=incremental)
    assert not parts.settings.hubspot_token.startswith("pat-")
    result = parts.scanner.scan()
    assert result.problem is None
    assert open_keys(parts.store) == {f"{i}:missing-customer" for i in NATIVE}
    posted = " ".join(m.visible_text() for m in parents(sb))
    for iid in NATIVE:
        assert sb.portal.get("invoices", iid)["properties"]["hs_number"] in posted
    for iid in SYNCED:
        assert sb.portal.get("invoices", iid)["properties"]["hs_number"] not in posted


def test_changed_sync_sources_apply_to_invoices_read_before(sandbox, tmp_path):
    """The poller caches invoices; a corrected QBSYNC_HUBSPOT_SYNC_SOURCES must apply to them
    without HubSpot changing them."""
    sb = sandbox
    sb.load(world())
    wrong = build(sb, tmp_path / "q.db",
                  env={"QBSYNC_HUBSPOT_SYNC_SOURCES": "hubspot,data_sync,legacy quickbooks integration"})
    wrong.scanner.scan()
    assert open_keys(wrong.store) == {"3007:missing-customer"}   # "HubSpot" and "hubspot" taken as syncs
    wrong.store.close()
    right = build(sb, tmp_path / "q.db")
    right.scanner.scan()
    assert open_keys(right.store) == {f"{i}:missing-customer" for i in NATIVE}
