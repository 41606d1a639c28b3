"""Issue #12's reminders, digest and "Fix all N like this" on an install with two companies
(issue #13's connections), end to end through the Slack stand-in and the real bot: connection
A (Acme's workspace, Dutch) and B (Beta's workspace, Spanish) from tests/e2e/two_companies.py.
The other points: test_alerts_per_connection.py."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from bot.alerts import is_group
from bot.digest_chart import PNG_MAGIC
from bot.slack.messages import ACTION_BULK_CONFIRM, ACTION_BULK_FIX
from bot.slack.texts import t as slack_t
from handlers.texts import t
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL

from .slack_install import ANNA, BEN
from .test_bulk_fix import FAST_HUBSPOT, QBO_PER_S, bulk_button, plan_ephemeral, storm_world
from .two_companies import ARNO, BERTA, mixed, two_companies


@pytest.fixture
def sb():
    s = Sandbox(slack_post_rate_per_s=100, slack_post_burst=100).start()
    yield s
    s.stop()


DAY = 86400


def next_at(after: float, hour: int, minute: int, weekday: int | None = None) -> float:
    """The first hh:mm UTC (on `weekday`, 0 = Monday, if given) strictly after `after`."""
    t = datetime.fromtimestamp(after, timezone.utc).replace(hour=hour, minute=minute, second=0, microsecond=0)
    while t.timestamp() <= after or (weekday is not None and t.weekday() != weekday):
        t += timedelta(days=1)
    return t.timestamp()


def digests(two, channel: str) -> list:
    return [m for m in two.parents(channel)
            if m.blocks and m.blocks[0].get("block_id", "").startswith("qbsync-digest-")]


def reminders(two, channel: str) -> list[str]:
    return [r.visible_text() for m in two.parents(channel) for r in two.bot.d.thread(channel, m.ts)[1:]
            if ":bell:" in r.text]


def test_reminders_and_the_digest_run_per_connection_with_its_own_settings(make_bot, sb):
    # A without INV-1006 (5 failures), so the two companies' counts differ.
    a_world = mixed(1000)
    a_world["hubspot"]["invoices"] = [i for i in a_world["hubspot"]["invoices"] if i["id"] != "3006"]
    a_world["expect"].pop("3006")
    two = two_companies(make_bot, sb, a_world=a_world,
                        a_settings={"QBSYNC_REMIND_AFTER_HOURS": "2", "QBSYNC_REMINDERS_PER_DAY": "2",
                                    "QBSYNC_DIGEST": "daily", "QBSYNC_DIGEST_AT": "07:30"})
    two.scan("a")
    two.scan("b")
    two.bot.scan()
    a, b = two.a, two.b
    assert (len(two.store("a").list_alerts()), len(two.store("b").list_alerts())) == (5, 6)
    now = time.time()

    # Reminders: A after 2 h, at most 2 a day, mentioning A's fixers, in Dutch; B (24 h) not yet.
    for c in ("a", "b"):
        two.services(c).alerts.clock = lambda: now + 3 * 3600
        two.scan(c)
    a_reminders = reminders(two, a.channel)
    assert a_reminders == [slack_t("nl", "th_reminder", hours="2", who=f" <@{ANNA}> <@{ARNO}>")] * 2
    assert reminders(two, b.channel) == []
    for c in ("a", "b"):
        two.services(c).alerts.clock = lambda: now + 25 * 3600
        two.scan(c)
    assert len(reminders(two, a.channel)) == 2                     # A's daily cap: 2 in any 24 hours
    b_open_threads = {x["ts"] for x in two.store("b").open_alerts()}
    assert reminders(two, b.channel) == [slack_t("es", "th_reminder", hours="24", who=f" <@{BEN}> <@{BERTA}>")] \
        * len(b_open_threads)
    assert not reminders(two, ALERT_CHANNEL)

    # The digest: A daily at 07:30, B weekly (Monday 08:00), each in its own channel and
    # language, counting its own company only.
    a_due = next_at(now, 7, 30)
    b_due = next_at(now, 8, 0, weekday=0)
    if b_due <= a_due + 60:
        a_due += DAY
    for c, when in (("a", a_due + 60), ("b", a_due + 60)):
        two.services(c).parts.digest.clock = lambda when=when: when
        two.scan(c)
    [a_digest] = digests(two, a.channel)
    assert digests(two, b.channel) == [] and digests(two, ALERT_CHANNEL) == []
    assert summary("nl", 5, 0, 5) in a_digest.visible_text()
    two.services("b").parts.digest.clock = lambda: b_due + 60
    two.scan("b")
    [b_digest] = digests(two, b.channel)
    assert summary("es", 6, 0, 6) in b_digest.visible_text()
    # Each digest's oldest failures link their threads in the company's own workspace, and its
    # chart is uploaded into its own thread with that workspace's token.
    for company, digest in ((a, a_digest), (b, b_digest)):
        domain = two.sb.slack.workspace.teams[company.team_id].domain
        links = re.findall(r"<(https://[a-z0-9-]+\.slack\.com/[^|>]+)\|", digest.visible_text())
        assert links and all(u.startswith(f"https://{domain}.slack.com/archives/{company.channel}/") for u in links)
        [_, chart] = two.bot.d.thread(company.channel, digest.ts)
        assert chart.files and chart.files[0]["data"][:8] == PNG_MAGIC


def test_fix_all_like_this_in_a_only_touches_as_realm(make_bot):
    """A storm of the same invoices in both companies: A's "Fix all N like this" (clicked and
    confirmed by A's fixer in A's channel) writes to A's QuickBooks realm only."""
    fixable, no_email = 21, 1   # more than 20 new failures in one scan: a storm group
    fast = Sandbox(hubspot_limit_per_10s=5000, hubspot_searches_per_s=500, qbo_per_second=4 * QBO_PER_S,
                 qbo_per_minute=240 * QBO_PER_S, slack_post_rate_per_s=100, slack_post_burst=100).start()
    try:
        two = two_companies(make_bot, fast, a_world=storm_world(fixable, no_email),
                            b_world=storm_world(fixable, no_email), hubspot_options=FAST_HUBSPOT,
                            qbo_options={"pace_limits": [(QBO_PER_S, 1.0), (60 * QBO_PER_S, 60.0)]})
        two.scan("a")
        two.scan("b")
        a, b, d = two.a, two.b, two.bot.d
        [a_group] = [x for x in two.store("a").list_alerts() if is_group(x)]
        parent = d.message(a.channel, a_group["ts"])
        assert bulk_button(parent)["text"]["text"] == slack_t("nl", "btn_bulk_fix", count=fixable)
        writes = lambda: fast.log.by_tenant("qbo", {"POST /v3/company/{realmId}/{entity}"})  # noqa: E731
        before = writes()
        b_customers = len(b.qbo.entities["Customer"])

        # Arno (A's fixer; French, which qbsync does not speak: A's Dutch) clicks and confirms.
        assert d.click(ARNO, a.channel, parent.ts, ACTION_BULK_FIX).acked
        shown = plan_ephemeral(two.bot, ARNO)
        plan_text = "\n".join(b["text"]["text"] for b in shown.blocks if b["type"] == "section")
        assert t("nl", "bulk_confirm_head", count=fixable) in plan_text, plan_text
        assert d.click(ARNO, a.channel, shown.ts, ACTION_BULK_CONFIRM).acked
        done = d.wait_for(lambda: next((e for e in two.store("a").audit_entries(target=a_group["key"])
                                        if e["action"] == "slack:bulk-fix" and e["outcome"] == "ok"), None),
                          timeout=25)
        assert (done["detail"]["fixed"], done["detail"]["needs_person"]) == (fixable, no_email)
        after = writes()
        assert after.get(a.realm_id, 0) - before.get(a.realm_id, 0) == fixable
        assert {realm: n - before.get(realm, 0) for realm, n in after.items()
                if realm != a.realm_id and n != before.get(realm, 0)} == {}
        assert len(b.qbo.entities["Customer"]) == b_customers
        assert all(x["state"] == "open" for x in two.store("b").list_alerts())
        assert not any(e["action"].startswith("slack:") for e in two.store("b").audit_entries())
        # The progress message in the group's thread ends in A's words.
        done_words = slack_t("nl", "bulk_done", user="@", fixed=slack_t("nl", "bulk_fixed", count=fixable),
                             failed=slack_t("nl", "bulk_failed", count=0),
                             needs=slack_t("nl", "bulk_needs", count=no_email)).split("@", 1)[1]
        assert any(done_words in m.visible_text() for m in d.thread(a.channel, parent.ts)), done_words
        a_states = sorted(x["state"] for x in two.store("a").list_alerts() if not is_group(x))
        assert a_states == ["open"] * no_email + ["resolved"] * fixable
    finally:
        fast.stop()


def summary(lang: str, new: int, resolved: int, open_now: int) -> str:
    """The digest's summary line in `lang` (one plural entry per count, bot/slack/digest_message.py)."""
    return " · ".join((slack_t(lang, "digest_new", count=new), slack_t(lang, "digest_resolved", count=resolved),
                       slack_t(lang, "digest_open_now", count=open_now)))
