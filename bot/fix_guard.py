"""A fix and a scan of the same invoice, one at a time.

A scan reads HubSpot and QBO, diagnoses, then records what it found. If a person's fix on
that invoice runs in between, the scan's data is from before the fix: recording it would
reopen the alert just fixed, or raise an `unknown` alert on an invoice that only waits for
HubSpot's next retry. So:

- a fix holds its invoice's lock for the whole run (write, re-check, resolve), and records
  the run in the store (`fix_runs`: started, finished);
- a scan records an invoice's findings only while holding that lock, and only when no fix
  on it was running or finished after the scan began reading (`since`); otherwise the
  invoice is deferred to the next scan, which reads fresh data.

The lock is per process (today's single-process bot); the run rows make the rule hold for a
fix in another process too, and tell a restarted bot which fixes a crash interrupted
(`interrupted`), for the scanner to settle by a re-check (bot/scan.py).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

# A fix run still open after this long was interrupted (a crash, kill -9): a fix itself takes
# seconds (a few API calls, each retried for at most about a minute).
FIX_TIMEOUT_S = 600.0


class FixGuard:
    def __init__(self, store, *, clock=time.time, timeout_s: float = FIX_TIMEOUT_S):
        self.store = store
        self.clock = clock
        self.timeout_s = float(timeout_s)
        self._cv = threading.Condition()
        self._fixing: dict[str, int] = {}     # invoice id -> fixes running in this process
        self._recording: set[str] = set()     # invoices a scan is recording right now
        self._finished: dict[str, float] = {}  # invoice id -> when a fix here last finished

    @contextmanager
    def running(self, key: str, invoice_id: str, fix_id: str, by: str) -> Iterator[None]:
        """Around a whole fix run. Waits for a scan that is recording this invoice right now
        (milliseconds to a Slack post)."""
        invoice_id = str(invoice_id)
        with self._cv:
            self._cv.wait_for(lambda: invoice_id not in self._recording)
            self._fixing[invoice_id] = self._fixing.get(invoice_id, 0) + 1
        try:
            self.store.begin_fix_run(key, invoice_id, fix_id, by)
            try:
                yield
            finally:
                self.store.end_fix_run(key)
        finally:
            with self._cv:
                now = self.clock()
                self._fixing[invoice_id] -= 1
                if not self._fixing[invoice_id]:
                    del self._fixing[invoice_id]
                self._finished[invoice_id] = now
                for inv in [i for i, at in self._finished.items() if now - at > self.timeout_s]:
                    del self._finished[inv]
                self._cv.notify_all()

    def busy(self, since: float | None) -> set[str]:
        """Invoices the store says a fix was busy with since `since`: running (in any process,
        not yet timed out) or finished after it. One query per pass."""
        return self.store.busy_fix_invoices(since, self.clock() - self.timeout_s)

    @contextmanager
    def settled(self, invoice_id: str, since: float | None, busy: set[str]) -> Iterator[bool]:
        """For a scan about to record `invoice_id`'s findings: yields True (no fix may start on
        it until the block ends) when its data can be trusted; False when a fix is running on
        it or finished after `since` (when the scan began reading). `busy`: self.busy(since)."""
        invoice_id = str(invoice_id)
        with self._cv:
            trusted = invoice_id not in busy and invoice_id not in self._fixing and \
                (since is None or self._finished.get(invoice_id, float("-inf")) < since)
            if trusted:
                self._recording.add(invoice_id)
        try:
            yield trusted
        finally:
            if trusted:
                with self._cv:
                    self._recording.discard(invoice_id)
                    self._cv.notify_all()

    def interrupted(self) -> list[dict]:
        """Fix runs left unfinished longer than the timeout and not running in this process:
        a crash stopped them."""
        now = self.clock()
        with self._cv:
            here = set(self._fixing)
        return [run for run in self.store.fix_runs(unfinished=True)
                if now - run["started_at"] >= self.timeout_s and run["invoice_id"] not in here]
