"""Where the scan schedule starts after a (re)start: the scheduler itself keeps its job in
APScheduler's own MemoryJobStore (bot/runner.py), and nothing of it is written to disk.

Why not persist the job: a persisted APScheduler job is a pickle, and unpickling rows from
the database runs whatever the rows say. What a restart needs is only *when* the next scan is
due, and the store already knows when the last one finished: bot/scan.py writes the cursor
`scan.last_finished_at` (epoch seconds) at the end of every scan, scheduled or `/qbsync scan`.

    next scan = last finished + interval, or now if that is past (or unknown)

so downtime costs one catch-up scan at start, never one per missed interval, and a bot
restarted mid-interval waits for the rest of it instead of scanning again at once.
"""
from __future__ import annotations

from datetime import datetime, timezone

LAST_FINISHED_CURSOR = "scan.last_finished_at"  # written by bot/scan.py (Scanner.scan)


def last_finished_at(store) -> float | None:
    """The cursor as a number, or None if absent or unreadable (then the scan runs at once)."""
    raw = store.get_cursor(LAST_FINISHED_CURSOR)
    try:
        return float(raw) if raw else None
    except (TypeError, ValueError):
        return None


def first_scan_at(store, interval_s: float, now: float) -> datetime:
    """When the first scheduled scan of this process runs (UTC). Never later than one interval
    from now: a cursor in the future (clock change) must not stall the schedule."""
    last = last_finished_at(store)
    due = now if last is None else last + float(interval_s)
    return datetime.fromtimestamp(min(max(due, now), now + float(interval_s)), timezone.utc)
