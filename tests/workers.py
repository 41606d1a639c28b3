"""Helpers for the tests of scans as jobs (bot/jobs.py): real `qbsync worker` and `qbsync run`
processes on a PostgreSQL database of the test's own (tests/pg.py), against the sandbox served
by the test over HTTP, as tests/test_kill9.py and tests/test_run.py do."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bot.alerts import is_group, parent_key
from bot.jobs import ScanJobs, ensure_schema
from bot.slack.messages import parent_block_id
from bot.store import Store

ROOT = Path(__file__).resolve().parents[1]
ALICE = "U0ALICE001"


def environment(sb, pg_url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBSYNC_", "SLACK_", "QBO_", "HUBSPOT_"))}
    env.update(sb.bot_environment())
    env.update({"QBSYNC_DATABASE_URL": pg_url, "QBSYNC_FIX_ALLOWED": ALICE, "QBSYNC_POLL_INTERVAL": "3600",
                "PYTHONPATH": str(ROOT)})
    env.update(more)
    return env


class Proc:
    """`python -m bot.cli ARGS` in `cwd`, its output in files there (read on failure)."""

    def __init__(self, args: list[str], env: dict, cwd: Path, name: str):
        self.out = cwd / f"{name}.log"
        self._fh = open(self.out, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env,
                                     stdout=self._fh, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.out.read_text(errors="replace")[-3000:]

    def kill9(self) -> int:
        os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()
        return self.proc.returncode


def worker(env: dict, cwd: Path, name: str, *, stalled_after: float = 3) -> Proc:
    return Proc(["worker", "--stalled-after", str(stalled_after)], env, cwd, name)


def wait(predicate, timeout: float, what: str, procs: tuple[Proc, ...] = ()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    logs = "\n".join(f"--- {p.out.name}\n{p.log()}" for p in procs)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def defer_scan(pg_url: str, connection: str = "default") -> int | None:
    ensure_schema(pg_url)
    jobs = ScanJobs(pg_url, poll_interval_s=3600).open()
    try:
        return jobs.defer_scan(connection)
    finally:
        jobs.close()


def job_rows(pg_url: str, task: str = "qbsync.scan") -> dict[int, dict]:
    with psycopg.connect(pg_url) as conn:
        cur = conn.execute("SELECT id, status::text, attempts, lock, queueing_lock, worker_id FROM procrastinate_jobs "
                           "WHERE task_name = %s ORDER BY id", (task,))
        return {r[0]: {"status": r[1], "attempts": r[2], "lock": r[3], "queueing_lock": r[4], "worker_id": r[5]}
                for r in cur.fetchall()}


def live_workers(pg_url: str) -> int:
    with psycopg.connect(pg_url) as conn:
        if not conn.execute("SELECT to_regclass('procrastinate_workers')").fetchone()[0]:
            return 0
        return int(conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0])


@dataclass
class Run:
    actor: str
    started: float
    ended: float | None
    outcome: str | None


def scan_runs(pg_url: str, connection: str | None = None) -> list[Run]:
    """The scan jobs' passes from the audit log (bot/jobs.py WorkerScans): each start with its
    end, if it ended, by the same worker (actor worker:<pid>). `connection`: from that
    connection's own store (default: the main store, the company from the environment)."""
    store = Store(pg_url, connection=connection)
    try:
        entries = [e for e in store.audit_entries() if e["action"] == "job:scan"]
    finally:
        store.close()
    runs: list[Run] = []
    for e in entries:
        if e["outcome"] == "started":
            runs.append(Run(e["actor"], float(e["at"]), None, None))
        else:
            open_run = next(r for r in reversed(runs) if r.actor == e["actor"] and r.ended is None)
            open_run.ended, open_run.outcome = float(e["at"]), e["outcome"]
    return runs


def parents(sb) -> list:
    return [m for m in sb.slack.driver.transcript() if not m.is_reply]


def open_alerts(pg_url: str) -> list[dict]:
    store = Store(pg_url)
    try:
        return [a for a in store.open_alerts() if not is_group(a)]
    finally:
        store.close()


def assert_each_alert_posted_once(sb, pg_url: str, parent_count: int) -> None:
    """Every open alert's parent is in the channel exactly once (recognised by the block_id
    that names it), and the channel holds no other parent."""
    alerts = open_alerts(pg_url)
    keys = {parent_key(a) for a in alerts}
    assert len(keys) == parent_count
    ids = Counter((m.blocks or [{}])[0].get("block_id") for m in parents(sb))
    for alert in alerts:
        assert ids[parent_block_id(parent_key(alert))] == 1, alert["key"]
        assert alert["ts"] and sb.slack.driver.message(alert["channel"], alert["ts"]) is not None
    assert len(parents(sb)) == parent_count
