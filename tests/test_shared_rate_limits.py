"""Rate limits shared by all workers (issue 13): TEN real processes call ONE sandbox company
through the adapters as bot/wiring.py builds them with the store on PostgreSQL; the pacing
counted in PostgreSQL (bot/adapters/shared_pacing.py) keeps them together under the company's
limit, where the same processes with process-local pacers (the control round) exceed it."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from bot import wiring
from bot.adapters.quickbooks import PACE_LIMITS
from bot.config import load_settings
from bot.store import Store
from sandbox.app import Sandbox
from tests.workers import ROOT, environment

PROCESSES = 10


def most_in_any_window(stamps: list[float], window: float) -> int:
    """The most stamps inside any half-open window [t, t + window) starting at a stamp."""
    stamps = sorted(stamps)
    most, j = 0, 0
    for i, start in enumerate(stamps):
        j = max(j, i)
        while j < len(stamps) and stamps[j] < start + window:
            j += 1
        most = max(most, j - i)
    return most


def test_most_in_any_window_counts_a_burst():
    assert most_in_any_window([0.0, 0.1, 0.2, 1.05, 1.1], 1.0) == 3
    assert most_in_any_window([0.0, 1.0, 2.0], 1.0) == 1
    assert most_in_any_window([], 1.0) == 0


def start_callers(folder: Path, env: dict, service: str, calls: int, limits: str) -> list[subprocess.Popen]:
    """PROCESSES `python -m tests.rate_caller` processes, their output in folder/p<i>.log."""
    procs = []
    for i in range(PROCESSES):
        with open(folder / f"p{i}.log", "w") as out:
            procs.append(subprocess.Popen(  # noqa: S603 - our own module, arguments from this test
                [sys.executable, "-m", "tests.rate_caller", str(folder), f"p{i}", service, str(calls), limits],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    return procs


def logs(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(folder.glob("p*.log")))


def wait_until(predicate, timeout: float, what: str, procs, folder: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline or any(p.poll() not in (None, 0) for p in procs):
            raise AssertionError(f"{what}: timed out or a caller died ({[p.poll() for p in procs]})\n{logs(folder)}")
        time.sleep(0.02)


def run_round(folder: Path, round_name: str, procs) -> dict[str, int]:
    (folder / f"go.{round_name}").write_text("")
    done = [folder / f"p{i}.{round_name}.json" for i in range(PROCESSES)]
    wait_until(lambda: all(p.exists() for p in done), 60, f"round {round_name}", procs, folder)
    totals = {"ok": 0, "rate_limited": 0, "other": 0}
    for path in done:
        for k, v in json.loads(path.read_text()).items():
            totals[k] += v
    return totals


@dataclass
class Round:
    totals: dict[str, int]      # what the callers counted: ok, rate_limited (429), other
    arrivals: list[float]       # when each request reached the stand-in's limits check
    refused: int                # 429s the stand-in answered


def two_rounds(folder: Path, env: dict, service, log, name: str, calls: int, limits: str,
               between: Callable[[], None]) -> tuple[Round, Round]:
    """Start PROCESSES callers, run the shared round, `between()` (the stand-in's windows
    empty), then the local (control) round; what the stand-in `service` saw of each."""
    procs = start_callers(folder, env, name, calls, limits)
    try:
        wait_until(lambda: all((folder / f"p{i}.ready").exists() for i in range(PROCESSES)), 60,
                   "ten callers ready", procs, folder)
        rounds = []
        for round_name in ("shared", "local"):
            if round_name == "local":
                between()
            service.arrivals = []
            before = log.count_status(name, 429)
            totals = run_round(folder, round_name, procs)
            rounds.append(Round(totals, [a[1] for a in service.arrivals], log.count_status(name, 429) - before))
        for p in procs:
            assert p.wait(timeout=20) == 0, logs(folder)
        return rounds[0], rounds[1]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.timeout(90)
def test_ten_processes_stay_under_one_qbo_companys_limit_together(tmp_path, pg_url):
    calls, per_second = 6, 10
    # The adapter's own limits (9 per 1.1 s, 480 per minute) against QBO's 10 per second per
    # company, which binds in a round of 60 calls (the minute window is never reached).
    with Sandbox(qbo_per_second=per_second, qbo_per_minute=500) as sb:
        sb.load("mixed")
        env = environment(sb, pg_url)
        # One access token for all: the token chain is in PostgreSQL; get it once here so ten
        # processes do not all refresh at once (not what this test is about).
        settings = load_settings(env, env_file=None)
        store = Store(pg_url)
        wiring.qbo_adapter(settings, store).tokens.access_token()
        store.close()
        shared, local = two_rounds(tmp_path, env, sb.qbo_service, sb.log, "qbo", calls, json.dumps(PACE_LIMITS),
                                   lambda: time.sleep(1.2))  # the company's one-second window empties

    total = PROCESSES * calls
    # Shared: every call arrived and was answered, none refused, never more than the limit in
    # any second at the stand-in.
    assert shared.totals == {"ok": total, "rate_limited": 0, "other": 0}
    assert shared.refused == 0 and len(shared.arrivals) == total
    assert most_in_any_window(shared.arrivals, 1.0) <= per_second
    # Control: the same processes pacing only themselves send up to 10 x 9 a second: the
    # stand-in sees more than its limit in a second and refuses some.
    assert local.totals["other"] == 0 and local.totals["rate_limited"] > 0
    assert local.refused == local.totals["rate_limited"] and len(local.arrivals) == total
    assert most_in_any_window(local.arrivals, 1.0) > per_second
