"""Pacing shared by every process on every machine: the requests sent per key (a QBO company,
a HubSpot token) are counted in PostgreSQL, so ten `qbsync worker` processes together stay
under one company's limits instead of each under its own (issue 13). Used when the store is
PostgreSQL (bot/wiring.py); with SQLite there is one process and bot/adapters/pacing.py's
process-local `Pacer` is enough.

How a request gets its turn (`PaceLedger.acquire`), in one short transaction:
1. `pg_advisory_xact_lock(<64-bit hash of the key>)`: one acquire per key at a time, released
   at COMMIT; other keys (other companies) are not held up
   (https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS).
   The hash is computed here (sha256) rather than with PostgreSQL's undocumented hashtext();
   two keys sharing a hash would only take turns, never count together.
2. The database's clock, `clock_timestamp()`, read AFTER the lock is held: the actual time,
   not the transaction's start (`now()`), which would be stale after waiting for the lock
   (https://www.postgresql.org/docs/current/functions-datetime.html#FUNCTIONS-DATETIME-CURRENT).
   One clock for every machine, so skewed machine clocks cannot disagree about a window.
3. For each window (n requests per w seconds): the n-th newest row of the key inside the window;
   if there is one, the window is full until it falls out.
4. All fit: insert one row (this request) and prune the key's rows older than the longest
   window (a handful per acquire, through the (key, sent_at) index). Else: return the delay.
The caller sleeps OUTSIDE the transaction (no lock is held while waiting) and tries again.

Each process has its own psycopg connection per database (not the Store's, which a scan holds
for long transactions), made on first use and remade when it drops. If PostgreSQL cannot be
reached, the pacer falls back to the process-local pacer and logs once per outage: pacing
must never stop a scan, and the local pacer still keeps this process under the limits (only
the sum over processes is no longer guarded). It tries the database again after
RETRY_CONNECT_S.
"""
from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from typing import Any, Callable

from .pacing import Pacer, shared_pacer

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3          # an unreachable database costs a scan at most this, per retry
STATEMENT_TIMEOUT_MS = 5000    # a stuck lock or server: fall back instead of hanging the scan
RETRY_CONNECT_S = 30.0         # after a failure, pace locally this long before trying again
JITTER_S = 0.003               # processes woken by the same delay do not all retry at once


def lock_id(key: str) -> int:
    """The advisory lock for `key`: a signed 64-bit number (pg_advisory_xact_lock(bigint))."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big", signed=True)


def _norm(limits: list[tuple[int, float]]) -> list[tuple[int, float]]:
    return [(int(n), float(w)) for n, w in limits]


class PaceLedger:
    """The requests sent per key, in the `pace_sent` table (store migration 12) of one
    PostgreSQL database, through a connection of this process's own. Thread-safe: threads
    take turns on the connection (an acquire holds it for a few milliseconds)."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic):
        self.url = url
        self._clock = clock
        self._conn: Any = None
        self._lock = threading.Lock()
        self._retry_at = 0.0      # monotonic time before which we do not try to reconnect
        self.down = False         # PostgreSQL unreachable: callers pace locally
        self.connects = 0         # connections made (tests check a dropped one is remade)

    def acquire(self, key: str, limits: list[tuple[int, float]]) -> float | None:
        """0 when the request may go now (it is counted); > 0: seconds until it may fit;
        None: PostgreSQL is unreachable (pace locally)."""
        with self._lock:
            # Two tries: a connection dropped while idle (a server restart, a proxy's idle
            # timeout) is only found when used; a fresh one is tried at once.
            for attempt in (1, 2):
                conn = self._connection()
                if conn is None:
                    return None
                try:
                    return self._acquire(conn, key, limits)
                except Exception as exc:  # psycopg.Error and socket errors alike: never stop a scan
                    self._discard()
                    if attempt == 2 or not self._is_connection_error(exc):
                        self._went_down(exc)
                        return None
            return None

    def close(self) -> None:
        with self._lock:
            self._discard()

    # -- internals ------------------------------------------------------------------------
    def _acquire(self, conn, key: str, limits: list[tuple[int, float]]) -> float:
        longest = max((w for _, w in limits), default=0.0)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_id(key),))
            # One statement: the clock (read now that the lock is held) and, per window, the
            # n-th newest request of this key inside it.
            nth = ", ".join(
                "(SELECT sent_at FROM pace_sent WHERE key = %s AND sent_at > c.now - %s "
                "ORDER BY sent_at DESC OFFSET %s LIMIT 1)" for _ in limits)
            params: list[Any] = []
            for n, window in limits:
                params += [key, window, max(0, n - 1)]
            # Only placeholders are joined into the text; every value is a bound parameter.
            sql = ("SELECT c.now" + (", " + nth if limits else "")  # noqa: S608
                   + " FROM (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) c")
            row = conn.execute(sql, params).fetchone()
            now = float(row[0])
            delay = 0.0
            for (_, window), oldest in zip(limits, row[1:], strict=True):
                if oldest is not None:
                    delay = max(delay, float(oldest) + window - now)
            if delay > 0:
                return delay
            conn.execute("INSERT INTO pace_sent (key, sent_at) VALUES (%s, %s)", (key, now))
            conn.execute("DELETE FROM pace_sent WHERE key = %s AND sent_at <= %s", (key, now - longest))
            return 0.0

    def _connection(self):
        if self._conn is not None:
            return self._conn
        if self.down and self._clock() < self._retry_at:
            return None
        try:
            self._conn = self._open()
        except Exception as exc:
            self._went_down(exc)
            return None
        self.connects += 1
        if self.down:
            log.warning("shared rate limits: PostgreSQL reachable again; pacing is shared across processes again")
            self.down = False
        return self._conn

    def _open(self):
        import psycopg

        # autocommit: each acquire is its own explicit transaction (conn.transaction()),
        # nothing stays open between requests
        # (https://www.psycopg.org/psycopg3/docs/basic/transactions.html#autocommit-transactions).
        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                               options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: S110 - already broken; closing is best effort
                pass

    @staticmethod
    def _is_connection_error(exc: BaseException) -> bool:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is installed whenever PostgreSQL is used
            return False
        return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, OSError))

    def _went_down(self, exc: BaseException) -> None:
        self._retry_at = self._clock() + RETRY_CONNECT_S
        if not self.down:
            # Once per outage; the class name only: a connection error's text can carry the URL.
            log.warning("shared rate limits: PostgreSQL unavailable (%s); pacing in this process only "
                        "until it is back", type(exc).__name__)
        self.down = True


