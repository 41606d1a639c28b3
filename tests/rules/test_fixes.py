"""Every fix against the sandbox through the real adapters: apply changes the sandbox's QBO /
HubSpot data, the re-check confirms the cause is gone, the simulated integration then syncs
the invoice, and applying the same fix again changes nothing."""
from __future__ import annotations

import pytest

from rules.registry import get
from tests.rules.conftest import scenario
from tests.worlds import missing_customer_with_a_matching_contact


def fix_of(w, invoice_id, rule, fix_id, lang="en"):
    finding = next(f for f in w.findings(invoice_id) if f.rule == rule)
    fixes = {f.id: f for f in get(rule).fixes(finding, lang)}
    return finding, fixes[fix_id]


def applied(w, fix, invoice_id, *, synced=True):
    result = fix.apply(w.ctx())
    assert result.ok, result.message
    assert result.changed
    check = fix.recheck(w.ctx())
    assert check.ok, check.message
    w.sb.integration.run_once(force=True)
    if synced:
        assert invoice_id in w.sb.integration.synced and invoice_id not in w.sb.integration.failures
    again = fix.apply(w.ctx())
    assert again.ok and again.changed == {}, again.message
    return result


def customers_with(w, email):
    return [c for c in w.sb.qbo.entities["Customer"].values()
            if (c.get("PrimaryEmailAddr") or {}).get("Address") == email]


def test_set_customer_email(world):
    w = world("missing-customer")
    _, fix = fix_of(w, "3001", "missing-customer", "set-customer-email")
    assert "accounts@northwind.example" in fix.confirm and "ann.jansen@northwind.example" in fix.confirm
    applied(w, fix, "3001")
    assert w.sb.qbo.entities["Customer"]["58"]["PrimaryEmailAddr"]["Address"] == "ann.jansen@northwind.example"
    assert w.store.audit_entries(target="3001:missing-customer")[0]["outcome"] == "ok"


def test_create_customer(world):
    w = world("missing-customer")
    _, fix = fix_of(w, "3001", "missing-customer", "create-customer")
    result = applied(w, fix, "3001")
    created = customers_with(w, "ann.jansen@northwind.example")
    assert len(created) == 1 and created[0]["DisplayName"] == "Northwind Traders (Ann Jansen)"  # the name was taken
    assert result.changed["qbo_customer_created"]["id"] == created[0]["Id"]


def test_switch_contact_offered_only_when_a_matching_contact_exists(world):
    w = world("missing-customer")
    finding = w.findings("3001")[0]
    assert "switch-contact" not in [f.id for f in get("missing-customer").fixes(finding)]
    assert "no other HubSpot contact" in get("missing-customer").not_offered(finding)[0]
    # Ann also exists in HubSpot under the address QBO knows her by.
    data = missing_customer_with_a_matching_contact()
    w = world(data)
    assert [f.rule for f in w.findings("3001")] == ["missing-customer"]
    _, fix = fix_of(w, "3001", "missing-customer", "switch-contact")
    applied(w, fix, "3001")
    assert w.sb.portal.associated("invoices", "3001", "contacts") == ["1009"]
    # A paid invoice keeps its contact: the fix is not offered, and the reason is given.
    data["hubspot"]["invoices"][0]["status"] = "paid"
    w = world(data)
    finding = w.findings("3001")[0]
    assert "switch-contact" not in [f.id for f in get("missing-customer").fixes(finding)]
    assert "paid" in get("missing-customer").not_offered(finding)[0]


@pytest.mark.parametrize("invoice_id,expected_name", [("3002", "Acme BV (Bob de Vries)"),
                                                      ("3003", "Globex Supplies (Carla Gómez)")])
def test_create_customer_unique_name(world, invoice_id, expected_name):
    w = world("duplicate-display-name")
    _, fix = fix_of(w, invoice_id, "duplicate-display-name", "create-customer-unique-name")
    applied(w, fix, invoice_id)
    contact = w.sb.portal.get("contacts", w.sb.portal.associated("invoices", invoice_id, "contacts")[0])
    created = customers_with(w, contact["properties"]["email"])
    assert [c["DisplayName"] for c in created] == [expected_name]


def test_unique_name_is_made_unique_when_taken_too(world):
    data = scenario("duplicate-display-name")
    data["qbo"]["employees"].append({"Id": "90", "DisplayName": "Acme BV (Bob de Vries)", "GivenName": "Bob"})
    w = world(data)
    _, fix = fix_of(w, "3002", "duplicate-display-name", "create-customer-unique-name")
    applied(w, fix, "3002")
    assert [c["DisplayName"] for c in customers_with(w, "bob.devries@acme.example")] == ["Acme BV (Bob de Vries) 2"]


