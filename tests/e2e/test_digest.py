"""The digest (issue 12 part 6) end to end: the real bot scans the sandbox, alerts spread over
a week in the store, the digest goes out from the scan through the Slack stand-in (chat.postMessage,
chat.getPermalink, files_upload_v2), once per period, across a restart."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from PIL import Image

from bot.digest_chart import PNG_MAGIC
from bot.slack.digest_message import digest_block_id, duration_words
from sandbox.slack_workspace import ALERT_CHANNEL, BOT_TOKEN

from .conftest import ALICE, BRAM, CARMEN

DAY = 86400


def next_monday_0800(after: float) -> float:
    t = datetime.fromtimestamp(after, timezone.utc).replace(hour=8, minute=0, second=0, microsecond=0)
    t += timedelta(days=(7 - t.weekday()) % 7 or 7)
    return t.timestamp()


def digests(bot) -> list:
    """Top-level digest messages in the alert channel (their first block's id names a period)."""
    return [m for m in bot.parents() if m.blocks and m.blocks[0].get("block_id", "").startswith("qbsync-digest-")]


def age(bot, key: str, created_at: float) -> None:
    with bot.store.transaction() as conn:
        conn.execute("UPDATE alerts SET created_at = ? WHERE key = ?", (created_at, key))


FIXED = "3003:missing-customer"   # ALICE fixes it (create the customer): it stays resolved


def spread_over_the_week(bot, due: float) -> None:
    """The mixed world's alerts, first seen on different days of the week before `due`; one
    first seen two weeks ago (before the period)."""
    age(bot, "3002:duplicate-display-name", due - 15 * DAY)        # open, from before the period
    age(bot, "3005:native-invoice-modified", due - 6 * DAY - 3600)  # open, the oldest new one
    age(bot, FIXED, due - 5 * DAY)
    for a in bot.store.list_alerts():
        if a["key"] not in ("3002:duplicate-display-name", "3005:native-invoice-modified", FIXED):
            age(bot, a["key"], due - 2 * DAY)


def test_weekly_digest_once_per_period_with_figures_and_a_png_chart(make_bot):
    bot = make_bot("mixed")
    bot.scan()                              # a fresh install: last Monday's digest predates it
    assert digests(bot) == []
    bot.d.click(ALICE, ALERT_CHANNEL, bot.alert(FIXED)["ts"], "qbsync:fix:create-customer")
    bot.wait_audit(FIXED, "slack:fix:create-customer", "ok")
    resolved_at = bot.alert(FIXED)["resolved_at"]
    due = next_monday_0800(resolved_at)
    spread_over_the_week(bot, due)
    open_count = len(bot.store.open_alerts())

    bot.parts.digest.clock = lambda: due - 60        # not due yet: last week's predates the install
    bot.scan()
    assert digests(bot) == []
    bot.parts.digest.clock = lambda: due + 3600      # an hour after it was due: the next scan sends it
    bot.scan()
    [digest] = digests(bot)
    assert digest.blocks[0]["block_id"] == digest_block_id(datetime.fromtimestamp(due, timezone.utc)
                                                           .strftime("%Y-%m-%dT%H:%MZ"))
    text = digest.visible_text()
    assert text.startswith("*:bar_chart: Weekly qbsync digest* (<!date^")
    new = len(bot.store.list_alerts()) - 1            # all but the one first seen 15 days ago
    assert f"{new} new · 1 resolved · {open_count} open now" in text
    # Counts by cause, by the rule's title (not its id).
    assert "• The customer name is already taken in QuickBooks: 0 new, 1 open" in text
    assert "• No QuickBooks customer has the contact's email: 2 new, 1 open" in text
    assert "• A HubSpot invoice was changed in QuickBooks after it synced: 1 new, 1 open" in text
    assert "native-invoice-modified" not in text
    # Oldest open first, each linking to its thread (chat.getPermalink) and saying how long.
    oldest = [line for line in text.splitlines() if line.startswith("• <https://")]
    assert oldest[0].endswith("· failing for 15 days 1 hour") and "|INV-1002>" in oldest[0]
    assert "|INV-1005>" in oldest[1] and oldest[1].endswith("failing for 6 days 2 hours")
    assert len(oldest) == 5 and not any("|INV-1003>" in line for line in oldest)
    a1002 = bot.alert("3002:duplicate-display-name")
    assert f"/archives/{ALERT_CHANNEL}/p{a1002['ts'].replace('.', '')}|INV-1002>" in oldest[0]
    # Who resolved what, as a mention; time to resolve in words.
    assert f"• <@{ALICE}> (1): INV-1003" in text
    took = duration_words(resolved_at - (due - 5 * DAY), "en")
    assert f"*Time to resolve*: median {took}, worst {took}" in text
    assert "None" not in text and "True" not in text and "{'" not in text

    # The chart: a real PNG in the digest's thread, 800 x 400.
    [parent, reply] = bot.d.thread(ALERT_CHANNEL, digest.ts)
    [f] = reply.files
    assert f["name"].endswith(".png") and f["title"] == "Failures per day (UTC)"
    assert f["data"][:8] == PNG_MAGIC and f["mimetype"] == "image/png"
    with Image.open(io.BytesIO(f["data"])) as img:
        img.load()
        assert img.format == "PNG" and img.size == (800, 400)
    assert reply.text == "Failures per day over the last 7 days"

    # Not again in the same period, nor after a restart (new process on the same database).
    bot.parts.digest.clock = lambda: due + 2 * DAY
    bot.scan()
    assert len(digests(bot)) == 1
    bot.runner.stop()
    bot.parts.store.close()
    again = make_bot(sandbox=bot.sb, load=False)
    again.parts.digest.clock = lambda: due + 3 * DAY
    again.scan()
    assert len(digests(again)) == 1
    # The next week's is due a week later, and goes out once.
    again.parts.digest.clock = lambda: due + 7 * DAY + 60
    again.scan()
    again.scan()
    assert len(digests(again)) == 2
    bot.parts.store.close = lambda: None  # closed above; the fixture closes it again


def test_daily_mode_posts_each_day_once_and_off_posts_nothing(make_bot):
    bot = make_bot("mixed", env={"QBSYNC_DIGEST": "daily", "QBSYNC_DIGEST_AT": "07:30"})
    bot.scan()
    day1 = next_monday_0800(max(a["created_at"] for a in bot.store.list_alerts())) - 1800  # Monday 07:30
    # At 07:29 the latest due is the day before's (07:30): sent once; at 07:31 today's; then
    # nothing until tomorrow 07:30.
    for when, expected in ((day1 - 60, 1), (day1 - 30, 1), (day1 + 60, 2), (day1 + 12 * 3600, 2),
                           (day1 + DAY + 5, 3), (day1 + DAY + 7200, 3)):
        bot.parts.digest.clock = lambda when=when: when
        bot.scan()
        assert len(digests(bot)) == expected, when - day1
    assert digests(bot)[-1].visible_text().startswith("*:bar_chart: Daily qbsync digest* (")

    off = make_bot("mixed", env={"QBSYNC_DIGEST": "off"}, db_name="off.db")
    off.scan()
    for when in (day1 + DAY, day1 + 8 * DAY):
        off.parts.digest.clock = lambda when=when: when
        off.scan()
    assert digests(off) == []


def test_a_refused_upload_keeps_the_text_and_says_the_chart_is_missing(make_bot):
    bot = make_bot("mixed")
    bot.scan()
    ws = bot.sb.slack.workspace
    ws.add_token(BOT_TOKEN, "bot", [s for s in ws.tokens[BOT_TOKEN].scopes if s != "files:write"])
    due = next_monday_0800(max(a["created_at"] for a in bot.store.list_alerts()))
    spread_over_the_week(bot, due)
    bot.parts.digest.clock = lambda: due + 60
    bot.scan()
    [digest] = digests(bot)
    text = digest.visible_text()
    assert "open now" in text and "No QuickBooks customer has the contact's email" in text
    assert "The chart could not be attached (`missing_scope`); the figures above are complete." in text
    assert digest.edited
    assert len(bot.d.thread(ALERT_CHANNEL, digest.ts)) == 1   # no reply: no chart
    [entry] = [e for e in bot.store.audit_entries() if e["action"] == "digest:chart"]
    assert entry["outcome"] == "failed" and entry["detail"] == {"error": "missing_scope"}
    # Sent once all the same: the next scan does not try the period again.
    bot.scan()
    assert len(digests(bot)) == 1


def test_a_quiet_week_gets_a_short_message_without_a_chart(make_bot):
    bot = make_bot("mixed", env={"QBSYNC_LANGUAGE": "nl"})   # nothing scanned: no failures at all
    due = next_monday_0800(bot.store.query_rows("SELECT MAX(applied_at) AS at FROM schema_migrations")[0]["at"])
    bot.parts.digest.clock = lambda: due + 60
    bot.parts.digest.send_if_due()
    [digest] = digests(bot)
    assert digest.visible_text().startswith("*:bar_chart: Wekelijks overzicht van qbsync* (")
    assert digest.visible_text().endswith("Deze week geen mislukte synchronisaties, en niets staat open. :tada:")
    assert len(bot.d.thread(ALERT_CHANNEL, digest.ts)) == 1


def test_qbsync_digest_posts_one_now_for_viewers_only(make_bot):
    bot = make_bot("mixed", viewers=CARMEN)
    bot.scan()
    [no] = bot.command(BRAM, "digest")
    assert "QBSYNC_VIEW_ALLOWED" in no and digests(bot) == []
    [yes] = bot.command(CARMEN, "digest")
    assert yes == f"El resumen está en <#{ALERT_CHANNEL}>."
    [digest] = digests(bot)
    assert f"{len(bot.store.list_alerts())} new · 0 resolved" in digest.visible_text()
    assert [r.files[0]["data"][:8] for r in bot.d.thread(ALERT_CHANNEL, digest.ts)[1:]] == [PNG_MAGIC]
    # On demand is outside the schedule: the scheduled digest is not marked sent.
    assert bot.store.get_cursor("digest.sent") is None
    assert [(e["actor"], e["outcome"]) for e in bot.store.audit_entries() if e["action"] == "command:digest"] \
        == [(BRAM, "refused"), (CARMEN, "ok")]


def test_counts_of_one_say_the_singular_in_spanish(make_bot):
    # The Spanish count words agree with the number: "1 resuelto", "1 abierto", not "1 resueltos".
    bot = make_bot("mixed", env={"QBSYNC_LANGUAGE": "es"})
    bot.scan()
    bot.d.click(ALICE, ALERT_CHANNEL, bot.alert(FIXED)["ts"], "qbsync:fix:create-customer")
    bot.wait_audit(FIXED, "slack:fix:create-customer", "ok")
    due = next_monday_0800(bot.alert(FIXED)["resolved_at"])
    spread_over_the_week(bot, due)
    open_count = len(bot.store.open_alerts())
    bot.parts.digest.clock = lambda: due + 60
    bot.scan()
    [digest] = digests(bot)
    text = digest.visible_text()
    new = len(bot.store.list_alerts()) - 1
    assert f"{new} nuevos · 1 resuelto · {open_count} abiertos ahora" in text
    by_cause = [line for line in text.splitlines() if line.startswith("• ") and "<https://" not in line
                and "<@" not in line]
    assert len(by_cause) == 4
    assert sum(line.endswith(": 2 nuevos, 2 abiertos") for line in by_cause) == 1  # the duplicate number
    assert sum(line.endswith(": 0 nuevos, 1 abierto") for line in by_cause) == 1   # the taken name, 15 days old
    assert sum(line.endswith(": 2 nuevos, 1 abierto") for line in by_cause) == 1   # the missing customer
    assert sum(line.endswith(": 1 nuevo, 1 abierto") for line in by_cause) == 1    # the native invoice
    assert "1 resueltos" not in text and "1 abiertos" not in text
