"""Issue 12 part 7: channels per cause (QBSYNC_ROUTES), through the Slack stand-in with the
real bolt App over Socket Mode.

The mixed scenario fails INV-1002 (duplicate-display-name), INV-1003 (missing-customer),
INV-1005 (native-invoice-modified), INV-1006 (duplicate-doc-number) and INV-1007
(missing-customer, then duplicate-doc-number in fix order)."""
from __future__ import annotations

import pytest

from bot.alerts import GLOBAL_PREFIX
from bot.cli import main
from sandbox.slack_workspace import ALERT_CHANNEL, BOT_USER_ID

from .conftest import ALICE, BRAM, CARMEN

CUSTOMERS = "C0CUSTOMER1"  # missing-customer goes here
NUMBERS = "C0NUMBERS01"    # duplicate-doc-number goes here
ROUTES = {"QBSYNC_ROUTES": f"missing-customer={CUSTOMERS}, duplicate-doc-number={NUMBERS}"}


def routed_bot(make_bot):
    bot = make_bot("mixed", env=ROUTES)
    for channel, name in ((CUSTOMERS, "ar-customers"), (NUMBERS, "ar-numbers")):
        bot.sb.slack.workspace.add_channel(channel, name, members=[BOT_USER_ID, ALICE, BRAM, CARMEN])
    return bot


def parents(bot, channel: str) -> list:
    return [m for m in bot.d.transcript(channel) if not m.is_reply]


def numbers(bot, channel: str) -> list[str]:
    return sorted(m.text.split()[0] for m in parents(bot, channel))


def test_each_parent_lands_in_its_first_causes_channel(make_bot):
    bot = routed_bot(make_bot)
    assert bot.settings.route_map == {"missing-customer": CUSTOMERS, "duplicate-doc-number": NUMBERS}
    bot.scan()
    # INV-1007 fails for both routed rules: one parent, in its first cause's channel.
    assert numbers(bot, CUSTOMERS) == ["INV-1003", "INV-1007"]
    assert numbers(bot, NUMBERS) == ["INV-1006"]
    assert numbers(bot, ALERT_CHANNEL) == ["INV-1002", "INV-1005"]
    first, second = bot.alert("3007:missing-customer"), bot.alert("3007:duplicate-doc-number")
    assert first["channel"] == second["channel"] == CUSTOMERS and first["ts"] == second["ts"]
    # Both causes are explained in that one thread, and nothing of INV-1007 went to NUMBERS.
    thread = bot.thread_texts("3007:duplicate-doc-number")
    assert len(thread) == 3 and "the number is already used" in thread[2]
    assert not any("INV-1007" in m.visible_text() for m in bot.d.transcript(NUMBERS))


def test_the_buttons_and_commands_work_in_a_route_channel_and_reminders_land_in_the_thread(make_bot):
    bot = routed_bot(make_bot)
    bot.scan()
    key = "3006:duplicate-doc-number"
    parent = bot.parent_of(key)
    assert parent.channel == NUMBERS
    bot.d.click(ALICE, NUMBERS, parent.ts, "qbsync:ack")
    bot.wait_audit(key, "slack:ack", "ok")
    assert bot.alert(key)["state"] == "acknowledged"
    bot.d.wait_for(lambda: f"Acknowledged by <@{ALICE}>" in bot.d.message(NUMBERS, parent.ts).visible_text())
    # `/qbsync list` typed in a route channel answers as in the alert channel.
    before = len(bot.d.ephemerals(ALICE))
    r = bot.d.slash(ALICE, "/qbsync", "list", channel=CUSTOMERS)
    assert r.acked and r.in_time
    [answer] = bot.wait_ephemeral(ALICE, before + 1)[before:]
    assert "INV-1003" in answer and "INV-1006" in answer
    # A reminder goes into the parent's thread, in the parent's channel.
    alerts = bot.parts.alerts
    alerts.remind_after_s = 3600
    reminded = alerts.remind_unacknowledged(now=alerts.clock() + 7200)
    assert "3003:missing-customer" in reminded and key not in reminded  # acknowledged: no reminder
    mc = bot.alert("3003:missing-customer")
    last = bot.d.thread(CUSTOMERS, mc["ts"])[-1]
    assert last.channel == CUSTOMERS and last.thread_ts == mc["ts"] and "Still failing" in last.visible_text()
    assert not any("Still failing" in m.visible_text() for m in parents(bot, CUSTOMERS))