def test_revenue_recognition_refused_says_where(world):
    w = world("revenue-recognition-service-date")
    _, fix = fix_of(w, "3001", "revenue-recognition-service-date", "disable-revenue-recognition")
    result = fix.apply(w.ctx())
    assert not result.ok and result.changed == {}
    assert "Account and settings > Sales > Products and services" in result.message and "2010" in result.message
    assert w.sb.qbo.preferences()["ProductAndServicesPrefs"]["RevenueRecognitionEnabled"] is True
    assert not fix.recheck(w.ctx()).ok
    nl = fix.apply(w.ctx("nl"))
    assert "Doe het zelf" in nl.message


def test_revenue_recognition_turned_off_when_allowed(world):
    data = scenario("revenue-recognition-service-date")
    data["qbo"]["writable_preferences"] = ["SalesFormsPrefs.CustomTxnNumbers",
                                           "ProductAndServicesPrefs.RevenueRecognitionEnabled"]
    w = world(data)
    _, fix = fix_of(w, "3001", "revenue-recognition-service-date", "disable-revenue-recognition")
    applied(w, fix, "3001")
    assert w.sb.qbo.preferences()["ProductAndServicesPrefs"]["RevenueRecognitionEnabled"] is False


def test_revert_qbo_invoice(world):
    w = world("native-invoice-modified")
    finding, fix = fix_of(w, "3001", "native-invoice-modified", "revert-qbo-invoice")
    assert "Rush fee" in fix.confirm and "8 x $120.00 = $960.00" in fix.confirm  # in the invoice's currency
    assert "Total becomes $1,450.00." in fix.confirm
    applied(w, fix, "3001")
    doc = w.sb.qbo.entities["Invoice"]["145"]
    lines = [(l["Description"], l["SalesItemLineDetail"]["Qty"], l["Amount"]) for l in doc["Line"]
             if l["DetailType"] == "SalesItemLineDetail"]
    assert lines == [("Consulting", 10, 1200), ("Travel", 1, 250)]
    assert doc["TotalAmt"] == 1450 and doc["DocNumber"] == "INV-1001" and doc["CustomerRef"]["value"] == "58"
    assert doc["TxnDate"] == "2026-11-02" and doc["DueDate"] == "2026-12-02"
    assert all(l.get("SalesItemLineDetail", {}).get("ServiceDate") is None for l in doc["Line"])


def test_revert_drops_tax_and_survives_a_concurrent_edit(world):
    data = scenario("native-invoice-modified")
    data["qbo"]["invoices"][1]["TxnTaxDetail"] = {"TotalTax": 60.0}
    w = world(data)
    finding, fix = fix_of(w, "3002", "native-invoice-modified", "revert-qbo-invoice")
    assert [d["change"] for d in finding.evidence["differences"]] == ["tax added in QBO"]
    # Someone edits the memo in QBO between our read and our write, so the SyncToken we hold is
    # stale (5010): the sandbox's model does the edit right after it serves the first read.
    real_read = w.sb.qbo.read
    state = {"done": False}

    def read_then_edit(entity, record_id):
        record = real_read(entity, record_id)
        if entity == "Invoice" and record_id == "146" and not state["done"]:
            state["done"] = True
            w.sb.qbo.update("Invoice", {"Id": "146", "SyncToken": record["SyncToken"], "sparse": True,
                                        "PrivateNote": "checked"})
        return record
    w.sb.qbo.read = read_then_edit
    applied(w, fix, "3002")
    doc = w.sb.qbo.entities["Invoice"]["146"]
    assert "TxnTaxDetail" not in doc or not doc["TxnTaxDetail"].get("TotalTax")
    assert state["done"] and doc["PrivateNote"] == "checked" and doc["TotalAmt"] == 600


