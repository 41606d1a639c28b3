"""Recommended fixes never harm other records (issue #9, part 4), through Slack and the real
adapters: for each scenario the scan raises the expected alert, an allowed person clicks the
recommended (first) fix, and afterwards every invoice still syncs and no QBO customer's email
changed that something relied on. Plus: a scan during a fix never alerts on that invoice, and
a fix a crash interrupted is settled by a re-check."""
from __future__ import annotations

import threading
import time

import pytest

from bot.alerts import finding_from_alert as _finding_of
from bot.slack.messages import ACTION_FIX
from rules.registry import get
from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE, scenario


def _finding(bot, alert):
    return _finding_of(alert)


def fix_buttons(message) -> list[dict]:
    return [el for b in message.blocks if b["type"] == "actions" for el in b["elements"]
            if el["action_id"].startswith(ACTION_FIX)]


def emails(sb) -> dict[str, str]:
    return {cid: (c.get("PrimaryEmailAddr") or {}).get("Address", "") for cid, c in sb.qbo.entities["Customer"].items()}


def syncable(sb) -> list[str]:
    return [i for i, r in sb.portal.peek("invoices").items()
            if r["properties"].get("hs_invoice_status") in ("open", "paid")]


def click_recommended(bot, key: str) -> dict:
    parent = bot.parent_of(key)
    recommended = fix_buttons(parent)[0]
    fix_id = recommended["action_id"][len(ACTION_FIX):]
    r = bot.d.click(ALICE, ALERT_CHANNEL, parent.ts, recommended["action_id"])
    assert r.acked and r.in_time
    bot.wait_audit(key, f"slack:fix:{fix_id}", "ok")
    return recommended


# (scenario, alert key, recommended fix id, fixes never offered, check after the fix)
def _shared_email(sb, finding, offered):
    assert finding.evidence["email_owner"]["email"] == "accounts@northwind.example"
    assert "set-customer-email" not in offered  # the email is Accounts Payable's
    assert offered == ["create-customer", "switch-contact"]
    assert "HubSpot contact Accounts Payable uses accounts@northwind.example" in \
        " ".join(get("missing-customer").not_offered(finding))


def _same_name(sb, finding, offered):
    assert finding.evidence["likely_customers"][0]["why"] == ["same name"]
    assert "set-customer-email" not in offered
    assert "only same name suggests" in " ".join(get("missing-customer").not_offered(finding))


def _inactive(sb, finding, offered):
    text = get("duplicate-display-name").explain(finding).text
    assert "inactive customer Orbit Labs" in text
    assert offered[0] == "reactivate-customer"


def _contact_company(sb, finding, offered):
    assert finding.evidence["display_name"] == "Beta LLC"  # the contact's company, not the invoice's Alpha Inc
    assert finding.evidence["holder"]["name"] == "Beta LLC"


def _qbo_numbered(sb, finding, offered):
    assert finding.evidence["qbo_invoice"]["id"] == "145"
    assert finding.evidence["qbo_invoice"]["matched_by"] in ("customer-date-lines", "mapping")


CASES = [
    ("fix-safety-shared-email", "3001:missing-customer", "create-customer", _shared_email),
    ("fix-safety-same-name-only", "3001:missing-customer", "create-customer", _same_name),
    ("fix-safety-inactive-holder", "3001:duplicate-display-name", "reactivate-customer", _inactive),
    ("fix-safety-contact-company", "3001:duplicate-display-name", "create-customer-unique-name", _contact_company),
    ("fix-safety-qbo-numbered-modified", "3001:native-invoice-modified", "revert-qbo-invoice", _qbo_numbered),
]


@pytest.mark.parametrize("name,key,fix_id,check", CASES, ids=[c[0] for c in CASES])
def test_recommended_fix_harms_no_other_record(make_bot, name, key, fix_id, check):
    bot = make_bot(scenario(name))
    sb = bot.sb
    bot.scan()
    assert {a["key"] for a in bot.store.open_alerts()} == {key}
    alert = bot.alert(key)
    finding = _finding(bot, alert)
    offered = [f.id for f in get(alert["rule"]).fixes(finding)]
    check(sb, finding, offered)
    before = emails(sb)
    recommended = click_recommended(bot, key)
    assert recommended["action_id"] == ACTION_FIX + fix_id

    sb.integration.run_once(force=True)
    assert sb.integration.failures == {}, sb.integration.failures
    assert set(syncable(sb)) <= set(sb.integration.synced)
    after = emails(sb)
    assert {cid: after[cid] for cid in before} == before  # no existing customer's email changed
    if fix_id == "reactivate-customer":
        assert sb.qbo.entities["Customer"]["80"]["Active"] is True
        assert len(sb.qbo.entities["Customer"]) == 2  # no second Orbit Labs
    bot.scan()
    assert bot.store.open_alerts() == []


