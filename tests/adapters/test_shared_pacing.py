"""bot/adapters/shared_pacing.py on a real PostgreSQL (tests/pg.py): windows counted in the
database across connections (each PaceLedger is what one process has), per key, pruned; a
dropped connection is remade; an unreachable database falls back to local pacing, logged once.
The ten-process test against the sandbox is tests/test_shared_rate_limits.py."""
from __future__ import annotations

import logging
import threading
import time

import psycopg
import pytest

from bot import wiring
from bot.adapters.pacing import Pacer
from bot.adapters.shared_pacing import RETRY_CONNECT_S, PaceLedger, SharedPacer
from bot.config import Settings
from bot.store import Store
from sandbox.pg_cluster import free_port as _free_port
from tests.rate_rounds import most_in_any_window


@pytest.fixture
def db(pg_url):
    Store(pg_url).close()  # migrations: the pace_sent table
    return pg_url


def log_every_row(url: str) -> None:
    """Copy each counted request's time to pace_log (pace_sent prunes old rows)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE pace_log (key TEXT, sent_at DOUBLE PRECISION)")
        conn.execute("CREATE FUNCTION log_pace() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN INSERT INTO pace_log VALUES (NEW.key, NEW.sent_at); RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER pace_logged AFTER INSERT ON pace_sent FOR EACH ROW EXECUTE FUNCTION log_pace()")


def logged(url: str, key: str) -> list[float]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT sent_at FROM pace_log WHERE key = %s ORDER BY sent_at", (key,))]


def test_connections_of_several_processes_share_every_window(db):
    log_every_row(db)
    limits = [(3, 0.3), (5, 1.0)]
    ledgers = [PaceLedger(db) for _ in range(4)]       # four "processes", a connection each
    pacers = [SharedPacer(ledger, "qbo:test:1", limits) for ledger in ledgers]  # each its own local pacer

    def send(pacer):
        for _ in range(4):
            pacer.wait()

    started = time.monotonic()
    threads = [threading.Thread(target=send, args=(p,)) for p in pacers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    took = time.monotonic() - started
    stamps = logged(db, "qbo:test:1")
    assert len(stamps) == 16
    assert most_in_any_window(stamps, 0.3) <= 3 and most_in_any_window(stamps, 1.0) <= 5
    assert took >= 2.0          # 16 requests at 5 a second: they did wait
    assert all(not ledger.down for ledger in ledgers) and sum(p.waited_s for p in pacers) > 0
    for ledger in ledgers:
        ledger.close()


def test_each_key_is_counted_alone_and_old_rows_are_pruned(db):
    ledger = PaceLedger(db)
    assert ledger.acquire("company-a", [(2, 10.0)]) == 0
    assert ledger.acquire("company-a", [(2, 10.0)]) == 0
    delay = ledger.acquire("company-a", [(2, 10.0)])
    assert delay is not None and 9.0 < delay <= 10.0    # until the first falls out
    assert ledger.acquire("company-b", [(2, 10.0)]) == 0  # another company is not held up
    for _ in range(5):
        assert ledger.acquire("company-c", [(100, 0.2)]) == 0
    time.sleep(0.25)
    assert ledger.acquire("company-c", [(100, 0.2)]) == 0
    with psycopg.connect(db) as conn:
        rows = dict(conn.execute("SELECT key, count(*) FROM pace_sent GROUP BY key").fetchall())
    assert rows == {"company-a": 2, "company-b": 1, "company-c": 1}
    ledger.close()


def test_a_dropped_connection_is_remade_at_once(db):
    ledger = PaceLedger(db)
    assert ledger.acquire("k", [(10, 1.0)]) == 0
    with psycopg.connect(db, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (ledger._conn.info.backend_pid,))
    assert ledger.acquire("k", [(10, 1.0)]) == 0
    assert ledger.connects == 2 and not ledger.down
    ledger.close()


def test_an_unreachable_database_paces_locally_logs_once_and_is_tried_again(db, caplog):
    now = [0.0]
    ledger = PaceLedger(f"postgresql://postgres@127.0.0.1:{_free_port()}/postgres", clock=lambda: now[0])
    slept: list[float] = []
    local_now = [100.0]

    def local_sleep(s):
        slept.append(s)
        local_now[0] += s

    local = Pacer([(2, 1.0)], clock=lambda: local_now[0], sleep=local_sleep)
    pacer = SharedPacer(ledger, "k", [(2, 1.0)], local=local, sleep=lambda s: pytest.fail("no shared wait"))
    with caplog.at_level(logging.WARNING, logger="bot.adapters.shared_pacing"):
        for _ in range(3):
            pacer.wait()                          # never raises, never stops the caller
        assert ledger.down and slept == [1.0]     # the third waited for the local window
        now[0] += RETRY_CONNECT_S + 1
        pacer.wait()                              # tried again, still down: not logged again
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "pacing in this process only" in warnings[0]
        assert "127.0.0.1" not in warnings[0]      # no connection text (it can carry the URL)
        ledger.url = db                           # the database is back
        pacer.wait()
        assert ledger.down                        # not before RETRY_CONNECT_S has passed
        now[0] += RETRY_CONNECT_S + 1
        local_now[0] += 10
        pacer.wait()
        assert not ledger.down and ledger.connects == 1
        assert "reachable again" in caplog.records[-1].getMessage()
    ledger.close()


def test_wiring_gives_shared_pacers_only_with_postgresql(db, tmp_path):
    base = {"hubspot_token": "pat-na1-00000000-0000-0000-0000-000000000000", "qbo_realm_id": "4620816365",
            "qbo_client_id": "id", "qbo_client_secret": "secret", "qbo_refresh_token": "rt"}
    on_pg = Settings(database_url=db, **base)
    store = Store(db)
    qbo, hubspot = wiring.qbo_adapter(on_pg, store), wiring.hubspot_adapter(on_pg)
    assert isinstance(qbo.pacer, SharedPacer) and qbo.pacer.key.endswith(":4620816365")
    assert isinstance(hubspot.pacer, SharedPacer) and isinstance(hubspot.search_pacer, SharedPacer)
    assert hubspot.pacer.key != hubspot.search_pacer.key and hubspot.pacer.ledger is qbo.pacer.ledger
    store.close()
    on_sqlite = Settings(db_path=str(tmp_path / "q.db"), **base)
    store = Store(on_sqlite.store_target)
    qbo, hubspot = wiring.qbo_adapter(on_sqlite, store), wiring.hubspot_adapter(on_sqlite)
    assert type(qbo.pacer) is Pacer and type(hubspot.pacer) is Pacer and type(hubspot.search_pacer) is Pacer
    store.close()


def _post_times(pacers: list, channel: str, posts_each: int) -> list[float]:
    """Each ChannelPacer (one per "process") posts `posts_each` times to one channel at once."""
    stamps: list[float] = []
    lock = threading.Lock()

    def post(pacer):
        for _ in range(posts_each):
            with pacer.slot(channel):
                with lock:
                    stamps.append(time.monotonic())

    threads = [threading.Thread(target=post, args=(p,)) for p in pacers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sorted(stamps)


def test_slack_posts_to_one_channel_are_paced_across_processes(db):
    """A worker's alerts and the listener's thread replies share Slack's per-channel pace: with
    PostgreSQL each process's ChannelPacer also counts the others' posts (wiring.channel_pacers);
    without it, each keeps only its own pace and together they post twice as often."""
    from bot.slack.client import ChannelPacer

    interval = 0.25
    ledgers = [PaceLedger(db) for _ in range(2)]   # two processes
    shared = [ChannelPacer(interval, shared=lambda ch, ledger=ledger: SharedPacer(
        ledger, f"slack-post:{ch}", [(1, interval)])) for ledger in ledgers]
    stamps = _post_times(shared, "C0SHARED01", 4)
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    # Paced: 8 posts span 7 intervals. A single gap may shrink when a thread is descheduled
    # between getting its slot and stamping it (a loaded CI machine: 0.17 s seen), never to the
    # control's near-zero.
    assert len(stamps) == 8 and stamps[-1] - stamps[0] >= 7 * interval * 0.95, stamps
    assert min(gaps) >= interval * 0.5, gaps

    alone = _post_times([ChannelPacer(interval), ChannelPacer(interval)], "C0SHARED02", 4)
    assert min(b - a for a, b in zip(alone, alone[1:])) < interval * 0.5   # the control: the pace is broken


def test_wiring_gives_the_slack_poster_shared_channel_pacing_on_postgresql(db):
    on_pg = wiring.channel_pacers(Settings(database_url=db), 1.0)
    assert on_pg is not None and on_pg("C0X").key == "slack-post:C0X" and on_pg("C0X").limits == [(1, 1.0)]
    assert wiring.channel_pacers(Settings(), 1.0) is None
