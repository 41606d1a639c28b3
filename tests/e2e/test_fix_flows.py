"""The whole loop for each documented failure, through Slack: the scan posts the alert once,
an allowed person clicks the recommended fix and confirms, the fix changes QBO or HubSpot, the
integration then syncs the invoice, and the next scan says so in the thread while the parent
shows the alert resolved. Plus: a failing fix, a refused click, and repeated deliveries."""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.slack.messages import ACTION_FIX, ACTION_RESOLVE
from sandbox import slack_payloads as payloads
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.worlds import missing_customer_with_a_matching_contact

from .conftest import ALICE, BRAM, scenario


def customers_with(sb, email):
    return [c for c in sb.qbo.entities["Customer"].values()
            if (c.get("PrimaryEmailAddr") or {}).get("Address") == email]


def _revenue_recognition_writable():
    data = scenario("revenue-recognition-service-date")
    data["qbo"]["writable_preferences"] = ["SalesFormsPrefs.CustomTxnNumbers",
                                           "ProductAndServicesPrefs.RevenueRecognitionEnabled"]
    return data


def _check_missing_customer(sb):
    # The recommended fix creates Ann's own customer; Northwind Traders' billing email stays.
    assert [c["DisplayName"] for c in customers_with(sb, "ann.jansen@northwind.example")] == \
        ["Northwind Traders (Ann Jansen)"]
    assert sb.qbo.entities["Customer"]["58"]["PrimaryEmailAddr"]["Address"] == "accounts@northwind.example"


def _check_display_name(sb):
    assert [c["DisplayName"] for c in customers_with(sb, "bob.devries@acme.example")] == ["Acme BV (Bob de Vries)"]


def _check_doc_number(sb):
    assert sb.qbo.entities["CreditMemo"]["201"]["DocNumber"] == "INV-1001-1"


def _check_native_modified(sb):
    doc = sb.qbo.entities["Invoice"]["145"]
    assert doc["TotalAmt"] == 1450


def _check_revenue_recognition(sb):
    assert sb.qbo.preferences()["ProductAndServicesPrefs"]["RevenueRecognitionEnabled"] is False


def _check_item_reactivated(sb):
    assert sb.qbo.entities["Item"]["3"]["Active"] is True and sb.qbo.entities["Item"]["3"]["Name"] == "Training"


CASES = [
    ("missing-customer", "3001", "missing-customer", "create-customer", _check_missing_customer),
    ("duplicate-display-name", "3002", "duplicate-display-name", "create-customer-unique-name", _check_display_name),
    ("duplicate-doc-number", "3001", "duplicate-doc-number", "renumber-conflicting-document", _check_doc_number),
    ("native-invoice-modified", "3001", "native-invoice-modified", "revert-qbo-invoice", _check_native_modified),
    (_revenue_recognition_writable, "3001", "revenue-recognition-service-date", "disable-revenue-recognition",
     _check_revenue_recognition),
    ("invalid-reference", "3001", "invalid-reference", "reactivate-item", _check_item_reactivated),  # issue 11
]


def fix_buttons(message) -> list[dict]:
    return [el for b in message.blocks if b["type"] == "actions" for el in b["elements"]
            if el["action_id"].startswith(ACTION_FIX)]


@pytest.mark.parametrize("world,invoice,rule,fix_id,changed", CASES,
                         ids=["missing-customer", "duplicate-display-name", "duplicate-doc-number",
                              "native-invoice-modified", "revenue-recognition", "invalid-reference"])
