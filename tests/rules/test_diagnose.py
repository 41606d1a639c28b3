"""Diagnosis from data, through the real adapters against the sandbox over HTTP: every
shipped scenario gives exactly its `expect`, with evidence naming the records involved."""
from __future__ import annotations

import pytest

from rules.registry import get
from sandbox import scenario as scenarios
from tests.rules.conftest import scenario

SHIPPED = sorted(scenarios.shipped())


@pytest.mark.parametrize("name", SHIPPED)
def test_each_scenario_gives_exactly_its_expect(world, name):
    w = world(name)
    got = {k: [f.rule for f in v] for k, v in w.diagnose().items()}
    assert got == w.data["expect"]
    # ...and they are the causes the simulated integration failed on (first cause first).
    assert {k: v[0] for k, v in got.items()} == {k: f.cause for k, f in w.sb.integration.failures.items()}


def test_mixed_evidence_and_ignored_invoices(world):
    w = world("mixed")
    res = w.diagnose()
    for quiet in ("3001", "3004", "3008", "3009", "3010", "3011", "3012"):  # healthy, draft, QBO, voided, paid, young
        assert quiet not in res
    mc, dd = res["3007"]  # two causes, in fix order
    assert (mc.rule, dd.rule) == ("missing-customer", "duplicate-doc-number")
    assert mc.evidence["contact"]["email"] == "gus@hooli-labs.example"
    assert mc.evidence["likely_customers"][0] == {"id": "64", "name": "Gus Haines",
                                                  "email": "gus.haines@hooli.example", "why": ["same name"]}
    assert dd.evidence["conflicts"] == [{"type": "Invoice", "id": "150", "number": "INV-1007", "date": "2026-10-01",
                                         "customer": {"id": "65", "name": "Pied Piper"}}]
    confirm = {f.id: f.confirm for f in get(dd.rule).fixes(dd)}["renumber-conflicting-document"]
    assert "(Pied Piper, October 1, 2026)" in confirm and "Copies Pied Piper already received keep INV-1007" in confirm
    assert dd.evidence["preference"] == "SalesFormsPrefs.CustomTxnNumbers"
    north = res["3003"][0].evidence["likely_customers"][0]
    assert north["id"] == "59" and "same company" in north["why"] and "same email domain" in north["why"]
    holder = res["3002"][0].evidence["holder"]
    assert holder == {"entity": "Customer", "id": "58", "name": "Acme BV", "email": "ann@acme.example", "active": True,
                      "invoices": 1}
    assert res["3002"][0].evidence["holder_contact"]["id"] == "1001"  # Ann, the company's first contact
    assert res["3006"][0].evidence["conflicts"][0]["type"] == "CreditMemo"
    diff = res["3005"][0].evidence["differences"]
    assert {"line": "Consulting", "change": "changed", "hubspot": {"qty": "10", "unit_price": "120.00", "amount": "1200.00"},
            "qbo": {"qty": "8", "unit_price": "120.00", "amount": "960.00"}} in diff
    assert [d["line"] for d in diff if d["change"] == "added in QBO"] == ["Rush fee"]
    assert res["3005"][0].evidence["qbo_invoice"]["matched_by"] == "doc-number"


def test_vendor_holding_the_name_and_preference_evidence(world):
    w = world("duplicate-display-name")
    holder = w.findings("3003")[0].evidence["holder"]
    assert (holder["entity"], holder["id"]) == ("Vendor", "70")
    w2 = world("revenue-recognition-service-date")
    f = w2.findings("3001")[0]
    assert f.evidence["preference"] == "ProductAndServicesPrefs.RevenueRecognitionEnabled" and f.evidence["value"] is True


def test_grace_period_and_unknown(world):
    data = scenario("missing-customer")
    for inv in data["hubspot"]["invoices"]:
        inv["age_minutes"] = 3
    w = world(data)
    assert w.diagnose(grace_minutes=10) == {}
    assert [f.rule for f in w.diagnose(grace_minutes=1)["3001"]] == ["missing-customer"]
    # The integration never ran: Lisa's invoice has a customer and no known cause, but is missing.
    data = scenario("missing-customer")
    data["integration"]["synced"] = []
    w = world(data)
    w.sb.integration.enabled = False
    w.sb.qbo.entities["Invoice"].clear()
    res = w.diagnose()
    assert [f.rule for f in res["3002"]] == ["unknown"]
    assert "grace" in res["3002"][0].evidence["reason"]


def test_counterpart_by_customer_date_and_amount(world):
    # Custom transaction numbers off: QBO numbers the invoice itself, so the number differs.
    data = scenario("native-invoice-modified")
    data["qbo"]["preferences"]["custom_txn_numbers"] = False
    data["qbo"]["invoices"][1]["DocNumber"] = "1046"
    w = world(data)
    assert "3002" not in w.diagnose()
    from rules.facts import gather
    from rules.view import LiveQboView
    inv = w.hubspot.read_invoices(["3002"])[0]
    facts = gather([inv], LiveQboView(w.qbo))["3002"]
    assert (facts.counterpart["Id"], facts.counterpart_how) == ("146", "customer-date-lines")


def test_a_learned_mapping_wins(world):
    from rules.facts import gather
    from rules.view import LiveQboView
    w = world("native-invoice-modified")
    inv = w.hubspot.read_invoices(["3001"])[0]
    facts = gather([inv], LiveQboView(w.qbo), mapping={"3001": "145"})["3001"]
    assert facts.counterpart_how == "mapping"


@pytest.mark.parametrize("lang,word", [("en", "customer"), ("nl", "klant"), ("es", "cliente")])
def test_explanations_name_the_records(world, lang, word):
    w = world("mixed")
    res = w.diagnose()
    for inv_id, findings in res.items():
        for f in findings:
            e = get(f.rule).explain(f, lang)
            assert e.locale == lang and f.invoice_number in e.title + e.text
            assert "?" not in e.title
    e = get("missing-customer").explain(res["3003"][0], lang)
    assert "Ann Jansen" in e.text and "Northwind Traders" in e.text and "59" in e.text and word in e.text
    e = get("duplicate-doc-number").explain(res["3006"][0], lang)
    assert "201" in e.text and "Pied Piper" in e.text
    for f in res["3002"] + res["3005"]:
        for fix in get(f.rule).fixes(f, lang):
            assert len(fix.confirm) <= 300 and len(fix.label) <= 75
