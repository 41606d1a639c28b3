"""`/qbsync status` reads the sync risks from the invoice cache once per scan, not once per
command (handlers/services.py Services.sync_risks), and reads the cache in pages
(bot/sync_risks.py from_cache): under 20 people's commands at 50,000 invoices each status
parsed every cached invoice, holding the GIL and the store's lock."""
from __future__ import annotations

import threading

from bot import sync_risks

from .conftest import ALICE
from .test_commands import risky_world


def _counting(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = sync_risks.from_cache

    def counted(store, **kw):
        calls.append(1)
        return real(store, **kw)
    monkeypatch.setattr(sync_risks, "from_cache", counted)
    return calls


def test_the_risks_are_read_once_per_scan_however_many_ask(make_bot, monkeypatch):
    bot = make_bot(risky_world())
    bot.scan()
    calls = _counting(monkeypatch)
    svc = bot.services
    answers: list[list] = []
    threads = [threading.Thread(target=lambda: answers.append(svc.status().risks)) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    [status] = bot.command(ALICE, "status")
    assert "`books-closed`" in status and "`multicurrency-off`" in status
    assert len(answers) == 6 and all([r.id for r in a] == [r.id for r in answers[0]] for a in answers)
    assert len(calls) == 1, "seven status answers, one read of the cache"
    # A scan may change the cache (and the mirrored Preferences): the next status reads again.
    bot.sb.qbo.set_preference("AccountingInfoPrefs.BookCloseDate", "2026-01-31")
    bot.scan()
    [status] = bot.command(ALICE, "status")
    assert len(calls) == 2 and "`books-closed`" not in status and "`multicurrency-off`" in status
    # A scan that ended in another process (a `qbsync worker`) is seen by the cursor it writes.
    bot.command(ALICE, "status")
    assert len(calls) == 2
    bot.store.set_cursor("scan.last_finished_at", "1900000000.5")
    bot.command(ALICE, "status")
    assert len(calls) == 3


def test_the_cache_is_read_in_pages_with_nothing_left_out(make_bot):
    bot = make_bot(risky_world())
    bot.scan()
    store = bot.store
    [row] = store.query_rows("SELECT COUNT(*) AS n FROM hs_invoices WHERE status = 'open' AND native = 1")
    whole = sync_risks.from_cache(store, page=100_000)
    assert len(whole) == row["n"] >= 2
    for page in (1, 2, row["n"]):
        assert sync_risks.from_cache(store, page=page) == whole
