"""tax-code-required, currency-mismatch, doc-number-too-long: from data (the scenarios, through
the real adapters over HTTP), from text (QBO's real words as the simulated integration shows
them, fault bodies, code-only forms), and each fix or refusal against the sandbox, with the
integration syncing the invoice afterwards wherever a fix exists."""
from __future__ import annotations

import json

import pytest

from rules.classify import classify
from rules.registry import get
from tests.rules.conftest import scenario

REAL_TEXTS = {
    # activepieces/activepieces#8539 (the whole fault body, a Canadian company)
    "tax-code-required": [
        '{"Fault":{"Error":[{"Message":"A business validation error has occurred while processing your request",'
        '"Detail":"Business Validation Error: Make sure all your transactions have a GST/HST rate before you save.",'
        '"code":"6000","element":""}],"type":"ValidationFault"}}',
        # intuit/quickbooks-online-mcp-server#94 (UK)
        "Business Validation Error: Make sure all your transactions have a VAT rate before you save. (code: 6000)",
        # ruckus/quickbooks-ruby#322
        "A business validation error has occurred while processing your request: Business Validation Error: One or "
        "more transaction lines do not have a tax code associated with it. Please assign a tax code for those lines",
    ],
    "currency-mismatch": [
        "The currency of the transaction is invalid for customer/vendor/account.",
        # Expensify/App#53932
        'failed to export this report to QuickBooks Online ("You can only use one foreign currency per transaction")',
    ],
    "doc-number-too-long": [
        # consolibyte/quickbooks-php#79
        "String length is either shorter or longer than supported by specification : String length specified does "
        "not match the supported length. Min:0 Max:21 supported. Supplied length:26",
        "QB Exception 2050",  # the code alone
    ],
}


@pytest.mark.parametrize("rule,text", [(r, t) for r, texts in REAL_TEXTS.items() for t in texts])
def test_real_texts_classify(rule, text):
    assert classify(text).rule == rule


def test_classification_edges():
    # 6000 alone is every business validation error: the words decide.
    assert classify('{"Fault":{"Error":[{"Message":"x","Detail":"Business Validation Error: other","code":"6000"}]}}'
                    ).rule == "unknown"
    # A 2050 about another field (DisplayName's maximum is 500) is not the invoice number.
    display = {"Fault": {"Error": [{"Message": "String length is either shorter or longer than supported by "
                                               "specification",
                                    "Detail": "String length specified does not match the supported length. Min:0 "
                                              "Max:500 supported. Supplied length:501",
                                    "code": "2050", "element": "DisplayName"}]}}
    assert classify(json.dumps(display)).rule == "unknown"
    display["Fault"]["Error"][0].pop("element")
    assert classify(json.dumps(display)).rule == "unknown"
    doc = {"Fault": {"Error": [{"Message": "m", "Detail": "Min:0 Max:21 supported. Supplied length:30", "code": "2050",
                                "element": "DocNumber"}]}}
    assert classify(json.dumps(doc)).rule == "doc-number-too-long"


def _heading(w, invoice="3001"):
    return w.sb.integration.failures[invoice].heading


# -- tax-code-required ------------------------------------------------------------------------

def test_tax_code_required_from_data_and_text(world):
    w = world("tax-code-required")
    (f,) = w.findings("3001")
    assert f.rule == "tax-code-required"
    assert f.evidence["country"] == "CA" and f.evidence["value"] is True
    assert f.evidence["company"] == "Maple Leaf Books Inc"
    assert f.evidence["lines_without_tax_code"] == ["Consulting", "Training"]
    heading = _heading(w)
    assert "GST/HST rate before you save" in heading  # HubSpot shows QBO's own words
    assert classify(heading).rule == "tax-code-required"
    rule = get("tax-code-required")
    assert rule.fixes(f) == [] and "tax code" in rule.not_offered(f)[0]
    for lang, word in (("en", "GST/HST"), ("nl", "belasting"), ("es", "impuestos")):
        ex = rule.explain(f, lang)
        assert "CA" in ex.title and word in ex.text and "INV-1001" in ex.text
    assert "{tax}" not in " ".join(rule.steps("nl"))


