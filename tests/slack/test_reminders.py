"""Reminders (issue 12): an open alert nobody acknowledged is raised again in its thread after
QBSYNC_REMIND_AFTER_HOURS, mentioning the fixers, once per invoice thread, under a daily cap,
and a restart neither repeats nor forgets one."""
from __future__ import annotations

import time

import pytest

from bot import wiring
from bot.alerts import AlertService
from bot.config import load_settings
from bot.store import Store
from sandbox.app import Sandbox

HOUR = 3600.0


@pytest.fixture
def world(tmp_path):
    with Sandbox(slack_post_rate_per_s=100, slack_post_burst=100) as sb:
        sb.load("mixed")
        env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"),
                                      "QBSYNC_FIX_ALLOWED": "U0ALLOWED1,S0FIXERS1",
                                      "QBSYNC_REMIND_AFTER_HOURS": "24", "QBSYNC_REMINDERS_PER_DAY": "20"}
        settings = load_settings(env, env_file=None)
        parts = wiring.build(settings, post_interval=0)
        parts.scanner.scan()  # five failing invoices, INV-1007 with two causes in one thread
        yield sb, settings, parts


def service(parts, settings, now, *, per_day=20, store=None):
    return AlertService(store or parts.store, parts.poster, settings.alert_channel or "", clock=lambda: now[0],
                        remind_after_s=settings.remind_after_hours * HOUR, reminders_per_day=per_day,
                        fixers=settings.fix_allowed)


def reminders(sb, parts):
    """Reminder replies per invoice number, read from Slack."""
    out: dict[str, int] = {}
    threads = {(a["channel"], a["ts"]): a["invoice_number"] for a in parts.store.list_alerts() if a["ts"]}
    for (channel, ts), number in threads.items():
        out[number] = sum(":bell:" in m.text for m in sb.slack.driver.thread(channel, ts))
    return out


def test_reminder_after_the_threshold_mentions_the_fixers_once_per_thread(world):
    sb, settings, parts = world
    now = [time.time() + 23 * HOUR]
    alerts = service(parts, settings, now)
    assert alerts.remind_unacknowledged() == []  # not yet
    now[0] += 2 * HOUR
    reminded = alerts.remind_unacknowledged()
    assert len(reminded) == 5  # one per invoice thread: INV-1007's two causes share one
    counts = reminders(sb, parts)
    assert counts == {"INV-1002": 1, "INV-1003": 1, "INV-1005": 1, "INV-1006": 1, "INV-1007": 1}
    a = parts.store.get_alert("3002:duplicate-display-name")
    last = sb.slack.driver.thread(a["channel"], a["ts"])[-1]
    assert "<@U0ALLOWED1>" in last.text and "<!subteam^S0FIXERS1>" in last.text
    assert [e["action"] for e in parts.store.audit_entries(target=a["key"])].count("alert:remind") == 1

    # Not again before the threshold has passed again since the reminder...
    now[0] += 23 * HOUR
    assert alerts.remind_unacknowledged() == []
    # ...and again after it.
    now[0] += 2 * HOUR
    assert len(alerts.remind_unacknowledged()) == 5
    assert set(reminders(sb, parts).values()) == {2}


def test_no_reminder_when_acknowledged_or_snoozed(world):
    sb, settings, parts = world
    now = [time.time() + 25 * HOUR]
    parts.store.transition("3002:duplicate-display-name", "acknowledged", by="U0ALLOWED1")
    parts.store.transition("3003:missing-customer", "snoozed", snoozed_until=now[0] + 100 * HOUR, by="U0ALLOWED1")
    # One cause of INV-1007 acknowledged: someone is on its thread.
    key_1007 = next(a["key"] for a in parts.store.list_alerts() if a["invoice_number"] == "INV-1007")
    parts.store.transition(key_1007, "acknowledged", by="U0ALLOWED1")
    service(parts, settings, now).remind_unacknowledged()
    counts = reminders(sb, parts)
    assert counts["INV-1002"] == counts["INV-1003"] == counts["INV-1007"] == 0
    assert counts["INV-1005"] == counts["INV-1006"] == 1


def test_the_daily_cap_holds_across_passes(world):
    sb, settings, parts = world
    now = [time.time() + 25 * HOUR]
    alerts = service(parts, settings, now, per_day=3)
    assert len(alerts.remind_unacknowledged()) == 3
    now[0] += HOUR
    assert alerts.remind_unacknowledged() == []  # the cap: 3 in the last 24 h
    assert sum(reminders(sb, parts).values()) == 3
    now[0] += 24 * HOUR  # the first three are a day old: room again, the waiting two go first
    second = alerts.remind_unacknowledged()
    assert len(second) == 3
    assert sum(reminders(sb, parts).values()) == 6 and set(reminders(sb, parts).values()) <= {1, 2}


