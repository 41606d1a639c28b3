"""A worker's /healthz (bot/worker_health.py) and the container probe (bot/healthcheck.py):
the health rules against a real PostgreSQL with Procrastinate's schema, and the probe's exit
status against a real ops server (bot/ops.py)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import psycopg

from bot.healthcheck import check
from bot.jobs import ensure_schema
from bot.ops import OpsServer
from bot.worker_health import WorkerHealth


def _register(pg_url: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return int(conn.execute("SELECT procrastinate_register_worker_v1()").fetchone()[0])


def _sql(pg_url: str, sql: str, *params) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql, params)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_registered_worker_with_a_fresh_heartbeat_is_healthy_and_each_failure_says_why(pg_url):
    ensure_schema(pg_url)
    worker = SimpleNamespace(worker_id=None)
    probe = WorkerHealth(pg_url, worker=lambda: worker, stalled_after_s=30)

    status, body = probe()  # not registered yet (starting)
    assert status == 503 and body["ok"] is False and body["database_reachable"] is True
    assert body["problems"] == ["the Procrastinate worker is not registered (starting, stopping or stopped)"]

    worker.worker_id = _register(pg_url)
    status, body = probe()
    assert status == 200 and body["ok"] is True and body["problems"] == []
    assert body["worker_id"] == worker.worker_id and 0 <= body["seconds_since_heartbeat"] < 5

    _sql(pg_url, "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '100 seconds' WHERE id = %s",
         worker.worker_id)
    status, body = probe()
    assert status == 503 and body["problems"] == ["last heartbeat 100 s ago (limit 30 s)"]

    _sql(pg_url, "DELETE FROM procrastinate_workers WHERE id = %s", worker.worker_id)  # pruned as stalled
    status, body = probe()
    assert status == 503 and body["seconds_since_heartbeat"] is None
    assert body["problems"] == [f"no heartbeat row for worker {worker.worker_id}: other workers took it as dead"]


def test_an_unreachable_database_is_unhealthy_and_the_answer_holds_no_url():
    url = f"postgresql://qbsync:s3cret-pw@127.0.0.1:{_closed_port()}/qbsync"
    status, body = WorkerHealth(url, worker=lambda: SimpleNamespace(worker_id=7), stalled_after_s=30)()
    assert status == 503 and body["database_reachable"] is False and body["worker_id"] == 7
    assert body["problems"] == ["PostgreSQL is unreachable (OperationalError)"]
    assert "s3cret" not in repr(body) and "127.0.0.1" not in repr(body)


def _ops(status: int, problems: list[str]) -> OpsServer:
    return OpsServer(health=lambda: (status, {"ok": status == 200, "problems": problems}),
                     metrics=lambda: b"", port=0, host="127.0.0.1").start()


def test_the_probe_exits_0_on_200_and_1_with_the_problems_otherwise():
    healthy, sick = _ops(200, []), _ops(503, ["last heartbeat 100 s ago (limit 30 s)"])
    try:
        assert check(str(healthy.port)) == (True, "healthy (200)")
        assert check(str(sick.port)) == (False, "unhealthy (503): last heartbeat 100 s ago (limit 30 s)")
        # As Docker runs it: `python -m bot.healthcheck`, the port from the environment.
        for server, rc, out in ((healthy, 0, "healthy (200)"), (sick, 1, "unhealthy (503): last heartbeat")):
            env = {**os.environ, "QBSYNC_OPS_PORT": str(server.port)}
            done = subprocess.run([sys.executable, "-m", "bot.healthcheck"], env=env, capture_output=True,
                                  text=True, timeout=30)
            assert done.returncode == rc and done.stdout.startswith(out), done
    finally:
        healthy.stop(), sick.stop()
    ok, line = check(str(_closed_port()))
    assert not ok and line.startswith("no answer from http://127.0.0.1:")
    assert check("0") == (False, "QBSYNC_OPS_PORT is 0: the ops endpoints are off, so there is no /healthz to ask")
    assert check("http") == (False, "QBSYNC_OPS_PORT='http' is not a port number")