class SharedPacer:
    """`wait()` like bot.adapters.pacing.Pacer, counted in PostgreSQL (PaceLedger).

    The process-local pacer of the same key runs first: it keeps this process alone under the
    limits without a round trip to the database when it is the one sending too fast, and it is
    the whole pacing while PostgreSQL is unreachable. The database's count is the authority."""

    def __init__(self, ledger: PaceLedger, key: str, limits: list[tuple[int, float]], *,
                 local: Pacer | None = None, sleep: Callable[[float], None] = time.sleep):
        self.ledger = ledger
        self.key = key
        self.local = local or Pacer(limits)
        self._limits = _norm(limits)
        self._sleep = sleep
        self.waited_s = 0.0

    @property
    def limits(self) -> list[tuple[int, float]]:
        return self._limits

    @limits.setter
    def limits(self, value: list[tuple[int, float]]) -> None:
        # Tests with a faster stand-in set the limits on the adapter's pacer: both stages follow.
        self._limits = _norm(value)
        self.local.limits = list(self._limits)

    def wait(self) -> None:
        self.local.wait()
        while True:
            delay = self.ledger.acquire(self.key, self._limits)
            if delay is None or delay <= 0:  # None: PostgreSQL unreachable, the local pacer has paced
                return
            self.waited_s += delay
            self._sleep(delay + random.uniform(0, JITTER_S))  # noqa: S311 - jitter, not a secret


_ledgers: dict[tuple[int, str], PaceLedger] = {}
_pacers: dict[tuple[int, str, str], SharedPacer] = {}
_registry_lock = threading.Lock()


def ledger_for(url: str) -> PaceLedger:
    """This process's ledger for the database at `url` (keyed by pid too: a forked child must
    not share its parent's connection)."""
    with _registry_lock:
        ledger = _ledgers.get((os.getpid(), url))
        if ledger is None:
            ledger = _ledgers[(os.getpid(), url)] = PaceLedger(url)
        return ledger


def shared_pg_pacer(url: str, key: str, limits: list[tuple[int, float]]) -> SharedPacer:
    """One shared pacer per (database, key) per process, like pacing.shared_pacer, with that
    process-wide local pacer as its first stage."""
    local = shared_pacer(key, limits)
    ledger = ledger_for(url)
    with _registry_lock:
        pacer = _pacers.get((os.getpid(), url, key))
        if pacer is None or pacer.limits != _norm(limits) or pacer.local is not local:
            pacer = _pacers[(os.getpid(), url, key)] = SharedPacer(ledger, key, limits, local=local)
        return pacer


def pg_pacers(url: str) -> Callable[[str, list[tuple[int, float]]], SharedPacer]:
    """The `pacers` factory the adapters take (key, limits) -> pacer, for the database at `url`."""
    def make(key: str, limits: list[tuple[int, float]]) -> SharedPacer:
        return shared_pg_pacer(url, key, limits)
    return make