def test_restart_neither_repeats_nor_forgets(world):
    sb, settings, parts = world
    now = [time.time() + 25 * HOUR]
    assert len(service(parts, settings, now, per_day=2).remind_unacknowledged()) == 2
    # A restart: a new service on the same database file.
    store = Store(settings.db_path)
    restarted = service(parts, settings, now, per_day=20, store=store)
    assert len(restarted.remind_unacknowledged()) == 3  # only the three not reminded yet
    assert restarted.remind_unacknowledged() == []
    assert set(reminders(sb, parts).values()) == {1}


def test_a_scan_reminds_at_its_end_and_zero_turns_it_off(world):
    sb, settings, parts = world
    assert parts.alerts.remind_after_s == 24 * HOUR and parts.alerts.reminders_per_day == 20
    later = time.time() + 25 * HOUR
    parts.alerts.clock = lambda: later
    parts.alerts.remind_after_s = 0  # QBSYNC_REMIND_AFTER_HOURS=0
    parts.scanner.scan()
    assert set(reminders(sb, parts).values()) == {0}
    parts.alerts.remind_after_s = 24 * HOUR
    parts.scanner.scan()
    assert set(reminders(sb, parts).values()) == {1}


class Killed(BaseException):
    """The process dies here (not an error anything in qbsync handles)."""


class DiesOnPost:
    """The bot's SlackPoster, but the process dies when it is about to send a post."""

    def __init__(self, poster):
        self._poster = poster

    def __getattr__(self, name):
        return getattr(self._poster, name)

    def post(self, *args, **kwargs):
        raise Killed


def test_a_crash_after_slack_took_the_reminder_and_before_its_row_is_saved_posts_it_once(world):
    sb, settings, parts = world
    now = [time.time() + 25 * HOUR]
    alerts = service(parts, settings, now, per_day=1)

    def die(*args, **kwargs):  # Slack took the reminder; the process dies before the row is written
        raise Killed
    parts.store.record_reminder = die
    with pytest.raises(Killed):
        alerts.remind_unacknowledged()
    assert sum(reminders(sb, parts).values()) == 1          # it is in Slack...
    assert parts.store.reminders_since(0) == 0              # ...but not in the store
    mark = parts.store.started_reminder()
    assert mark is not None and mark["block_id"].startswith("qbsync-remind-")

    # A restart: new parts on the same database. The thread is searched (conversations.replies)
    # before anything is posted: the reminder is found, recorded, and not posted again.
    calls = len(sb.slack.service.calls)
    again = wiring.build(settings, post_interval=0)
    try:
        restarted = service(again, settings, now)
        reminded = restarted.remind_unacknowledged()
        assert len(reminded) == 4 and mark["key"] not in reminded   # the other four threads
        assert set(reminders(sb, again).values()) == {1}             # exactly one reminder per thread
        searched = [args for m, args in sb.slack.service.calls[calls:] if m == "conversations.replies"]
        assert [a["ts"] for a in searched] == [mark["ts"]]
        assert again.store.started_reminder() is None
        assert again.store.last_reminder(mark["channel"], mark["ts"]) == mark["at"]
        found = [e for e in again.store.audit_entries(target=mark["key"]) if e["action"] == "alert:remind"]
        assert [e["detail"].get("found_after_restart") for e in found] == [True]
        # The found one counts: not due again before the threshold, and the cap counts it.
        assert restarted.remind_unacknowledged() == []
        assert again.store.reminders_since(0) == 5
    finally:
        again.store.close()


def test_a_crash_before_slack_took_the_reminder_posts_it_once_after_the_restart(world):
    sb, settings, parts = world
    now = [time.time() + 25 * HOUR]
    dying = AlertService(parts.store, DiesOnPost(parts.poster), settings.alert_channel or "",
                         clock=lambda: now[0], remind_after_s=24 * HOUR, reminders_per_day=1,
                         fixers=settings.fix_allowed)
    with pytest.raises(Killed):
        dying.remind_unacknowledged()
    mark = parts.store.started_reminder()
    assert mark is not None and sum(reminders(sb, parts).values()) == 0
    store = Store(settings.db_path)
    try:
        restarted = service(parts, settings, now, store=store)
        assert len(restarted.remind_unacknowledged()) == 5       # looked for, not found: posted now
        assert set(reminders(sb, parts).values()) == {1}
        assert store.started_reminder() is None and store.reminders_since(0) == 5
    finally:
        store.close()
