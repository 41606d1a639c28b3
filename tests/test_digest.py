"""The digest's parts one by one (issue 12 part 6): when it is due, the figures from the store,
the message, the chart, and sending once per period (with a poster that records, and loses
an answer). End to end through the Slack stand-in: tests/e2e/test_digest.py."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from PIL import Image

from bot.config import load_settings
from bot.digest import SYSTEM, build_figures
from bot.digest_chart import PNG_MAGIC, chart_png
from bot.digest_schedule import DigestAt, Period, latest_due, parse_at
from bot.digest_service import SENT, DigestService
from bot.errors import AuthError, Transient
from bot.slack.digest_message import digest_block_id, digest_message, duration_words
from bot.store import Store

DAY = 86400


def utc(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- when -------------------------------------------------------------------------------------

def test_parse_at_takes_a_time_or_a_day_and_time():
    assert parse_at("mon 08:00") == DigestAt(0, 8, 0)
    assert parse_at(" FRI 17:45 ") == DigestAt(4, 17, 45)
    assert parse_at("7:05") == DigestAt(0, 7, 5)
    for bad in ("monday 08:00", "24:00", "08:60", "8", ""):
        with pytest.raises(ValueError):
            parse_at(bad)


def test_latest_due_weekly_and_daily():
    mon8 = parse_at("mon 08:00")
    # 2026-11-30 is a Monday.
    p = latest_due(utc("2026-11-30 08:00"), "weekly", mon8)
    assert (p.start, p.end, p.id) == (utc("2026-11-23 08:00"), utc("2026-11-30 08:00"), "2026-11-30T08:00Z")
    assert latest_due(utc("2026-11-30 07:59"), "weekly", mon8).end == utc("2026-11-23 08:00")
    assert latest_due(utc("2026-12-06 23:00"), "weekly", mon8).end == utc("2026-11-30 08:00")
    assert latest_due(utc("2026-12-02 12:00"), "weekly", parse_at("wed 12:00")).end == utc("2026-12-02 12:00")
    d = latest_due(utc("2026-12-02 07:00"), "daily", parse_at("08:00"))
    assert (d.start, d.end) == (utc("2026-11-30 08:00"), utc("2026-12-01 08:00"))
    assert latest_due(utc("2026-12-02 08:00"), "daily", parse_at("mon 08:00")).end == utc("2026-12-02 08:00")
    assert latest_due(utc("2026-12-02 08:00"), "off", mon8) is None


def test_settings_check_the_digest_values():
    s = load_settings({"QBSYNC_DIGEST": "Daily", "QBSYNC_DIGEST_AT": "06:15"}, env_file=None)
    assert (s.digest, s.digest_at, s.invalid) == ("daily", "06:15", ())
    s = load_settings({"QBSYNC_DIGEST": "hourly", "QBSYNC_DIGEST_AT": "monday"}, env_file=None)
    assert {p.env for p in s.invalid} == {"QBSYNC_DIGEST", "QBSYNC_DIGEST_AT"}
    assert (s.digest, s.digest_at) == ("weekly", "mon 08:00")


# -- figures ----------------------------------------------------------------------------------

END = utc("2026-11-30 08:00")
WEEK = Period(END - 7 * DAY, END)


def alert(store, clock, at: float, invoice: str, rule: str, who: str = "Acme BV") -> str:
    clock.now = at
    key = store.alert_key(invoice, rule)
    store.record_detection(key=key, rule=rule, invoice_id=invoice, invoice_number=f"INV-{invoice}", summary="s",
                           evidence={"invoice": {"who": who}}, fingerprint="f")
    return key


def resolve(store, clock, at: float, key: str, by: str) -> None:
    clock.now = at
    store.transition(key, "resolved", resolution="fixed", by=by)
    store.audit(by, "alert:resolve", "ok", target=key, detail={"why": "fixed"})


@pytest.fixture
def week(tmp_path):
    """A week of failures: 5 new in the period, 1 from before it, 3 resolved (2 by people)."""
    clock = Clock(END - 30 * DAY)
    store = Store(tmp_path / "q.db", clock=clock)
    old = alert(store, clock, END - 10 * DAY, "1", "duplicate-display-name")
    a = alert(store, clock, END - 6.5 * DAY, "2", "missing-customer", who="<!channel> & co")
    b = alert(store, clock, END - 5 * DAY, "3", "missing-customer")
    c = alert(store, clock, END - 3 * DAY, "4", "duplicate-doc-number")
    d = alert(store, clock, END - 2 * DAY, "5", "duplicate-doc-number")
    alert(store, clock, END - 1 * DAY, "6", "tax-code-required")
    resolve(store, clock, END - 5 * DAY + 2 * 3600, b, "U0ALICE001")     # 2 hours
    resolve(store, clock, END - 2 * DAY, c, "U0ALICE001")                # 1 day
    resolve(store, clock, END - 1 * DAY, d, SYSTEM)                       # 1 day (synced)
    resolve(store, clock, END - 20 * DAY, old, "U0BRAM0001")  # resolved long before (audit outside)
    clock.now = END - 20 * DAY + 1
    store.record_detection(key=old, rule="duplicate-display-name", invoice_id="1", invoice_number="INV-1",
                           summary="s", evidence={"invoice": {"who": "Acme BV"}}, fingerprint="g")  # reopened
    # A storm group's own row is not a failure.
    clock.now = END - 4 * DAY
    store.record_detection(key="group:missing-customer:1", rule="missing-customer", invoice_id=None,
                           invoice_number=None, summary="g", evidence={"storm": True}, fingerprint="h")
    clock.now = END + 3600
    yield store, clock, {"old": old, "a": a, "b": b, "c": c, "d": d}
    store.close()


def test_figures_count_by_cause_oldest_resolvers_and_time_to_resolve(week):
    store, clock, keys = week
    fig = build_figures(store, WEEK, "en", now=clock.now)
    assert (fig.new, fig.resolved, fig.open_now) == (5, 3, 3)
    by_title = {c.title: (c.new, c.open) for c in fig.causes}
    assert by_title == {"No QuickBooks customer has the contact's email": (2, 1),
                        "The invoice number is already used in QuickBooks": (2, 0),
                        "QuickBooks needs a tax code on every invoice line": (1, 1),
                        "The customer name is already taken in QuickBooks": (0, 1)}
    assert [o.number for o in fig.oldest] == ["INV-1", "INV-2", "INV-6"]
    assert fig.oldest[1].who == "<!channel> & co"
    assert [(r.user, r.numbers) for r in fig.resolvers] == [("U0ALICE001", ("INV-3", "INV-4")), (SYSTEM, ("INV-5",))]
    assert sorted(fig.fix_times) == [2 * 3600, DAY, DAY]
    assert (fig.median_fix_s, fig.worst_fix_s) == (DAY, DAY)
    # Per day: new that day, and open at its end (the reopened INV-1 counts from its first detection).
    assert [d.new for d in fig.days] == [1, 0, 1, 0, 1, 1, 1]
    assert [d.open for d in fig.days] == [2, 2, 2, 2, 3, 3, 3]


def test_the_message_escapes_records_mentions_people_and_words_durations(week):
    store, clock, _ = week
    fig = build_figures(store, WEEK, "en", now=clock.now)
    msg = digest_message(fig, "weekly", "en", links={})
    text = "\n".join(b["text"]["text"] for b in msg.blocks)
    assert msg.blocks[0]["block_id"] == digest_block_id("2026-11-30T08:00Z")
    assert "5 new · 3 resolved · 3 open now" in text
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text
    assert "• <@U0ALICE001> (2): INV-3, INV-4" in text
    assert "• on their own (synced, or the cause went away) (1): INV-5" in text
    assert "*Time to resolve*: median 1 day, worst 1 day" in text
    assert "• INV-2 · &lt;!channel&gt; &amp; co · failing for 6 days 13 hours" in text
    assert "None" not in text and "True" not in text and "{'" not in text
    es = "\n".join(b["text"]["text"] for b in digest_message(fig, "weekly", "es").blocks)
    assert "Resumen semanal de qbsync" in es and "Por causa" in es and "fallando desde hace 6 días 13 horas" in es


def test_duration_words():
    assert duration_words(30, "en") == "1 minute"
    assert duration_words(3 * 3600 + 5 * 60, "nl") == "3 uur 5 minuten"
    assert duration_words(DAY + 60, "es") == "1 día 1 minuto"
    assert duration_words(9 * DAY + 3 * 3600 + 59 * 60, "en") == "9 days 3 hours"


def test_the_chart_is_a_png_of_the_expected_size(week):
    store, clock, _ = week
    png = chart_png(build_figures(store, WEEK, "nl").days, "nl")
    assert png[:8] == PNG_MAGIC
    with Image.open(io.BytesIO(png)) as img:
        img.load()
        assert img.size == (800, 400)
    # Different data, different picture.
    assert chart_png(build_figures(store, WEEK, "nl").days[:3], "nl") != png


# -- sending ----------------------------------------------------------------------------------

class Poster:
    """Records what it is asked to do; can lose the answer of a post Slack took."""

    def __init__(self):
        self.posts, self.uploads, self.updates, self.lose_next = [], [], [], False

    def post(self, channel, message, *, thread_ts=None):
        self.posts.append((channel, message))
        ts = f"{len(self.posts)}.000100"
        if self.lose_next:
            self.lose_next = False
            raise Transient("slack", "chat.postMessage: no answer", code="no_answer")
        return ts

    def find_posted(self, channel, block_id, since, *, thread_ts=None):
        for i, (_, m) in enumerate(self.posts, 1):
            if m.blocks and m.blocks[0].get("block_id") == block_id:
                return f"{i}.000100"
        return None

    def permalink(self, channel, ts):
        return f"https://x.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    def upload(self, channel, data, **kw):
        if kw.get("fail"):
            raise AuthError("slack", "missing_scope", code="missing_scope")
        self.uploads.append((channel, data, kw))

    def update(self, channel, ts, message):
        self.updates.append((channel, ts, message))

    def thread_has_file(self, channel, thread_ts, filename):
        return any(c == channel and kw.get("thread_ts") == thread_ts and kw.get("filename") == filename
                   for c, _, kw in self.uploads)


def test_once_per_period_across_a_restart_and_a_lost_answer(week, tmp_path):
    store, clock, _ = week
    store.conn.execute("UPDATE schema_migrations SET applied_at = ?", (END - 60 * DAY,))
    store.conn.commit()
    poster = Poster()
    svc = DigestService(store, poster, "C0ALERTS01", clock=clock)
    poster.lose_next = True          # Slack took it, the answer was lost
    with pytest.raises(Transient):
        svc.send_if_due()
    assert store.get_cursor(SENT) is None and len(poster.posts) == 1
    # A restart: a new service on the same database finds it in the channel instead of posting again.
    again = DigestService(Store(store.path, clock=clock), poster, "C0ALERTS01", clock=clock)
    assert again.send_if_due() == "1.000100"
    assert len(poster.posts) == 1 and store.get_cursor(SENT) == "2026-11-30T08:00Z"
    [(channel, png, kw)] = poster.uploads
    assert png[:8] == PNG_MAGIC and kw["thread_ts"] == "1.000100" and kw["filename"] == "qbsync-digest-2026-11-30.png"
    assert again.send_if_due() is None and svc.send_if_due() is None
    clock.now = END + 7 * DAY
    assert svc.send_if_due() == "2.000100"


def test_not_due_before_the_install_nor_when_off(week):
    store, clock, _ = week   # the database was made 30 days before END: due
    poster = Poster()
    off = DigestService(store, poster, "C0ALERTS01", mode="off", clock=clock)
    assert off.due() is None and off.send_if_due() is None and poster.posts == []
    store.conn.execute("UPDATE schema_migrations SET applied_at = ?", (END + 60,))
    store.conn.commit()
    assert DigestService(store, poster, "C0ALERTS01", clock=clock).due() is None


def test_a_failed_chart_edits_the_text_to_say_so(week):
    store, clock, _ = week
    poster = Poster()
    real_upload = poster.upload
    poster.upload = lambda channel, data, **kw: real_upload(channel, data, fail=True, **kw)
    svc = DigestService(store, poster, "C0ALERTS01", clock=clock)
    ts = svc.send(WEEK)
    [(channel, edited_ts, msg)] = poster.updates
    assert edited_ts == ts and store.get_cursor(SENT) == WEEK.id
    assert msg.blocks[-1]["elements"][0]["text"].startswith(":warning: The chart could not be attached (`missing_scope`)")
    assert [e["outcome"] for e in store.audit_entries() if e["action"] == "digest:chart"] == ["failed"]


def test_a_crash_between_the_text_and_the_chart_attaches_the_chart_after_the_restart(week):
    store, clock, _ = week
    poster = Poster()

    def killed(days, lang):  # the process dies while drawing (not an error the service handles)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        DigestService(store, poster, "C0ALERTS01", clock=clock, chart=killed).send_if_due()
    assert len(poster.posts) == 1 and poster.uploads == []
    restarted = DigestService(Store(store.path, clock=clock), poster, "C0ALERTS01", clock=clock)
    assert restarted.send_if_due() is None
    assert len(poster.posts) == 1
    [(_, png, kw)] = poster.uploads
    assert png[:8] == PNG_MAGIC and kw["thread_ts"] == "1.000100"
    restarted.send_if_due()
    assert len(poster.uploads) == 1


def test_each_episode_of_a_reopened_failure_counts_from_its_own_reopening(tmp_path):
    """Resolved by a person, back at a later scan (`alert:reopen` written with the reopening),
    resolved again when it synced: two episodes, each timed from its own (re)opening and
    credited to its own resolver; open at a day's end only while an episode runs."""
    clock = Clock(END - 6.5 * DAY)
    store = Store(tmp_path / "q.db", clock=clock)
    try:
        key = alert(store, clock, END - 6.5 * DAY, "7", "missing-customer")
        resolve(store, clock, END - 5.5 * DAY, key, "U0ALICE001")                     # 1 day
        clock.now = END - 4.5 * DAY                                                    # a later scan finds it again
        _, what = store.record_detection(key=key, rule="missing-customer", invoice_id="7", invoice_number="INV-7",
                                         summary="s", evidence={"invoice": {"who": "Acme BV"}}, fingerprint="f")
        assert what == "reopened"
        assert [e["at"] for e in store.audit_entries(target=key) if e["action"] == "alert:reopen"] == [clock.now]
        resolve(store, clock, END - 2.5 * DAY, key, SYSTEM)                            # 2 days after reopening
        fig = build_figures(store, WEEK, "en", now=END)
        assert (fig.new, fig.resolved, fig.open_now) == (2, 2, 0)
        assert sorted(fig.fix_times) == [DAY, 2 * DAY]
        assert [(r.user, r.numbers) for r in fig.resolvers] == [("U0ALICE001", ("INV-7",)), (SYSTEM, ("INV-7",))]
        assert [(c.new, c.open) for c in fig.causes] == [(2, 0)]
        # Days end at END - 6d, ..., END: open at the end of the first (created), and of the
        # reopened stretch's days; not on the day between the resolution and the reopening.
        assert [d.new for d in fig.days] == [1, 0, 1, 0, 0, 0, 0]
        assert [d.open for d in fig.days] == [1, 0, 1, 1, 0, 0, 0]

        # Open again now (a third episode): "failing for" counts from that reopening.
        clock.now = END - 0.5 * DAY
        store.record_detection(key=key, rule="missing-customer", invoice_id="7", invoice_number="INV-7",
                               summary="s", evidence={"invoice": {"who": "Acme BV"}}, fingerprint="f")
        fig = build_figures(store, WEEK, "en", now=END)
        assert (fig.new, fig.resolved, fig.open_now) == (3, 2, 1)
        assert [o.since for o in fig.oldest] == [END - 0.5 * DAY]
    finally:
        store.close()
