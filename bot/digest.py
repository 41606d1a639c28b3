"""The digest's figures (issue 12 part 6), read from the store: pure, sends nothing.

For one period (bot/digest_schedule.py): failures new in it, resolved in it and open now;
counts by cause (the rule's title in the channel's language); the oldest open failures; what
was resolved and by whom (the actor of the `alert:resolve` audit entry: a person's Slack id,
or "system" when qbsync saw the invoice sync or the cause go away); time to resolve; and
failures per day for the chart (bot/digest_chart.py).

A failure can be resolved, come back (a later scan finds the cause again: `alert:reopen`,
written with the reopening itself) and be resolved again. Each such episode counts on its own
(`episodes`): it is new on the day it (re)opened, its time to resolve runs from that
(re)opening to its own resolution, it is resolved by whoever resolved that episode, and it is
open at a day's end only between the two. The episodes are read from the audit log (the
alert's first detection, then its `alert:reopen` and `alert:resolve` entries in order). An
alert reopened before qbsync audited reopenings counts as open again from its last resolution.

Storm groups' own rows are not failures (their members are, each an alert of its own), so
they are left out.
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
    new: int      # (re)opened in the period
    open: int     # open now


@dataclass(frozen=True)
class OpenFailure:
    number: str
    who: str | None          # the customer / contact (untrusted: escaped by the message builder)
    since: float             # its current episode (re)opened
    channel: str | None      # its thread (a storm member: its group's), for a permalink
    ts: str | None


@dataclass(frozen=True)
class Resolver:
    user: str                # Slack user id, or SYSTEM
    numbers: tuple[str, ...]


@dataclass(frozen=True)
class DayCount:
    start: float
    new: int                 # (re)opened that day
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
    fix_times: tuple[float, ...]      # seconds from each episode's (re)opening to its resolution, in the period
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


@dataclass(frozen=True)
class Episode:
    """One stretch of a failure: from its detection or reopening to its resolution (None:
    still open) by `by` (a Slack user id, or SYSTEM)."""
    alert: dict
    opened: float
    resolved: float | None
    by: str | None

    def open_at(self, at: float) -> bool:
        return self.opened < at and (self.resolved is None or self.resolved >= at)


LIFECYCLE = ("alert:reopen", "alert:resolve")


def episodes(store, alerts: list[dict], since: float) -> list[Episode]:
    """The episodes of `alerts` that were open at some time at or after `since`. Only alerts
    open now or last resolved since then can have one, so only their audit entries are read
    (by target, indexed)."""
    wanted = [a for a in alerts if a["state"] != "resolved" or (a["resolved_at"] or 0) >= since]
    events: dict[str, list[dict]] = {}
    for r in store.audit_of_targets([a["key"] for a in wanted], LIFECYCLE):
        events.setdefault(r["target"], []).append(r)
    out: list[Episode] = []
    for a in wanted:
        out += [e for e in _alert_episodes(a, events.get(a["key"], [])) if e.resolved is None or e.resolved >= since]
    return out


def _alert_episodes(alert: dict, events: list[dict]) -> list[Episode]:
    eps: list[Episode] = []
    opened: float | None = alert["created_at"]
    for ev in events:
        if ev["action"] == "alert:resolve" and opened is not None:
            eps.append(Episode(alert, opened, max(opened, ev["at"]), ev["actor"]))
            opened = None
        elif ev["action"] == "alert:reopen" and opened is None:
            opened = ev["at"]
        # A resolve with no episode open (resolved twice) or a reopen of an open one: nothing new.
    resolved = alert["state"] == "resolved"
    if opened is not None and resolved and alert["resolved_at"] is not None:
        # Resolved, but its audit entry is missing (a crash between the two writes): who is unknown.
        eps.append(Episode(alert, opened, max(opened, alert["resolved_at"]), SYSTEM))
    elif opened is not None:
        eps.append(Episode(alert, opened, None, None))
    elif not resolved and eps:
        # Open again, but reopened before reopenings were audited: from its last resolution.
        eps.append(Episode(alert, eps[-1].resolved or alert["created_at"], None, None))
    return eps


def build_figures(store, period: Period, lang: str, now: float | None = None) -> DigestFigures:
    """The figures of `period`; `now` (default: the period's end) is when "open now" holds."""
    now = period.end if now is None else now
    every = store.list_alerts()
    alerts = [a for a in every if not is_group(a)]
    groups = {a["key"]: a for a in every if is_group(a)}
    start, end = period.start, period.end
    chart_start = end - CHART_DAYS * DAY_S
    eps = episodes(store, alerts, min(start, chart_start))

    def opened_in(e: Episode, lo: float, hi: float) -> bool:
        return lo <= e.opened < hi

    open_now = [a for a in alerts if a["state"] in OPEN_STATES]
    new = [e for e in eps if opened_in(e, start, end)]
    resolved = [e for e in eps if e.resolved is not None and start <= e.resolved < end]

    by_rule: dict[str, list[int]] = {}
    for e in new:
        by_rule.setdefault(e.alert["rule"], [0, 0])[0] += 1
    for a in open_now:
        by_rule.setdefault(a["rule"], [0, 0])[1] += 1
    causes = sorted((CauseCount(cause_title(r, lang), n, o) for r, (n, o) in by_rule.items()),
                    key=lambda c: (-c.open, -c.new, c.title))

    # An open failure has failed since its current episode opened (its latest reopening).
    current = {e.alert["key"]: e.opened for e in eps if e.resolved is None}
    oldest = []
    by_age = sorted((a for a in open_now if a["invoice_number"]),
                    key=lambda a: (current.get(a["key"], a["created_at"]), a["id"]))
    for a in by_age[:OLDEST_MAX]:
        channel, ts = a["channel"], a["ts"]
        if not ts and a["group_key"] in groups:  # a storm member: its group's thread names it
            channel, ts = groups[a["group_key"]]["channel"], groups[a["group_key"]]["ts"]
        who = (a["evidence"].get("invoice") or {}).get("who")
        oldest.append(OpenFailure(a["invoice_number"], who if isinstance(who, str) else None,
                                  current.get(a["key"], a["created_at"]), channel, ts))

    by_actor: dict[str, list[str]] = {}
    for e in sorted(resolved, key=lambda e: (e.resolved or 0, e.alert["id"])):
        name = e.alert["invoice_number"] or cause_title(e.alert["rule"], lang)
        by_actor.setdefault(e.by or SYSTEM, []).append(name)
    resolvers = sorted((Resolver(u, tuple(dict.fromkeys(n))) for u, n in by_actor.items()),
                       key=lambda r: (r.user == SYSTEM, -len(r.numbers), r.user))

    days = []
    for i in range(CHART_DAYS):
        lo = chart_start + i * DAY_S
        hi = lo + DAY_S
        days.append(DayCount(lo, sum(1 for e in eps if opened_in(e, lo, hi)), sum(1 for e in eps if e.open_at(hi))))

    return DigestFigures(
        period=period, new=len(new), resolved=len(resolved), open_now=len(open_now), causes=tuple(causes),
        oldest=tuple(oldest), resolvers=tuple(resolvers),
        fix_times=tuple((e.resolved or 0) - e.opened for e in resolved), days=tuple(days), now=now)