def test_tax_code_required_uk_text_and_when_it_does_not_hold(world):
    data = scenario("tax-code-required")
    data["qbo"]["country"] = "GB"
    w = world(data)
    assert "VAT rate before you save" in _heading(w)
    assert w.findings("3001")[0].summary_facts["tax"] == "VAT"
    # A non-US company that charges no tax, and a US company: no finding, and the invoice syncs.
    for country, tax in (("GB", False), ("US", True)):
        data = scenario("tax-code-required")
        data["qbo"]["country"], data["qbo"]["preferences"]["using_sales_tax"] = country, tax
        w = world(data)
        assert w.diagnose() == {} and "3001" in w.sb.integration.synced


# -- currency-mismatch ------------------------------------------------------------------------

def test_currency_mismatch_fix_creates_a_customer_in_the_invoice_currency_and_the_invoice_syncs(world):
    w = world("currency-mismatch")
    assert "currency of the transaction is invalid" in _heading(w)
    assert classify(_heading(w)).rule == "currency-mismatch"
    (f,) = w.findings("3001")
    assert f.evidence["kind"] == "customer-currency"
    assert f.evidence["customer"] == {"id": "58", "name": "Initech", "email": "dana@initech.example", "currency": "USD"}
    assert (f.evidence["invoice_currency"], f.evidence["home_currency"], f.evidence["multicurrency"]) == \
        ("EUR", "USD", True)
    rule = get("currency-mismatch")
    (fix,) = rule.fixes(f)
    assert fix.id == "create-customer-in-currency" and "Initech (EUR)" in fix.label
    assert "EUR" in fix.confirm and "dana@initech.example" in fix.confirm and "stays" in fix.confirm
    assert "USD" in rule.explain(f, "es").text and "EUR" in rule.explain(f, "nl").text

    result = fix.apply(w.ctx())
    assert result.ok, result.message
    new_id = result.changed["qbo_customer_created"]["id"]
    created = w.sb.qbo.entities["Customer"][new_id]
    assert created["DisplayName"] == "Initech (EUR)" and created["CurrencyRef"]["value"] == "EUR"
    assert created["PrimaryEmailAddr"]["Address"] == "dana@initech.example"
    assert w.sb.qbo.entities["Customer"]["58"].get("CurrencyRef", {}).get("value") == "USD"  # untouched
    again = fix.apply(w.ctx())  # a repeat writes nothing
    assert again.ok and again.changed == {} and len(w.sb.qbo.entities["Customer"]) == 2
    assert fix.recheck(w.ctx()).ok
    assert w.sb.qbo.preferences()["CurrencyPrefs"]["MultiCurrencyEnabled"] is True

    w.sb.integration.run_once(force=True)
    assert "3001" in w.sb.integration.synced and "3001" not in w.sb.integration.failures
    qbo_invoice = w.sb.qbo.entities["Invoice"][w.sb.integration.synced["3001"].qbo_invoice_id]
    assert qbo_invoice["CustomerRef"]["value"] == new_id and qbo_invoice["CurrencyRef"]["value"] == "EUR"
    assert w.diagnose() == {}


def test_currency_mismatch_with_multicurrency_off_offers_no_write(world):
    data = scenario("currency-mismatch")
    data["qbo"]["preferences"]["multicurrency"] = False
    data["qbo"]["customers"][0].pop("CurrencyRef")
    w = world(data)
    assert classify(_heading(w)).rule == "currency-mismatch"
    (f,) = w.findings("3001")
    assert f.evidence["kind"] == "multicurrency-off" and f.evidence["multicurrency"] is False
    rule = get("currency-mismatch")
    assert rule.fixes(f) == []
    assert "never turns multicurrency on" in rule.not_offered(f)[0]
    text = rule.explain(f).text
    assert "Advanced > Currency" in text and "USD" in text and "EUR" in text
    assert "nooit" in rule.explain(f, "nl").text
    # The invoice in the home currency is fine.
    data["hubspot"]["invoices"][0]["currency"] = "USD"
    w2 = world(data)
    assert w2.diagnose() == {} and "3001" in w2.sb.integration.synced


