"""`/qbsync history <invoice>` reads as sentences (issue 12 part 7), end to end through the
Slack stand-in with the real bolt App: after a scan, a refused click, an acknowledgement, a
resolve by hand, a reopening scan, a fix, and the scan that sees the invoice in QuickBooks,
the trail in en, nl and es has one sentence of handlers/history.py per entry, in the
reader's language: no codes, no key=value details, no rule ids, and nothing a Dutch or
Spanish reader should not read (tests/nl_es_reading.py)."""
from __future__ import annotations

import re

import pytest

from bot.alerts import finding_from_alert
from handlers.history import WORDS
from rules import registry
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.nl_es_reading import problems, readable

from .conftest import ALICE, BRAM, CARMEN

KEY = "3003:missing-customer"   # INV-1003 of the mixed scenario
READER = {"en": ALICE, "nl": BRAM, "es": CARMEN}  # their Slack locales: en-US, nl-NL, es-ES
# The story's entries, oldest first, by the sentence each must read as.
STORY = ["found", "refused_fix", "acknowledged", "resolved_by_hand", "reopened", "fix_started", "fix_ok", "synced"]
DATE = re.compile(r"^• <!date\^\d+\^\{date_short_pretty\} \{time\}\|[^>]*> · ")


def play_the_story(bot) -> None:
    bot.scan()
    ts = bot.alert(KEY)["ts"]
    bot.d.click(BRAM, ALERT_CHANNEL, ts, "qbsync:fix:create-customer")      # a viewer: refused
    bot.wait_audit(KEY, "slack:fix:create-customer", "refused")
    bot.d.click(ALICE, ALERT_CHANNEL, ts, "qbsync:ack")
    bot.wait_audit(KEY, "slack:ack", "ok")
    bot.d.click(ALICE, ALERT_CHANNEL, ts, "qbsync:resolve")                 # resolved by hand ...
    bot.d.wait_for(lambda: bot.alert(KEY)["state"] == "resolved")
    bot.scan()                                                              # ... but it still fails
    bot.wait_audit(KEY, "alert:reopen", "ok")
    bot.d.click(ALICE, ALERT_CHANNEL, ts, "qbsync:fix:create-customer")
    bot.wait_audit(KEY, "slack:fix:create-customer", "ok")
    bot.sb.integration.run_once(force=True)                                 # HubSpot's integration retries
    bot.scan()                                                              # and qbsync sees it in QuickBooks
    bot.wait_audit(KEY, "alert:synced", "ok")


def sentence_pattern(template: str) -> re.Pattern:
    """A sentence of WORDS as a regex: its {placeholders} stand for any text."""
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$")


def which_sentence(text: str, lang: str) -> str:
    """The WORDS key of `lang` whose sentence `text` is (the most specific one when several fit)."""
    fits = [k for k, template in WORDS[lang].items() if sentence_pattern(template).match(text)]
    assert fits, f"not a history sentence of {lang}: {text!r}"
    return max(fits, key=lambda k: len(re.sub(r"\{[a-z_]+\}", "", WORDS[lang][k])))


@pytest.mark.parametrize("lang", ["en", "nl", "es"])
def test_history_is_sentences_in_the_reader_s_language(make_bot, lang):
    bot = make_bot("mixed", viewers=f"{BRAM},{CARMEN}", env={"QBSYNC_LANGUAGE": lang})
    play_the_story(bot)
    [trail] = bot.command(READER[lang], "history INV-1003")
    head, *lines = trail.splitlines()
    assert "INV-1003" in head and "8" in head, head
    assert all(DATE.match(x) for x in lines), lines
    sentences = [DATE.sub("", x) for x in lines]
    assert [which_sentence(s, lang) for s in sentences] == STORY, sentences
    # No codes, no data: no backticks, no action or outcome code, no rule id, no detail key.
    assert "`" not in trail
    assert not re.search(r"\b(?:alert|slack|fix|command|job):[a-z]", trail)
    assert not re.search(r"· (?:ok|noop|refused|started|failed)\b", trail)
    assert not any(rule_id in trail for rule_id in registry.ids()), trail
    keys = {k for e in bot.store.audit_entries(target=KEY) for k in e["detail"]}
    assert {"ts", "why", "label", "request_id", "message", "changed", "was"} <= keys
    assert not [k for k in keys if re.search(rf"\b{k}(?::|=) ", trail)], trail
    assert "{" not in readable(trail) and "None" not in trail and "True" not in trail
    # People by mention, the cause by its title in the reader's language, the fix's message kept.
    assert f"<@{BRAM}>" in lines[1] and f"<@{ALICE}>" in lines[2]
    title = registry.get("missing-customer").explain(finding_from_alert(bot.alert(KEY)), lang).title
    assert title.split(": ", 1)[1] in sentences[0] and "INV-1003" not in sentences[0]
    [fixed] = [e for e in bot.store.audit_entries(target=KEY)
               if e["action"] == "slack:fix:create-customer" and e["outcome"] == "ok"]
    assert sentences[6].endswith(fixed["detail"]["message"])
    if lang == "en":
        assert sentences == [
            "qbsync found “no QuickBooks customer has the email of Ann Jansen” in a scan and posted the alert",
            f"<@{BRAM}> was refused: not allowed to fix “no QuickBooks customer has the email of Ann Jansen”",
            f"<@{ALICE}> acknowledged “no QuickBooks customer has the email of Ann Jansen”",
            f"<@{ALICE}> resolved “no QuickBooks customer has the email of Ann Jansen” by hand",
            "“no QuickBooks customer has the email of Ann Jansen” came back in a scan: reopened",
            f"<@{ALICE}> started the fix “Create a QBO customer for Ann Jansen”",
            f"<@{ALICE}> fixed “no QuickBooks customer has the email of Ann Jansen”: " + fixed["detail"]["message"],
            "the invoice reached QuickBooks: “no QuickBooks customer has the email of Ann Jansen” stays resolved",
        ]
    else:
        assert problems([readable(trail)], lang) == []
        # None of the English history sentences, even before the lead moves them into the catalogs.
        english = [p for t in WORDS["en"].values() for p in re.split(r"\{[a-z_]+\}|“|”", t)
                   if len(p.split()) >= 3 and p not in WORDS[lang].values()]
        assert not [p for p in english if p.strip() in readable(trail)]