def test_contact_without_email_gets_no_fix_and_says_what_to_do(make_bot):
    bot = make_bot(scenario("fix-safety-no-email"))
    bot.scan()
    key = "3001:missing-customer"
    assert {a["key"] for a in bot.store.open_alerts()} == {key}
    assert fix_buttons(bot.parent_of(key)) == []
    finding = _finding(bot, bot.alert(key))
    assert get("missing-customer").fixes(finding) == []
    text = get("missing-customer").explain(finding).text
    assert "has no email address" in text and "Add an email to Kim Vos in HubSpot" in text
    assert "never writes a blank email" in " ".join(get("missing-customer").not_offered(finding))
    assert all((c.get("PrimaryEmailAddr") or {}).get("Address") for c in bot.sb.qbo.entities["Customer"].values())


def test_set_email_confirm_says_what_else_changes(make_bot):
    """On strong evidence (same company, same domain) and nobody using the customer's email,
    giving the customer the contact's email is offered, last, saying what else it touches."""
    bot = make_bot("missing-customer")
    bot.scan()
    finding = _finding(bot, bot.alert("3001:missing-customer"))
    fixes = get("missing-customer").fixes(finding)
    assert [f.id for f in fixes] == ["create-customer", "set-customer-email"]
    confirm = fixes[-1].confirm
    assert "QuickBooks will then send this customer's invoices to ann.jansen@northwind.example" in confirm
    assert "0 other invoices are billed to it" in confirm and "No HubSpot contact has accounts@northwind.example" in confirm


def test_set_email_refused_when_a_contact_takes_the_email_meanwhile(make_bot):
    """The write re-checks who relies on the email: a HubSpot contact created with the
    customer's email after the alert was raised stops it, and nothing changes."""
    bot = make_bot("missing-customer")
    bot.scan()
    finding = _finding(bot, bot.alert("3001:missing-customer"))
    fix = next(f for f in get("missing-customer").fixes(finding) if f.id == "set-customer-email")
    bot.sb.portal.create("contacts", {"email": "accounts@northwind.example", "firstname": "Accounts"})
    from rules.base import FixContext
    result = fix.apply(FixContext(bot.parts.hubspot, bot.parts.qbo, bot.store, actor=ALICE))
    assert not result.ok and "uses accounts@northwind.example" in result.message
    assert bot.sb.qbo.entities["Customer"]["58"]["PrimaryEmailAddr"]["Address"] == "accounts@northwind.example"


def test_a_scan_during_a_fix_never_alerts_on_that_invoice(make_bot):
    bot = make_bot("missing-customer")
    bot.scan()
    key = "3001:missing-customer"
    guard = bot.parts.alerts.guard
    started, release = threading.Event(), threading.Event()

    def slow_fix():
        # A person's fix holding the invoice: the write lands, the invoice is not synced yet.
        with guard.running(key, "3001", "create-customer", ALICE):
            bot.sb.qbo.create("Customer", {"DisplayName": "Ann J", "PrimaryEmailAddr": {"Address": "ann.jansen@northwind.example"}})
            done = bot.store.transition(key, "resolved", by=ALICE, resolution="fixed")
            bot.store.watch_sync(key, "3001", done["version"], ALICE)
            started.set()
            release.wait(10)

    t = threading.Thread(target=slow_fix)
    t.start()
    assert started.wait(10)
    try:
        result = bot.scan()  # reads data half-way through the fix
        assert bot.alert(key)["state"] == "resolved"
        assert [a["key"] for a in bot.store.open_alerts()] == []  # no 'unknown', nothing reopened
        assert "INV-1001" not in result.failing
    finally:
        release.set()
        t.join(10)
    # The next scan judges it from fresh data: the integration has not retried yet, and the
    # invoice is simply waiting (no alert); once it syncs, nothing is open.
    bot.scan()
    assert [a["key"] for a in bot.store.open_alerts()] == []


@pytest.mark.parametrize("write_landed", [True, False], ids=["write-landed", "write-lost"])
def test_a_fix_interrupted_by_a_crash_is_settled_by_a_recheck(make_bot, write_landed):
    bot = make_bot("missing-customer")
    bot.scan()
    key = "3001:missing-customer"
    # What a kill -9 in the middle of a fix leaves: the alert in "fixing", the run unfinished.
    bot.store.transition(key, "fixing", by=ALICE)
    bot.store.begin_fix_run(key, "3001", "create-customer", ALICE)
    bot.store.conn.execute("UPDATE fix_runs SET started_at = ?", (time.time() - 3600,))
    bot.store.conn.commit()
    if write_landed:
        bot.sb.qbo.create("Customer", {"DisplayName": "Ann Jansen",
                                       "PrimaryEmailAddr": {"Address": "ann.jansen@northwind.example"}})
    bot.scan()
    alert = bot.alert(key)
    thread = bot.thread_texts(key)
    if write_landed:
        assert alert["state"] == "resolved" and "fix was interrupted" in thread[-1] and "cause is gone" in thread[-1]
        assert bot.store.sync_watches("3001")
    else:
        assert alert["state"] == "open" and "fix was interrupted" in thread[-1] and "still holds" in thread[-1]
    assert bot.store.fix_runs(unfinished=True) == []
    assert [e["detail"]["cause"] for e in bot.store.audit_entries(target=key) if e["action"] == "fix-recovery"] == \
        ["gone" if write_landed else "still"]
