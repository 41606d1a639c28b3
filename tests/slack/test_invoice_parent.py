"""Issue 12, parts 1 and 2, end to end through the Slack stand-in: one parent per failing
invoice listing its causes in fix order (first open cause's buttons first, each cause its own
state), readable evidence (labelled fields, plain values, a difference table) and links to the
records in HubSpot and QuickBooks."""
from __future__ import annotations

import json
import re

import pytest

from bot import wiring
from bot.config import load_settings
from bot.slack.messages import parse_button_value
from sandbox.app import Sandbox

PORTAL = 24681357  # the mixed scenario's portal_id
# A Python data structure or a bare constant in Slack text: what a finance team must never read.
REPR = re.compile(r"\{'|\['|'\]|'\}|\bTrue\b|\bFalse\b|\bNone\b")


@pytest.fixture
def world(tmp_path):
    with Sandbox(slack_post_rate_per_s=100, slack_post_burst=100) as sb:
        sb.load("mixed")
        env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"),
                                      "QBSYNC_FIX_ALLOWED": "U0ALLOWED1"}
        parts = wiring.build(load_settings(env, env_file=None), post_interval=0)
        parts.scanner.scan()
        yield sb, parts


def parents(sb):
    return [m for m in sb.slack.driver.transcript() if not m.thread_ts or m.thread_ts == m.ts]


def texts(message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False) + message.text


def test_an_invoice_with_two_causes_gets_one_parent_in_fix_order(world):
    sb, parts = world
    [parent] = [m for m in parents(sb) if m.text.startswith("INV-1007")]
    first, second = parts.store.get_alert("3007:missing-customer"), parts.store.get_alert("3007:duplicate-doc-number")
    assert first["ts"] == second["ts"] == parent.ts  # both causes live in the invoice's one thread
    body = parent.blocks[0]["text"]["text"]
    assert body.index("no QuickBooks customer has the email") < body.index("the number is already used")
    buttons = [e for b in parent.blocks if b["type"] == "actions" for e in b["elements"]]
    keys = [parse_button_value(e["value"])[0] for e in buttons]
    # The first open cause's buttons come first; the second cause's fixes follow, keyed to it.
    assert keys[0] == first["key"] and second["key"] in keys
    assert keys.index(second["key"]) > max(i for i, e in enumerate(buttons) if e["action_id"].startswith(
        "qbsync:fix:") and keys[i] == first["key"])
    assert len({e["action_id"] for e in buttons}) == len(buttons)  # Slack wants unique action ids
    # One explanation per cause in the thread.
    thread = sb.slack.driver.thread(parent.channel, parent.ts)
    assert sum("the number is already used" in m.text for m in thread[1:]) == 1

    # The first cause resolves: it keeps its own state; the parent now leads with the second.
    parts.alerts.resolve(first["key"], "fixed by hand", by="U0ALLOWED1")
    assert parts.store.get_alert(second["key"])["state"] == "open"
    edited = sb.slack.driver.message(parent.channel, parent.ts)
    buttons = [e for b in edited.blocks if b["type"] == "actions" for e in b["elements"]]
    assert {parse_button_value(e["value"])[0] for e in buttons} == {second["key"]}
    last = sb.slack.driver.thread(parent.channel, parent.ts)[-1].text
    assert "no QuickBooks customer has the email" in last and "resolved" in last
    assert [a["action"] for a in parts.store.audit_entries(target=first["key"])].count("alert:resolve") == 1

    # The second resolves too: the parent shows resolved, without buttons.
    parts.alerts.resolve(second["key"], "fixed by hand", by="U0ALLOWED1")
    edited = sb.slack.driver.message(parent.channel, parent.ts)
    assert not [b for b in edited.blocks if b["type"] == "actions"] and "Resolved" in texts(edited)


def test_the_fix_held_is_said_once_per_invoice(world):
    sb, parts = world
    keys = ["3007:missing-customer", "3007:duplicate-doc-number"]
    for key in keys:
        alert = parts.alerts.resolve(key, "fixed", by="U0ALLOWED1")
        parts.store.watch_sync(key, "3007", alert["version"], "U0ALLOWED1")
    # What a person would do in QBO: a customer with Gus's email; custom numbers off.
    sb.qbo.create("Customer", {"DisplayName": "Gus Haines (Hooli Labs)",
                               "PrimaryEmailAddr": {"Address": "gus@hooli-labs.example"}})
    sb.qbo.set_preference("SalesFormsPrefs.CustomTxnNumbers", False)
    sb.integration.run_once(force=True)
    assert "3007" in sb.integration.synced
    parts.scanner.scan()
    alert = parts.store.get_alert(keys[0])
    thread = sb.slack.driver.thread(alert["channel"], alert["ts"])
    assert sum("the fix held" in m.text for m in thread) == 1


def test_evidence_is_readable_and_links_every_record(world):
    sb, parts = world
    transcript = [m for p in parents(sb) for m in sb.slack.driver.thread(p.channel, p.ts)]
    for m in transcript:
        assert not REPR.search(m.visible_text()), m.visible_text()
    hs = f"https://app.hubspot.com/contacts/{PORTAL}/record/"
    for p in parents(sb):
        alert = next(a for a in parts.store.list_alerts() if a["ts"] == p.ts)
        assert f"<{hs}0-53/{alert['invoice_id']}|{alert['invoice_number']} in HubSpot>" in texts(p)
    everything = "".join(texts(m) for m in transcript)
    qbo = "https://app.sandbox.qbo.intuit.com/app/"
    assert f"<{qbo}creditmemo?txnId=201|INV-1006>" in everything      # the conflicting credit memo
    assert f"<{qbo}invoice?txnId=145|INV-1005>" in everything          # the modified QBO invoice
    assert f"<{qbo}customerdetail?nameId=59|Northwind Traders>" in everything
    assert f"{hs}0-1/1001|Ann Smit>" in everything                     # a contact named, linked
    # Labelled fields, and the line difference as a table.
    alert = parts.store.get_alert("3005:native-invoice-modified")
    [explanation] = sb.slack.driver.thread(alert["channel"], alert["ts"])[1:2]
    fields = [f["text"] for b in explanation.blocks for f in b.get("fields", [])]
    assert "*Totals*\nHubSpot $1,450.00 · QuickBooks $1,310.00" in fields  # the invoice's currency, USD
    table = next(b["text"]["text"] for b in explanation.blocks if b.get("text", {}).get("text", "").startswith("```"))
    # quantities plain, unit prices and amounts in the invoice's currency (locale_format)
    assert re.search(r"Consulting\s+10 × \$120\.00 = \$1,200\.00\s+8 × \$120\.00 = \$960\.00", table)
    assert re.search(r"Rush fee\s+—\s+1 × \$100\.00 = \$100\.00", table)


def test_failing_since_counts_from_when_the_invoice_should_have_synced(world):
    sb, parts = world
    alert = parts.store.get_alert("3002:duplicate-display-name")
    card = parts.alerts.card(alert)
    created = alert["evidence"]["invoice"]["created_at"]
    assert card.failing_since == created + parts.settings.grace_minutes * 60
    assert card.failing_since < alert["created_at"]  # not from when qbsync first saw it
