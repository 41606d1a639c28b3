"""qbsync under Slack's per-method rate limits (the stand-in's tiers, sandbox/slack_limits.py),
end to end through the real bot: links that Slack will not give in time are left out and
nothing else is lost; uploads that hit a limit are waited out; and the crash recovery that
reads conversations.history / conversations.replies settles under the 2025 non-Marketplace
limits (1 request a minute, 15 messages a page: https://docs.slack.dev/reference/methods/conversations.history)."""
from __future__ import annotations

import time

import pytest

from bot import wiring
from bot.alerts import parent_key
from bot.slack.messages import parent_block_id
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.poller.conftest import build, parents
from tests.slack.test_reminders import HOUR, Killed, reminders, service
from tests.test_kill9 import PostThenDie

from .conftest import ALICE, CARMEN
from .test_digest import digests, next_monday_0800, spread_over_the_week


@pytest.fixture
def sandbox_with():
    made = []

    def make(**kw) -> Sandbox:
        sb = Sandbox(slack_post_rate_per_s=100, slack_post_burst=100, **kw).start()
        made.append(sb)
        return sb
    yield make
    for sb in made:
        sb.stop()


def calls(sb, method: str) -> int:
    return sum(1 for m, _ in sb.slack.service.calls if m == method)


def test_digest_and_list_leave_out_the_links_slack_will_not_give_and_lose_nothing(make_bot, sandbox_with):
    sb = sandbox_with(slack_method_limits={"chat.getPermalink": 2})
    bot = make_bot("mixed", sandbox=sb, viewers=CARMEN)
    bot.scan()
    assert len(parents(sb)) == 5                      # every failing invoice has its parent
    due = next_monday_0800(max(a["created_at"] for a in bot.store.list_alerts()))
    spread_over_the_week(bot, due)
    bot.parts.digest.clock = lambda: due + 60
    started = time.monotonic()
    bot.scan()
    [digest] = digests(bot)
    text = digest.visible_text()
    oldest = [line for line in text.splitlines() if line.startswith("• ") and "failing for" in line]
    # Two links were had; the third lookup got a 429 with a minute's Retry-After and was not
    # waited for: the rest are named without a link, none is left out.
    assert len(oldest) == 5
    assert sum(line.startswith("• <https://") for line in oldest) == 2
    for number in ("INV-1002", "INV-1005", "INV-1006", "INV-1007"):
        assert number in text
    assert sb.slack.service.rate_limited_by_method == {"chat.getPermalink": 1}
    assert calls(sb, "chat.getPermalink") == 3        # then no more asking into a closed window
    # The chart is there all the same, and the digest did not stall for the window.
    [_, chart] = bot.d.thread(ALERT_CHANNEL, digest.ts)
    assert chart.files[0]["name"].endswith(".png")
    assert time.monotonic() - started < 20

    # /qbsync list answers at once with every open alert; links it cannot have are left out.
    [listed] = bot.command(ALICE, "list")
    for a in bot.store.open_alerts():
        assert a["invoice_number"] in listed
    assert calls(sb, "chat.getPermalink") == 3
    assert "None" not in listed and "None" not in text


def test_uploads_over_the_files_limit_wait_for_slack_and_arrive(make_bot, sandbox_with):
    # One upload a window, and a 3-second window so that slack_sdk's wait (Retry-After) is short.
    sb = sandbox_with(slack_method_limits={"files.getUploadURLExternal": 1, "files.completeUploadExternal": 1})
    sb.slack.service.set_method_limits(window_s=3)
    bot = make_bot("mixed", sandbox=sb, viewers=CARMEN)
    bot.scan()
    [answer] = bot.command(ALICE, "export")           # upload 1: the CSV, into ALICE's DM
    assert "direct messages" in answer
    bot.command(CARMEN, "digest")                      # upload 2: the chart, refused once, waited out
    [digest] = digests(bot)
    [_, chart] = bot.d.thread(ALERT_CHANNEL, digest.ts)
    assert chart.files[0]["name"].endswith(".png")
    [dm_msg] = sb.slack.workspace.messages["D" + ALICE[1:]]
    assert dm_msg.files[0]["name"].endswith(".csv")
    assert sb.slack.service.rate_limited_by_method.get("files.getUploadURLExternal", 0) >= 1
    assert calls(sb, "files.completeUploadExternal") == 2     # each file shared once
    assert [e["outcome"] for e in bot.store.audit_entries() if e["action"] == "digest:chart"] == ["ok"]


def test_non_marketplace_limits_a_parent_found_after_a_crash_in_one_page_of_15(tmp_path, sandbox_with):
    sb = sandbox_with(slack_non_marketplace=True)
    sb.load("mixed")
    parts = build(sb, tmp_path / "gap.db")
    parts.alerts.poster = PostThenDie(parts.poster)
    with pytest.raises(SystemExit):
        parts.scanner.scan()
    [lost] = [a for a in parts.store.open_alerts() if a["post_started_at"] and not a["ts"]]
    restarted = build(sb, tmp_path / "gap.db", store=Store(tmp_path / "gap.db"))
    try:
        restarted.scanner.scan()
        assert len(parents(sb)) == 5                   # none twice, none missing
        again = restarted.store.get_alert(lost["key"])
        first = parents(sb)[0]
        assert again["ts"] == first.ts and first.blocks[0]["block_id"] == parent_block_id(parent_key(again))
        history = [args for m, args in sb.slack.service.calls if m == "conversations.history"]
        assert len(history) == 1 and int(history[0]["limit"]) <= 15   # one call: within the minute
        assert sb.slack.service.rate_limited == 0
    finally:
        restarted.store.close()


def test_non_marketplace_reminder_crash_settles_with_one_replies_call(tmp_path, sandbox_with):
    sb = sandbox_with(slack_non_marketplace=True)
    sb.load("mixed")
    env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"),
                                  "QBSYNC_FIX_ALLOWED": "U0ALLOWED1,S0FIXERS1",
                                  "QBSYNC_REMIND_AFTER_HOURS": "24", "QBSYNC_REMINDERS_PER_DAY": "20"}
    from bot.config import load_settings
    settings = load_settings(env, env_file=None)
    parts = wiring.build(settings, post_interval=0)
    parts.scanner.scan()
    now = [time.time() + 25 * HOUR]
    alerts = service(parts, settings, now, per_day=1)

    def die(*args, **kwargs):   # Slack took the reminder; the process dies before its row is saved
        raise Killed
    parts.store.record_reminder = die
    with pytest.raises(Killed):
        alerts.remind_unacknowledged()
    mark = parts.store.started_reminder()
    again = wiring.build(settings, post_interval=0)
    try:
        before = len(sb.slack.service.calls)
        assert len(service(again, settings, now).remind_unacknowledged()) == 4
        assert set(reminders(sb, again).values()) == {1}          # exactly one per thread
        searched = [a for m, a in sb.slack.service.calls[before:] if m == "conversations.replies"]
        assert [a["ts"] for a in searched] == [mark["ts"]] and int(searched[0]["limit"]) <= 15
        assert sb.slack.service.rate_limited == 0
        assert again.store.started_reminder() is None and again.store.reminders_since(0) == 5
    finally:
        again.store.close()
        parts.store.close()
