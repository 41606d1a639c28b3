"""Alert messages: escaped, inside Block Kit's limits, buttons that carry only the alert key."""
from __future__ import annotations

import json

import pytest

from bot.slack.messages import (ACTION_FIX, AlertCard, FixButton, alert_parent, button_value,
                                explanation_reply, parse_button_value)
from bot.slack.mrkdwn import clip, escape, user

EVIL = "<!channel> & <@U123> <https://evil|x>"


def _all_text(blocks) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_escape_neutralises_mentions_links_and_entities():
    assert escape(EVIL) == "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil|x&gt;"
    assert escape(None) == ""
    assert user("U0123ABCD") == "<@U0123ABCD>"
    assert user("<!here>") == "&lt;!here&gt;"  # not an id: shown, not obeyed


def test_clip_never_splits_an_entity():
    text = escape("a" * 10 + "&")  # ends in &amp;
    assert clip(text, 13) == "a" * 10 + "…"
    assert clip("short", 10) == "short"


def test_parent_for_an_evil_customer_name_pings_nobody():
    card = AlertCard(key="3001:missing-customer", rule="missing-customer", state="open",
                     title="No QuickBooks customer has the contact's email", invoice_number="INV-1001",
                     who=EVIL, amount="300.00 USD", failing_since=0,
                     fixes=(FixButton("create-customer", f"Create customer {EVIL}", f"Creates {EVIL}"),))
    msg = alert_parent(card, now=3600)
    mrkdwn = " ".join(_mrkdwn_texts(msg.blocks)) + msg.text
    for raw in ("<!channel>", "<@U123>", "<https://evil|x>"):
        assert raw not in mrkdwn
    section = msg.blocks[0]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in section and "INV-1001" in section
    assert "failing for 1 h" in section


