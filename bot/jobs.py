"""Scans as jobs on PostgreSQL (Procrastinate 3.x), run by any number of `qbsync worker`
processes on any machines; the `qbsync run` process answers Slack and only queues scans.

Why Procrastinate: it needs nothing but the PostgreSQL the store already uses, it defers
periodic tasks once across all workers, and jobs that share a `lock` run one at a time.
https://procrastinate.readthedocs.io/en/stable/ (App, PsycopgConnector, tasks, periodic,
locks, retries, stalled jobs: the pages cited below).

One job per company and pass, named by the company's connection id. Today there is one
company, configured from the environment: connection "default" (tenancy adds more).

- `qbsync.scan(connection)`: one scan pass (bot/scan.py; reminders and the digest run at
  its end, as with APScheduler). `lock="scan:<connection>"`: Procrastinate never starts a
  job while another job with the same lock is `doing`, so one company is never scanned twice
  at once, whichever worker holds the job.
  `queueing_lock="scan:<connection>"`: at most one such job waits (`todo`); deferring
  another raises AlreadyEnqueued, so scans do not pile up behind a slow one.
  https://procrastinate.readthedocs.io/en/stable/howto/advanced/locks.html
  https://procrastinate.readthedocs.io/en/stable/howto/advanced/queueing_locks.html
  Retries: a scan that raises (HubSpot or QBO unreachable, the database dropped) is tried
  again with exponential backoff; problems the scanner handles itself (QBO auth, throttling,
  subscription) end the pass with their one grouped alert and are not retried.
  https://procrastinate.readthedocs.io/en/stable/howto/advanced/retry.html
- `qbsync.tick`: periodic, every QBSYNC_POLL_INTERVAL (rounded to a cron step, cron_every),
  defers a scan per connection. Procrastinate defers each periodic tick once, whatever the
  number of workers (https://procrastinate.readthedocs.io/en/stable/howto/advanced/cron.html).
- `qbsync.retry_stalled`: periodic. A worker killed with SIGKILL leaves its job `doing`;
  workers write heartbeats, and the jobs of a worker whose heartbeat is older than
  `stalled_after` seconds are stalled: this task sets them back to `todo` so another
  worker runs them again.
  https://procrastinate.readthedocs.io/en/main/howto/production/retry_stalled_jobs.html
  Running a scan again is safe: alerts are keyed per invoice and cause, and a parent whose
  post had begun is looked up in the channel before posting (bot/alerts.py, tests/test_kill9.py).

Fixes (button clicks) still run in the listener process in this slice.

The schema: ensure_schema() applies Procrastinate's schema (SchemaManager.apply_schema, the
same SQL as `procrastinate schema --apply`) once, under an advisory lock, if its jobs table is
absent. `qbsync worker` and `qbsync run` (PostgreSQL) call it at start: idempotent.
https://procrastinate.readthedocs.io/en/stable/howto/production/migrations.html
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

DEFAULT_CONNECTION = "default"  # the one company configured from the environment
QUEUE = "qbsync"
SCAN_TASK = "qbsync.scan"
SCAN_NEXT = "scan.next_at"  # the cursor /qbsync status shows (handlers/services.py)
SCAN_RETRIES = 5  # attempts in all, waits 2, 4, 8, 16 s between them
_SCHEMA_LOCK = 7_236_151  # pg_advisory_lock key: two starters never apply the schema together

_STEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)


def cron_every(seconds: float) -> str:
    """A cron line (6 fields, the 6th is seconds, as Procrastinate's periodic accepts) firing
    about every `seconds`: the largest step that divides a minute (or an hour) and is not
    longer; an hour or more fires hourly."""
    s = max(1, int(seconds))
    if s < 60:
        step = max(d for d in _STEPS if d <= s)
        return f"*/{step} * * * * *"
    m = s // 60
    if m < 60:
        step = max(d for d in _STEPS if d <= m)
        return f"0 */{step} * * * *"
    return "0 0 * * * *"


def scan_lock(connection: str) -> str:
    return f"scan:{connection}"


def ensure_schema(database_url: str) -> bool:
    """Apply Procrastinate's schema if it is not there yet; True if it was applied now."""
    import psycopg
    from procrastinate.schema import SchemaManager

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if row and row[0]:
                return False
            with conn.transaction():
                conn.execute(SchemaManager.get_schema())  # type: ignore[arg-type]
            log.info("procrastinate schema applied")
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


class ScanJobs:
    """The Procrastinate App and qbsync's tasks. A worker passes `run_scan(connection)`; the
    listener passes none and only defers."""

    def __init__(self, database_url: str, *, poll_interval_s: float, stalled_after_s: float = 30,
                 run_scan: Callable[[str], Any] | None = None,
                 connections: Callable[[], list[str]] = lambda: [DEFAULT_CONNECTION]):
        from procrastinate import App, PsycopgConnector, RetryStrategy

        self.database_url = database_url
        self.poll_interval_s = float(poll_interval_s)
        self.stalled_after_s = float(stalled_after_s)
        self.run_scan = run_scan
        self.connections = connections
        self.worker: Any = None  # procrastinate.worker.Worker while run_worker runs
        # https://procrastinate.readthedocs.io/en/stable/howto/basics/app.html
        self.app = App(connector=PsycopgConnector(conninfo=database_url))
        app = self.app

        @app.task(name=SCAN_TASK, queue=QUEUE,
                  retry=RetryStrategy(max_attempts=SCAN_RETRIES, exponential_wait=2))
        def scan(connection: str) -> None:
            self._scan(connection)

        self.scan = scan

        @app.periodic(cron=cron_every(self.poll_interval_s), periodic_id="scans")
        @app.task(name="qbsync.tick", queue=QUEUE, queueing_lock="qbsync.tick")
        async def tick(timestamp: int) -> None:
            for connection in self.connections():
                await self.defer_scan_async(connection)

        @app.periodic(cron=cron_every(max(1.0, self.stalled_after_s / 2)), periodic_id="stalled")
        @app.task(name="qbsync.retry_stalled", queue=QUEUE, queueing_lock="qbsync.retry_stalled")
        async def retry_stalled(timestamp: int) -> None:
            await self.retry_stalled_jobs()

    # -- deferring ------------------------------------------------------------------------
    def _scan_deferrer(self, connection: str):
        lock = scan_lock(connection)
        return self.scan.configure(lock=lock, queueing_lock=lock)

    def defer_scan(self, connection: str = DEFAULT_CONNECTION) -> int | None:
        """Queue a scan of `connection`: its job id, or None when one is already waiting."""
        from procrastinate.exceptions import AlreadyEnqueued

        try:
            return self._scan_deferrer(connection).defer(connection=connection)
        except AlreadyEnqueued:
            return None

    async def defer_scan_async(self, connection: str) -> int | None:
        from procrastinate.exceptions import AlreadyEnqueued

        try:
            return await self._scan_deferrer(connection).defer_async(connection=connection)
        except AlreadyEnqueued:
            log.info("scan of %s already queued", connection)
            return None

    # -- stalled jobs ---------------------------------------------------------------------
    async def retry_stalled_jobs(self) -> int:
        """Jobs of workers without a heartbeat for `stalled_after` seconds go back to `todo`.
        A stalled scan while another scan of the same company already waits (its queueing
        lock) is ended instead: the waiting one does the same work."""
        from procrastinate import exceptions
        from procrastinate.jobs import Status

        manager = self.app.job_manager
        retried = 0
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled_after_s):
            try:
                await manager.retry_job(job)
                retried += 1
                log.warning("stalled job %s (%s) queued again", job.id, job.task_name)
            except exceptions.UniqueViolation:
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
                log.warning("stalled job %s (%s) ended: the same scan already waits", job.id, job.task_name)
        return retried

    # -- running --------------------------------------------------------------------------
    def _scan(self, connection: str) -> None:
        if self.run_scan is None:
            raise RuntimeError("this process only queues scans")  # the listener never scans
        self.run_scan(connection)

    def open(self) -> "ScanJobs":
        self.app.open()
        return self

    def close(self) -> None:
        self.app.close()

    def run_worker(self) -> None:
        """Until SIGTERM/SIGINT (Procrastinate's handlers: the running job finishes first).
        Heartbeats every third of `stalled_after`.

        What App.run_worker does (open the app, make a Worker with these options, run it:
        procrastinate/app.py run_worker_async), with the Worker kept in self.worker so that
        /healthz (bot/worker_health.py) can read its `worker_id` from the ops thread."""
        import asyncio

        from procrastinate import worker as procrastinate_worker

        heartbeat = max(0.5, self.stalled_after_s / 3)
        options: dict[str, Any] = dict(
            queues=[QUEUE], concurrency=2, wait=True, install_signal_handlers=True,
            update_heartbeat_interval=heartbeat, stalled_worker_timeout=self.stalled_after_s,
            name=f"qbsync-{os.getpid()}")

        async def run() -> None:
            async with self.app.open_async():
                self.worker = procrastinate_worker.Worker(app=self.app, **options)
                await self.worker.run()

        asyncio.run(run())


