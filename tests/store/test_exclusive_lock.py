"""Database.exclusive: one holder at a time among processes sharing a database, and a holder
that dies (kill -9) lets go. The QBO token refresh relies on it (bot/adapters/qbo_auth.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.db import LockBusy

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from bot.store import Store
store = Store(sys.argv[1])
with store.qbo_token_lock("4620816365", timeout_s=10):
    print("held", flush=True)
    time.sleep(120)
"""


def hold_in_another_process(target) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(target)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_another_process_holding_the_lock_keeps_us_out_until_it_dies(store_target):
    store = Store(store_target)
    proc = hold_in_another_process(store_target)
    try:
        started = time.monotonic()
        with pytest.raises(LockBusy):
            with store.qbo_token_lock("4620816365", timeout_s=0.5):
                pytest.fail("entered a lock another process holds")
        assert time.monotonic() - started >= 0.5
        # Another realm's lock is another lock.
        with store.qbo_token_lock("9130350000000001", timeout_s=0.5):
            pass
        os.kill(proc.pid, signal.SIGKILL)  # a crash mid-refresh: the kernel / the server lets go
        proc.wait(10)
        with store.qbo_token_lock("4620816365", timeout_s=10):
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        store.close()


def test_the_lock_is_released_after_use_and_after_an_error(store_target):
    first, second = Store(store_target), Store(store_target)
    try:
        with first.qbo_token_lock("1"):
            with pytest.raises(LockBusy):
                with second.qbo_token_lock("1", timeout_s=0.2):
                    pass
        with pytest.raises(RuntimeError):
            with first.qbo_token_lock("1"):
                raise RuntimeError("the refresh failed")
        with second.qbo_token_lock("1", timeout_s=0.2):
            pass
    finally:
        first.close()
        second.close()


def test_a_memory_database_locks_between_threads():
    import threading

    store = Store(":memory:")
    try:
        entered = threading.Event()
        release = threading.Event()

        def hold():
            with store.qbo_token_lock("1"):
                entered.set()
                release.wait(10)

        t = threading.Thread(target=hold)
        t.start()
        assert entered.wait(10)
        with pytest.raises(LockBusy):
            with store.qbo_token_lock("1", timeout_s=0.2):
                pass
        release.set()
        t.join(10)
        with store.qbo_token_lock("1", timeout_s=0.2):
            pass
    finally:
        store.close()
