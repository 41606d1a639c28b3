"""Operations endpoints: GET /healthz and GET /metrics on a small threaded HTTP server of
their own (QBSYNC_OPS_PORT, default 9464, Prometheus' customary exporter range; 0 = off).

/healthz answers 200 with JSON while the bot is healthy and 503 with the same JSON when it is
not: the last scan finished more than 3 poll intervals ago (counted from start-up until the
first scan finishes), or Slack is disconnected. Fields: ok, last_scan_finished_at,
seconds_since_last_scan, scan_in_progress, slack_connected, qbo_refresh_token_days_left,
problems (why not ok).

/metrics is Prometheus' text format from the bot's own registry (bot/metrics.py).

`qbsync worker` serves the same two endpoints (start_ops); its /healthz is
bot/worker_health.py's (its Procrastinate worker registered, its heartbeat fresh).

Nothing here reads a secret; both answers hold counts, times and states only.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

STALE_AFTER_INTERVALS = 3


@dataclass
class HealthInputs:
    """What /healthz looks at, each read when asked."""
    now: Callable[[], float]
    started_at: float
    poll_interval_s: float
    last_scan_finished_at: Callable[[], float | None]
    scan_in_progress: Callable[[], bool]
    slack_connected: Callable[[], bool]
    qbo_refresh_token_days_left: Callable[[], float | None]


def health(inputs: HealthInputs) -> tuple[int, dict]:
    now = inputs.now()
    last = inputs.last_scan_finished_at()
    since = now - (last if last is not None else inputs.started_at)
    in_progress = bool(inputs.scan_in_progress())
    slack = bool(inputs.slack_connected())
    problems = []
    limit = STALE_AFTER_INTERVALS * inputs.poll_interval_s
    if since > limit:
        problems.append(f"no scan finished in {since:.0f} s (limit {limit:.0f} s)")
    if not slack:
        problems.append("Slack is disconnected")
    body = {
        "ok": not problems,
        "last_scan_finished_at": last,
        "seconds_since_last_scan": round(now - last, 3) if last is not None else None,
        "scan_in_progress": in_progress,
        "slack_connected": slack,
        "qbo_refresh_token_days_left": inputs.qbo_refresh_token_days_left(),
        "problems": problems,
    }
    return (200 if not problems else 503), body


def start_ops(*, health: Callable[[], tuple[int, dict]], metrics: Callable[[], bytes],
              port: int) -> "OpsServer | None":
    """The ops server on `port`, started; None when port is 0 (off) or taken: the process's
    job is scans and alerts, so it runs on without the probes, loudly."""
    if not port:
        return None
    try:
        server = OpsServer(health=health, metrics=metrics, port=port).start()
    except OSError as exc:
        log.error("ops endpoints not started: cannot listen on port %s (%s)", port, exc)
        return None
    log.info("ops endpoints on port %s: /healthz /metrics", server.port)
    return server


class OpsServer:
    """Serves /healthz and /metrics in a background thread. port 0: any free port (tests)."""

    def __init__(self, *, health: Callable[[], tuple[int, dict]], metrics: Callable[[], bytes],
                 port: int, host: str = "0.0.0.0"):  # noqa: S104 - probes/scrapers reach it from outside
        self._health, self._metrics = health, metrics
        self._httpd = _Server((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        if isinstance(host, bytes):  # typeshed allows bytes; an AF_INET server gives str
            host = host.decode()
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{self.port}"  # noqa: S104 - a comparison

    def start(self) -> "OpsServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="qbsync-ops", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, ops: OpsServer):
        self.ops = ops
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args):  # probes every few seconds would flood the log
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        try:
            if path == "/healthz":
                status, body = self.server.ops._health()
                self._send(status, json.dumps(body).encode("utf-8"), "application/json")
            elif path == "/metrics":
                self._send(200, self.server.ops._metrics(), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")
        except Exception:
            log.exception("ops endpoint %s failed", path)
            self._send(500, b"internal error\n", "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
