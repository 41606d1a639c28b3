"""Who may see and do what, through Slack: record details (names, emails, amounts) only for
fixers and QBSYNC_VIEW_ALLOWED; everyone else gets the cause at the level of the rule.
Acknowledge is for fixers and never ends a snooze. Every refusal is in the audit log."""
from __future__ import annotations

from rules.locale_format import money
from sandbox.slack_workspace import ALERT_CHANNEL, unescape

from .conftest import ALICE, BRAM, CARMEN

KEY = "3003:missing-customer"  # INV-1003


def record_values(bot) -> list[str]:
    """The names, emails and amount the alert of INV-1003 is about (from the stored alert)."""
    alert = bot.alert(KEY)
    inv = alert["evidence"]["invoice"]
    finding = alert["evidence"]["finding"]
    emails = [v for v in _strings(finding) if "@" in v]
    # the amount as any of the three languages writes it (rules/locale_format.py)
    amounts = [money(inv["amount_value"], inv["currency"], lang) for lang in ("en", "nl", "es")]
    values = [inv["who"], *amounts, *emails]
    assert inv["who"] and inv["amount_value"] and emails, values
    return values


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def shows_any(text: str, values: list[str]) -> bool:
    return any(v in unescape(text) for v in values)


def refusals(bot, actor: str) -> list[tuple[str, str]]:
    return [(e["action"], e["outcome"]) for e in bot.store.audit_entries(actor=actor) if e["outcome"] == "refused"]


def test_record_details_only_for_fixers_and_viewers(make_bot):
    bot = make_bot("mixed", viewers=BRAM)  # alice: fixer (user group); bram: viewer; carmen: neither
    bot.scan()
    values = record_values(bot)
    # /qbsync explain <invoice>
    [carmen] = bot.command(CARMEN, "explain INV-1003")
    assert "`missing-customer`" in carmen and "Qué hacer" in carmen and not shows_any(carmen, values), carmen
    [bram] = bot.command(BRAM, "explain INV-1003")
    [alice] = bot.command(ALICE, "explain INV-1003")
    for answer in (bram, alice):
        assert "`missing-customer`" in answer and shows_any(answer, values), answer
    # /qbsync list: the same lines, with who and amount only for those allowed
    [carmen_list] = bot.command(CARMEN, "list")
    [bram_list] = bot.command(BRAM, "list")
    assert "INV-1003" in carmen_list and not shows_any(carmen_list, values)
    assert "INV-1003" in bram_list and shows_any(bram_list, values)
    # App Home
    for user in (CARMEN, BRAM):
        bot.d.open_home(user)
    carmen_home = str(bot.d.wait_for(lambda: bot.d.home(CARMEN), timeout=10)["blocks"])
    bram_home = str(bot.d.wait_for(lambda: bot.d.home(BRAM), timeout=10)["blocks"])
    assert "INV-1003" in carmen_home and not shows_any(carmen_home, values)
    assert "INV-1003" in bram_home and shows_any(bram_home, values)
    # Re-check's answer: the rule's title for carmen
    bot.d.click(CARMEN, ALERT_CHANNEL, bot.alert(KEY)["ts"], "qbsync:recheck")
    [still] = bot.wait_ephemeral(CARMEN, 3)[2:]
    assert "Sigue fallando" in still and not shows_any(still, values), still
    # Each withheld answer is audited as a refusal; the allowed got theirs without one.
    assert refusals(bot, CARMEN) == [("command:explain", "refused"), ("command:list", "refused"),
                                     ("home:view", "refused"), ("slack:recheck", "refused")]
    assert refusals(bot, BRAM) == [] and refusals(bot, ALICE) == []


def test_acknowledge_needs_permission_and_never_ends_a_snooze(make_bot):
    bot = make_bot("mixed")
    bot.scan()
    d = bot.d
    ts = bot.alert(KEY)["ts"]
    # Not a fixer: refused, nothing changes.
    d.click(CARMEN, ALERT_CHANNEL, ts, "qbsync:ack")
    assert "Solo las personas" in bot.wait_ephemeral(CARMEN, 1)[-1]
    assert bot.alert(KEY)["state"] == "open"
    assert refusals(bot, CARMEN) == [("slack:ack", "refused")]
    # Snoozed by a fixer: the parent drops its Acknowledge button...
    [answer] = bot.command(ALICE, "snooze INV-1003 2h")
    assert "snoozed until" in answer
    d.wait_for(lambda: "Snoozed until" in bot.parent_of(KEY).visible_text())
    assert "Acknowledge" not in bot.parent_of(KEY).visible_text()
    # ...and a click on a view that still showed it (another alert's stays acknowledged-able)
    # is refused with the reason: the snooze stands.
    other = "3002:duplicate-display-name"
    bot.store.transition(other, "snoozed", snoozed_until=bot.alert(KEY)["snoozed_until"], by=ALICE)
    version = bot.alert(other)["version"]
    d.click(ALICE, ALERT_CHANNEL, bot.alert(other)["ts"], "qbsync:ack")  # its parent was not refreshed yet
    assert "snoozed until" in bot.wait_ephemeral(ALICE, 2)[-1]
    assert bot.alert(other)["state"] == "snoozed" and bot.alert(other)["version"] == version
    assert refusals(bot, ALICE) == [("slack:ack", "refused")]
    # A fixer acknowledges an open alert.
    third = "3006:duplicate-doc-number"
    d.click(ALICE, ALERT_CHANNEL, bot.alert(third)["ts"], "qbsync:ack")
    d.wait_for(lambda: bot.alert(third)["state"] == "acknowledged")
    assert bot.alert(third)["acknowledged_by"] == ALICE
