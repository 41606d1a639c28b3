"""Sending the digest (issue 12 part 6): due-driven, once per period, from the scan pass.

`send_if_due()` runs at the end of every scan (bot/scan.py Scanner.scan), which already runs
one at a time under the scan lock, so two digests for one period cannot be sent at once; it
runs even when the scan met a shared problem (QBO down), since the digest reads only the store.

Once per period, across restarts: the period's id is stored (cursor `digest.sent`) after Slack
took the message, so a restart before then sends it (late, not skipped) and a restart after
does not send it again. Between "post started" (cursor `digest.started`) and that record, a
crash could leave a digest Slack has but the store does not know: the next attempt first looks
for it in the channel's history by its first block's block_id (as alert parents are found,
bot/alerts.py), so it is not posted twice. A fresh install does not send the digest of a
period that ended before qbsync's database existed.

The chart (bot/digest_chart.py) is uploaded into the digest's thread after the text is posted
and recorded: an upload Slack refuses (missing_scope, not_in_channel, ...) is logged and
audited, and the digest's text is edited to say the chart is missing; the figures are never
lost with it. A crash between the text and the chart: the next scan attaches the chart (cursor
`digest.charted` says whether the period's chart was dealt with), after looking in the
digest's thread for it first (conversations.replies), since a crash during the upload itself
may have left it shared: it is never attached twice. An upload whose answer was lost is
looked for the same way before it is called missing.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from .digest import DigestFigures, build_figures
from .digest_chart import chart_png
from .digest_schedule import DigestAt, Period, latest_due, parse_at, period_length_s
from .errors import ApiError, AuthError
from .slack.digest_message import digest_block_id, digest_message
from .slack.mrkdwn import escape
from .slack.texts import t

log = logging.getLogger(__name__)

SENT = "digest.sent"          # id of the last period whose digest Slack took
STARTED = "digest.started"    # "<period id>@<epoch s>": a post of that period's digest began
SENT_TS = "digest.ts"         # that digest's message (its thread gets the chart)
CHARTED = "digest.charted"    # id of the last period whose chart was dealt with (attached, or said missing)


class DigestService:
    def __init__(self, store, poster, channel: str, *, mode: str = "weekly", at: DigestAt | str = "mon 08:00",
                 lang: str = "en", clock=time.time, chart=chart_png):
        self.store = store
        self.poster = poster
        self.channel = channel
        self.mode = mode
        self.at = parse_at(at) if isinstance(at, str) else at
        self.lang = lang
        self.clock = clock
        self.chart = chart

    # -- when ------------------------------------------------------------------------------
    def due(self, now: float | None = None) -> Period | None:
        """The period whose digest should go out now, or None (off, already sent, or it ended
        before this database existed)."""
        now = self.clock() if now is None else now
        period = latest_due(now, self.mode, self.at)
        if period is None or self.store.get_cursor(SENT) == period.id:
            return None
        installed = self.store.query_rows("SELECT MIN(applied_at) AS at FROM schema_migrations")[0]["at"]
        if installed is not None and period.end < installed:
            return None
        return period

    def send_if_due(self) -> str | None:
        """Send the due digest, if any; the ts of its message. A digest sent without its chart
        having been dealt with (a crash in between) gets its chart now."""
        period = self.due()
        if period is not None:
            return self.send(period)
        latest = latest_due(self.clock(), self.mode, self.at)
        if latest is not None and self.store.get_cursor(SENT) == latest.id \
                and self.store.get_cursor(CHARTED) != latest.id:
            ts = self.store.get_cursor(SENT_TS)
            figures = build_figures(self.store, latest, self.lang, now=self.clock())
            if ts and not figures.empty and not self._chart_already_there(figures, ts):
                log.info("the digest for %s has no chart yet (a restart in between); attaching it", latest.id)
                self._attach_chart(figures, self._mode(), ts, self._links(figures))
            self.store.set_cursor(CHARTED, latest.id)
        return None

    def _mode(self) -> str:
        return self.mode if self.mode in ("weekly", "daily") else "weekly"

    def send_now(self) -> str:
        """A digest of the period that ends now (`/qbsync digest`), outside the schedule: the
        scheduled one still goes out when due."""
        now = self.clock()
        length = period_length_s(self.mode if self.mode != "off" else "weekly")
        return self.send(Period(now - length, now), scheduled=False)

    # -- sending ---------------------------------------------------------------------------
    def send(self, period: Period, *, scheduled: bool = True) -> str:
        figures = build_figures(self.store, period, self.lang, now=self.clock())
        mode = self._mode()
        links = self._links(figures)
        message = digest_message(figures, mode, self.lang, links=links)
        ts = self._already_posted(period) if scheduled else None
        if ts is None:
            if scheduled:
                self.store.set_cursor(STARTED, f"{period.id}@{self.clock()}")
            ts = self.poster.post(self.channel, message)
        if scheduled:
            self.store.set_cursor(SENT_TS, ts)
            self.store.set_cursor(SENT, period.id)
        self.store.audit("system", "digest:post", "ok", target=period.id,
                         detail={"ts": ts, "mode": mode, "scheduled": scheduled, "new": figures.new,
                                 "resolved": figures.resolved, "open": figures.open_now})
        if not figures.empty:
            self._attach_chart(figures, mode, ts, links)
        if scheduled:
            self.store.set_cursor(CHARTED, period.id)
        return ts

    def _already_posted(self, period: Period) -> str | None:
        started = self.store.get_cursor(STARTED) or ""
        pid, _, at = started.partition("@")
        if pid != period.id or not at:
            return None
        ts = self.poster.find_posted(self.channel, digest_block_id(period.id), float(at))
        if ts:
            log.info("the digest for %s reached Slack before a restart; not posting it again", period.id)
        return ts

    def _links(self, figures: DigestFigures) -> dict:
        out = {}
        for o in figures.oldest:
            if o.channel and o.ts and (o.channel, o.ts) not in out:
                url = self.poster.permalink(o.channel, o.ts)
                if url:
                    out[(o.channel, o.ts)] = url
        return out

    @staticmethod
    def _chart_filename(figures: DigestFigures) -> str:
        day = datetime.fromtimestamp(figures.period.end, timezone.utc).strftime("%Y-%m-%d")
        return f"qbsync-digest-{day}.png"

    def _chart_already_there(self, figures: DigestFigures, ts: str, *, why: str = "restart") -> bool:
        """Whether the digest's thread already holds its chart: an upload a crash (or a lost
        answer) cut short may have been shared all the same. Looked for by its file name in
        the thread (SlackPoster.thread_has_file, conversations.replies); found: audited as
        attached and not uploaded again. A thread that cannot be read counts as "not there":
        the chart is uploaded (twice at worst, never missing)."""
        filename = self._chart_filename(figures)
        if not self.poster.thread_has_file(self.channel, ts, filename):
            return False
        log.info("the digest chart for %s is already in its thread (%s); not uploading it again",
                 figures.period.id, why)
        self.store.audit("system", "digest:chart", "ok", target=figures.period.id,
                         detail={"ts": ts, "filename": filename, "found": why})
        return True

    def _attach_chart(self, figures: DigestFigures, mode: str, ts: str, links: dict) -> None:
        filename = self._chart_filename(figures)
        try:
            png = self.chart(figures.days, self.lang)
            self.poster.upload(self.channel, png, filename=filename, title=t(self.lang, "digest_chart_title"),
                               comment=t(self.lang, "digest_chart_comment"), thread_ts=ts,
                               alt_txt=t(self.lang, "digest_chart_comment"))
        except ApiError as exc:
            why = exc.code or type(exc).__name__
            # A lost answer (slack_sdk then retries files.completeUploadExternal, which may be
            # refused because the first one shared the file) can hide a chart that is there:
            # look before calling it missing. A refusal such as missing_scope finds nothing.
            if not isinstance(exc, AuthError) and self._chart_already_there(figures, ts, why=f"after {why}"):
                return
        except Exception as exc:  # drawing failed (matplotlib): the figures still stand
            log.exception("digest chart could not be drawn")
            why = type(exc).__name__
        else:
            self.store.audit("system", "digest:chart", "ok", target=figures.period.id,
                             detail={"ts": ts, "filename": filename, "bytes": len(png)})
            return
        log.warning("digest chart not attached: %s", why)
        self.store.audit("system", "digest:chart", "failed", target=figures.period.id, detail={"error": why})
        note = t(self.lang, "digest_chart_failed", error=f"`{escape(why)}`")
        try:
            self.poster.update(self.channel, ts, digest_message(figures, mode, self.lang, links=links,
                                                                chart_note=note))
        except ApiError as exc:
            log.warning("digest message not edited to say the chart is missing: %s", exc)
