"""Rolling-window request counters for the HubSpot stand-in, driven by the sandbox Clock.

HubSpot counts requests per private-app token on a rolling 10-second window (policy
TEN_SECONDLY_ROLLING: 100 requests for Free/Starter, 190 for Professional/Enterprise) and,
separately, search requests on a one-second window (5 per second). Reading the clock instead
of time.time() lets a test jump past a window (Clock.advance) instead of sleeping through it.
"""
from __future__ import annotations

import threading
from collections import deque


class RollingWindow:
    """At most `limit` hits in any `interval_s` seconds. Hits that are refused do not count."""

    def __init__(self, limit: int, interval_s: float, clock):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = int(limit)
        self.interval_s = float(interval_s)
        self._clock = clock
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        edge = now - self.interval_s
        while self._hits and self._hits[0] <= edge:
            self._hits.popleft()

    def try_hit(self) -> tuple[bool, int]:
        """Count one request if the window has room. Returns (allowed, remaining afterwards)."""
        with self._lock:
            now = self._clock.time()
            self._expire(now)
            if len(self._hits) >= self.limit:
                return False, 0
            self._hits.append(now)
            return True, self.limit - len(self._hits)

    def wait_s(self) -> float:
        """Seconds until the window has room again (0 when it has room now): when the oldest
        counted hit leaves it."""
        with self._lock:
            now = self._clock.time()
            self._expire(now)
            if len(self._hits) < self.limit:
                return 0.0
            return max(0.0, self._hits[0] + self.interval_s - now)

    def remaining(self) -> int:
        with self._lock:
            self._expire(self._clock.time())
            return max(0, self.limit - len(self._hits))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
