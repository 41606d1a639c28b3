"""A post Slack accepted but whose answer was lost (connection closed, or a 5xx, after the
message was stored) never becomes a second message: the bot looks for it (by its first block's
block_id) before it sends it again. A post Slack never got is sent again, once."""
from __future__ import annotations

import pytest

from sandbox.app import Sandbox
from sandbox.generate import generate
from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE


def fifteen_failures() -> dict:
    data = generate(60, failure_rate=0.25, seed=11)
    assert sum(len(v) for v in data["expect"].values()) == 15  # under the storm threshold: 15 parents
    return data


def posts(bot) -> list[dict]:
    return [args for method, args in bot.sb.slack.service.calls if method == "chat.postMessage"]


@pytest.mark.parametrize("lost", [-1, 503], ids=["connection-closed", "server-error"])
def test_fifteen_alerts_with_every_answer_lost_make_fifteen_parents(make_bot, lost):
    with Sandbox(slack_post_rate_per_s=100, slack_post_burst=100) as sb:
        sb.load(fifteen_failures(), validate=False)
        _fifteen(make_bot(sandbox=sb, load=False), lost)


def _fifteen(bot, lost):
    bot.sb.slack.service.drop_answers("chat.postMessage", times=10_000, status=lost)
    bot.scan()
    alerts = bot.store.open_alerts()
    assert len(alerts) == 15
    parents = bot.parents()
    assert len(parents) == 15  # not 30
    assert sorted(m.ts for m in parents) == sorted(a["ts"] for a in alerts)  # the ts found, saved
    for a in alerts:
        thread = bot.d.thread(ALERT_CHANNEL, a["ts"])
        assert len(thread) == 2, [m.visible_text()[:60] for m in thread]  # one explanation, not two
    # Every message was sent once and found once; the look-ups read the history, not the posts.
    assert len(posts(bot)) == 30
    looked = [m for m, _ in bot.sb.slack.service.calls if m in ("conversations.history", "conversations.replies")]
    assert looked.count("conversations.history") >= 15 and looked.count("conversations.replies") >= 15
    # A second scan (answers still lost) changes nothing.
    bot.scan()
    assert len(bot.parents()) == 15


def test_a_post_lost_before_slack_took_it_is_sent_again_once(make_bot):
    bot = make_bot("missing-customer")
    bot.sb.slack.service.fail_next("chat.postMessage", status=-1)  # closed before it is processed
    bot.scan()
    [parent] = bot.parents()
    assert parent.ts == bot.alert("3001:missing-customer")["ts"]
    assert len(bot.d.thread(ALERT_CHANNEL, parent.ts)) == 2
    assert len(posts(bot)) == 3  # the lost one, the parent again (nothing found), the explanation
    assert bot.sb.log.count_status("slack", -1) == 1


def test_a_button_reply_whose_answer_is_lost_is_in_the_thread_once(make_bot):
    bot = make_bot("missing-customer")
    bot.scan()
    key = "3001:missing-customer"
    before = len(bot.thread_texts(key))
    bot.sb.slack.service.drop_answers("chat.postMessage", times=1)
    bot.d.click(ALICE, ALERT_CHANNEL, bot.alert(key)["ts"], "qbsync:ack")
    bot.wait_audit(key, "slack:ack", "ok")
    bot.d.wait_for(lambda: len(bot.thread_texts(key)) > before)
    thread = bot.thread_texts(key)
    assert len(thread) == before + 1 and "is looking at this" in thread[-1], thread
