"""The digest across restarts and reopenings (issue 12 part 6), end to end through the Slack
stand-in: the chart is never attached twice (a crash during its upload, before it, a lost
answer), and a failure resolved, reopened by a later scan and resolved again counts as two
episodes, each timed from its own (re)opening. The digest's basics: tests/e2e/test_digest.py."""
from __future__ import annotations

from datetime import datetime, timezone

from bot.digest import build_figures
from bot.digest_chart import PNG_MAGIC
from bot.digest_schedule import Period
from bot.slack.digest_message import duration_words
from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE
from .test_digest import DAY, FIXED, digests, next_monday_0800, spread_over_the_week


class Killed(BaseException):
    """The process dies here (not an error anything in qbsync handles)."""


def chart_replies(bot, digest) -> list:
    return [r for r in bot.d.thread(ALERT_CHANNEL, digest.ts)[1:] if r.files]


def week_of_failures(make_bot):
    """The mixed scenario's failures spread over the week before a digest that is due now:
    (the bot, the digest's due time)."""
    bot = make_bot("mixed")
    bot.scan()
    due = next_monday_0800(max(a["created_at"] for a in bot.store.list_alerts()))
    spread_over_the_week(bot, due)
    bot.parts.digest.clock = lambda: due + 60
    return bot, due


