"""Pacing: stay under an API's published limits by waiting before a request, instead of
collecting 429s. A `Pacer` holds rolling windows (e.g. 10 per second AND 500 per minute)
and `wait()` blocks until a request fits all of them. Thread-safe.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Protocol


class Waits(Protocol):
    """What an adapter needs of a pacer: Pacer here, SharedPacer (bot/adapters/shared_pacing.py)."""

    def wait(self) -> None: ...


# (key, limits) -> the pacer an adapter waits on; `shared_pacer` below, or
# bot.adapters.shared_pacing.pg_pacers(url) when the store is PostgreSQL (bot/wiring.py).
PacerFactory = Callable[[str, list[tuple[int, float]]], Waits]


class Pacer:
    def __init__(self, limits: list[tuple[int, float]], *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        """limits: [(requests, window seconds), ...]"""
        self.limits = [(int(n), float(w)) for n, w in limits]
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited_s = 0.0  # total time spent waiting (for benchmarks)

    def _delay(self, now: float) -> float:
        longest = max((w for _, w in self.limits), default=0.0)
        while self._sent and now - self._sent[0] >= longest:
            self._sent.popleft()
        delay = 0.0
        for n, window in self.limits:
            inside = [t for t in self._sent if now - t < window] if len(self._sent) >= n else []
            if len(inside) >= n:
                delay = max(delay, inside[-n] + window - now)
        return delay

    def wait(self) -> None:
        with self._lock:
            while True:
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    self._sent.append(now)
                    return
                self.waited_s += delay
                self._sleep(delay)


_shared: dict[str, Pacer] = {}
_shared_lock = threading.Lock()


def shared_pacer(key: str, limits: list[tuple[int, float]]) -> Pacer:
    """One pacer per key (e.g. per QBO company) for the whole process: the limits belong to
    the company, not to one adapter object, so a second adapter (a restart, `explain`
    beside the bot) must count the first one's requests too."""
    with _shared_lock:
        pacer = _shared.get(key)
        if pacer is None or pacer.limits != [(int(n), float(w)) for n, w in limits]:
            pacer = _shared[key] = Pacer(limits)
        return pacer
