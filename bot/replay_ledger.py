"""Signed Slack requests already taken, in the app's SQLite (table slack_requests_seen).

Slack's signature covers a timestamp that receivers accept for five minutes either way
(https://api.slack.com/authentication/verifying-requests-from-slack; slack_sdk's
SignatureVerifier rejects |now - timestamp| > 300 s). Inside that window the same signed bytes
can be sent again and verify again: bolt does not stop that (../shared/knowledge/apis.md,
"Requests"). So each body is claimed here before it is dispatched, and a second claim of the
same body while its window is open fails.

The key is the SHA-256 of the raw body, not of the signature: Slack's own retries
(X-Slack-Retry-Num) carry the same body under a fresh timestamp and signature, and must not
run twice either. Two genuine deliveries never share a body: each carries its own trigger_id
(commands, interactions) or event_id (events).

Persisted, so a restart does not reopen the window for requests seen just before it.

The same request in other bytes (JSON keys or form fields reordered, another %-encoding) is
not a replay here: it needs a new signature, which only Slack or whoever holds the signing
secret can make, and what acts is claimed one level up anyway (a click claims its alert key
and version, handlers/actions.py; tests/e2e/test_http_attacks.py sends a fix click twice
with its keys reordered and QBO is written once).
"""
from __future__ import annotations

import hashlib
import time

WINDOW_S = 300  # Slack's signature window, each way
# How long a claim is kept: longer than the signature window, because Slack's retries of an
# event come with a fresh timestamp, the last of them minutes after the first delivery (a
# few retries over about five minutes, by third-party accounts of the Events API; no Slack
# page in our sources gives the schedule). A retry after a claim of WINDOW_S had lapsed
# ran again. An hour is far past any such schedule and costs one small row per request;
# no genuine request repeats a body (each carries its own trigger_id / event_id).
KEEP_S = 3600


class ReplayLedger:
    def __init__(self, store, *, clock=time.time, db=None):
        """`db`: the connection the claims are written on (default: the Store's own). HttpRunner
        gives it a side connection (Store.side_connection): on the Store's connection every
        ack waited for the store lock behind the scan's and the workers' statements, which
        was most of an ack's time under load (py-spy of the benchmark's ack phase)."""
        self.store = store
        self.clock = clock
        self._db = db if db is not None else store
        self._own = db is not None and db is not getattr(store, "db", None)

    def close(self) -> None:
        if self._own:
            self._db.close()

    @staticmethod
    def key_of(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    def claim(self, body: bytes, timestamp: int) -> bool:
        """True the first time this body is seen while its window is open; False for a replay."""
        now = self.clock()
        # Kept from the later of now and the (possibly future) timestamp: a replay is refused
        # by the signature check after WINDOW_S, a retry (new timestamp) only by this row.
        expires = max(now, float(timestamp)) + max(WINDOW_S, KEEP_S)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM slack_requests_seen WHERE expires_at < ?", (now,))
            # ON CONFLICT DO NOTHING rather than catching the duplicate-key error: on PostgreSQL
            # an error aborts the whole transaction, the prune above with it.
            cur = conn.execute("INSERT INTO slack_requests_seen (key, expires_at) VALUES (?, ?)"
                               " ON CONFLICT (key) DO NOTHING", (self.key_of(body), expires))
            return cur.rowcount == 1

    def release(self, body: bytes) -> None:
        """Forget a claim whose dispatch failed (5xx), so Slack's retry of it can run."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM slack_requests_seen WHERE key = ?", (self.key_of(body),))
