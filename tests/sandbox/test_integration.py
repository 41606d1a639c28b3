"""The simulated HubSpot->QBO integration fails and recovers the way HubSpot's article says."""
from __future__ import annotations

import copy

import pytest

from sandbox import scenario as scenarios
from sandbox.app import Sandbox
from sandbox.generate import generate
from sandbox.integration import HEADINGS

SINGLE = ["missing-customer", "duplicate-display-name", "revenue-recognition-service-date",
          "native-invoice-modified", "duplicate-doc-number"]


@pytest.fixture
def sb():
    with Sandbox() as box:
        yield box


@pytest.mark.parametrize("name", SINGLE)
def test_each_shipped_scenario_fails_exactly_as_expected(sb, name):
    data = sb.load(name)
    failures = sb.integration.failures
    assert set(failures) == set(data["expect"])
    for invoice_id, causes in data["expect"].items():
        assert failures[invoice_id].cause == causes[0]
        assert failures[invoice_id].heading == HEADINGS[causes[0]]["en"]


def test_mixed_world(sb):
    data = sb.load("mixed")
    failures = sb.integration.failures
    assert {k: f.cause for k, f in failures.items()} == {k: v[0] for k, v in data["expect"].items()}
    # Draft, voided and QBO-imported invoices are neither pushed nor failed.
    for ignored in ("3008", "3009", "3010"):
        assert ignored not in failures and ignored not in sb.integration.synced
    for healthy in ("3001", "3004", "3011", "3012"):
        assert healthy in sb.integration.synced
    # QBO raised the real faults behind the failures it caused.
    assert failures["3002"].qbo_fault["code"] == "6240"
    assert "Id=58" in failures["3002"].qbo_fault["detail"]
    assert failures["3006"].qbo_fault["code"] == "6140"
    assert "TxnType=CreditMemo" in failures["3006"].qbo_fault["detail"]
    assert failures["3003"].qbo_fault is None  # missing customer: the integration never reached QBO


@pytest.mark.parametrize("lang", ["nl", "es"])
def test_headings_follow_the_portal_language(sb, lang):
    data = copy.deepcopy(scenarios.read("duplicate-doc-number"))
    data["hubspot"]["language"] = lang
    sb.load(data)
    assert sb.integration.failures["3001"].heading == HEADINGS["duplicate-doc-number"][lang]


def test_failed_invoice_is_retried_on_its_interval(sb):
    sb.load("duplicate-display-name")
    before = sb.integration.failures["3002"]
    assert sb.integration.run_once().attempted == 0  # not due yet
    sb.clock.advance(sb.integration.retry_interval_s + 1)
    report = sb.integration.run_once()
    assert set(report.failed) == {"3002", "3003"}
    assert sb.integration.failures["3002"].attempts == 2
    assert sb.integration.failures["3002"].first_failed_at == before.first_failed_at


def test_duplicate_display_name_syncs_once_customer_exists_with_contact_email(sb):
    sb.load("duplicate-display-name")
    sb.qbo.create("Customer", {"DisplayName": "Acme BV (Bob de Vries)",
                               "PrimaryEmailAddr": {"Address": "bob.devries@acme.example"}})
    report = sb.integration.run_once(force=True)
    assert "3002" in report.synced and "3002" not in sb.integration.failures
    qbo_id = sb.integration.synced["3002"].qbo_invoice_id
    invoice = sb.qbo.read("Invoice", qbo_id)
    assert invoice["DocNumber"] == "INV-1002"
    assert float(invoice["TotalAmt"]) == 480.0


def test_native_invoice_syncs_again_after_qbo_copy_is_reverted(sb):
    sb.load("native-invoice-modified")
    assert sb.integration.failures["3001"].cause == "native-invoice-modified"
    qbo = sb.qbo.read("Invoice", "145")
    reverted = {
        "Id": "145", "SyncToken": qbo["SyncToken"], "CustomerRef": qbo["CustomerRef"], "DocNumber": "INV-1001",
        "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": 1200.0, "Description": "Consulting",
             "SalesItemLineDetail": {"ItemRef": {"value": "2"}, "Qty": 10, "UnitPrice": 120.0}},
            {"DetailType": "SalesItemLineDetail", "Amount": 250.0, "Description": "Travel",
             "SalesItemLineDetail": {"ItemRef": {"value": "4"}, "Qty": 1, "UnitPrice": 250.0}},
        ],
    }
    sb.qbo.update("Invoice", reverted)
    report = sb.integration.run_once(force=True)
    assert "3001" in report.synced and not sb.integration.failures


def test_revenue_recognition_failure_clears_when_preference_is_off(sb):
    sb.load("revenue-recognition-service-date")
    sb.qbo.set_preference("ProductAndServicesPrefs.RevenueRecognitionEnabled", False)  # as a person would in QBO
    assert sb.integration.run_once(force=True).synced == ["3001"]


def test_duplicate_doc_number_syncs_after_renumbering(sb):
    sb.load("duplicate-doc-number")
    memo = sb.qbo.read("CreditMemo", "201")
    sb.qbo.update("CreditMemo", {"Id": "201", "SyncToken": memo["SyncToken"], "DocNumber": "INV-1001-CM",
                                 "sparse": True})
    report = sb.integration.run_once(force=True)
    assert "3001" in report.synced and "3002" in report.failed


def test_generated_world_fails_where_it_says(sb):
    data = generate(2000, failure_rate=0.02, seed=3)
    sb.load(data, validate=False)
    failures = sb.integration.failures
    assert {k: f.cause for k, f in failures.items()} == {k: v[0] for k, v in data["expect"].items()}
    assert len(sb.integration.synced) == 2000 - len(failures) + sum(
        1 for v in data["expect"].values() if v == ["native-invoice-modified"])


def test_scenario_references_are_checked():
    data = copy.deepcopy(scenarios.read("missing-customer"))
    data["hubspot"]["invoices"][0]["contact"] = "9999"
    data["hubspot"]["invoices"][0]["line_items"].append("nope")
    with pytest.raises(scenarios.ScenarioError) as err:
        scenarios.validate(data)
    assert "contact 9999 does not exist" in str(err.value) and "line item nope" in str(err.value)


def test_scenario_schema_errors_are_all_listed():
    data = copy.deepcopy(scenarios.read("missing-customer"))
    data["hubspot"]["invoices"][0]["status"] = "lost"
    data["qbo"]["realm_id"] = "abc"
    with pytest.raises(scenarios.ScenarioError) as err:
        scenarios.validate(data)
    assert "'lost' is not one of" in str(err.value) and "realm_id" in str(err.value)


def test_generated_large_world_is_schema_valid():
    scenarios.validate(generate(300, seed=5))


def test_product_mapped_to_a_missing_qbo_item_fails_with_qbos_own_words(sb):
    data = copy.deepcopy(scenarios.read("mixed"))
    next(li for li in data["hubspot"]["line_items"] if li["id"] == "4001")["qbo_item_id"] = "999"
    sb.load(data)
    failure = sb.integration.failures["3001"]
    assert failure.cause == "invalid-reference" and failure.qbo_fault["code"] == "2500"
    assert failure.heading.startswith(failure.qbo_fault["message"])
