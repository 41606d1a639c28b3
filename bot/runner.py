"""`qbsync run`: the bot as a long-running process.

Slack (Socket Mode by default, or HTTP behind a load balancer) plus an APScheduler job that
scans on an interval: one scan at a time (max_instances=1), missed runs coalesced into one,
the first right at start. SIGTERM/SIGINT stop it gracefully: no new scans, the running one
finishes, the Slack connection closes.

The incremental, checkpointed poller and its SQLite job state are issue #5; this runs the
complete scan (bot/scan.py) each time.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


class BotRunner:
    def __init__(self, parts, *, clock=time.time):
        self.parts = parts
        self.settings = parts.settings
        self.clock = clock
        self._scheduler: BackgroundScheduler | None = None
        self._transport = None
        self._services = None
        self._interval = int(parts.settings.poll_interval_s)
        self.scans = 0

    def start(self) -> "BotRunner":
        from .app import HttpRunner, SocketModeRunner, create_app, services_of

        app = create_app(self.parts)
        self._services = services_of(app)
        if self.settings.socket_mode:
            self._transport = SocketModeRunner(app, self.settings.slack_app_token)
        else:
            self._transport = HttpRunner(app, self.settings.http_port, host="0.0.0.0")
        self._transport.start()
        interval = self._interval
        self._scheduler = BackgroundScheduler(
            timezone=timezone.utc,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": interval})
        self._scheduler.add_job(self.scan_once, "interval", seconds=interval, id="scan",
                                next_run_time=datetime.now(timezone.utc))
        self._scheduler.start()
        log.info("qbsync running: %s transport, scanning every %s s",
                 "socket" if self.settings.socket_mode else "http", interval)
        return self

    def scan_once(self):
        """One scan, through the same lock `/qbsync scan` uses, so two never overlap (two at
        once could post one failure twice)."""
        started = self.clock()
        # When the next one is due (for /qbsync status). Computed here, not asked of the
        # scheduler: asking it from inside a job deadlocks against shutdown(wait=True).
        self.parts.store.set_cursor("scan.next_at", str(started + self._interval))
        try:
            return self._services.run_scan(wait=True)
        except Exception:  # a failed scan must not kill the scheduler; the next one retries
            log.exception("scan failed")
            return None
        finally:
            self.scans += 1

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)  # lets a running scan finish
            self._scheduler = None
        if self._transport is not None:
            self._transport.stop()
            self._transport = None


def run_forever(parts) -> int:
    """Start, then block until SIGTERM or SIGINT; stop gracefully."""
    from .errors import ApiError, QbsyncError

    try:
        runner = BotRunner(parts).start()
    except ApiError:
        raise
    except Exception as exc:  # e.g. Slack unreachable: bolt's App calls auth.test at start
        raise QbsyncError(f"could not start: {type(exc).__name__}: {_short(exc)}") from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("stopping: waiting for the running scan, closing the Slack connection")
    runner.stop()
    return 0


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:300]
