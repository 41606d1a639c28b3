"""The QBO mirror's CDC cursor follows QuickBooks' clock (the answer's `time`), not ours, so a
skew between the bot's host and Intuit cannot skip changes. The sandbox over HTTP, the real
adapter; the sandbox clock is moved to play a QBO whose clock differs from ours."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from bot.adapters.quickbooks import CdcAnswer, parse_server_time
from bot.mirror import CURSOR, QboMirror
from bot.store import Store

from .conftest import build

OVERLAP = 120.0
SKEW = 600.0  # QBO 10 minutes behind us: more than the overlap


class Recorder:
    """Forwards to the real adapter; remembers each CDC call's changedSince and answer.
    drop_time=True plays a QBO answer without a `time` (the fallback)."""

    def __init__(self, real, *, drop_time: bool = False):
        self._real, self._drop_time = real, drop_time
        self.calls: list[tuple[datetime, CdcAnswer]] = []

    def __getattr__(self, name):
        return getattr(self._real, name)

    def cdc(self, entities, changed_since):
        answer = self._real.cdc(entities, changed_since)
        if self._drop_time:
            answer = CdcAnswer(answer)  # server_time: None
        self.calls.append((changed_since, answer))
        return answer

    def last_server_time(self):
        return None if self._drop_time else self._real.last_server_time()


def _mirrored_customer_ids(store) -> set[str]:
    return {r["id"] for r in store.query_rows("SELECT id FROM qbo_names WHERE entity = 'Customer'")}


def test_qbo_time_parsing():
    assert parse_server_time("2015-10-26T12:36:25.170-07:00") == \
        datetime(2015, 10, 26, 19, 36, 25, 170000, tzinfo=timezone.utc)
    assert parse_server_time("2026-11-22T10:00:00.123+00:00").timestamp() == \
        datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=timezone.utc).timestamp()
    for bad in (None, "", "yesterday", "2015-10-26T12:36:25", 1445888185):
        assert parse_server_time(bad) is None          # no offset: cannot be placed in time


def test_qbo_behind_us_a_change_right_after_a_cdc_call_is_not_skipped(sandbox, tmp_path, caplog, store_target):
    sb = sandbox
    sb.load("mixed")
    sb.clock.advance(-SKEW)                            # QBO's clock 10 minutes behind ours
    parts = build(sb, tmp_path / "bot.db")
    store = Store(store_target)  # the mirror on SQLite, then on PostgreSQL
    qbo = Recorder(parts.qbo)
    mirror = QboMirror(store, qbo, overlap_s=OVERLAP)

    server_before, local_before = sb.clock.time(), time.time()
    with caplog.at_level(logging.WARNING, logger="bot.mirror"):
        mirror.sync()                                  # full load
        loaded = float(store.get_cursor(CURSOR))
        assert server_before - 1 <= loaded <= sb.clock.time()  # QBO's time of the load's first answer
        assert loaded < local_before - SKEW / 2        # not ours

        local_cdc1 = time.time()
        mirror.sync()                                  # CDC 1
        since, answer = qbo.calls[-1]
        assert since == datetime.fromtimestamp(loaded - OVERLAP, tz=timezone.utc)
        assert answer.server_time is not None
        cursor = float(store.get_cursor(CURSOR))
        assert cursor == answer.server_time.timestamp()  # QBO's time of the answer

        # Right after that call, someone adds a customer in QBO (at QBO's time, ~ cursor).
        added = sb.qbo.create("Customer", {"DisplayName": "Late Arrival BV",
                                           "PrimaryEmailAddr": {"Address": "late@arrival.example"}})
        changed_at_most = sb.clock.time()
        assert added["Id"] not in _mirrored_customer_ids(store)
        # Why our clock would not do: a cursor taken from it before CDC 1 asks, minus the
        # overlap, from a moment (QBO time) after this change: CDC 2 would skip it.
        assert changed_at_most < local_cdc1 - OVERLAP

        changes = mirror.sync()                        # CDC 2: the next cycle
        since, _ = qbo.calls[-1]
        assert since == datetime.fromtimestamp(cursor - OVERLAP, tz=timezone.utc)  # server time minus overlap
        assert added["Id"] in _mirrored_customer_ids(store) and changes.objects >= 1
        mirror.sync()
    skew_warnings = [r for r in caplog.records if "differ" in r.getMessage()]
    assert len(skew_warnings) == 1 and "behind" in skew_warnings[0].getMessage()
    assert mirror.clock_skew_s is not None and abs(mirror.clock_skew_s + SKEW) < 5
    store.close()


def test_without_a_server_time_the_cursor_is_our_clock_before_the_call(sandbox, tmp_path, caplog, store_target):
    sb = sandbox
    sb.load("mixed")
    parts = build(sb, tmp_path / "bot.db")
    store = Store(store_target)  # the mirror on SQLite, then on PostgreSQL
    qbo = Recorder(parts.qbo, drop_time=True)
    mirror = QboMirror(store, qbo, overlap_s=OVERLAP)
    before = time.time()
    mirror.sync()
    assert before <= float(store.get_cursor(CURSOR)) <= time.time()
    before = time.time()
    with caplog.at_level(logging.WARNING, logger="bot.mirror"):
        mirror.sync()
    after = time.time()
    assert qbo.calls and qbo.calls[-1][1].server_time is None
    assert before <= float(store.get_cursor(CURSOR)) <= after
    assert mirror.clock_skew_s is None and "differ" not in caplog.text
    store.close()


def test_clocks_in_step_no_warning_and_cursor_is_server_time(sandbox, tmp_path, caplog, store_target):
    sb = sandbox
    sb.load("mixed")
    parts = build(sb, tmp_path / "bot.db")
    store = Store(store_target)  # the mirror on SQLite, then on PostgreSQL
    qbo = Recorder(parts.qbo)
    mirror = QboMirror(store, qbo, overlap_s=OVERLAP)
    with caplog.at_level(logging.WARNING, logger="bot.mirror"):
        mirror.sync()
        mirror.sync()
    assert float(store.get_cursor(CURSOR)) == qbo.calls[-1][1].server_time.timestamp()
    assert abs(mirror.clock_skew_s) < 1 and "differ" not in caplog.text
    # The sandbox stamps to the millisecond; our clock is finer: within a second of ours.
    assert abs(float(store.get_cursor(CURSOR)) - time.time()) < 5
    store.close()
