"""Scans, fixes and on-demand digests as jobs on PostgreSQL (Procrastinate 3.x), run by any
number of `qbsync worker` processes on any machines; the `qbsync run` process answers Slack and
only queues them.

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

- `qbsync.fix(connection, request)`: a Fix click, authorised and claimed by the listener
  (handlers/actions.py fix), run by a worker through the same code as the in-process fix
  (handlers/deferred.py -> actions.run_claimed_fix). `lock="fix:<connection>:<invoice id>"`:
  two fixes of one invoice never run at once. Retries (FIX_RETRIES) for a fault before the
  outcome is recorded (the database dropped); a fix that ran and failed is recorded, said
  in the thread and not retried (the person clicks again, as today). A worker killed mid-fix:
  the stalled job runs again; it finds its claim unrecorded and the alert in "fixing", and
  re-checks before writing, so a write that landed is recorded, not made again
  (tests/test_workers_kill9_fix.py).
- `qbsync.bulk_fix(connection, request)`: a confirmed "Fix all N like this" plan
  (handlers/bulk.py run_plan), `lock="bulk:<connection>:<plan id>"`; each member's fix is
  the same run as above, keyed by the same claim, so a member is never fixed twice.
- `qbsync.digest(connection, request)`: `/qbsync digest`, sent by a worker (the listener
  never builds one); `lock="digest:<connection>"`.

Reminders and the scheduled digest are not jobs of their own: they run at the end of each
scan pass (bot/scan.py `_send_digest_if_due`; reminders in bot/alerts.py finish_pass ->
remind_unacknowledged, which every scan pass calls), so inside the
`qbsync.scan` job, under its per-connection lock.

What a worker needs to answer the person travels in `request`: user, channel, language, and
the click's response_url (Slack: up to 5 uses within 30 minutes,
https://docs.slack.dev/interactivity/handling-user-interaction#message_responses and
/work/shared/knowledge/apis.md; the log redacts it, bot/logging_setup.py). The thread replies
need none of it: the alert names its thread.

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
FIX_TASK = "qbsync.fix"
BULK_FIX_TASK = "qbsync.bulk_fix"
DIGEST_TASK = "qbsync.digest"
FIX_RETRIES = 3  # attempts in all, waits 2, 4 s: a fault before the outcome is recorded
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


def fix_lock(connection: str, invoice_id: str) -> str:
    return f"fix:{connection}:{invoice_id}"


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
    """The Procrastinate App and qbsync's tasks. A worker passes `run_scan(connection)` and
    `run_fix` / `run_bulk_fix` / `run_digest` (connection, request); the listener passes none
    and only defers."""

    def __init__(self, database_url: str, *, poll_interval_s: float, stalled_after_s: float = 30,
                 run_scan: Callable[[str], Any] | None = None,
                 run_fix: Callable[[str, dict], Any] | None = None,
                 run_bulk_fix: Callable[[str, dict], Any] | None = None,
                 run_digest: Callable[[str, dict], Any] | None = None,
                 connections: Callable[[], list[str]] = lambda: [DEFAULT_CONNECTION]):
        from procrastinate import App, PsycopgConnector, RetryStrategy

        self.database_url = database_url
        self.poll_interval_s = float(poll_interval_s)
        self.stalled_after_s = float(stalled_after_s)
        self.run_scan = run_scan
        self.runs = {FIX_TASK: run_fix, BULK_FIX_TASK: run_bulk_fix, DIGEST_TASK: run_digest}
        self.connections = connections
        # https://procrastinate.readthedocs.io/en/stable/howto/basics/app.html
        self.app = App(connector=PsycopgConnector(conninfo=database_url))
        app = self.app

        @app.task(name=SCAN_TASK, queue=QUEUE,
                  retry=RetryStrategy(max_attempts=SCAN_RETRIES, exponential_wait=2))
        def scan(connection: str) -> None:
            self._scan(connection)

        self.scan = scan

        # https://procrastinate.readthedocs.io/en/stable/howto/advanced/retry.html
        @app.task(name=FIX_TASK, queue=QUEUE, retry=RetryStrategy(max_attempts=FIX_RETRIES, exponential_wait=2))
        def fix(connection: str, request: dict) -> None:
            self._run(FIX_TASK, connection, request)

        @app.task(name=BULK_FIX_TASK, queue=QUEUE,
                  retry=RetryStrategy(max_attempts=FIX_RETRIES, exponential_wait=2))
        def bulk_fix(connection: str, request: dict) -> None:
            self._run(BULK_FIX_TASK, connection, request)

        # No retry: an on-demand digest that failed is said to the person, who may ask again.
        @app.task(name=DIGEST_TASK, queue=QUEUE)
        def digest(connection: str, request: dict) -> None:
            self._run(DIGEST_TASK, connection, request)

        self.fix, self.bulk_fix, self.digest = fix, bulk_fix, digest

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

    def defer_fix(self, connection: str, invoice_id: str, request: dict) -> int:
        """Queue one Fix click's run; fixes of one invoice run one at a time (its lock)."""
        return self.fix.configure(lock=fix_lock(connection, invoice_id)).defer(
            connection=connection, request=request)

    def defer_bulk_fix(self, connection: str, plan_id: str, request: dict) -> int:
        return self.bulk_fix.configure(lock=f"bulk:{connection}:{plan_id}").defer(
            connection=connection, request=request)

    def defer_digest(self, connection: str, request: dict) -> int:
        return self.digest.configure(lock=f"digest:{connection}").defer(connection=connection, request=request)

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

    def _run(self, task: str, connection: str, request: dict) -> None:
        run = self.runs[task]
        if run is None:
            raise RuntimeError(f"this process only queues {task} jobs")  # the listener runs none
        run(connection, request)

    def open(self) -> "ScanJobs":
        self.app.open()
        return self

    def close(self) -> None:
        self.app.close()

    def run_worker(self) -> None:
        """Until SIGTERM/SIGINT (Procrastinate's handlers: the running job finishes first).
        Heartbeats every third of `stalled_after`."""
        heartbeat = max(0.5, self.stalled_after_s / 3)
        self.app.run_worker(queues=[QUEUE], concurrency=2, wait=True, install_signal_handlers=True,
                            update_heartbeat_interval=heartbeat,
                            stalled_worker_timeout=self.stalled_after_s,
                            name=f"qbsync-{os.getpid()}")


class WorkerScans:
    """What a worker's scan job does with the bot's parts (bot/wiring.py build): the pass,
    with its start and end in the audit log (actor worker:<pid>) so runs can be told apart."""

    def __init__(self, parts, *, interval_s: float, clock=time.time):
        self.parts = parts
        self.interval_s = float(interval_s)
        self.clock = clock

    def __call__(self, connection: str):
        if connection != DEFAULT_CONNECTION:
            raise ValueError(f"unknown connection {connection!r}")  # tenancy adds connections
        store = self.parts.store
        actor = f"worker:{os.getpid()}"
        started = self.clock()
        store.set_cursor(SCAN_NEXT, str(started + self.interval_s))
        store.audit(actor, "job:scan", "started", target=connection)
        result = self.parts.scanner.scan()
        store.audit(actor, "job:scan", "failed" if result.problem else "ok", target=connection,
                    detail={"started_at": started, "problem": result.problem})
        return result
