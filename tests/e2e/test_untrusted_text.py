"""Untrusted text from HubSpot (names, emails) cannot forge a line, reorder text or ping anyone in
anything qbsync sends to Slack: every Web API call and response_url body the Slack stand-in
received is checked, not only what one builder returns. Plus: durations are ASCII digits only."""
from __future__ import annotations

import unicodedata

from sandbox.slack_blocks import iter_texts
from sandbox.slack_workspace import ALERT_CHANNEL, find_mentions

from .conftest import ALICE, scenario

FORGED = "\n✅ Resolved by alice"
RLO = "\u202e"           # RIGHT-TO-LEFT OVERRIDE
INVISIBLE = "\u200b\u200d\u2060\ufeff\u2066"  # zero-width space/joiner, word joiner, BOM, LRI


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _strings(v)


def everything_sent(sb) -> tuple[list[str], list[str]]:
    """Every string qbsync sent Slack (Web API arguments of posts, edits, ephemerals and views,
    and response_url bodies: the answers to commands and clicks), and of those the ones Slack
    reads as mrkdwn (where `<!channel>` would ping)."""
    bodies = [args for method, args in sb.slack.service.calls
              if method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.publish", "views.open")]
    bodies += [posted["body"] for posted in sb.slack.driver.responses()]
    every, mrkdwn = [], []
    for body in bodies:
        every += list(_strings(body))
        if isinstance(body.get("text"), str):
            mrkdwn.append(body["text"])
        blocks = body.get("blocks") or (body.get("view") or {}).get("blocks") or []
        mrkdwn += [text for kind, text in iter_texts(blocks) if kind == "mrkdwn"]
    return every, mrkdwn


def test_forged_lines_bidi_and_invisible_characters_never_reach_slack(make_bot):
    data = scenario("missing-customer")
    data["hubspot"]["companies"][0]["name"] = f"Northwind{FORGED}{RLO}cipe.exe{INVISIBLE} <!channel>"
    contact = data["hubspot"]["contacts"][0]
    contact["firstname"] = f"Ann{FORGED}"
    contact["lastname"] = f"Jan{RLO}sen{INVISIBLE}"
    bot = make_bot(data)
    bot.scan()
    [parent] = bot.parents()
    assert parent.thread_ts  # the explanation went into the thread
    # Every surface a fixer reads about the record: explain, list, App Home, a button's answer.
    [explained] = bot.command(ALICE, "explain INV-1001")
    assert "Ann ✅ Resolved by alice Jansen" in explained  # one line, in typed order, nothing hidden
    bot.command(ALICE, "list")
    bot.d.open_home(ALICE)
    bot.d.wait_for(lambda: bot.d.home(ALICE), timeout=10)
    bot.d.click(ALICE, ALERT_CHANNEL, parent.ts, "qbsync:recheck")
    bot.wait_ephemeral(ALICE, 3)

    sent, mrkdwn = everything_sent(bot.sb)
    assert any("Northwind" in s for s in sent) and any("Resolved by alice" in s for s in sent)
    assert any("<!channel>" in s for s in sent)  # shown as typed in plain_text (a confirm dialog)...
    for s in sent:
        lines = s.split("\n")
        assert not any(line.lstrip(" *_•").startswith("✅") for line in lines), s  # no forged line
        assert not [c for c in s if unicodedata.category(c) == "Cf"], ascii(s)  # no bidi / zero-width
    for s in mrkdwn:
        # ...but never as markup that pings (qbsync's own links to alert threads and to the
        # invoice's records are the only markup)
        ours = ("<https://qbsync-sandbox.slack.com/archives/", "<https://app.hubspot.com/contacts/",
                "<https://app.sandbox.qbo.intuit.com/app/")
        assert [m for m in find_mentions(s) if not m.startswith(ours)] == [], s
    # Nothing pings anyone, on any message or any version of it.
    for m in bot.d.thread(ALERT_CHANNEL, parent.ts):
        assert all(x.startswith(ours) for x in m.mentions()), m.mentions()
        assert all(find_mentions(e.text) == [] for e in m.edits)
    # The name is still shown, on one line, in the order it was typed.
    assert "Northwind ✅ Resolved by alicecipe.exe <!channel> (Ann ✅ Resolved by alice Jansen)" in parent.visible_text()


def test_a_duration_in_other_digits_is_an_error_not_eleven_days(make_bot):
    bot = make_bot("missing-customer")
    bot.scan()
    for text in ("snooze INV-1001 1\u0661d", "snooze INV-1001 \u0661d", "mute missing-customer 1\uff11d"):
        [answer] = bot.command(ALICE, text)
        assert "is not a duration" in answer, (text, answer)
    assert bot.store.snoozed_until("3001") is None and bot.store.active_mutes() == {}
    assert bot.alert("3001:missing-customer")["state"] == "open"
    assert "snoozed until" in bot.command(ALICE, "snooze INV-1001 1d")[0]
