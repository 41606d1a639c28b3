"""Scans, fixes and on-demand digests as jobs on PostgreSQL (Procrastinate 3.x), run by any
number of `qbsync worker` processes on any machines; the `qbsync run` process answers Slack and
only queues them.

Why Procrastinate: it needs nothing but the PostgreSQL the store already uses, it defers
periodic tasks once across all workers, and jobs that share a `lock` run one at a time.
https://procrastinate.readthedocs.io/en/stable/ (App, PsycopgConnector, tasks, periodic,
locks, retries, stalled jobs: the pages cited below).

One job per company and pass, named by the company's connection id (bot/connections.py):
"default" for the company configured from the environment, when it is (env_company_configured),
and every complete connection of the registry (scan_targets). Each connection's pass uses its
own parts and store (WorkerScans, wiring.build_for_connection).

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
  defers a scan per connection (scan_targets, read at each tick: a connection added or removed
  meanwhile is picked up without restarting workers). Procrastinate defers each periodic tick once, whatever the
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

- `qbsync.sweep`: periodic, once a day (SWEEP_CRON). Procrastinate keeps every finished job
  and its events: an hourly scan of 100 companies is 2,400 rows a day, forever. The sweep
  removes succeeded jobs finished more than KEEP_SUCCEEDED_HOURS ago and failed, cancelled
  or aborted ones after KEEP_FAILED_HOURS (kept longer: someone may look at why), with
  Procrastinate's own query (JobManager.delete_old_jobs, what its builtin `remove_old_jobs`
  task runs: https://procrastinate.readthedocs.io/en/stable/howto/production/delete_finished_jobs.html),
  and the shared pacing rows (`pace_sent`) older than PACE_KEEP_S: a key is pruned as its
  own requests come, so the rows of a company that was removed would otherwise stay. What
  qbsync did is in each store's own audit log, not in these rows.

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
import threading
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
# The daily sweep (qbsync.sweep): at a quiet hour, UTC (Procrastinate's cron runs in UTC).
SWEEP_CRON = "23 4 * * *"
KEEP_SUCCEEDED_HOURS = 7 * 24
KEEP_FAILED_HOURS = 30 * 24
PACE_KEEP_S = 86_400  # far past the longest pacing window (a minute): nothing counted is lost
_SCHEMA_LOCK = 7_236_151  # pg_advisory_lock key: two starters never apply the schema together

_STEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)


def cron_every(seconds: float) -> str:
    """A cron line firing about every `seconds`: the largest step that divides a minute (or an
    hour) and is not longer; an hour or more fires hourly. Procrastinate's cron has the five
    Unix columns (minute, hour, day, month, day of week) and an optional SIXTH column for
    seconds (https://procrastinate.readthedocs.io/en/stable/howto/advanced/cron.html; it is
    croniter's default order): "*/30 * * * * *" would be every second of minutes :00 and :30."""
    s = max(1, int(seconds))
    if s < 60:
        step = max(d for d in _STEPS if d <= s)
        return f"* * * * * */{step}"
    m = s // 60
    if m < 60:
        step = max(d for d in _STEPS if d <= m)
        return f"*/{step} * * * * 0"
    return "0 * * * * 0"


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
        self.worker: Any = None  # procrastinate.worker.Worker while run_worker runs
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

        @app.periodic(cron=SWEEP_CRON, periodic_id="sweep")
        @app.task(name="qbsync.sweep", queue=QUEUE, queueing_lock="qbsync.sweep")
        async def sweep(timestamp: int) -> None:
            await self.sweep()

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

    # -- the daily sweep ------------------------------------------------------------------
    async def sweep(self) -> dict[str, int]:
        """Remove finished jobs past their keeping time and stale pacing rows (see the module
        doc); the rows removed, per kind, for the log."""
        connector = self.app.connector

        async def count(sql: str, **args: Any) -> int:
            rows = await connector.execute_query_all_async(sql, **args)
            return int(rows[0]["n"]) if rows else 0

        jobs_sql = "SELECT count(*) AS n FROM procrastinate_jobs"
        before = await count(jobs_sql)
        manager = self.app.job_manager
        await manager.delete_old_jobs(nb_hours=KEEP_SUCCEEDED_HOURS)
        await manager.delete_old_jobs(nb_hours=KEEP_FAILED_HOURS, include_failed=True, include_cancelled=True,
                                      include_aborted=True)
        # (jobs deferred meanwhile make this an under-count: it is for the log only)
        removed = {"jobs": max(0, before - await count(jobs_sql)), "pace_rows": 0}
        if await count("SELECT count(to_regclass('pace_sent')) AS n"):  # the store's migration 12
            removed["pace_rows"] = await count(
                "WITH gone AS (DELETE FROM pace_sent WHERE sent_at < EXTRACT(EPOCH FROM clock_timestamp()) - "
                "%(keep)s RETURNING 1) SELECT count(*) AS n FROM gone", keep=PACE_KEEP_S)
        log.info("sweep: removed %d finished jobs and %d old pacing rows", removed["jobs"], removed["pace_rows"])
        return removed

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


def env_company_configured(settings) -> bool:
    """The company configured from the environment ("default") is scanned when its HubSpot
    token, QBO realm and alert channel are set: a single-company install, as before
    connections. An install with connections only leaves them unset."""
    return bool(settings.hubspot_token and settings.qbo_realm_id and settings.alert_channel)


def connections_only(settings, main_store) -> bool:
    """An install without a company of its own: the environment configures none
    (env_company_configured) and there are connections in the registry, or there are none yet
    on PostgreSQL with Add to Slack configured (a hosted qbsync before its first company).
    Otherwise a single-company install, whose `run` settings are all required as before."""
    from .connections import ConnectionRegistry

    if env_company_configured(settings):
        return False
    if getattr(main_store, "dialect", "sqlite") == "postgresql" and settings.database_url and settings.slack_oauth:
        return True
    return bool(ConnectionRegistry(main_store).all())


# What the listener (`qbsync run`) needs besides with connections only: the Slack app's own
# settings (Socket Mode's app token or HTTP mode's signing secret, each only in its mode; the
# bot token unless Add to Slack installs one per workspace).
SLACK_APP_SETTINGS = ("SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")


def connections_only_problems(settings, *, listener: bool) -> list:
    """What stops a connections-only install (bot.config Problem rows): malformed values, the
    QBO app's client id and secret that every connection shares, and for the listener the
    Slack app's own settings. The company's settings (HubSpot token, realm, channel, fixers)
    are per connection."""
    wanted: set[str] = set()
    if listener:
        wanted = set(SLACK_APP_SETTINGS) - ({"SLACK_BOT_TOKEN"} if settings.slack_oauth else set())
    problems = [p for p in settings.problems_for("run") if p.kind != "missing" or p.env in wanted]
    return problems + [p for p in settings.problems_for("connect") if p not in problems]


def scan_targets(settings, main_store) -> list[str]:
    """The connections a tick scans: "default" when the environment configures a company,
    then every complete connection of the registry (bot/connections.py), in id order."""
    from .connections import ConnectionRegistry

    targets = [DEFAULT_CONNECTION] if env_company_configured(settings) else []
    return targets + ConnectionRegistry(main_store).ids(complete_only=True)


class WorkerScans:
    """What a worker's scan job does: build the connection's parts (bot/wiring.py
    build_for_connection) and run a pass, with its start and end in that connection's own
    audit log (actor worker:<pid>) so runs can be told apart.

    The parts are kept per connection for the life of the worker process (adapters, HTTP
    sessions, the QBO token chain), and built again when the connection's row changed
    (updated_at: a new channel, realm or per-company setting) or its credentials did (a new
    HubSpot secret, a Slack re-install).

    Threads: two scans of one connection never run at once (the scan:<connection> lock), but a
    fix, bulk-fix or digest job of that connection has another lock, so with concurrency=2 it
    may run beside its scan, on the same parts (services_for). That is what `qbsync run` does
    with SQLite, where Services and the scheduler's scan share one Parts: the store serialises
    its statements (bot/store/db.py, one RLock per connection), the fix and the scan of one
    invoice are kept apart by the parts' FixGuard (bot/fix_guard.py, parts.alerts.guard), and a
    `/qbsync scan` by scan_guard.lock_for(store). One thing differs and is handled here: in a
    worker the parts are built on first use by whichever job comes first, so two jobs of a
    connection may ask for them at the same moment; parts_for builds them once per connection
    (its per-connection build lock). Without it both built, and the second closed the first's
    store while the first job was using it. Parts rebuilt because the connection changed close
    the old store while a job may still hold it: that job fails and is retried."""

    def __init__(self, settings, main_store, *, interval_s: float, clock=time.time, build=None,
                 credentials=None, actor: str = "worker", metrics=None):
        """actor: who the audit rows name (<actor>:<pid>): "worker" for `qbsync worker`, "run"
        for `qbsync run` scanning connections in turn on SQLite (bot/runner.py).
        metrics: a bot.metrics.Metrics that times and counts each pass, of every connection."""
        from . import wiring

        self.actor = actor
        self.metrics = metrics
        self.settings = settings
        self.main_store = main_store
        self.interval_s = float(interval_s)
        self.clock = clock
        self._build = build or wiring.build_for_connection
        self._credentials = credentials or wiring.connection_credentials
        self._parts: dict[str, tuple[tuple, Any]] = {}
        self._lock = threading.Lock()  # the cache only; builds of two connections may overlap
        self._building: dict[str, threading.Lock] = {}  # connection -> held while its parts are built
        self.on_close: list[Callable[[], object]] = []  # what else holds these parts (services_for)

    def __call__(self, connection: str):
        from .errors import ConfigError
        from .scan_guard import lock_for

        try:
            parts = self.parts_for(connection)
        except ConfigError as exc:
            # Not connectable as configured (OAuth not supported yet, half-connected): the
            # next tick tries again; retrying at once would fail the same way.
            log.error("scan of connection %s not run: %s", connection, exc)
            self.main_store.audit(self._actor(), "job:scan", "failed", target=connection,
                                  detail={"problem": "config", "error": str(exc)[:500]})
            return None
        if parts is None:
            log.info("scan of connection %s not run: the connection was removed", connection)
            return None
        store = parts.store
        actor = self._actor()
        # The job lock keeps workers apart; this keeps a `/qbsync scan` of the same company in
        # this process out meanwhile (bot/scan_guard.py).
        with lock_for(store):
            started = self.clock()
            store.set_cursor(SCAN_NEXT, str(started + self.interval_s))
            store.audit(actor, "job:scan", "started", target=connection)
            t0, outcome = time.monotonic(), "error"
            try:
                result = parts.scanner.scan()
                outcome = "problem" if result.problem else "ok"
            finally:
                if self.metrics is not None:
                    self.metrics.record_scan(time.monotonic() - t0, outcome, self.clock())
            store.audit(actor, "job:scan", "failed" if result.problem else "ok", target=connection,
                        detail={"started_at": started, "problem": result.problem})
        return result

    def parts_for(self, connection: str):
        """The connection's parts, built now or kept from an earlier job; None when the
        connection no longer exists (removed since the job was queued)."""
        key = self._key(connection)
        if key is None:
            self._forget(connection)
            return None
        with self._lock:
            kept = self._parts.get(connection)
            building = self._building.setdefault(connection, threading.Lock())
        if kept is not None and kept[0] == key:
            return kept[1]
        # A fix job and a scan job of one connection may both come here first (see the class
        # doc): one builds, the other waits and takes what it built.
        with building:
            with self._lock:
                kept = self._parts.get(connection)
            if kept is not None and kept[0] == key:
                return kept[1]
            parts = self._build(self.settings, self.main_store, connection)
            with self._lock:
                old = self._parts.get(connection)
                self._parts[connection] = (key, parts)
        if old is not None:
            log.info("connection %s changed: its parts were built again", connection)
            _close_store(old[1], self.main_store)
        return parts

    def _key(self, connection: str) -> tuple | None:
        """What the kept parts were built from; None: no such connection."""
        if connection == DEFAULT_CONNECTION:
            return (DEFAULT_CONNECTION,)  # the environment does not change under a process
        from .connections import ConnectionRegistry

        row = ConnectionRegistry(self.main_store).get(connection)
        if row is None:
            return None
        if not row.complete:
            return (row.updated_at,)  # build_for_connection says what is missing
        return (row.updated_at, *self._credentials(self.settings, self.main_store, row))

    def _forget(self, connection: str) -> None:
        with self._lock:
            old = self._parts.pop(connection, None)
        if old is not None:
            _close_store(old[1], self.main_store)

    def close(self) -> None:
        for hook in self.on_close:
            hook()
        with self._lock:
            kept, self._parts = list(self._parts.values()), {}
        for _key, parts in kept:
            _close_store(parts, self.main_store)

    def _actor(self) -> str:
        return f"{self.actor}:{os.getpid()}"


def services_for(scans: "WorkerScans") -> Callable[[str], Any]:
    """connection -> the handlers.Services a worker's fix, bulk-fix and digest jobs run with:
    made from the parts `scans` keeps for that connection (built on first use, built again
    when the connection changed), so a fix and a scan of one company share its store and
    adapters. Raises ValueError for a connection that no longer exists (the job fails; a
    removed company's fix has nowhere to go)."""
    from handlers import Services

    kept: dict[str, tuple[int, Any]] = {}
    lock = threading.Lock()

    def get(connection: str):
        parts = scans.parts_for(connection)
        if parts is None:
            raise ValueError(f"connection {connection!r} no longer exists")
        with lock:
            hit = kept.get(connection)
            if hit is not None and hit[0] == id(parts):
                return hit[1]
            services = Services(parts, connection_id=connection)
            kept[connection] = (id(parts), services)
        if hit is not None:
            hit[1].close()
        return services

    scans.on_close.append(lambda: [s.close() for _, s in list(kept.values())])
    return get


def _close_store(parts, main_store) -> None:
    """Close a connection's own store (never the main one, which its owner closes)."""
    store = getattr(parts, "store", None)
    if store is not None and store is not main_store:
        try:
            store.close()
        except Exception:  # closing a connection the server already dropped (a removed schema)
            log.info("closing a connection store failed", exc_info=True)
