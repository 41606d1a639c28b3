"""Issue 12 part 3, the reader's side: a Dutch or Spanish reader sees every amount with its
currency and in their number format, every date in words, and no English sentence of the
catalog. Each shipped scenario (sandbox/scenarios/*.json) is played through the Slack
stand-in with the real bot, with the channel language (QBSYNC_LANGUAGE) nl and es and a
reader whose Slack locale is that language; everything they can read is checked: the
channel (parents, threads, the confirm dialogs of their buttons), the answers to `/qbsync
status`, `list`, `explain` and `history`, and their App Home tab. The mixed scenario is also
reminded, fixed click by click (fix results, "what changed" replies) and digested, and a storm
is fixed with "Fix all N like this" (its plan, confirm and progress)."""
from __future__ import annotations

import re

import pytest

from bot.slack.evidence import LABELS
from bot.slack.messages import ACTION_BULK_CONFIRM, ACTION_BULK_FIX
from sandbox.slack_workspace import ALERT_CHANNEL, unescape
from tests.nl_es_reading import english_fragments, problems, readable, texts_of

from .conftest import BRAM, CARMEN, FIXERS
from .test_bulk_fix import bulk_button, group_alert, plan_ephemeral, storm_world
from .test_bulk_fix import fast_bot  # noqa: F401  (fixture: a company with raised API limits)
from .test_no_data_dumps import _shipped

READER = {"nl": BRAM, "es": CARMEN}  # their Slack locales are nl-NL and es-ES


# ---- reading a whole workspace --------------------------------------------------------------
def channel_texts(bot) -> list[str]:
    read: list[str] = []
    for parent in bot.parents():
        for m in bot.d.thread(parent.channel, parent.ts):
            read += texts_of(m.text, m.blocks)
    return read


def unlabelled_fields(bot, lang: str) -> list[str]:
    """Evidence fields (`*Label*\\nvalue`, bot/slack/evidence.py) whose label is not one of the
    labels of `lang`: a label made from an evidence key ("Hubspot remedy") is English."""
    known = set(LABELS[lang].values())
    out = []
    for parent in bot.parents():
        for m in bot.d.thread(parent.channel, parent.ts):
            for block in m.blocks or []:
                for field in block.get("fields") or []:
                    label = re.match(r"\*([^*]+)\*", field.get("text", ""))
                    if label and unescape(label.group(1)) not in known:
                        out.append(field["text"][:120])
    return out


def ephemeral_texts(bot, user: str, since: int = 0) -> list[str]:
    read: list[str] = []
    for e in bot.d.ephemerals(user)[since:]:
        read += texts_of(e.text, e.blocks)
    return read


def answers(bot, user: str, numbers: list[str]) -> list[str]:
    """`/qbsync status`, `list`, and `explain`/`history` of `numbers`, as `user` reads them."""
    before = len(bot.d.ephemerals(user))
    asked = 0
    for text in ["status", "list"] + [f"{verb} {n}" for n in numbers for verb in ("explain", "history")]:
        asked += 1
        bot.command(user, text)
    assert len(bot.d.ephemerals(user)) >= before + asked
    return ephemeral_texts(bot, user, before)


def home_texts(bot, user: str) -> list[str]:
    assert bot.d.open_home(user).acked
    home = bot.d.wait_for(lambda: bot.d.home(user), timeout=10)
    return texts_of(None, home["blocks"])


# ---- the check of the check -----------------------------------------------------------------
def test_the_check_catches_english_bare_amounts_and_iso_dates():
    assert english_fragments("nl") and english_fragments("es")
    nl_bad = ["Verschillen: Consulting: QBO 8 x 120.00 = 960.00",
              "*Totalen*\nHubSpot 1.450,00 · QuickBooks 1.310,00",
              "boeken gesloten tot 2026-10-31",
              "INV-1002 did not reach QuickBooks"]
    found = problems(nl_bad, "nl")
    assert any("English amount '120.00'" in f for f in found), found
    assert any("'HubSpot 1.450,00" in f for f in found) and any("QuickBooks 1.310,00" in f for f in found), found
    assert any("ISO date '2026-10-31'" in f for f in found), found
    assert any(f.startswith("English 'did not reach QuickBooks'") for f in found), found
    # English assembled in code, not in the catalog: told by English words in a Dutch sentence
    found = problems(["Niets te doen: QBO invoice INV-1001 matches HubSpot al."], "nl")
    assert found and all(f.startswith("English words in:") for f in found), found
    # What a Dutch reader should read passes; a link's URL and Slack's date fallback are not read.
    assert problems([readable(t) for t in ["Totalen: HubSpot €\u00a01.450,00 · QuickBooks €\u00a01.310,00",
                     "Consulting: 10 × US$\u00a0120,00 = US$\u00a01.200,00 · 1,5 uur",
                     "<https://app.qbo.intuit.com/app/invoice?txnId=2026-10-31|INV-1002>",
                     "sinds <!date^1793000000^{date_short_pretty}|2026-10-26 08:00 UTC>",
                     "1.450,00\u00a0€ (es)", "31 oktober 2026",
                     # QuickBooks' English menu path, as the Dutch catalog quotes it; QuickBooks' own error
                     "onder Settings ⚙ > Account and settings > Advanced > Accounting > Edit ✎ > Close the books.",
                     "geweigerd (Request has invalid or unsupported property; code 2010)"]], "nl") == []


