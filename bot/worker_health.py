"""/healthz of a `qbsync worker` process, served by bot/ops.py on QBSYNC_OPS_PORT as for
`qbsync run` (a container health check, compose.yaml, calls it through bot/healthcheck.py).

`run`'s health (a scan finished lately, Slack connected) says nothing about a worker: it has
no Slack connection and scans only when a job comes. A worker is healthy when:

- its Procrastinate worker is running: registered in `procrastinate_workers` (the worker's
  `worker_id` is set once it has registered and cleared again at a regular stop), and
- PostgreSQL answers, and the worker's heartbeat row there is younger than `stalled_after`.
  That is the test the other workers apply (bot/jobs.py retry_stalled): a worker whose
  heartbeat is older is taken as dead, its row is pruned and its job runs again elsewhere.
  Procrastinate workers update their heartbeat at a regular interval, a regular shutdown
  deletes the row, and rows of stalled workers are pruned:
  https://procrastinate.readthedocs.io/en/stable/howto/production/retry_stalled_jobs.html
  (Procrastinate's own `procrastinate healthchecks` checks the database connection and its
  schema, not a worker: https://procrastinate.readthedocs.io/en/stable/howto/production/monitoring.html)

Each probe opens one short connection (connect timeout 3 s), so a probe never waits on the
worker's own pool, which a long scan may be using. The answer holds ids, ages and states
only; a database error is named by its type, never its text (a URL could be in it).
"""
from __future__ import annotations

import time
from typing import Any, Callable

CONNECT_TIMEOUT_S = 3


class WorkerHealth:
    """The /healthz answer of one worker process: (status, body) as bot/ops.py wants it."""

    def __init__(self, database_url: str, *, worker: Callable[[], Any], stalled_after_s: float,
                 connect_timeout_s: int = CONNECT_TIMEOUT_S, clock=time.time):
        """worker: returns the running Procrastinate worker (anything with `worker_id`), or
        None before it is made."""
        self.database_url = database_url
        self.worker = worker
        self.stalled_after_s = float(stalled_after_s)
        self.connect_timeout_s = connect_timeout_s
        self.clock = clock

    def __call__(self) -> tuple[int, dict]:
        worker_id = getattr(self.worker(), "worker_id", None)
        problems: list[str] = []
        if worker_id is None:
            problems.append("the Procrastinate worker is not registered (starting, stopping or stopped)")
        reachable, age, error = self._heartbeat_age(worker_id)
        if not reachable:
            problems.append(f"PostgreSQL is unreachable ({error})")
        elif worker_id is not None and age is None:
            problems.append(f"no heartbeat row for worker {worker_id}: other workers took it as dead")
        elif age is not None and age > self.stalled_after_s:
            problems.append(f"last heartbeat {age:.0f} s ago (limit {self.stalled_after_s:.0f} s)")
        body = {
            "ok": not problems,
            "worker_id": worker_id,
            "database_reachable": reachable,
            "seconds_since_heartbeat": round(age, 3) if age is not None else None,
            "stalled_after_s": self.stalled_after_s,
            "problems": problems,
        }
        return (200 if not problems else 503), body

    def _heartbeat_age(self, worker_id: int | None) -> tuple[bool, float | None, str | None]:
        """(database reachable, seconds since this worker's heartbeat or None, error type)."""
        import psycopg

        try:
            with psycopg.connect(self.database_url, connect_timeout=self.connect_timeout_s,
                                 autocommit=True) as conn:
                if worker_id is None:
                    conn.execute("SELECT 1")
                    return True, None, None
                row = conn.execute("SELECT EXTRACT(EPOCH FROM now() - last_heartbeat) FROM procrastinate_workers "
                                   "WHERE id = %s", (worker_id,)).fetchone()
                return True, (float(row[0]) if row else None), None
        except psycopg.Error as exc:
            return False, None, type(exc).__name__
