"""The sandbox's clock: real time plus an offset that tests can move forward.

Token expiry, rate-limit windows, grace periods and the integration's retry schedule all
read this clock, so a test can jump an hour ahead instead of sleeping, while a client that
really waits (Retry-After) still sees time pass.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class Clock:
    def __init__(self):
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        """Seconds since the epoch, like time.time()."""
        with self._lock:
            return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


def iso_z(dt: datetime) -> str:
    """HubSpot-style timestamp: 2026-11-22T10:00:00.123Z"""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def qbo_time(dt: datetime) -> str:
    """QBO-style timestamp with offset: 2026-11-22T02:00:00-08:00 (we keep UTC: +00:00)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
