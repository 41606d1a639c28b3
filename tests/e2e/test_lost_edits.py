"""A chat.update whose answer is lost (the edit made, the connection closed before the answer,
through every retry slack_sdk makes) no longer cuts a step in half (bot/slack/client.py
SlackPoster.update). Before, a fix that landed in QuickBooks was audited "failed", its
"Resolved by" thread reply and sync watch were skipped, and the person was told to try again."""
from __future__ import annotations

from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE
from .test_fix_flows import customers_with

KEY = "3001:missing-customer"


def test_a_fix_whose_parent_edits_lose_their_answers_is_recorded_as_done(make_bot):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    bot.scan()
    slack = bot.sb.slack.service
    slack.drop_answers("chat.update", times=1000, status=-1)   # every edit made, every answer lost
    bot.d.click(ALICE, ALERT_CHANNEL, bot.alert(KEY)["ts"], "qbsync:fix:create-customer")
    bot.wait_audit(KEY, "slack:fix:create-customer", "ok", timeout=30)
    assert [e["outcome"] for e in bot.store.audit_entries(target=KEY)
            if e["action"] == "slack:fix:create-customer"] == ["started", "ok"]
    assert bot.alert(KEY)["state"] == "resolved"
    assert len(customers_with(bot.sb, "ann.jansen@northwind.example")) == 1     # one QBO write
    bot.d.wait_for(lambda: any("Resolved by" in t for t in bot.thread_texts(KEY)), timeout=10)
    assert sum("Resolved by" in t for t in bot.thread_texts(KEY)) == 1
    assert "Resolved" in bot.parent_of(KEY).visible_text()       # the edit itself was made
    assert not any("did not answer" in t for t in bot.ephemeral_texts(ALICE))  # no "try again"