def test_currency_mismatch_refuses_when_multicurrency_went_off_meanwhile(world):
    w = world("currency-mismatch")
    (f,) = w.findings("3001")
    (fix,) = get("currency-mismatch").fixes(f)
    w.sb.qbo.set_preference("CurrencyPrefs.MultiCurrencyEnabled", False)
    result = fix.apply(w.ctx())
    assert not result.ok and "never turns it on" in result.message
    assert len(w.sb.qbo.entities["Customer"]) == 1


# -- doc-number-too-long ----------------------------------------------------------------------

def test_doc_number_too_long_fix_turns_custom_numbers_off_and_the_invoice_syncs(world):
    w = world("doc-number-too-long")
    heading = _heading(w)
    assert "Max:21 supported. Supplied length:26" in heading
    assert classify(heading).rule == "doc-number-too-long"
    (f,) = w.findings("3001")
    assert f.evidence["doc_number"] == "INITECH-EUROPE-2026-000017" and f.evidence["length"] == 26
    rule = get("doc-number-too-long")
    ex = rule.explain(f)
    assert "26" in ex.title and "prefix" in ex.text and "Custom transaction numbers" in ex.text
    assert "voorvoegsel" in rule.explain(f, "nl").text and "prefijo" in rule.explain(f, "es").text
    (fix,) = rule.fixes(f)
    assert fix.id == "disable-custom-txn-numbers" and "QuickBooks numbers every new invoice" in fix.confirm
    result = fix.apply(w.ctx())
    assert result.ok and result.changed["qbo_preference"]["to"] is False
    assert w.sb.qbo.preferences()["SalesFormsPrefs"]["CustomTxnNumbers"] is False
    assert fix.recheck(w.ctx()).ok
    w.sb.integration.run_once(force=True)
    assert "3001" in w.sb.integration.synced


def test_doc_number_of_21_characters_is_fine(world):
    data = scenario("doc-number-too-long")
    data["hubspot"]["invoices"][0]["number"] = "INITECH-EUROPE-2026-1"  # 21 characters
    w = world(data)
    assert w.diagnose() == {} and "3001" in w.sb.integration.synced


@pytest.mark.parametrize("rule,text,lang,word", [
    ("tax-code-required", REAL_TEXTS["tax-code-required"][0], "en", "tax code"),
    ("currency-mismatch", REAL_TEXTS["currency-mismatch"][0], "nl", "valuta"),
    ("doc-number-too-long", REAL_TEXTS["doc-number-too-long"][0], "es", "21"),
])
def test_explain_names_the_rule_for_real_texts(capsys, rule, text, lang, word):
    from bot.cli import main

    assert main(["explain", text, "--json", "--lang", lang]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rule"], out["locale"]) == (rule, lang)
    assert word in out["explanation"]


@pytest.mark.parametrize("text", [
    "Business Validation Error: Make sure all your transactions have a GST rate before you save.",  # AU wording
    "Make sure all your transactions have a sales tax rate before you save.",
])
def test_tax_texts_of_other_regions(text):
    assert classify(text).rule == "tax-code-required"


@pytest.mark.parametrize("lang", ["en", "nl", "es"])
def test_confirm_texts_fit_slack_without_clipping(world, lang):
    from rules.base import CONFIRM_MAX

    w = world("currency-mismatch")
    (f,) = w.findings("3001")
    long_name = "Northwind Traders International"
    f.summary_facts.update(customer=long_name, new_name=f"{long_name} (EUR)",
                           email="ann.jansen@northwind-traders.example")
    fixes = get("currency-mismatch").fixes(f, lang)
    w2 = world("doc-number-too-long")
    fixes += get("doc-number-too-long").fixes(w2.findings("3001")[0], lang)
    for fix in fixes:
        assert len(fix.confirm) <= CONFIRM_MAX and not fix.confirm.endswith("…"), (fix.id, len(fix.confirm))
