"""The digest's figures (issue 12 part 6), read from the store: pure, sends nothing.

For one period (bot/digest_schedule.py): failures new in it, resolved in it and open now;
counts by cause (the rule's title in the channel's language); the oldest open failures; what
was resolved and by whom (the actor of the `alert:resolve` audit entry: a person's Slack id,
or "system" when qbsync saw the invoice sync or the cause go away); time to resolve (from the
alert's first detection); and failures per day for the chart (bot/digest_chart.py).

Storm groups' own rows are not failures (their members are, each an alert of its own), so
they are left out. A failure that was resolved and came back keeps its first detection time
and counts as open from then on: the store keeps no history of reopenings, so the daily "still
open" line is an approximation in that case.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from rules import registry
from rules.base import Classification

from .alerts import OPEN_STATES, is_group
from .digest_schedule import DAY_S, Period

OLDEST_MAX = 5
CHART_DAYS = 7
SYSTEM = "system"


@dataclass(frozen=True)
class CauseCount:
    title: str
    new: int      # first detected in the period
    open: int     # open now


@dataclass(frozen=True)
class OpenFailure:
    number: str
    who: str | None          # the customer / contact (untrusted: escaped by the message builder)
    since: float             # first detected
    channel: str | None      # its thread (a storm member: its group's), for a permalink
    ts: str | None


@dataclass(frozen=True)
class Resolver:
    user: str                # Slack user id, or SYSTEM
    numbers: tuple[str, ...]


@dataclass(frozen=True)
class DayCount:
    start: float
    new: int                 # first detected that day
    open: int                # still open at the end of that day


@dataclass(frozen=True)
class DigestFigures:
    period: Period
    new: int
    resolved: int
    open_now: int
    causes: tuple[CauseCount, ...]
    oldest: tuple[OpenFailure, ...]
    resolvers: tuple[Resolver, ...]
    fix_times: tuple[float, ...]      # seconds from first detection to resolution, resolved in the period
    days: tuple[DayCount, ...]
    now: float                        # when the figures were read: "open now", "failing for"

    @property
    def empty(self) -> bool:
        """Nothing new, nothing resolved, nothing open: the short "no failures" digest."""
        return not (self.new or self.resolved or self.open_now)

    @property
    def median_fix_s(self) -> float | None:
        return statistics.median(self.fix_times) if self.fix_times else None

    @property
    def worst_fix_s(self) -> float | None:
        return max(self.fix_times) if self.fix_times else None


def cause_title(rule_id: str, lang: str) -> str:
    """A rule's general title in `lang` (not its id); the id for a rule no longer known."""
    try:
        rule = registry.get(rule_id)
    except KeyError:
        return rule_id
    return rule.explain(Classification(rule_id, None, {}, None), lang).title


def _resolvers(store, period: Period) -> dict[str, str]:
    """Alert key -> who resolved it last within the period (audit `alert:resolve`)."""
    rows = store.query_rows("SELECT target, actor FROM audit_log WHERE action = 'alert:resolve' AND at >= ? "
                            "AND at < ? ORDER BY id", (period.start, period.end))
    return {r["target"]: r["actor"] for r in rows}


def build_figures(store, period: Period, lang: str, now: float | None = None) -> DigestFigures:
    """The figures of `period`; `now` (default: the period's end) is when "open now" holds."""
    now = period.end if now is None else now
    alerts = [a for a in store.list_alerts() if not is_group(a)]
    groups = {a["key"]: a for a in store.list_alerts() if is_group(a)}
    start, end = period.start, period.end

    def new_in(a: dict, lo: float, hi: float) -> bool:
        return lo <= a["created_at"] < hi

    def resolved_in(a: dict) -> bool:
        return a["state"] == "resolved" and a["resolved_at"] is not None and start <= a["resolved_at"] < end

    open_now = [a for a in alerts if a["state"] in OPEN_STATES]
    new = [a for a in alerts if new_in(a, start, end)]
    resolved = [a for a in alerts if resolved_in(a)]

    by_rule: dict[str, list[int]] = {}
    for a in new:
        by_rule.setdefault(a["rule"], [0, 0])[0] += 1
    for a in open_now:
        by_rule.setdefault(a["rule"], [0, 0])[1] += 1
    causes = sorted((CauseCount(cause_title(r, lang), n, o) for r, (n, o) in by_rule.items()),
                    key=lambda c: (-c.open, -c.new, c.title))

    oldest = []
    by_age = sorted((a for a in open_now if a["invoice_number"]), key=lambda a: (a["created_at"], a["id"]))
    for a in by_age[:OLDEST_MAX]:
        channel, ts = a["channel"], a["ts"]
        if not ts and a["group_key"] in groups:  # a storm member: its group's thread names it
            channel, ts = groups[a["group_key"]]["channel"], groups[a["group_key"]]["ts"]
        who = (a["evidence"].get("invoice") or {}).get("who")
        oldest.append(OpenFailure(a["invoice_number"], who if isinstance(who, str) else None,
                                  a["created_at"], channel, ts))

    actors = _resolvers(store, period)
    by_actor: dict[str, list[str]] = {}
    for a in sorted(resolved, key=lambda a: (a["resolved_at"], a["id"])):
        name = a["invoice_number"] or cause_title(a["rule"], lang)
        by_actor.setdefault(actors.get(a["key"], SYSTEM), []).append(name)
    resolvers = sorted((Resolver(u, tuple(dict.fromkeys(n))) for u, n in by_actor.items()),
                       key=lambda r: (r.user == SYSTEM, -len(r.numbers), r.user))

    days = []
    for i in range(CHART_DAYS):
        lo = end - (CHART_DAYS - i) * DAY_S
        hi = lo + DAY_S
        still = sum(1 for a in alerts if a["created_at"] < hi
                    and (a["state"] != "resolved" or (a["resolved_at"] or 0) >= hi))
        days.append(DayCount(lo, sum(1 for a in alerts if new_in(a, lo, hi)), still))

    return DigestFigures(
        period=period, new=len(new), resolved=len(resolved), open_now=len(open_now), causes=tuple(causes),
        oldest=tuple(oldest), resolvers=tuple(resolvers),
        fix_times=tuple(max(0.0, a["resolved_at"] - a["created_at"]) for a in resolved), days=tuple(days), now=now)
