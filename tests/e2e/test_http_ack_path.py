"""HTTP mode: what stands in front of an ack must not queue behind the bot's other work. The
replay ledger's claim (bot/replay_ledger.py) is written on a connection of its own
(Store.side_connection), so a request is answered while a scan or a worker holds the Store's
lock; it is claimed all the same (the same body again is a replay)."""
from __future__ import annotations

import threading
import time

from sandbox.slack_http import encode

from .conftest import ALICE
from .test_http_guard import send, slash_fields


def test_an_ack_does_not_wait_for_the_store_lock_and_is_still_claimed(make_bot):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    body, ctype = encode("slash_commands", slash_fields(bot, "help"))
    held, release = threading.Event(), threading.Event()

    def hold_the_store():  # as a long scan statement or transaction would
        with bot.store.db.lock:
            held.set()
            release.wait(8)
    holder = threading.Thread(target=hold_the_store, daemon=True)
    holder.start()
    assert held.wait(5)
    try:
        t0 = time.monotonic()
        first = send(bot, body, ctype)
        elapsed = time.monotonic() - t0
    finally:
        release.set()
        holder.join(10)
    assert first.status == 200 and elapsed < 2.0, elapsed
    again = send(bot, body, ctype)
    assert (again.status, again.body) == (200, b"")  # the claim was written: a replay runs nothing