def test_alert_fix_sync_resolved(make_bot, world, invoice, rule, fix_id, changed):
    bot = make_bot(world() if callable(world) else world)
    sb, d = bot.sb, bot.d
    key = f"{invoice}:{rule}"
    bot.scan()
    bot.scan()  # a second scan changes nothing
    parents = bot.parents()
    assert len([m for m in parents if m.ts == bot.alert(key)["ts"]]) == 1
    assert len(parents) == len(bot.store.open_alerts())
    parent = bot.parent_of(key)
    recommended = fix_buttons(parent)[0]
    assert recommended["action_id"] == ACTION_FIX + fix_id and recommended.get("style") == "primary"
    assert recommended["confirm"]["text"]["text"]  # the dialog says what will change

    r = d.click(ALICE, ALERT_CHANNEL, parent.ts, recommended["action_id"])
    assert r.acked and r.in_time
    bot.wait_audit(key, f"slack:fix:{fix_id}", "ok")
    changed(sb)
    thread = bot.thread_texts(key)
    assert "is applying" in thread[-3] and "re-check passed" in thread[-1], thread
    assert bot.alert(key)["state"] == "resolved"
    assert [e for e in bot.store.audit_entries(target=key) if e["action"] == f"fix:{fix_id}"][0]["outcome"] == "ok"

    sb.integration.run_once(force=True)
    assert invoice in sb.integration.synced and invoice not in sb.integration.failures
    before = len(bot.thread_texts(key))
    bot.scan()
    thread = bot.thread_texts(key)
    assert len(thread) == before + 1 and "synced" in thread[-1] and "QuickBooks" in thread[-1], thread
    alert = bot.alert(key)
    assert alert["state"] == "resolved"
    parent = bot.parent_of(key)
    assert [b["type"] for b in parent.blocks if b["type"] == "actions"] == []
    assert "Resolved" in parent.visible_text()
    # Nothing reopens or repeats on later scans.
    bot.scan()
    assert len(bot.thread_texts(key)) == before + 1
    assert bot.alert(key)["state"] == "resolved"
    assert len(bot.parents()) == len(parents)


def test_a_failing_fix_goes_back_and_says_what_to_do(make_bot):
    bot = make_bot("revenue-recognition-service-date")  # QBO refuses to change this preference
    key = "3001:revenue-recognition-service-date"
    bot.scan()
    parent = bot.parent_of(key)
    bot.d.click(ALICE, ALERT_CHANNEL, parent.ts, ACTION_FIX + "disable-revenue-recognition")
    bot.d.wait_for(lambda: any("did not work" in t for t in bot.thread_texts(key)), timeout=15)
    bot.d.wait_for(lambda: bot.alert(key)["state"] == "open", timeout=5)
    assert "Account and settings" in bot.thread_texts(key)[-1]
    assert bot.sb.qbo.preferences()["ProductAndServicesPrefs"]["RevenueRecognitionEnabled"] is True
    assert fix_buttons(bot.parent_of(key))  # still offered: the person can do it by hand and re-check
    # The outcome is audited last, after the thread reply.
    outcomes = lambda: [e["outcome"] for e in bot.store.audit_entries(target=key)  # noqa: E731
                        if e["action"].startswith("slack:fix")]
    bot.d.wait_for(lambda: len(outcomes()) == 2, timeout=5)
    assert outcomes() == ["started", "failed"]


def test_a_person_not_allowed_is_refused_audited_and_nothing_changes(make_bot):
    bot = make_bot("missing-customer")
    key = "3001:missing-customer"
    bot.scan()
    parent = bot.parent_of(key)
    version = bot.alert(key)["version"]
    customers = copy.deepcopy(bot.sb.qbo.entities["Customer"])
    r = bot.d.click(BRAM, ALERT_CHANNEL, parent.ts, ACTION_FIX + "create-customer")
    assert r.acked and r.in_time
    texts = bot.wait_ephemeral(BRAM, 1)
    assert "Alleen de mensen" in texts[-1] and "QBSYNC_FIX_ALLOWED" in texts[-1]  # bram reads Dutch
    refused = [e for e in bot.store.audit_entries(target=key) if e["outcome"] == "refused"]
    assert [(e["actor"], e["action"]) for e in refused] == [(BRAM, "slack:fix:create-customer")]
    bot.d.click(BRAM, ALERT_CHANNEL, parent.ts, ACTION_RESOLVE)
    bot.wait_ephemeral(BRAM, 2)
    assert bot.sb.qbo.entities["Customer"] == customers
    assert bot.alert(key)["state"] == "open" and bot.alert(key)["version"] == version
    assert len(bot.thread_texts(key)) == 2  # parent + explanation: nothing was said in the thread


def _fix_payload(bot, key: str, fix_id: str, user: str = ALICE) -> dict:
    """The block_actions payload of `user` clicking the fix, built once, so it can be delivered
    twice exactly as Slack would retry it."""
    ws, d = bot.sb.slack.workspace, bot.d
    message = bot.parent_of(key)
    block_id, el = d.find_element(message.blocks, ACTION_FIX + fix_id)
    with ws.lock:
        trigger = ws.mint_trigger(user)
        url = ws.mint_response_url(bot.sb.slack.url, "actions", ALERT_CHANNEL, user, message_ts=message.ts)
        return payloads.block_actions_on_message(ws.users[user], ALERT_CHANNEL, "qbsync-alerts", message,
                                                 payloads.action(el, block_id, None), response_url=url,
                                                 trigger_id=trigger)


