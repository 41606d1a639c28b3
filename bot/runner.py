"""`qbsync run`: the bot as a long-running process.

With PostgreSQL (QBSYNC_DATABASE_URL) this process only answers Slack: scans, fixes and
on-demand digests are jobs that `qbsync worker` processes run (bot/jobs.py); `/qbsync scan`,
a Fix click, a bulk Confirm and `/qbsync digest` queue one (handlers/deferred.py), for the
connection of the channel they came from. With SQLite, everything below holds, and each
scheduled round scans the company configured from the environment, then every complete
connection (bot/connections.py) in turn, each into its own store (scan_connections). Many
companies: use PostgreSQL and workers, which scan them in parallel.

Slack (Socket Mode by default, or HTTP behind a load balancer) plus an APScheduler job that
runs a scan on an interval. The scan (bot/scan.py) is the incremental poll cycle of
bot/poller.py: HubSpot changes since a cursor, QBO through CDC into the local mirror.

The job ("scan") lives in APScheduler's MemoryJobStore: nothing is pickled to or unpickled
from the database. A restart still keeps the rhythm: the first scan is due one interval after
the last finished one the store recorded (cursor scan.last_finished_at, bot/jobstore.py), or
at once if that is past, so downtime costs ONE catch-up scan. One scan at a time
(max_instances=1).

SIGTERM/SIGINT stop it gracefully: no new scans, the running one finishes, the Slack
connection closes.

Operations (bot/ops.py, bot/metrics.py): /healthz and /metrics on QBSYNC_OPS_PORT (0: off);
each scheduled scan is timed and counted, and the adapters' requests are counted by service.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from .jobstore import LAST_FINISHED_CURSOR, first_scan_at, last_finished_at

log = logging.getLogger(__name__)

SCAN_JOB_ID = "scan"


class ScanSchedule:
    """The "scan" job on a BackgroundScheduler with APScheduler's MemoryJobStore; its first
    run comes from the store's last finished scan (bot/jobstore.py)."""

    def __init__(self, store, interval_s: float, scan: Callable[[], object], *, clock=time.time):
        self.store = store
        self.interval = float(interval_s)
        self.scan = scan
        self.clock = clock
        self.scheduler: BackgroundScheduler | None = None
        self.first_run_at: datetime | None = None

    def start(self) -> "ScanSchedule":
        # coalesce + misfire_grace_time of one interval: a wake-up that comes late (a long
        # scan, a suspended host) runs one scan, not one per interval missed.
        self.scheduler = BackgroundScheduler(
            timezone=timezone.utc, jobstores={"default": MemoryJobStore()},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": max(1, int(self.interval))})
        self.first_run_at = first_scan_at(self.store, self.interval, self.clock())
        self.scheduler.add_job(self.scan, "interval", seconds=self.interval, id=SCAN_JOB_ID,
                               name="scan", next_run_time=self.first_run_at)
        self.scheduler.start()
        return self

    def next_run_time(self) -> datetime | None:
        """The job's next run (not to be asked from inside the job: it takes the scheduler's
        lock, which shutdown(wait=True) holds while the job finishes)."""
        job = self.scheduler.get_job(SCAN_JOB_ID) if self.scheduler is not None else None
        return job.next_run_time if job is not None else None

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)  # lets a running scan finish
            self.scheduler = None


