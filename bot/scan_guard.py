"""One scan of a company at a time within a process: a lock per company store, shared by
whatever scans it here (bot/runner.py's schedule, `/qbsync scan` through handlers/services.py,
the connections scanned in turn by `qbsync run` on SQLite, bot/jobs.py WorkerScans).

Two scans of one company at once could post one failure twice. Across processes, PostgreSQL
workers hold Procrastinate's scan:<connection> job lock (bot/jobs.py); SQLite has one process
(`qbsync run`), and this lock. Keyed by the company's store (its file or schema), not by the
Python objects: the Slack side and the scheduler may each build their own parts for one
connection, and both must take the same lock.
"""
from __future__ import annotations

import threading

_locks: dict[tuple, threading.Lock] = {}
_guard = threading.Lock()


def _key(store) -> tuple:
    path = str(getattr(store, "path", ""))
    if path in ("", ":memory:"):
        return ("memory", id(getattr(store, "db", store)))  # an in-memory database is its one connection
    return (path, getattr(store, "_schema", None))


def lock_for(store) -> threading.Lock:
    """The process-wide scan lock of the company whose store this is."""
    key = _key(store)
    with _guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.Lock()
        return lock
