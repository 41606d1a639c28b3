"""Issue 12 part 1: the buttons on an invoice's parent act on the invoice. INV-1007 in the
mixed scenario fails for two causes (missing-customer, then duplicate-doc-number) that share
one parent; Acknowledge, Snooze, Resolve and Re-check pressed there act on every open cause,
each keeping its own state and audit row. Through the Slack stand-in with the real bolt App."""
from __future__ import annotations

from bot.slack.messages import parse_button_value
from bot.slack.mrkdwn import escape
from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE, CARMEN

FIRST, SECOND = "3007:missing-customer", "3007:duplicate-doc-number"


def setup(make_bot):
    bot = make_bot("mixed")
    bot.scan()
    assert bot.alert(FIRST)["ts"] == bot.alert(SECOND)["ts"]
    return bot, bot.alert(FIRST)["ts"]


def audited(bot, action: str, outcome: str = "ok") -> dict[str, int]:
    """How many `action` rows with `outcome` each cause has."""
    return {k: sum(e["action"] == action and e["outcome"] == outcome for e in bot.store.audit_entries(target=k))
            for k in (FIRST, SECOND)}


def state_line(bot, ts: str) -> str:
    parent = bot.d.message(ALERT_CHANNEL, ts)
    return next(b for b in parent.blocks if b["type"] == "context")["elements"][0]["text"]


def button_actions(bot, ts: str) -> list[str]:
    parent = bot.d.message(ALERT_CHANNEL, ts)
    return [e["action_id"] for b in parent.blocks if b["type"] == "actions" for e in b["elements"]]


def test_acknowledge_acts_on_every_cause_and_the_state_line_is_the_invoices(make_bot):
    bot, ts = setup(make_bot)
    # One cause acknowledged some other way: the invoice is only as far as its least advanced cause.
    bot.store.transition(SECOND, "acknowledged", by=CARMEN)
    bot.parts.alerts.refresh_parent(SECOND)
    assert state_line(bot, ts).endswith("Open") and "qbsync:ack" in button_actions(bot, ts)

    bot.d.click(ALICE, ALERT_CHANNEL, ts, "qbsync:ack")
    bot.d.wait_for(lambda: audited(bot, "slack:ack") == {FIRST: 1, SECOND: 1}, timeout=10)
    for key in (FIRST, SECOND):
        alert = bot.alert(key)
        assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == ALICE
    bot.d.wait_for(lambda: state_line(bot, ts).endswith(f"Acknowledged by <@{ALICE}>"))
    assert "qbsync:ack" not in button_actions(bot, ts)
    # One reply for the invoice (posted after the audit rows: waited for, then no second one).
    bot.d.wait_for(lambda: sum(f"<@{ALICE}> is looking at this" in t for t in bot.thread_texts(FIRST)) == 1)
    assert sum(f"<@{ALICE}> is looking at this" in t for t in bot.thread_texts(FIRST)) == 1


def test_the_state_line_names_everyone_who_acknowledged(make_bot):
    bot, ts = setup(make_bot)
    bot.store.transition(FIRST, "acknowledged", by=ALICE)
    bot.store.transition(SECOND, "acknowledged", by=CARMEN)
    bot.parts.alerts.refresh_parent(FIRST)
    assert state_line(bot, ts).endswith(f"Acknowledged by <@{ALICE}>, <@{CARMEN}>")


def test_snooze_acts_on_every_cause(make_bot):
    bot, ts = setup(make_bot)
    bot.d.click(ALICE, ALERT_CHANNEL, ts, "qbsync:snooze")
    bot.d.wait_for(lambda: audited(bot, "slack:snooze") == {FIRST: 1, SECOND: 1}, timeout=10)
    first, second = bot.alert(FIRST), bot.alert(SECOND)
    assert first["state"] == second["state"] == "snoozed"
    assert first["snoozed_until"] == second["snoozed_until"] == bot.store.snoozed_until("3007")
    bot.d.wait_for(lambda: "Snoozed until" in state_line(bot, ts))
    assert "qbsync:ack" not in button_actions(bot, ts)  # acknowledging would end the snooze
    bot.d.wait_for(lambda: sum(f"<@{ALICE}> snoozed this until" in t for t in bot.thread_texts(FIRST)) == 1)
    reply = next(t for t in bot.thread_texts(FIRST) if f"<@{ALICE}> snoozed this until" in t)
    assert all(escape(bot.parts.alerts.title(bot.alert(k))) in reply for k in (FIRST, SECOND)), reply