def test_a_crash_during_the_chart_upload_does_not_attach_it_twice_after_the_restart(make_bot):
    bot, due = week_of_failures(make_bot)
    upload = bot.parts.poster.upload

    def dies_after_slack_shared_it(*args, **kwargs):
        upload(*args, **kwargs)      # files.completeUploadExternal answered: the chart is in the thread
        raise Killed                 # the process dies before the chart is recorded
    bot.parts.poster.upload = dies_after_slack_shared_it
    try:
        bot.parts.digest.send_if_due()
    except Killed:
        pass
    else:
        raise AssertionError("the injected crash did not happen")
    [digest] = digests(bot)
    assert len(chart_replies(bot, digest)) == 1
    assert bot.store.get_cursor("digest.charted") is None       # not recorded: the crash came first

    # A restart on the same database: the digest's thread is read before uploading.
    bot.runner.stop()
    bot.parts.store.close()
    calls = len(bot.sb.slack.service.calls)
    again = make_bot(sandbox=bot.sb, load=False)
    again.parts.digest.clock = lambda: due + 3600
    again.scan()
    again.scan()
    [digest] = digests(again)
    [reply] = chart_replies(again, digest)
    assert reply.files[0]["data"][:8] == PNG_MAGIC
    looked = [a for m, a in again.sb.slack.service.calls[calls:] if m == "conversations.replies"]
    assert [a["ts"] for a in looked] == [digest.ts]
    assert not [m for m, _ in again.sb.slack.service.calls[calls:] if m.startswith("files.")]
    period = datetime.fromtimestamp(due, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    assert again.store.get_cursor("digest.charted") == period
    [entry] = [e for e in again.store.audit_entries() if e["action"] == "digest:chart"]
    assert entry["outcome"] == "ok" and entry["detail"]["found"] == "restart"
    bot.parts.store.close = lambda: None  # closed above; the fixture closes it again


def test_a_crash_before_the_upload_began_attaches_the_chart_once_after_the_restart(make_bot):
    bot, due = week_of_failures(make_bot)

    def dies(*args, **kwargs):
        raise Killed
    bot.parts.poster.upload = dies
    try:
        bot.parts.digest.send_if_due()
    except Killed:
        pass
    [digest] = digests(bot)
    assert chart_replies(bot, digest) == []
    bot.runner.stop()
    bot.parts.store.close()
    again = make_bot(sandbox=bot.sb, load=False)
    again.parts.digest.clock = lambda: due + 3600
    again.scan()
    again.scan()
    [digest] = digests(again)
    assert len(chart_replies(again, digest)) == 1   # looked for, not there: attached once
    bot.parts.store.close = lambda: None


def test_an_upload_whose_answer_was_lost_is_found_in_the_thread_not_called_missing(make_bot):
    bot, due = week_of_failures(make_bot)
    bot.sb.slack.service.drop_answers("files.completeUploadExternal")   # shared; the answer is lost
    bot.scan()
    [digest] = digests(bot)
    assert len(chart_replies(bot, digest)) == 1
    assert not digest.edited and "could not be attached" not in digest.visible_text()
    [entry] = [e for e in bot.store.audit_entries() if e["action"] == "digest:chart"]
    assert entry["outcome"] == "ok" and entry["detail"]["found"].startswith("after "), entry


def set_audit_times(bot, key: str, action: str, times: list[float]) -> None:
    rows = bot.store.query_rows("SELECT id FROM audit_log WHERE target = ? AND action = ? ORDER BY id", (key, action))
    assert len(rows) == len(times), (action, rows)
    with bot.store.transaction() as conn:
        for row, at in zip(rows, times, strict=True):
            conn.execute("UPDATE audit_log SET at = ? WHERE id = ?", (at, row["id"]))


def test_a_failure_resolved_reopened_by_a_scan_and_resolved_again_counts_each_episode(make_bot):
    bot = make_bot("mixed")
    bot.scan()
    ts = bot.alert(FIXED)["ts"]
    bot.d.click(ALICE, ALERT_CHANNEL, ts, "qbsync:resolve")           # resolved by hand, nothing fixed
    bot.d.wait_for(lambda: bot.alert(FIXED)["state"] == "resolved")
    bot.scan()                                                         # the cause is still there
    assert bot.alert(FIXED)["state"] == "open"
    bot.wait_audit(FIXED, "alert:reopen", "ok")
    bot.d.click(ALICE, ALERT_CHANNEL, ts, "qbsync:fix:create-customer")
    bot.wait_audit(FIXED, "slack:fix:create-customer", "ok")
    assert bot.alert(FIXED)["state"] == "resolved"

    # The story spread over the week before the digest: first seen 5.5 days before, resolved a
    # day later, back 2.5 days before, fixed 3 hours after that. Every other failure: a day before.
    due = next_monday_0800(bot.alert(FIXED)["resolved_at"])
    others = [a["key"] for a in bot.store.list_alerts() if a["key"] != FIXED]
    with bot.store.transaction() as conn:
        conn.execute("UPDATE alerts SET created_at = ? WHERE key = ?", (due - 5.5 * DAY, FIXED))
        conn.execute("UPDATE alerts SET resolved_at = ? WHERE key = ?", (due - 2.5 * DAY + 3 * 3600, FIXED))
        for key in others:
            conn.execute("UPDATE alerts SET created_at = ? WHERE key = ?", (due - DAY, key))
    set_audit_times(bot, FIXED, "alert:resolve", [due - 4.5 * DAY, due - 2.5 * DAY + 3 * 3600])
    set_audit_times(bot, FIXED, "alert:reopen", [due - 2.5 * DAY])

    bot.parts.digest.clock = lambda: due + 60
    bot.parts.digest.send_if_due()
    [digest] = digests(bot)
    text = digest.visible_text()
    # Two episodes: two new, two resolved (new - resolved = the open ones, which all came this week).
    assert f"{len(others) + 2} new · 2 resolved · {len(others)} open now" in text
    assert "• No QuickBooks customer has the contact's email: 3 new, 1 open" in text
    assert f"• <@{ALICE}> (1): INV-1003" in text
    # Time to resolve per episode: 1 day, then 3 hours (not 3 days 3 hours from the first detection).
    median = duration_words((DAY + 3 * 3600) / 2, "en")
    assert f"*Time to resolve*: median {median}, worst 1 day" in text
    # The chart's "open at the day's end" line: only while an episode ran.
    fig = build_figures(bot.store, Period(due - 7 * DAY, due), "en")
    assert [d.new for d in fig.days] == [0, 1, 0, 0, 1, 0, len(others)]
    assert [d.open for d in fig.days] == [0, 1, 0, 0, 0, 0, len(others)]
    [reply] = [r for r in bot.d.thread(ALERT_CHANNEL, digest.ts)[1:] if r.files]
    assert reply.files[0]["data"][:8] == PNG_MAGIC
