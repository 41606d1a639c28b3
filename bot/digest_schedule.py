"""When the digest is due (issue 12 part 6): QBSYNC_DIGEST (weekly | daily | off) and
QBSYNC_DIGEST_AT ("mon 08:00" weekly, "08:00" daily), always in UTC.

A digest is due at each scheduled instant; the one due at instant D covers the period that
ends at D (the 7 days, or the day, before it). `latest_due(now)` is the last scheduled instant
not after `now`: the scan pass sends that period's digest unless the store says it was sent
(bot/digest_service.py). So a bot that was down over the due time sends it late, once, and a
bot down for several periods sends only the latest one (older ones would be stale news).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

MODES = ("weekly", "daily", "off")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_AT = "mon 08:00"
DAY_S = 86400

_AT = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)\s+)?([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class DigestAt:
    weekday: int        # 0 = Monday (datetime.weekday()); used by weekly only
    hour: int
    minute: int


def parse_at(text: str) -> DigestAt:
    """"mon 08:00" or "08:00" (Monday when no day is given). ValueError says what is wrong."""
    m = _AT.match((text or "").strip().lower())
    if not m:
        raise ValueError(f"must be a time like 08:00 or a day and time like mon 08:00, in UTC (got {text!r})")
    day = WEEKDAYS.index(m.group(1)) if m.group(1) else 0
    return DigestAt(day, int(m.group(2)), int(m.group(3)))


@dataclass(frozen=True)
class Period:
    start: float   # epoch seconds, inclusive
    end: float     # epoch seconds, exclusive: the instant the digest was due

    @property
    def id(self) -> str:
        """Names the period in the store: its due instant in UTC."""
        return datetime.fromtimestamp(self.end, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def period_length_s(mode: str) -> int:
    return 7 * DAY_S if mode == "weekly" else DAY_S


def latest_due(now: float, mode: str, at: DigestAt) -> Period | None:
    """The period whose digest was due most recently at or before `now`; None when off."""
    if mode not in ("weekly", "daily"):
        return None
    t = datetime.fromtimestamp(now, timezone.utc)
    due = t.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if mode == "daily":
        if due > t:
            due -= timedelta(days=1)
    else:
        due -= timedelta(days=(due.weekday() - at.weekday) % 7)
        if due > t:
            due -= timedelta(days=7)
    end = due.timestamp()
    return Period(end - period_length_s(mode), end)