def test_a_storm_goes_to_its_rules_channel_and_a_global_alert_to_the_alert_channel(make_bot):
    bot = routed_bot(make_bot)
    bot.parts.alerts.storm_threshold = 2  # six new alerts: a storm, grouped per rule
    bot.scan()
    groups = {a["rule"]: a for a in bot.store.open_groups()}
    assert groups["missing-customer"]["channel"] == CUSTOMERS
    assert groups["duplicate-doc-number"]["channel"] == NUMBERS
    assert groups["duplicate-display-name"]["channel"] == ALERT_CHANNEL
    assert [m.ts for m in parents(bot, CUSTOMERS)] == [groups["missing-customer"]["ts"]]
    assert [m.ts for m in parents(bot, NUMBERS)] == [groups["duplicate-doc-number"]["ts"]]
    listing = "\n".join(m.visible_text() for m in bot.d.thread(CUSTOMERS, groups["missing-customer"]["ts"]))
    assert "INV-1003" in listing and "INV-1007" in listing
    # A problem every sync shares is not an invoice's: the alert channel, whatever the routes.
    alert = bot.parts.alerts.raise_global("rate-limited", "QuickBooks is throttling", "Wait.")
    assert alert["key"] == GLOBAL_PREFIX + "rate-limited" and alert["channel"] == ALERT_CHANNEL
    assert bot.d.message(ALERT_CHANNEL, alert["ts"]) is not None


@pytest.mark.parametrize("routes, named", [
    ("missing-customr=C0CUSTOMER1", "'missing-customr=C0CUSTOMER1': no rule 'missing-customr'"),
    ("missing-customer:C0CUSTOMER1", "'missing-customer:C0CUSTOMER1' is not rule-id=channel-id"),
    ("missing-customer=#ar", "'missing-customer=#ar': '#ar' is not a Slack channel id"),
    ("qbo-auth=C0CUSTOMER1", "qbo-auth is a problem every sync shares"),
])
def test_bad_routes_stop_the_start_with_the_bad_entry_named(routes, named, monkeypatch, tmp_path, capsys):
    from sandbox.app import Sandbox

    with Sandbox() as sb:
        env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "q.db"), "QBSYNC_FIX_ALLOWED": ALICE,
                                      "QBSYNC_ROUTES": f"duplicate-doc-number={NUMBERS},{routes}"}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        assert main(["run"]) == 2
    err = capsys.readouterr().err
    [problem] = [line for line in err.splitlines() if line.startswith("  - ")]
    assert problem.startswith("  - QBSYNC_ROUTES has bad entries: ") and named in problem
    assert "duplicate-doc-number=" not in problem  # the good entry is not blamed
    assert not (tmp_path / "q.db").exists()  # stopped before anything started


def test_a_cause_found_later_joins_the_invoices_thread_whatever_its_route(make_bot):
    bot = routed_bot(make_bot)
    bot.scan()
    mc = bot.alert("3003:missing-customer")
    assert mc["channel"] == CUSTOMERS
    # Someone books an invoice numbered INV-1003 in QuickBooks: INV-1003 now also fails for
    # duplicate-doc-number, which routes to NUMBERS; it joins the invoice's thread instead.
    bot.sb.qbo.create("Invoice", {"DocNumber": "INV-1003", "TxnDate": "2026-10-20", "CustomerRef": {"value": "59"},
                                  "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 10.0,
                                            "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1,
                                                                    "UnitPrice": 10.0}}]})
    bot.scan()
    later = bot.alert("3003:duplicate-doc-number")
    assert later is not None and (later["channel"], later["ts"]) == (CUSTOMERS, mc["ts"])
    assert numbers(bot, NUMBERS) == ["INV-1006"]  # nothing new there
    assert "Another cause" in bot.thread_texts("3003:missing-customer")[-2]