def test_the_same_click_delivered_twice_runs_the_fix_once(make_bot):
    bot = make_bot("missing-customer")
    key = "3001:missing-customer"
    bot.scan()
    payload = _fix_payload(bot, key, "create-customer")
    socket = bot.sb.slack.socket
    with ThreadPoolExecutor(max_workers=2) as pool:
        acks = list(pool.map(lambda _: socket.deliver("interactive", copy.deepcopy(payload), timeout=3), range(2)))
    assert all(a.acked for a in acks)
    bot.d.wait_for(lambda: "Resolved by" in bot.thread_texts(key)[-1], timeout=15)
    # A third delivery after the fact: the stored alert is resolved, so nothing runs.
    assert socket.deliver("interactive", copy.deepcopy(payload), timeout=3).acked
    texts = bot.wait_ephemeral(ALICE, 2)
    assert any("already resolved" in t for t in texts), texts
    assert len(customers_with(bot.sb, "ann.jansen@northwind.example")) == 1
    entries = bot.store.audit_entries(target=key)
    assert [e["outcome"] for e in entries if e["action"] == "fix:create-customer"] == ["ok"]
    assert [e["outcome"] for e in entries if e["action"] == "slack:fix:create-customer"].count("started") == 1
    assert sum(1 for t in bot.thread_texts(key) if "is applying" in t) == 1


def test_a_fix_on_a_missing_alert_does_nothing_but_say_so(make_bot):
    bot = make_bot("missing-customer")
    key = "3001:missing-customer"
    bot.scan()
    payload = _fix_payload(bot, key, "create-customer")
    payload["actions"][0]["value"] = '{"k":"9999:missing-customer","f":"create-customer"}'
    assert bot.sb.slack.socket.deliver("interactive", payload, timeout=3).acked
    assert "no longer has this alert" in bot.wait_ephemeral(ALICE, 1)[-1]
    assert customers_with(bot.sb, "ann.jansen@northwind.example") == []
    assert bot.alert(key)["state"] == "open"


def test_a_hubspot_side_fix_holds_in_scans_before_the_integration_syncs(make_bot):
    """Switching the invoice's contact changes associations, which does not move the invoice's
    hs_lastmodifieddate: the next scan must re-read the fixed invoice, not bring the failure
    back from its cached copy."""
    data = missing_customer_with_a_matching_contact()
    bot = make_bot(data)
    key = "3001:missing-customer"
    bot.scan()
    parent = bot.parent_of(key)
    n = len(bot.parents())
    assert ACTION_FIX + "switch-contact" in [b["action_id"] for b in fix_buttons(parent)]
    bot.d.click(ALICE, ALERT_CHANNEL, parent.ts, ACTION_FIX + "switch-contact")
    bot.wait_audit(key, "slack:fix:switch-contact", "ok")
    assert bot.alert(key)["state"] == "resolved"
    replies = len(bot.thread_texts(key))
    bot.scan()  # HubSpot's integration has not retried yet
    bot.scan()
    assert bot.alert(key)["state"] == "resolved" and len(bot.thread_texts(key)) == replies
    assert len(bot.parents()) == n
    bot.sb.integration.run_once(force=True)
    bot.scan()
    assert bot.alert(key)["state"] == "resolved" and "synced" in bot.thread_texts(key)[-1]


def test_books_closed_alert_offers_no_fix_and_names_the_closing_date(make_bot):
    # Issue 11: no automatic fix (an accountant's decision); the alert says where to change it,
    # and it resolves once the closing date moves and the integration syncs.
    bot = make_bot("books-closed")
    key = "3001:books-closed"
    bot.scan()
    parent = bot.parent_of(key)
    assert fix_buttons(parent) == []
    assert "closed up to October 31, 2026" in parent.visible_text()  # the date in words (locale_format)
    thread = " ".join(bot.thread_texts(key))
    assert "October 15, 2026" in thread and "Close the books" in thread and "accountant" in thread, thread
    assert "3002:books-closed" not in {a["key"] for a in bot.store.open_alerts()}
    bot.sb.qbo.set_preference("AccountingInfoPrefs.BookCloseDate", "2026-09-30")
    bot.sb.integration.run_once(force=True)
    bot.scan()
    assert bot.alert(key)["state"] == "resolved"