class BotRunner:
    def __init__(self, parts, *, clock=time.time, ops_port: int | None = None,
                 ops_host: str = "0.0.0.0",  # noqa: S104 - health probes and Prometheus reach it from outside
                 connection_build_options: dict | None = None):
        """ops_port: None -> settings.ops_port (0: no ops server). connection_build_options:
        wiring.build arguments for the connections' parts (tests shorten the post pacing)."""
        from .metrics import Metrics

        self.parts = parts
        self.settings = parts.settings
        self.clock = clock
        self._schedule: ScanSchedule | None = None
        self._transport: Any = None  # SocketModeRunner or HttpRunner once started
        self._jobs: Any = None  # bot.jobs.ScanJobs on PostgreSQL: scans run in `qbsync worker`
        self._services: Any = None  # handlers.Services once started
        self._interval = int(parts.settings.poll_interval_s)
        self.scans = 0
        self.metrics = Metrics(store=parts.store, qbo=parts.qbo).attach(parts)
        self._ops_port = int(getattr(parts.settings, "ops_port", 0) or 0) if ops_port is None else int(ops_port)
        self._ops_host = ops_host
        self._connection_build_options = dict(connection_build_options or {})
        self.ops: Any = None  # bot.ops.OpsServer once started
        self._started_at = clock()
        self._scanning = threading.Event()
        self._last_finished: float | None = None
        # SQLite: the connections scanned in turn after the environment company (scan_connections)
        self._connection_scans: Any = None
        self._stopping = threading.Event()

    def start(self) -> "BotRunner":
        from .app import HttpRunner, SocketModeRunner, create_app, services_of

        app = create_app(self.parts)
        self._services = services_of(app)
        if scans_in_workers(self.parts):
            self._jobs = self._scan_jobs()
            self._services.scan_jobs = self._jobs  # scans, fixes and digests are queued, not run here
        if self.settings.socket_mode:
            self._transport = SocketModeRunner(app, self.settings.slack_app_token)
        else:
            # Slack's requests arrive from outside the host/container (behind a TLS proxy).
            self._transport = HttpRunner(app, self.settings.http_port, host="0.0.0.0")  # noqa: S104
        self._transport.start()
        self._start_ops()
        interval = self._interval
        if self._jobs is not None:
            log.info("qbsync running: %s transport; scans run in `qbsync worker` processes (PostgreSQL)",
                     "socket" if self.settings.socket_mode else "http")
            return self
        self._schedule = ScanSchedule(self.parts.store, interval, self.scan_once).start()
        first = self._schedule.first_run_at
        log.info("qbsync running: %s transport, scanning every %s s, next scan at %s",
                 "socket" if self.settings.socket_mode else "http", interval,
                 first.isoformat(timespec="seconds") if first else "-")
        return self

    def _scan_jobs(self):
        """The job queue, for deferring only: this process never runs a scan job."""
        from .jobs import ScanJobs, ensure_schema

        url = self.settings.database_url
        ensure_schema(url)
        return ScanJobs(url, poll_interval_s=self._interval).open()

    def scan_once(self):
        """One scheduled round: the company from the environment, then every complete
        connection in turn (SQLite; on PostgreSQL workers scan them)."""
        from .wiring import is_listener_only

        if is_listener_only(self.parts):  # connections only: no company of its own to scan
            return self.scan_connections_round()
        result = self.scan_default()
        self.scan_connections()
        return result

    def scan_connections_round(self) -> int:
        """scan_once with connections only: the connections in turn, timed, counted and
        recorded as the round (scan.last_finished_at, for the next start's first scan and
        /healthz), as scan_default records the default company's scan."""
        started = self.clock()
        self.parts.store.set_cursor("scan.next_at", str(started + self._interval))
        self._scanning.set()
        t0 = time.monotonic()
        done = 0
        try:
            done = self.scan_connections()
            return done
        finally:
            self._scanning.clear()
            self.scans += 1
            finished = self.clock()
            self._last_finished = finished
            self.parts.store.set_cursor(LAST_FINISHED_CURSOR, str(finished))
            self.metrics.record_scan(time.monotonic() - t0, "ok", finished)

    def scan_connections(self) -> int:
        """Scan each complete connection (bot/connections.py) once, in id order, each with its
        own parts and store (bot/jobs.py WorkerScans, actor run:<pid>), under the same
        per-company lock as `/qbsync scan` (bot/scan_guard.py). One failing connection does
        not stop the others. Returns how many were scanned."""
        from .connections import ConnectionRegistry

        try:
            ids = ConnectionRegistry(self.parts.store).ids(complete_only=True)
        except Exception:
            log.exception("connections not read; the next round tries again")
            return 0
        if ids and self._connection_scans is None:
            from .jobs import WorkerScans

            self._connection_scans = WorkerScans(self.settings, self.parts.store, interval_s=self._interval,
                                                 actor="run", build=self._build_connection)
        done = 0
        for connection in ids:
            if self._stopping.is_set():
                break
            try:
                self._connection_scans(connection)
                done += 1
            except Exception:  # a connection's scan must not stop the others, nor the scheduler
                log.exception("scan of connection %s failed", connection)
        return done

    def scan_default(self):
        """One scan, through the same lock `/qbsync scan` uses, so two never overlap (two at
        once could post one failure twice)."""
        started = self.clock()
        # When the next one is due (for /qbsync status). Computed here, not asked of the
        # scheduler: asking it from inside a job deadlocks against shutdown(wait=True).
        self.parts.store.set_cursor("scan.next_at", str(started + self._interval))
        self._scanning.set()
        t0 = time.monotonic()
        result, outcome = None, "error"
        try:
            result = self._services.run_scan(wait=True)
            outcome = "problem" if getattr(result, "problem", None) else "ok"
            return result
        except Exception:  # a failed scan must not kill the scheduler; the next one retries
            log.exception("scan failed")
            return None
        finally:
            self._scanning.clear()
            self.scans += 1
            finished = self.clock()
            if outcome != "error":
                self._last_finished = finished
            self.metrics.record_scan(time.monotonic() - t0, outcome, finished)

    def _build_connection(self, settings, main_store, connection: str):
        from . import wiring

        return wiring.build_for_connection(settings, main_store, connection, **self._connection_build_options)

    # -- operations endpoints -------------------------------------------------------------
    def health(self) -> tuple[int, dict]:
        from .metrics import refresh_token_days_left
        from .ops import HealthInputs, health

        return health(HealthInputs(
            now=self.clock, started_at=self._started_at, poll_interval_s=self._interval,
            last_scan_finished_at=self._last_scan_finished_at, scan_in_progress=self._scanning.is_set,
            slack_connected=self._slack_connected,
            qbo_refresh_token_days_left=lambda: refresh_token_days_left(self.parts.qbo)))

    def _last_scan_finished_at(self) -> float | None:
        """The later of this runner's last scan and any scan recorded in the store (a
        `/qbsync scan` from Slack counts too)."""
        known = [t for t in (last_finished_at(self.parts.store), self._last_finished) if t is not None]
        return max(known) if known else None

    def _slack_connected(self) -> bool:
        transport = self._transport
        if transport is None:
            return False
        check = getattr(transport, "is_connected", None)
        return bool(check()) if callable(check) else True  # HTTP mode: serving is being connected

    def _start_ops(self) -> None:
        if not self._ops_port:
            return
        from .ops import OpsServer

        try:
            self.ops = OpsServer(health=self.health, metrics=self.metrics.render, port=self._ops_port,
                                 host=self._ops_host).start()
        except OSError as exc:  # the bot's job is alerts: run on without the probes, loudly
            log.error("ops endpoints not started: cannot listen on port %s (%s)", self._ops_port, exc)
            return
        log.info("ops endpoints on port %s: /healthz /metrics", self.ops.port)

    def stop(self) -> None:
        self._stopping.set()  # no further connection of the round is started
        if self._schedule is not None:
            self._schedule.stop()  # lets a running scan finish
            self._schedule = None
        if self._connection_scans is not None:
            self._connection_scans.close()
            self._connection_scans = None
        if self._transport is not None:
            self._transport.stop()
            self._transport = None
        if self.ops is not None:
            self.ops.stop()
            self.ops = None
        if self._jobs is not None:
            self._jobs.close()
            self._jobs = None