class WorkerScans:
    """What a worker's scan job does with the bot's parts (bot/wiring.py build): the pass,
    with its start and end in the audit log (actor worker:<pid>) so runs can be told apart."""

    def __init__(self, parts, *, interval_s: float, clock=time.time, metrics=None):
        """metrics: a bot.metrics.Metrics that times and counts each pass (the worker's /metrics)."""
        self.parts = parts
        self.interval_s = float(interval_s)
        self.clock = clock
        self.metrics = metrics

    def __call__(self, connection: str):
        if connection != DEFAULT_CONNECTION:
            raise ValueError(f"unknown connection {connection!r}")  # tenancy adds connections
        store = self.parts.store
        actor = f"worker:{os.getpid()}"
        started = self.clock()
        store.set_cursor(SCAN_NEXT, str(started + self.interval_s))
        store.audit(actor, "job:scan", "started", target=connection)
        t0 = time.monotonic()
        outcome = "error"
        try:
            result = self.parts.scanner.scan()
            outcome = "problem" if result.problem else "ok"
        finally:
            if self.metrics is not None:
                self.metrics.record_scan(time.monotonic() - t0, outcome, self.clock())
        store.audit(actor, "job:scan", "failed" if result.problem else "ok", target=connection,
                    detail={"started_at": started, "problem": result.problem})
        return result