# ---- the scenarios --------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["nl", "es"])
@pytest.mark.parametrize("name", _shipped())
def test_a_dutch_or_spanish_reader_reads_no_english_and_every_amount_with_its_currency(fast_bot, name, lang):
    reader = READER[lang]
    bot = fast_bot(name, viewers=reader, env={"QBSYNC_LANGUAGE": lang}, transport="http")
    bot.scan()
    alerts = [a for a in bot.store.list_alerts() if a["ts"]]
    numbers = sorted({a["invoice_number"] for a in alerts if a["invoice_number"]})[:3]
    read = channel_texts(bot) + answers(bot, reader, numbers) + home_texts(bot, reader)
    assert read, "nothing was read"
    found = problems(read, lang) + unlabelled_fields(bot, lang)
    assert not found, "\n".join(found[:20])


@pytest.mark.parametrize("lang", ["nl", "es"])
def test_fixing_the_mixed_scenario_reads_in_the_readers_language(fast_bot, lang):
    # A fixer whose Slack locale is `lang` clicks each alert's first fix (its confirm dialog
    # is read above with the parent); the results in the thread and to them are checked.
    reader = READER[lang]
    bot = fast_bot("mixed", allowed=f"{FIXERS},{reader}", env={"QBSYNC_LANGUAGE": lang}, transport="http")
    bot.scan()
    # Nobody acknowledged: each thread is reminded (after 1.5 h here: hours are a number too).
    alerts = bot.parts.alerts
    alerts.remind_after_s = 5400
    assert alerts.remind_unacknowledged(now=alerts.clock() + 7200)
    fixed = 0
    for a in [a for a in bot.store.open_alerts() if a["ts"] and ":" in a["key"]]:
        parent = bot.d.message(a["channel"], a["ts"])
        fixes = [el for b in parent.blocks if b.get("type") == "actions" for el in b["elements"]
                 if el.get("action_id", "").startswith("qbsync:fix:")]
        if not fixes:
            continue
        bot.d.click(reader, ALERT_CHANNEL, a["ts"], fixes[0]["action_id"], fixes[0].get("value"))
        bot.d.wait_for(lambda k=a["key"]: any(e["action"].startswith("slack:fix:") and e["outcome"] != "started"
                                              for e in bot.store.audit_entries(target=k)), timeout=20)
        fixed += 1
    assert fixed >= 3
    bot.scan()  # the integration retried: the next scan resolves what was fixed
    # The digest sums it all up (its chart's note in the thread too).
    bot.parts.digest.send_now()
    numbers = sorted({a["invoice_number"] for a in bot.store.list_alerts() if a["invoice_number"]})
    for number in numbers:  # the audit trail of each, fixes included
        bot.command(reader, f"history {number}")
    read = channel_texts(bot) + ephemeral_texts(bot, reader) + home_texts(bot, reader)
    assert any(":bar_chart:" in text for text in read)                       # the digest was read
    reminders = [text for text in read if text.startswith(":bell:")]
    assert reminders and all("1,5" in text and "1.5" not in text for text in reminders), reminders
    found = problems(read, lang)
    assert not found, "\n".join(found[:20])


@pytest.mark.parametrize("lang", ["nl", "es"])
def test_fixing_a_storm_all_at_once_reads_in_the_readers_language(fast_bot, lang):
    # A storm (5 fixable invoices, 1 that needs a person) grouped in one message: the reader
    # clicks "Fix all", reads the plan, confirms, and the progress message ends in the counts.
    reader = READER[lang]
    bot = fast_bot(storm_world(fixable=5, no_email=1), allowed=f"{FIXERS},{reader}", env={"QBSYNC_LANGUAGE": lang},
                   transport="http")
    bot.parts.alerts.storm_threshold = 3
    bot.scan()
    group = group_alert(bot)
    parent = bot.parent_of(group["key"])
    bulk_button(parent)
    assert bot.d.click(reader, ALERT_CHANNEL, parent.ts, ACTION_BULK_FIX).acked
    plan = plan_ephemeral(bot, reader)
    assert bot.d.click(reader, ALERT_CHANNEL, plan.ts, ACTION_BULK_CONFIRM).acked
    bot.wait_audit(group["key"], "slack:bulk-fix", "ok", timeout=25)
    read = channel_texts(bot) + ephemeral_texts(bot, reader)
    assert any("INV-5005" in text for text in read)  # the member that needs a person is listed
    found = problems(read, lang)
    assert not found, "\n".join(found[:20])