def scans_in_workers(parts) -> bool:
    """PostgreSQL: scans are jobs for `qbsync worker` (bot/jobs.py). SQLite: this process
    scans on its APScheduler schedule, as before."""
    return getattr(parts.store, "dialect", "sqlite") == "postgresql" and bool(parts.settings.database_url)


def run_forever(parts) -> int:
    """Start, then block until SIGTERM or SIGINT; stop gracefully."""
    from .errors import ApiError, QbsyncError

    try:
        runner = BotRunner(parts).start()
    except ApiError:
        raise
    except Exception as exc:  # e.g. Slack unreachable: bolt's App calls auth.test at start
        raise QbsyncError(f"could not start: {type(exc).__name__}: {_short(exc)}") from None
    # A plain flag polled with short sleeps, not threading.Event.wait(): the kernel may
    # deliver SIGTERM to one of bolt's or APScheduler's threads, and then a main thread
    # parked in a lock wait is never woken to run the Python handler (seen in CI: the
    # process ignored SIGTERM until killed). Event.set() from a handler can also deadlock
    # if the signal lands while the main thread holds the Event's own lock.
    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    while not stopping:
        time.sleep(0.2)
    log.info("stopping: waiting for the running scan, closing the Slack connection")
    runner.stop()
    return 0


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:300]
