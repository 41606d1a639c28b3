"""Prometheus metrics for one running bot, in a CollectorRegistry of its own (two bots in one
process, as in tests, never share counters).

What is counted, and where:
- qbsync_api_calls_total{service} / qbsync_api_errors_total{service,kind}: HTTP requests
  to HubSpot and QBO, every attempt (retries included), counted where they leave: HubSpot
  through the adapter's `on_response` hook (its paced urllib3 pool), QBO by wrapping the
  adapter's requests session (python-quickbooks sends everything through
  `session.request`). Intuit's token endpoint is reached by intuit-oauth's own requests
  call and is not counted. Slack: Web API calls made by the alert poster (SlackPoster's
  `on_call` hook), one per call: slack_sdk retries inside the call and does not tell us.
  kind: network (no answer), rate_limited (429), server (5xx), auth (401/403), client (other 4xx).
- qbsync_scan_duration_seconds (histogram) and qbsync_scans_total{outcome}: scans run by the
  scheduler (bot/runner.py).
- qbsync_open_alerts{rule} and qbsync_qbo_refresh_token_days_left: read at scrape time from
  the store and the QBO token manager, so they are never stale.
"""
from __future__ import annotations

import logging
from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from .alerts import is_group

log = logging.getLogger(__name__)

SCAN_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)
SERVICES = ("hubspot", "qbo", "slack")


def error_kind(status: int | None) -> str | None:
    """The error label for an HTTP status (None: no answer at all); None for a success."""
    if status is None:
        return "network"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server"
    if status in (401, 403):
        return "auth"
    if status >= 400:
        return "client"
    return None


class Metrics:
    def __init__(self, *, store=None, qbo=None, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.scan_duration = Histogram("qbsync_scan_duration_seconds", "Duration of scheduled scans (poll cycles).",
                                       buckets=SCAN_BUCKETS, registry=r)
        self.scans = Counter("qbsync_scans", "Scheduled scans by outcome (ok, problem, error).", ["outcome"],
                             registry=r)
        self.api_calls = Counter("qbsync_api_calls", "HTTP requests sent, retries included, by service.",
                                 ["service"], registry=r)
        self.api_errors = Counter("qbsync_api_errors", "Requests that failed, by service and kind.",
                                  ["service", "kind"], registry=r)
        self.last_scan = Gauge("qbsync_last_scan_finished_timestamp_seconds",
                               "When the last scheduled scan finished (Unix time).", registry=r)
        for service in SERVICES:  # series exist from the start, at 0
            self.api_calls.labels(service)
        r.register(_LiveCollector(store, qbo))

    # -- recording --------------------------------------------------------------------------
    def record_response(self, service: str, status: int | None) -> None:
        self.api_calls.labels(service).inc()
        kind = error_kind(status)
        if kind is not None:
            self.api_errors.labels(service, kind).inc()

    def record_scan(self, seconds: float, outcome: str, finished_at: float) -> None:
        self.scan_duration.observe(seconds)
        self.scans.labels(outcome).inc()
        self.last_scan.set(finished_at)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # -- hooking the bot's parts --------------------------------------------------------------
    def attach(self, parts) -> "Metrics":
        """Count the requests of parts.hubspot, parts.qbo and parts.poster from now on."""
        if hasattr(parts.hubspot, "on_response"):
            parts.hubspot.on_response = lambda status: self.record_response("hubspot", status)
        session = getattr(parts.qbo, "session", None)
        if session is not None:
            instrument_session(session, lambda status: self.record_response("qbo", status))
        if hasattr(parts.poster, "on_call"):
            parts.poster.on_call = lambda status: self.record_response("slack", status)
        return self


def instrument_session(session, record) -> None:
    """Report every request a requests.Session sends (status, or None when no answer came)."""
    if getattr(session, "_qbsync_instrumented", False):
        return
    send = session.request

    def request(method, url, *args, **kwargs):
        try:
            response = send(method, url, *args, **kwargs)
        except Exception:
            record(None)
            raise
        record(response.status_code)
        return response

    session.request = request
    session._qbsync_instrumented = True


class _LiveCollector:
    """Gauges computed when Prometheus scrapes: open alerts by rule, refresh-token days left."""

    def __init__(self, store, qbo):
        self.store, self.qbo = store, qbo

    def collect(self):
        alerts = GaugeMetricFamily("qbsync_open_alerts", "Alerts not yet resolved, by rule.", labels=["rule"])
        if self.store is not None:
            try:
                # A storm group's own row is not a failure: its members are counted.
                counts = Tally(a["rule"] for a in self.store.open_alerts() if not is_group(a))
            except Exception:  # a scrape must answer even if the database is busy or broken
                log.exception("metrics: could not count open alerts")
                counts = Tally()
            for rule in sorted(set(_known_rules()) | set(counts)):
                alerts.add_metric([rule], counts.get(rule, 0))
        yield alerts
        days = refresh_token_days_left(self.qbo)
        if days is not None:
            gauge = GaugeMetricFamily("qbsync_qbo_refresh_token_days_left",
                                      "Days until the QBO refresh token expires (reconnect before 0).")
            gauge.add_metric([], days)
            yield gauge


def refresh_token_days_left(qbo) -> float | None:
    """From the token manager's stored chain; None when unknown (no tokens yet, or an error)."""
    if qbo is None or not hasattr(qbo, "refresh_token_days_left"):
        return None
    try:
        days = qbo.refresh_token_days_left()
    except Exception:  # e.g. AuthError: nothing configured or stored
        return None
    return None if days is None else round(float(days), 3)


def _known_rules() -> list[str]:
    try:
        from rules import registry
        return list(registry.ids())
    except Exception:
        return []