def test_a_write_whose_answer_is_lost_is_applied_once(world):
    """The connection drops after QBO committed the create: the adapter retries with the same
    request id and QBO answers with the first result instead of creating a second customer."""
    w = world("missing-customer")
    _, fix = fix_of(w, "3001", "missing-customer", "create-customer")
    before = len(w.sb.qbo.entities["Customer"])
    real_query = w.sb.qbo.query

    def query(sql):
        result = real_query(sql)
        if "FROM Employee" in sql:  # the last look-up before the create: drop the create's answer
            w.sb.qbo_service.inject("drop")
        return result
    w.sb.qbo.query = query
    result = fix.apply(w.ctx())
    assert result.ok, result.message
    assert len(w.sb.qbo.entities["Customer"]) == before + 1
    assert len(customers_with(w, "ann.jansen@northwind.example")) == 1
    assert w.sb.log.snapshot()["qbo"]["POST /v3/company/{realmId}/{entity}"] == 2  # sent twice, applied once


@pytest.mark.parametrize("invoice_id,doc", [("3001", ("CreditMemo", "201")), ("3002", ("Invoice", "150"))])
def test_renumber_conflicting_document(world, invoice_id, doc):
    w = world("duplicate-doc-number")
    _, fix = fix_of(w, invoice_id, "duplicate-doc-number", "renumber-conflicting-document")
    number = w.sb.portal.get("invoices", invoice_id)["properties"]["hs_number"]
    applied(w, fix, invoice_id)
    assert w.sb.qbo.entities[doc[0]][doc[1]]["DocNumber"] == f"{number}-1"
    mine = [d for d in w.sb.qbo.entities["Invoice"].values() if d.get("DocNumber") == number]
    assert len(mine) == 1 and mine[0]["Id"] == w.sb.integration.synced[invoice_id].qbo_invoice_id


def test_renumber_skips_taken_suffixes_and_stays_within_21_characters(world):
    from rules.duplicate_doc_number import candidates
    assert all(len(c) <= 21 for c in candidates("INV-2026-000000000123"))
    assert candidates("INV-2026-000000000123")[0] == "INV-2026-0000000001-1"
    data = scenario("duplicate-doc-number")
    data["qbo"]["credit_memos"].append({"Id": "202", "DocNumber": "INV-1001-1", "TxnDate": "2026-10-16",
                                        "CustomerRef": {"value": "59"}, "Line": data["qbo"]["credit_memos"][0]["Line"]})
    w = world(data)
    _, fix = fix_of(w, "3001", "duplicate-doc-number", "renumber-conflicting-document")
    applied(w, fix, "3001")
    assert w.sb.qbo.entities["CreditMemo"]["201"]["DocNumber"] == "INV-1001-2"


def test_disable_custom_txn_numbers(world):
    w = world("duplicate-doc-number")
    _, fix = fix_of(w, "3001", "duplicate-doc-number", "disable-custom-txn-numbers")
    applied(w, fix, "3001")
    assert w.sb.qbo.preferences()["SalesFormsPrefs"]["CustomTxnNumbers"] is False


def test_disable_custom_txn_numbers_refused_says_where(world):
    data = scenario("duplicate-doc-number")
    data["qbo"]["writable_preferences"] = []
    w = world(data)
    _, fix = fix_of(w, "3001", "duplicate-doc-number", "disable-custom-txn-numbers", lang="es")
    result = fix.apply(w.ctx("es"))
    assert not result.ok and "Sales form content" in result.message and "Hazlo tú" in result.message


def test_mixed_two_causes_fixed_in_order(world):
    w = world("mixed")
    _, first = fix_of(w, "3007", "missing-customer", "create-customer")
    assert first.apply(w.ctx()).ok and first.recheck(w.ctx()).ok
    w.sb.integration.run_once(force=True)
    assert w.sb.integration.failures["3007"].cause == "duplicate-doc-number"  # the next cause shows
    assert [f.rule for f in w.findings("3007")] == ["duplicate-doc-number"]
    _, second = fix_of(w, "3007", "duplicate-doc-number", "renumber-conflicting-document")
    applied(w, second, "3007")
    assert w.diagnose().get("3007") is None


def test_request_ids_are_deterministic_and_distinct(world):
    w = world("mixed")
    a = [x.request_id for f in w.findings("3007") for x in get(f.rule).fixes(f)]
    b = [x.request_id for f in w.findings("3007") for x in get(f.rule).fixes(f, "nl")]
    assert a == b and len(set(a)) == len(a)


def test_a_failing_write_gives_an_actionable_message(world):
    w = world("missing-customer")
    _, fix = fix_of(w, "3001", "missing-customer", "set-customer-email")
    w.sb.qbo_service.revoke_all_tokens()
    result = fix.apply(w.ctx())
    assert not result.ok and "qbsync connect quickbooks" in result.message
    assert w.store.audit_entries(target="3001:missing-customer")[-1]["outcome"] == "failed"
