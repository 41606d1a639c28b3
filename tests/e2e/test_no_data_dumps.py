"""Issue 12, "Done when": no Slack text shows a Python data structure or a bare True/False/None,
and every parent links its HubSpot invoice. Checked on every shipped scenario, in each of the
three languages, over everything a person reads after a scan: the channel (parents and their
threads) and the answers to `/qbsync status`, `list`, `explain` and `history`, through the Slack
stand-in with the real bolt App."""
from __future__ import annotations

import re

import pytest

from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE, BRAM, CARMEN

# A Python repr of a dict/list/tuple of strings, or a bare constant: what a finance team must never read.
REPR = re.compile(r"\{'|\['|\('|'\]|'\}|'\)|\bTrue\b|\bFalse\b|\bNone\b")
# The asker per language: their Slack locale picks the language of the answers.
ASKER = {"en": ALICE, "nl": BRAM, "es": CARMEN}


def _shipped() -> list[str]:
    from pathlib import Path

    import sandbox
    return sorted(p.stem for p in (Path(sandbox.__file__).parent / "scenarios").glob("*.json"))


def _dumps(texts: list[str]) -> list[str]:
    return [t for t in texts if REPR.search(t)]


@pytest.mark.parametrize("lang", ["en", "nl", "es"])
@pytest.mark.parametrize("name", _shipped())
def test_no_slack_text_is_a_data_dump_and_every_parent_links_its_invoice(make_bot, name, lang):
    bot = make_bot(name, viewers=f"{BRAM},{CARMEN}", env={"QBSYNC_LANGUAGE": lang})
    bot.scan()
    alerts = [a for a in bot.store.list_alerts() if a["ts"]]
    read: list[str] = []
    for parent in bot.parents():
        read += [m.visible_text() for m in bot.d.thread(parent.channel, parent.ts)]
    # Every invoice's parent links the invoice in HubSpot (record type 0-53).
    for a in alerts:
        if a["invoice_id"] and not a["key"].startswith(("group:", "global:")):
            parent = bot.d.message(a["channel"], a["ts"])
            assert re.search(rf"https://app\.hubspot\.com/contacts/\d+/record/0-53/{re.escape(a['invoice_id'])}\|",
                             parent.text + str(parent.blocks)), (a["key"], parent.visible_text())
    asker = ASKER[lang]
    read += bot.command(asker, "status") + bot.command(asker, "list")
    numbers = sorted({a["invoice_number"] for a in alerts if a["invoice_number"]})[:3]
    for number in numbers:
        read += bot.command(asker, f"explain {number}")
        read += bot.command(asker, f"history {number}")
    assert read, "nothing was read"
    assert not _dumps(read), _dumps(read)[:3]


def test_the_check_catches_a_dump():
    # The pattern itself: a dict, a list, a tuple of strings, a bare constant; plain words pass.
    assert _dumps(["hubspot: {'amount': '1200.00'}", "why: ['same company']", "value: True",
                   "not offered: None", "pair: ('a', 'b')"]) == [
        "hubspot: {'amount': '1200.00'}", "why: ['same company']", "value: True", "not offered: None",
        "pair: ('a', 'b')"]
    assert not _dumps(["Totals: HubSpot 1,450.00 · QuickBooks 1,310.00", "Nonetheless it is true",
                       "Acme BV (Bob de Vries)", f"channel {ALERT_CHANNEL}"])