def button_value_of(bot, ts: str, action_id: str) -> str:
    parent = bot.d.message(ALERT_CHANNEL, ts)
    return next(e["value"] for b in parent.blocks if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def test_resolve_acts_on_every_cause_each_audited(make_bot):
    bot, ts = setup(make_bot)
    assert parse_button_value(button_value_of(bot, ts, "qbsync:resolve"))[0] == FIRST
    bot.d.click(ALICE, ALERT_CHANNEL, ts, "qbsync:resolve")
    bot.d.wait_for(lambda: audited(bot, "alert:resolve") == {FIRST: 1, SECOND: 1}, timeout=10)
    for key in (FIRST, SECOND):
        assert bot.alert(key)["state"] == "resolved"
        [entry] = [e for e in bot.store.audit_entries(target=key) if e["action"] == "alert:resolve"]
        assert entry["actor"] == ALICE
    # Each cause is named in the thread (its reply follows its audit row: waited for).
    bot.d.wait_for(lambda: sum(f"resolved by <@{ALICE}>" in t for t in bot.thread_texts(FIRST)) == 2)
    assert not button_actions(bot, ts) and "Resolved" in state_line(bot, ts)


def test_recheck_rechecks_every_cause_and_resolves_the_gone_ones(make_bot):
    bot, ts = setup(make_bot)
    bot.d.click(CARMEN, ALERT_CHANNEL, ts, "qbsync:recheck")
    [still] = bot.wait_ephemeral(CARMEN, 1)
    assert still.startswith("Sigue fallando")
    assert audited(bot, "slack:recheck") == {FIRST: 1, SECOND: 1}
    assert bot.alert(FIRST)["state"] == bot.alert(SECOND)["state"] == "open"

    # The customer now exists in QuickBooks: the first cause is gone, the second holds.
    bot.sb.qbo.create("Customer", {"DisplayName": "Gus Haines (qbsync test)",
                                   "PrimaryEmailAddr": {"Address": "gus@hooli-labs.example"}})
    bot.d.click(CARMEN, ALERT_CHANNEL, ts, "qbsync:recheck")
    bot.d.wait_for(lambda: audited(bot, "slack:recheck") == {FIRST: 2, SECOND: 2}, timeout=10)
    assert bot.alert(FIRST)["state"] == "resolved" and bot.alert(SECOND)["state"] == "open"
    gone = [e for e in bot.store.audit_entries(target=FIRST) if e["action"] == "slack:recheck" and e["outcome"] == "ok"]
    assert [e["detail"]["gone"] for e in gone] == [False, True]
    # The parent now leads with the cause that holds.
    bot.d.wait_for(lambda: parse_button_value(button_value_of(bot, ts, "qbsync:recheck"))[0] == SECOND)


def test_the_snooze_command_acts_like_the_button(make_bot):
    """`/qbsync snooze INV-1007 1d`: every open cause snoozed, each its own state change and
    audit row, and ONE reply in the invoice's thread naming the causes (as the parent's button)."""
    bot, ts = setup(make_bot)
    thread_before = len(bot.thread_texts(FIRST))
    [answer] = bot.command(ALICE, "snooze INV-1007 1d")
    assert answer.startswith("Invoice INV-1007 is snoozed until")
    bot.d.wait_for(lambda: len(bot.thread_texts(FIRST)) > thread_before, timeout=10)
    for key in (FIRST, SECOND):
        assert bot.alert(key)["state"] == "snoozed"
    assert audited(bot, "command:snooze") == {FIRST: 1, SECOND: 1}
    assert bot.alert(FIRST)["snoozed_until"] == bot.alert(SECOND)["snoozed_until"] == bot.store.snoozed_until("3007")
    new = bot.thread_texts(FIRST)[thread_before:]
    assert len(new) == 1 and f"<@{ALICE}> snoozed this until" in new[0], new
    for key in (FIRST, SECOND):  # each cause named, escaped as mrkdwn
        assert escape(bot.parts.alerts.title(bot.alert(key))) in new[0], new[0]
    bot.d.wait_for(lambda: "Snoozed until" in state_line(bot, ts))
    # The same command again: nothing left to snooze, nothing more said in the thread.
    bot.command(ALICE, "snooze INV-1007 1d")
    assert len(bot.thread_texts(FIRST)) == thread_before + 1
    assert audited(bot, "command:snooze") == {FIRST: 1, SECOND: 1}


def test_the_parent_counts_its_causes_in_the_plural_entry_of_its_language(make_bot):
    # An invoice's parent lists its causes only when there are two or more (one cause is its
    # title), so the parent shows the plural form; the singular of the same entry is in
    # tests/test_plurals.py.
    bot, ts = setup(make_bot)
    parent = bot.d.message(ALERT_CHANNEL, ts)
    assert "*INV-1007 did not reach QuickBooks*: 2 causes, to fix in this order:" in parent.blocks[0]["text"]["text"]
    nl = make_bot("mixed", env={"QBSYNC_LANGUAGE": "nl"}, db_name="nl.db")
    nl.scan()
    text = nl.d.message(ALERT_CHANNEL, nl.alert(FIRST)["ts"]).blocks[0]["text"]["text"]
    assert "2 oorzaken, op te lossen in deze volgorde:" in text
