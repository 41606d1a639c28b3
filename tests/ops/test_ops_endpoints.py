"""/healthz and /metrics: the health rules, one registry per bot, and `BotRunner` serving both
against the sandbox after a real scan."""
from __future__ import annotations

import re
import socket
import time

import pytest
import requests

from bot import wiring
from bot.config import load_settings
from bot.metrics import Metrics, error_kind
from bot.ops import HealthInputs, OpsServer, health
from bot.runner import BotRunner
from sandbox.app import Sandbox


def inputs(**kw):
    base = dict(now=lambda: 10_000.0, started_at=9_000.0, poll_interval_s=300,
                last_scan_finished_at=lambda: 9_500.0, scan_in_progress=lambda: False,
                slack_connected=lambda: True, qbo_refresh_token_days_left=lambda: 87.5)
    base.update(kw)
    return HealthInputs(**base)


def test_health_rules():
    status, body = health(inputs())
    assert status == 200 and body["ok"] is True and body["seconds_since_last_scan"] == 500
    assert body["qbo_refresh_token_days_left"] == 87.5 and body["problems"] == []
    # Older than 3 poll intervals: unhealthy.
    status, body = health(inputs(last_scan_finished_at=lambda: 10_000.0 - 901))
    assert status == 503 and body["ok"] is False and "no scan finished" in body["problems"][0]
    assert health(inputs(last_scan_finished_at=lambda: 10_000.0 - 899))[0] == 200
    # No scan yet: counted from start-up.
    assert health(inputs(last_scan_finished_at=lambda: None, started_at=9_500.0))[0] == 200
    status, body = health(inputs(last_scan_finished_at=lambda: None, started_at=9_000.0))
    assert status == 503 and body["last_scan_finished_at"] is None
    status, body = health(inputs(slack_connected=lambda: False))
    assert status == 503 and body["problems"] == ["Slack is disconnected"]


def value(text: str, name: str, **labels) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # the client sorts labels
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if labels else "") + r" (\S+)"
    m = re.search("^" + pattern + "$", text, re.M)
    return float(m.group(1)) if m else None


def test_each_bot_has_its_own_registry_and_errors_are_classified():
    a, b = Metrics(), Metrics()
    a.record_response("hubspot", 200)
    a.record_response("hubspot", 429)
    a.record_response("qbo", None)
    text = a.render().decode()
    assert value(text, "qbsync_api_calls_total", service="hubspot") == 2
    assert value(text, "qbsync_api_errors_total", service="hubspot", kind="rate_limited") == 1
    assert value(text, "qbsync_api_errors_total", service="qbo", kind="network") == 1
    assert value(b.render().decode(), "qbsync_api_calls_total", service="hubspot") == 0
    assert [error_kind(s) for s in (200, 204, 401, 404, 429, 502, None)] == \
        [None, None, "auth", "client", "rate_limited", "server", "network"]


def test_ops_server_answers_and_stops():
    served = OpsServer(health=lambda: (503, {"ok": False}), metrics=lambda: b"m 1\n", port=0, host="127.0.0.1")
    served.start()
    try:
        r = requests.get(served.url + "/healthz", timeout=5)
        assert r.status_code == 503 and r.json() == {"ok": False}
        r = requests.get(served.url + "/metrics", timeout=5)
        assert r.text == "m 1\n" and r.headers["Content-Type"].startswith("text/plain")
        assert requests.get(served.url + "/other", timeout=5).status_code == 404
    finally:
        served.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(served.url + "/healthz", timeout=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_running_bot_serves_health_and_metrics_after_a_scan(tmp_path):
    with Sandbox(slack_post_rate_per_s=100, slack_post_burst=100) as sb:
        sb.load("mixed")
        env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"),
                                      "QBSYNC_FIX_ALLOWED": "U0ALLOWED1", "QBSYNC_POLL_INTERVAL": "60"}
        settings = load_settings(env, env_file=None)
        parts = wiring.build(settings, post_interval=0)
        runner = BotRunner(parts, ops_port=free_port(), ops_host="127.0.0.1").start()
        try:
            deadline = time.time() + 30
            while runner.scans < 1 and time.time() < deadline:
                time.sleep(0.1)
            assert runner.scans == 1
            base = runner.ops.url
            r = requests.get(base + "/healthz", timeout=5)
            body = r.json()
            assert r.status_code == 200 and body["ok"] and body["slack_connected"] is True
            assert body["scan_in_progress"] is False and 0 <= body["seconds_since_last_scan"] < 30
            assert 0 < body["qbo_refresh_token_days_left"] <= 101
            text = requests.get(base + "/metrics", timeout=5).text
            for service in ("hubspot", "qbo", "slack"):
                assert value(text, "qbsync_api_calls_total", service=service) >= 1, service
            assert value(text, "qbsync_api_calls_total", service="hubspot") == \
                sb.log.count("hubspot")                          # every HubSpot request, counted where sent
            assert value(text, "qbsync_scan_duration_seconds_count") == 1
            assert value(text, "qbsync_scans_total", outcome="ok") == 1
            open_by_rule = {rule: value(text, "qbsync_open_alerts", rule=rule)
                            for rule in ("missing-customer", "duplicate-doc-number", "qbo-auth")}
            assert open_by_rule == {"missing-customer": 2, "duplicate-doc-number": 2, "qbo-auth": 0}
            assert 0 < value(text, "qbsync_qbo_refresh_token_days_left") <= 101
            # Slack's connection goes: the bot says so.
            runner._transport.stop()
            r = requests.get(base + "/healthz", timeout=5)
            assert r.status_code == 503 and r.json()["slack_connected"] is False
        finally:
            runner.stop()
        assert runner.ops is None
