"""Driving the processes of the shared rate-limit tests (tests/test_shared_rate_limits*.py):
PROCESSES `python -m tests.rate_caller` processes, two rounds of calls started together (the
shared round, then the process-local control round), and what the stand-in saw of each."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.workers import ROOT

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
