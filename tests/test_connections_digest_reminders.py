"""The digest and reminders per connection (issue 12 parts 5 and 6 on a multi-company install,
bot/connections.py): a worker's scan of each connection (bot/jobs.py WorkerScans, in this
process, SQLite, the sandbox over HTTP) sends that connection's digest and reminders in its
own channel, in its own language, on its own schedule and threshold, mentioning its own
fixers, from its own store; nothing of one company reaches another's channel."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from bot import wiring
from bot.config import load_settings
from bot.jobs import DEFAULT_CONNECTION, WorkerScans
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.tenants import SECRET_KEY, register

ACME_TEAM = "T0ACME0001"
ACME_FIXER = "U0ACMEFIX1"
HOUR = 3600


@pytest.fixture
def sb():
    s = Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000).start()
    yield s
    s.stop()


def next_monday_0800(after: float) -> float:
    t = datetime.fromtimestamp(after, timezone.utc).replace(hour=8, minute=0, second=0, microsecond=0)
    t += timedelta(days=(7 - t.weekday()) % 7 or 7)
    return t.timestamp()


def digests(sb, channel: str) -> list:
    return [m for m in sb.slack.driver.transcript(channel)
            if not m.is_reply and m.blocks and m.blocks[0].get("block_id", "").startswith("qbsync-digest-")]


def reminders(sb, channel: str) -> list:
    """Reminder replies in the threads of the channel's parents."""
    d = sb.slack.driver
    return [r for p in d.transcript(channel) if not p.is_reply for r in d.thread(channel, p.ts)[1:]
            if ":bell:" in r.text]


def test_each_connection_gets_its_own_digest_and_reminders_in_its_channel_language_and_settings(sb, tmp_path):
    sb.load("mixed")                                            # the environment's company: en, weekly, 24 h
    acme = sb.add_company("duplicate-doc-number", key="acme", team_id=ACME_TEAM)
    settings = load_settings({**sb.bot_environment(), "QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"),
                              "QBSYNC_SECRET_KEY": SECRET_KEY, "QBSYNC_FIX_ALLOWED": "U0ALICE001"}, env_file=None)
    main = Store(settings.store_target)
    try:
        register(main, acme, "acme", overrides={"QBSYNC_LANGUAGE": "nl", "QBSYNC_DIGEST": "daily",
                                                "QBSYNC_DIGEST_AT": "07:30", "QBSYNC_REMIND_AFTER_HOURS": "2",
                                                "QBSYNC_FIX_ALLOWED": ACME_FIXER})
        scans = WorkerScans(settings, main, interval_s=60,
                            build=lambda s, m, c: wiring.build_for_connection(s, m, c, post_interval=0))
        assert scans(DEFAULT_CONNECTION).problem is None and scans("acme").problem is None
        default, mine = scans.parts_for(DEFAULT_CONNECTION), scans.parts_for("acme")
        assert digests(sb, ALERT_CHANNEL) == digests(sb, acme.channel) == []
        assert reminders(sb, ALERT_CHANNEL) == reminders(sb, acme.channel) == []

        # Three hours later on a Monday at 09:00: acme's daily digest (07:30) and the
        # environment's weekly one (08:00) are both due; only acme's 2-hour reminders are.
        monday = next_monday_0800(time.time()) + HOUR
        later = time.time() + 3 * HOUR
        for parts in (default, mine):
            parts.digest.clock = lambda: monday
            parts.alerts.clock = lambda: later
        assert scans(DEFAULT_CONNECTION).problem is None and scans("acme").problem is None

        # Reminders: acme's threads only, in Dutch, mentioning acme's fixer (not the env's).
        acme_threads = {a["ts"] for a in mine.store.open_alerts() if a["ts"]}
        mine_reminded = reminders(sb, acme.channel)
        assert mine_reminded and {m.thread_ts for m in mine_reminded} == acme_threads
        assert all("niemand heeft het in 2 uur" in m.text and f"<@{ACME_FIXER}>" in m.text
                   and "U0ALICE001" not in m.text for m in mine_reminded)
        assert reminders(sb, ALERT_CHANNEL) == []
        assert mine.store.reminders_since(0) == len(acme_threads) and main.reminders_since(0) == 0

        # Digests: each in its own channel, language and mode, counting its own store's alerts.
        [theirs] = digests(sb, acme.channel)
        acme_open = len(mine.store.open_alerts())
        assert theirs.visible_text().startswith("*:bar_chart: Dagelijks overzicht van qbsync* (")
        assert f"· {acme_open} nu open" in theirs.visible_text()
        [ours] = digests(sb, ALERT_CHANNEL)
        env_open = len(main.open_alerts())
        assert ours.visible_text().startswith("*:bar_chart: Weekly qbsync digest* (")
        assert f"· {env_open} open now" in ours.visible_text() and env_open != acme_open
        # Each company's chart in its own digest's thread; each period recorded in its own store.
        assert [len(r.files) for r in sb.slack.driver.thread(acme.channel, theirs.ts)[1:]] == [1]
        assert [len(r.files) for r in sb.slack.driver.thread(ALERT_CHANNEL, ours.ts)[1:]] == [1]
        day = datetime.fromtimestamp(monday, timezone.utc).strftime("%Y-%m-%d")
        assert mine.store.get_cursor("digest.sent") == f"{day}T07:30Z"
        assert main.get_cursor("digest.sent") == f"{day}T08:00Z"
        # Once per period each, across the next scans.
        assert scans(DEFAULT_CONNECTION).problem is None and scans("acme").problem is None
        assert len(digests(sb, acme.channel)) == len(digests(sb, ALERT_CHANNEL)) == 1
        scans.close()
    finally:
        main.close()
