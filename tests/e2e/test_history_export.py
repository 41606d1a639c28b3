"""`/qbsync history <invoice>` and `/qbsync export` (issue 12), through the Slack stand-in with
the real bolt App over Socket Mode."""
from __future__ import annotations

import csv
import io
import re

from sandbox.slack_workspace import ALERT_CHANNEL, BOT_USER_ID

from .conftest import ALICE, BRAM, CARMEN


def test_history_shows_the_invoice_audit_trail_newest_last(make_bot):
    bot = make_bot("mixed")
    bot.scan()
    key = "3005:native-invoice-modified"
    bot.d.click(ALICE, ALERT_CHANNEL, bot.alert(key)["ts"], "qbsync:resolve")
    bot.d.wait_for(lambda: bot.alert(key)["state"] == "resolved")
    bot.command(ALICE, "snooze INV-1003 1d")
    [trail] = bot.command(ALICE, "history INV-1005")
    assert trail.startswith("*History of INV-1005*")
    lines = [x for x in trail.splitlines() if x.startswith("• ")]
    assert lines and all(x.startswith("• <!date^") for x in lines)
    # Each entry a sentence (handlers/history.py), the cause by its title: no codes, no details.
    assert lines[0].endswith("· qbsync found “Invoice INV-1005 was changed in QuickBooks after it synced” in a "
                             "scan and posted the alert"), lines[0]
    assert lines[-1].endswith(f"· <@{ALICE}> resolved “Invoice INV-1005 was changed in QuickBooks after it synced” "
                              "by hand"), lines[-1]
    assert "`" not in trail and "native-invoice-modified" not in trail and "why:" not in trail
    assert "{'" not in trail and "None" not in trail  # no Python reprs
    # Newest last: the times in the <!date^…> tokens never go down.
    stamps = [int(m) for m in re.findall(r"<!date\^(\d+)\^", trail)]
    assert stamps == sorted(stamps)
    # An invoice-level entry (the snooze command targets the invoice id) is in INV-1003's trail.
    [snoozed] = bot.command(ALICE, "history INV-1003")
    assert re.search(rf"· <@{ALICE}> snoozed the invoice until <!date\^\d+\^", snoozed), snoozed
    assert "INV-1005" not in snoozed and "until:" not in snoozed
    [unknown] = bot.command(ALICE, "history INV-9999")
    assert "no alerts for an invoice numbered `INV-9999`" in unknown


def test_history_and_export_are_for_viewers_only_and_refusals_are_audited(make_bot):
    bot = make_bot("mixed", viewers=CARMEN)
    bot.scan()
    [no] = bot.command(BRAM, "history INV-1003")
    assert "QBSYNC_VIEW_ALLOWED" in no and "INV-1003" not in no and "<!date" not in no
    [no_export] = bot.command(BRAM, "export")
    assert "```" not in no_export
    refused = [(e["actor"], e["action"]) for e in bot.store.audit_entries() if e["outcome"] == "refused"]
    assert refused == [(BRAM, "command:history"), (BRAM, "command:export")]
    # A viewer (not a fixer) may read both.
    assert bot.command(CARMEN, "history INV-1003")[0].startswith("*Historial de INV-1003*")
    assert "mensajes directos" in bot.command(CARMEN, "export")[0]


def test_export_is_a_csv_of_open_and_recently_resolved_alerts(make_bot):
    bot = make_bot("mixed")
    bot.scan()
    key = "3005:native-invoice-modified"
    bot.d.click(ALICE, ALERT_CHANNEL, bot.alert(key)["ts"], "qbsync:resolve")
    bot.d.wait_for(lambda: bot.alert(key)["state"] == "resolved")
    # Resolved long ago: left out.
    old = "3002:duplicate-display-name"
    with bot.store.transaction() as conn:
        conn.execute("UPDATE alerts SET state = 'resolved', resolved_at = ?, resolution = 'by hand' WHERE key = ?",
                     (bot.store.get_alert(key)["resolved_at"] - 31 * 86400, old))
    [answer] = bot.command(ALICE, "export")
    assert "5 alerts" in answer and "direct messages" in answer
    # Shared with the person who asked and nobody else: a file in their DM with the bot.
    ws = bot.sb.slack.workspace
    dm = ws.channels["D" + ALICE[1:]]
    assert dm.is_private and dm.members == {ALICE, BOT_USER_ID}
    [msg] = ws.messages[dm.id]
    [f] = msg.files
    assert f["name"].startswith("qbsync-export-") and f["name"].endswith(".csv")
    body = f["data"].decode() if isinstance(f["data"], bytes) else f["data"]
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["invoice number", "rule", "state", "created", "resolved", "resolution"]
    by_key = {(r[0], r[1]): r for r in rows[1:]}
    assert by_key[("INV-1005", "native-invoice-modified")][2] == "resolved"
    assert by_key[("INV-1005", "native-invoice-modified")][4].endswith("Z")
    assert by_key[("INV-1003", "missing-customer")][2] == "open"
    assert ("INV-1002", "duplicate-display-name") not in by_key
    assert len(rows) - 1 == 5
    assert [e["outcome"] for e in bot.store.audit_entries(actor=ALICE) if e["action"] == "command:export"] == ["ok"]


def test_export_without_files_write_falls_back_to_an_ephemeral_csv(make_bot):
    bot = make_bot("mixed")
    bot.scan()
    ws = bot.sb.slack.workspace
    from sandbox.slack_workspace import BOT_TOKEN

    ws.add_token(BOT_TOKEN, "bot", [s for s in ws.tokens[BOT_TOKEN].scopes if s != "files:write"])
    [answer] = bot.command(ALICE, "export")
    assert answer.startswith("*Export*: 6 alerts") and "```\ninvoice number,rule,state" in answer
    assert not any(m.files for m in ws.messages.get("D" + ALICE[1:], []))
    [entry] = [e for e in bot.store.audit_entries(actor=ALICE) if e["action"] == "command:export"]
    assert entry["outcome"] == "ok" and entry["detail"]["via"] == "ephemeral"
