"""The QBO company model's business rules (in-process, no HTTP)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.qbo import QboCompany, QboFault
from tests.sandbox.conftest_qbo import REALM, qbo_clock, qbo_company, sales_line  # noqa: F401


def fault_of(fn, *args, **kwargs) -> QboFault:
    with pytest.raises(QboFault) as err:
        fn(*args, **kwargs)
    return err.value


def invoice(doc=None, customer="58", lines=None, **extra):
    body = {"CustomerRef": {"value": customer}, "Line": lines or [sales_line(100.0)], **extra}
    if doc is not None:
        body["DocNumber"] = doc
    return body


def test_load_fills_what_qbo_would(qbo_company):
    c = qbo_company.read("Customer", "58")
    assert c["SyncToken"] == "0" and c["Active"] is True and c["MetaData"]["CreateTime"]
    inv = qbo_company.read("Invoice", "145")
    assert inv["TotalAmt"] == 300 and inv["Balance"] == 300
    assert inv["Line"][0]["Id"] == "1"
    assert inv["Line"][-1] == {"Amount": 300, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    prefs = qbo_company.preferences()
    assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is True
    assert prefs["ProductAndServicesPrefs"]["RevenueRecognitionEnabled"] is False
    assert qbo_company.company_info()["CompanyName"] == "Acme Books Inc"
    assert qbo_company.writable_preferences == ["SalesFormsPrefs.CustomTxnNumbers"]


def test_read_missing_is_610(qbo_company):
    f = fault_of(qbo_company.read, "Customer", "9999")
    assert (f.code, f.message, f.http_status) == ("610", "Object Not Found", 400)


def test_display_name_unique_across_names_case_insensitive_including_inactive(qbo_company):
    for entity, name, holder in [("Customer", "ACME bv", "58"), ("Vendor", "old client", "59"),
                                 ("Employee", "Paper Supplies Ltd", "70"), ("Customer", "eva employee", "80")]:
        f = fault_of(qbo_company.create, entity, {"DisplayName": name})
        assert f.code == "6240" and f.message == "Duplicate Name Exists Error"
        assert f.detail == f"The name supplied already exists. : Id={holder}"
    # renaming onto another's name is refused too; keeping one's own name is fine
    c = qbo_company.create("Customer", {"DisplayName": "New One"})
    f = fault_of(qbo_company.update, "Customer", {"Id": c["Id"], "SyncToken": "0", "sparse": True,
                                                  "DisplayName": "Acme BV"})
    assert f.code == "6240"
    same = qbo_company.update("Customer", {"Id": c["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"})
    assert same["SyncToken"] == "1"


def test_display_name_derived_from_names_or_required(qbo_company):
    c = qbo_company.create("Customer", {"GivenName": "Ann", "FamilyName": "Smit"})
    assert c["DisplayName"] == "Ann Smit"
    f = fault_of(qbo_company.create, "Customer", {"Notes": "no name"})
    assert f.code == "2020" and "DisplayName" in f.detail


def test_duplicate_doc_number_across_invoice_and_credit_memo_when_custom_numbers_on(qbo_company):
    f = fault_of(qbo_company.create, "Invoice", invoice("1001"))
    assert f.code == "6140" and f.message == "Duplicate Document Number Error"
    assert f.detail == ("Duplicate Document Number Error : You must specify a different number. This number has "
                        "already been used. DocNumber=1001 is assigned to TxnType=Invoice with TxnId=145")
    f = fault_of(qbo_company.create, "Invoice", invoice("CM-7"))
    assert "TxnType=CreditMemo with TxnId=146" in f.detail
    # an update that keeps its own number is fine
    same = qbo_company.update("Invoice", {**qbo_company.read("Invoice", "145"), "PrivateNote": "x"})
    assert same["SyncToken"] == "1"
    # include=allowduplicatedocnum lets it through
    assert qbo_company.create("Invoice", invoice("1001"), allow_duplicate_docnum=True)["DocNumber"] == "1001"


def test_custom_numbers_off_assigns_next_number_and_allows_duplicates(qbo_company):
    qbo_company.set_preference("SalesFormsPrefs.CustomTxnNumbers", False)
    a = qbo_company.create("Invoice", invoice())
    b = qbo_company.create("Invoice", invoice())
    assert (a["DocNumber"], b["DocNumber"]) == ("1002", "1003")
    assert qbo_company.create("Invoice", invoice("1001"))["DocNumber"] == "1001"


def test_custom_numbers_on_without_number_leaves_it_empty(qbo_company):
    assert "DocNumber" not in qbo_company.create("Invoice", invoice())


def test_doc_number_longer_than_21_is_2050(qbo_company):
    f = fault_of(qbo_company.create, "Invoice", invoice("X" * 22))
    assert f.code == "2050" and f.element == "DocNumber"
    assert f.detail == ("String length specified does not match the supported length. Min:0 Max:21 supported. "
                        "Supplied length:22")
    assert qbo_company.create("Invoice", invoice("X" * 21))["DocNumber"] == "X" * 21


def test_revenue_recognition_needs_service_date_on_every_sales_line(qbo_company):
    qbo_company.set_preference("ProductAndServicesPrefs.RevenueRecognitionEnabled", True)
    f = fault_of(qbo_company.create, "Invoice", invoice("2001"))
    assert f.code == "6000"
    assert f.message == "A business validation error has occurred while processing your request"
    assert f.detail == "Business Validation Error: Enter a service date for the revenue recognition line item."
    lines = [sales_line(10.0, ServiceDate="2026-11-01"), sales_line(5.0, ServiceDate="")]
    assert fault_of(qbo_company.create, "Invoice", invoice("2001", lines=lines)).code == "6000"
    ok = qbo_company.create("Invoice", invoice("2001", lines=[sales_line(10.0, ServiceDate="2026-11-01")]))
    assert ok["TotalAmt"] == 10


def test_references_must_exist_and_be_active(qbo_company):
    f = fault_of(qbo_company.create, "Invoice", invoice("3001", customer="999"))
    assert (f.code, f.message, f.element) == ("2500", "Invalid Reference Id", "CustomerRef")
    f = fault_of(qbo_company.create, "Invoice", invoice("3001", customer="59"))  # inactive
    assert f.code == "2500" and "made inactive" in f.detail
    f = fault_of(qbo_company.create, "Invoice", invoice("3001", lines=[sales_line(1.0, item="77")]))
    assert f.element == "Line.SalesItemLineDetail.ItemRef"
    assert f.detail == "Invalid Reference Id : Line.SalesItemLineDetail.ItemRef"


def test_required_fields(qbo_company):
    assert fault_of(qbo_company.create, "Invoice", {"Line": [sales_line(1.0)]}).detail == \
        "Required parameter CustomerRef is missing in the request"
    assert fault_of(qbo_company.create, "Invoice", {"CustomerRef": {"value": "58"}}).detail == \
        "Required parameter Line is missing in the request"
    assert fault_of(qbo_company.create, "Item", {"Type": "Service"}).code == "2020"
    assert fault_of(qbo_company.update, "Customer", {"Id": "58", "DisplayName": "x"}).detail == \
        "Required parameter SyncToken is missing in the request"


def test_totals_lines_and_subtotal_recomputed(qbo_company):
    lines = [sales_line(None, Qty=2, UnitPrice=12.5), sales_line(20.0),
             {"DetailType": "SubTotalLineDetail", "Amount": 999, "SubTotalLineDetail": {}},
             {"DetailType": "DescriptionOnly", "Description": "note"}]
    lines[0]["Amount"] = None
    inv = qbo_company.create("Invoice", invoice("4001", lines=lines, TxnTaxDetail={"TotalTax": 4.5}))
    assert inv["Line"][0]["Amount"] == 25
    assert [l["DetailType"] for l in inv["Line"]] == ["SalesItemLineDetail", "SalesItemLineDetail",
                                                      "DescriptionOnly", "SubTotalLineDetail"]
    assert inv["Line"][-1]["Amount"] == 45
    assert [l.get("Id") for l in inv["Line"][:3]] == ["1", "2", "3"]
    assert inv["TotalAmt"] == 49.5 and inv["Balance"] == 49.5


def test_update_bumps_sync_token_and_time_and_checks_staleness(qbo_company, qbo_clock):
    before = qbo_company.read("Invoice", "145")
    qbo_clock.advance(5)
    after = qbo_company.update("Invoice", {"Id": "145", "SyncToken": "0", "sparse": True,
                                           "Line": [sales_line(50.0)]})
    assert after["SyncToken"] == "1"
    assert after["MetaData"]["LastUpdatedTime"] > before["MetaData"]["LastUpdatedTime"]
    assert after["MetaData"]["CreateTime"] == before["MetaData"]["CreateTime"]
    assert after["TotalAmt"] == 50 and after["Balance"] == 50 and after["DocNumber"] == "1001"
    f = fault_of(qbo_company.update, "Invoice", {"Id": "145", "SyncToken": "0", "sparse": True, "PrivateNote": "x"})
    assert (f.code, f.message) == ("5010", "Stale Object Error")
    assert fault_of(qbo_company.update, "Invoice", {"Id": "999", "SyncToken": "0"}).code == "610"


def test_full_update_replaces_the_object(qbo_company):
    c = qbo_company.read("Customer", "58")
    updated = qbo_company.update("Customer", {"Id": "58", "SyncToken": c["SyncToken"], "DisplayName": "Acme BV"})
    assert "PrimaryEmailAddr" not in updated  # a full update drops what it does not send
    assert updated["Active"] is True


def test_requestid_applies_once_per_operation(qbo_company):
    a = qbo_company.create("Customer", {"DisplayName": "Once"}, requestid="req-1")
    b = qbo_company.create("Customer", {"DisplayName": "Once"}, requestid="req-1")
    assert a == b
    assert len([c for c in qbo_company.entities["Customer"].values() if c["DisplayName"] == "Once"]) == 1
    # the first answer's fault comes back too
    f1 = fault_of(qbo_company.create, "Customer", {"DisplayName": "Acme BV"}, requestid="req-2")
    f2 = fault_of(qbo_company.create, "Customer", {"DisplayName": "Acme BV"}, requestid="req-2")
    assert f1 is f2
    # another operation with the same id is its own thing
    upd = qbo_company.update("Customer", {"Id": a["Id"], "SyncToken": "0", "sparse": True, "Notes": "n"},
                             requestid="req-1")
    assert upd["SyncToken"] == "1"


def test_delete_transactions_only(qbo_company):
    gone = qbo_company.delete("Invoice", {"Id": "145", "SyncToken": "0"})
    assert gone == {"status": "Deleted", "domain": "QBO", "Id": "145"}
    assert fault_of(qbo_company.read, "Invoice", "145").code == "610"
    assert fault_of(qbo_company.delete, "Customer", {"Id": "58", "SyncToken": "0"}).code == "500"


def test_preferences_writable_and_read_only(qbo_company):
    prefs = qbo_company.preferences()
    new = qbo_company.update_preferences({"SyncToken": prefs["SyncToken"],
                                          "SalesFormsPrefs": {"CustomTxnNumbers": False}})
    assert new["SalesFormsPrefs"]["CustomTxnNumbers"] is False and new["SyncToken"] == "1"
    assert new["SalesFormsPrefs"]["AllowDiscount"] is True  # untouched siblings stay
    f = fault_of(qbo_company.update_preferences, {"SyncToken": "1",
                                                  "ProductAndServicesPrefs": {"RevenueRecognitionEnabled": True}})
    assert f.code == "2010" and f.element == "ProductAndServicesPrefs.RevenueRecognitionEnabled"
    assert qbo_company.preferences()["ProductAndServicesPrefs"]["RevenueRecognitionEnabled"] is False
    # sending the whole object back unchanged except a writable field is fine (full body)
    whole = qbo_company.preferences()
    whole["SalesFormsPrefs"]["CustomTxnNumbers"] = True
    assert qbo_company.update_preferences(whole)["SyncToken"] == "2"
    assert fault_of(qbo_company.update_preferences, {"SyncToken": "0"}).code == "5010"


def test_writable_preferences_configurable_from_scenario(qbo_clock):
    company = QboCompany(qbo_clock)
    company.load({"preferences": {"revenue_recognition": True},
                  "writable_preferences": ["ProductAndServicesPrefs.RevenueRecognitionEnabled"]})
    out = company.update_preferences({"SyncToken": "0", "ProductAndServicesPrefs": {"RevenueRecognitionEnabled": False}})
    assert out["ProductAndServicesPrefs"]["RevenueRecognitionEnabled"] is False
    assert fault_of(company.update_preferences, {"SyncToken": "1",
                                                 "SalesFormsPrefs": {"CustomTxnNumbers": True}}).code == "2010"


def test_cdc_reports_changes_and_deletions_since(qbo_company, qbo_clock):
    qbo_clock.advance(60)
    since = qbo_clock.now()
    qbo_clock.advance(1)
    qbo_company.update("Customer", {"Id": "58", "SyncToken": "0", "sparse": True, "Notes": "changed"})
    qbo_company.delete("Invoice", {"Id": "145", "SyncToken": "0"})
    body = qbo_company.cdc(["Customer", "Invoice", "CreditMemo"], since)
    blocks = body["CDCResponse"][0]["QueryResponse"]
    assert [c["Id"] for c in blocks[0]["Customer"]] == ["58"]
    assert blocks[1]["Invoice"] == [{"domain": "QBO", "status": "Deleted", "Id": "145",
                                     "MetaData": {"LastUpdatedTime": blocks[1]["Invoice"][0]["MetaData"]
                                                  ["LastUpdatedTime"]}}]
    assert blocks[2] == {}


def test_cdc_lookback_limit_and_object_cap(qbo_company, qbo_clock):
    f = fault_of(qbo_company.cdc, ["Customer"], qbo_clock.now() - timedelta(days=31))
    assert "older than fixed days" in f.detail
    since = qbo_clock.now()
    qbo_clock.advance(1)
    for i in range(1005):
        qbo_company.create("Customer", {"DisplayName": f"Bulk {i}"})
    rows = qbo_company.cdc(["Customer"], since)["CDCResponse"][0]["QueryResponse"][0]["Customer"]
    assert len(rows) == 1000
    assert rows[0]["DisplayName"] == "Bulk 0"  # earliest changes first


def test_query_through_model_shapes(qbo_company):
    body = qbo_company.query("SELECT * FROM Customer")
    assert body["QueryResponse"]["startPosition"] == 1 and body["QueryResponse"]["maxResults"] == 1
    assert qbo_company.query("SELECT * FROM Customer WHERE DisplayName = 'nobody'")["QueryResponse"] == {}
    assert qbo_company.query("SELECT COUNT(*) FROM Customer WHERE Active IN (true,false)")["QueryResponse"] == \
        {"totalCount": 2}
    f = fault_of(qbo_company.query, "SELECT * FROM Nonsense")
    assert f.code == "4001"


def test_query_cache_never_mixes_count_and_sorted_pages(qbo_company):
    for name in ("Bravo", "Alpha", "Charlie"):
        qbo_company.create("Customer", {"DisplayName": name})
    sql = "FROM Customer WHERE DisplayName IN ('Bravo', 'Alpha', 'Charlie') ORDERBY DisplayName"
    assert qbo_company.query("SELECT COUNT(*) " + sql)["QueryResponse"] == {"totalCount": 3}
    rows = qbo_company.query("SELECT * " + sql)["QueryResponse"]["Customer"]
    assert [r["DisplayName"] for r in rows] == ["Alpha", "Bravo", "Charlie"]
    qbo_company.create("Customer", {"DisplayName": "Aardvark"})  # a write invalidates cached hits
    assert qbo_company.query("SELECT COUNT(*) FROM Customer")["QueryResponse"]["totalCount"] == 5
