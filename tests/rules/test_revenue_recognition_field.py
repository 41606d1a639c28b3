"""Revenue recognition is read from ProductAndServicesPrefs.RevenueRecognitionEnabled (the
real field, QBO release 2022.3.8). When QuickBooks' Preferences do not carry it, qbsync says
"unknown": the diagnosis does not claim it is off and the fix does not say "already off".
Through the sandbox and the real adapters."""
from __future__ import annotations

from rules.registry import get
from tests.rules.conftest import scenario

from .test_fixes import fix_of

PATH = "ProductAndServicesPrefs.RevenueRecognitionEnabled"


def _revenue_recognition(value, writable=False):
    data = scenario("revenue-recognition-service-date")
    data["qbo"]["preferences"]["revenue_recognition"] = value
    if writable:
        data["qbo"]["writable_preferences"] = ["SalesFormsPrefs.CustomTxnNumbers", PATH]
    return data


def test_the_real_field_is_what_the_rule_reads_and_the_fix_writes(world):
    w = world(_revenue_recognition(True, writable=True))
    prefs = w.qbo.preferences()["ProductAndServicesPrefs"]
    assert prefs["RevenueRecognitionEnabled"] is True and "RevenueRecognition" not in prefs
    finding, fix = fix_of(w, "3001", "revenue-recognition-service-date", "disable-revenue-recognition")
    assert finding.evidence["preference"] == PATH
    result = fix.apply(w.ctx())
    assert result.ok and result.changed["qbo_preference"]["path"] == PATH
    assert w.sb.qbo.preferences()["ProductAndServicesPrefs"]["RevenueRecognitionEnabled"] is False
    assert fix.recheck(w.ctx()).ok
    w.sb.integration.run_once(force=True)
    assert "3001" in w.sb.integration.synced


def test_absent_field_makes_the_diagnosis_say_unknown_not_off(world):
    w = world(_revenue_recognition("absent"))
    assert "RevenueRecognitionEnabled" not in w.qbo.preferences()["ProductAndServicesPrefs"]
    assert "3001" in w.sb.integration.failures  # QBO still demands service dates
    findings = w.findings("3001")
    assert [f.rule for f in findings] == ["unknown"]
    assert findings[0].evidence["revenue_recognition"] == "unknown"
    for lang, unknown_word, off_claim in (("en", "unknown", "Revenue Recognition is off"),
                                          ("nl", "onbekend", "Revenue Recognition staat uit"),
                                          ("es", "No se sabe", "Revenue Recognition está desactivado")):
        text = get("unknown").explain(findings[0], lang).text
        assert unknown_word in text and PATH in text and off_claim not in text

    # Reported off, the same missing invoice's unknown finding may say so.
    w2 = world(_revenue_recognition(False))
    w2.sb.integration.enabled = False
    w2.sb.qbo.entities["Invoice"].clear()
    w2.sb.qbo.reindex()
    off = [f for f in w2.findings("3001") if f.rule == "unknown"][0]
    assert off.evidence["revenue_recognition"] == "off"
    assert "Revenue Recognition is off" in get("unknown").explain(off, "en").text


def test_fix_and_recheck_do_not_call_an_absent_field_off(world):
    w = world(_revenue_recognition(True, writable=True))
    _, fix = fix_of(w, "3001", "revenue-recognition-service-date", "disable-revenue-recognition")
    # QBO's answer stops carrying the field (the setting itself still demands service dates).
    with w.sb.qbo.lock:
        del w.sb.qbo.entities["Preferences"]["1"]["ProductAndServicesPrefs"]["RevenueRecognitionEnabled"]
        w.sb.qbo.revenue_recognition_unreported = True
    token = w.sb.qbo.preferences()["SyncToken"]
    result = fix.apply(w.ctx())
    assert not result.ok and result.changed == {}
    assert "did not report" in result.message and PATH in result.message
    assert "Nothing to do" not in result.message and "already" not in result.message
    assert w.sb.qbo.preferences()["SyncToken"] == token  # nothing was written
    check = fix.recheck(w.ctx())
    assert not check.ok and "did not report" in check.message
    assert "niet door" in fix.apply(w.ctx("nl")).message