def _mrkdwn_texts(node):
    """Every mrkdwn text object (Slack parses markup only there; plain_text is shown as is)."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for v in node.values():
            yield from _mrkdwn_texts(v)
    elif isinstance(node, list):
        for v in node:
            yield from _mrkdwn_texts(v)


def test_buttons_carry_the_key_and_confirm_says_what_changes():
    card = AlertCard(key="3002:duplicate-display-name", rule="duplicate-display-name", state="open",
                     title="t", invoice_number="INV-1002",
                     fixes=(FixButton("create-customer-unique-name", "Create customer 'Acme BV (Bob de Vries)'",
                                      "Creates the QBO customer 'Acme BV (Bob de Vries)' with bob@acme.example."),))
    actions = alert_parent(card).blocks[-1]["elements"]
    fix = actions[0]
    assert fix["action_id"] == ACTION_FIX + "create-customer-unique-name"
    assert parse_button_value(fix["value"]) == ("3002:duplicate-display-name", "create-customer-unique-name")
    assert "bob@acme.example" in fix["confirm"]["text"]["text"]
    assert [a["action_id"] for a in actions[1:]] == ["qbsync:recheck", "qbsync:ack", "qbsync:snooze", "qbsync:resolve"]


def test_resolved_parent_has_no_buttons_and_says_why():
    card = AlertCard(key="k", rule="r", state="resolved", title="t", invoice_number="INV-1",
                     resolution="synced to QuickBooks <now>")
    msg = alert_parent(card)
    assert all(b["type"] != "actions" for b in msg.blocks)
    assert "Resolved: synced to QuickBooks &lt;now&gt;" in msg.blocks[1]["elements"][0]["text"]


def test_states_and_languages():
    base = dict(key="k", rule="r", title="t", invoice_number="INV-1")
    ack = alert_parent(AlertCard(state="acknowledged", acknowledged_by="U0AAAAAAA", lang="nl", **base))
    assert "Opgepakt door <@U0AAAAAAA>" in ack.blocks[1]["elements"][0]["text"]
    assert "qbsync:ack" not in _all_text(ack.blocks)
    snoozed = alert_parent(AlertCard(state="snoozed", snoozed_until=1_800_000_000, lang="es", **base))
    assert "Pospuesta hasta <!date^1800000000^" in snoozed.blocks[1]["elements"][0]["text"]
    assert "INV-1 no llegó a QuickBooks" in snoozed.text


def test_huge_untrusted_text_is_clipped_to_limits():
    card = AlertCard(key="k", rule="unknown", state="open", title="&" * 5000, invoice_number="<" * 100,
                     fixes=tuple(FixButton(f"f{i}", "x" * 200, "y" * 1000) for i in range(30)))
    msg = alert_parent(card)  # slack_sdk validators would raise if any limit were broken
    assert len(msg.blocks[0]["text"]["text"]) <= 3000
    assert len(msg.blocks[-1]["elements"]) == 25
    assert all(len(e["text"]["text"]) <= 75 for e in msg.blocks[-1]["elements"])


def test_explanation_reply_escapes_evidence():
    from bot.links import RecordLinks
    from bot.slack.evidence import evidence_blocks

    links = RecordLinks(lambda: {"portal_id": 123, "ui_domain": "app-eu1.hubspot.com"}, "production")
    evidence = {"holder": {"entity": "Customer", "id": "58&x=<y>", "name": EVIL, "email": EVIL, "active": False},
                "contact": {"id": "1001", "name": EVIL, "email": "a@b.example"}, "weird": {"a": True, "b": [EVIL]}}
    msg = explanation_reply("Duplicate name", "QBO already has <b>", evidence_blocks(evidence, links, "en", [EVIL]))
    text = json.dumps(msg.blocks)
    assert "&lt;b&gt;" in msg.blocks[0]["text"]["text"] and "<!channel>" not in text and "<@U123>" not in text
    # Ids are quoted into the URL; names only ever the escaped label of our own links.
    assert "https://app.qbo.intuit.com/app/customerdetail?nameId=58%26x%3D%3Cy%3E|&lt;!channel&gt;" in text
    assert "https://app-eu1.hubspot.com/contacts/123/record/0-1/1001|" in text
    fields = [f["text"] for b in msg.blocks for f in b.get("fields", [])]
    assert "*Name already used by*\ncustomer <https://app.qbo.intuit.com/" in fields[0] and "inactive" in fields[0]
    assert "yes" in fields[2] and "True" not in text and "{" not in "".join(fields)


def test_record_links_refuse_what_they_cannot_trust():
    from bot.links import RecordLinks
    from bot.slack.mrkdwn import link

    bad_domain = RecordLinks(lambda: {"portal_id": 7, "ui_domain": "evil.example"}, "sandbox")
    assert bad_domain.hubspot("invoice", "3001") == "https://app.hubspot.com/contacts/7/record/0-53/3001"
    calls = []
    unknown = RecordLinks(lambda: calls.append(1) or {"portal_id": None}, "sandbox")
    assert unknown.hubspot("invoice", "3001") is None and unknown.hubspot("contact", "1") is None
    assert len(calls) == 1  # not asked again on every message
    assert RecordLinks(None, "sandbox").qbo("invoice", "145") == "https://app.sandbox.qbo.intuit.com/app/invoice?txnId=145"
    assert link("javascript:alert(1)", "x") == "x" and link("https://a.example/|b", "x") == "x"


@pytest.mark.parametrize("bad", [None, "", "{}", "[]", '{"k": 5}', "not json"])
def test_foreign_button_values_are_refused(bad):
    with pytest.raises(ValueError):
        parse_button_value(bad)


def test_button_value_round_trip_and_size_guard():
    assert parse_button_value(button_value("a:b")) == ("a:b", None)
    with pytest.raises(ValueError):
        button_value("x" * 3000)


def test_values_are_one_line_without_format_characters():
    from bot.slack.mrkdwn import escape_lines, plain

    hostile = "Acme\n✅ Resolved by alice\r\n\u2028x\u202eexe.pdf\u200b\u200f\u2066\ufeff\u2061\u00ad\x07"
    assert escape(hostile) == "Acme ✅ Resolved by alice xexe.pdf"
    assert plain(hostile, 75) == "Acme ✅ Resolved by alice xexe.pdf"
    assert escape_lines("step one <b>\n• step\u202e two") == "step one &lt;b&gt;\n• step two"
    card = AlertCard(key="k", rule="missing-customer", state="open", title="T\n✅ Resolved", invoice_number="INV\n1",
                     who="Acme\n✅ Resolved by alice", fixes=(FixButton("f", "Fix\nit", "Sure\u202e?"),))
    msg = alert_parent(card, now=0)
    blob = _all_text(msg.blocks)  # JSON: a line break in a text shows as \n
    assert "\\n✅" not in blob and "\n✅" not in msg.text and "\u202e" not in blob + msg.text
    assert "Acme ✅ Resolved by alice" in blob and "INV 1" in blob and "Sure?" in blob
