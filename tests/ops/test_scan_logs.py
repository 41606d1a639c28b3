"""A scan's logs (under injected HubSpot and QBO faults, so the retry and error paths log too) are JSON lines
holding no token: not the configured secrets, and not the QBO tokens issued during the scan,
which the redactor was never told about."""
from __future__ import annotations

import io
import json
import logging

import pytest

from bot import wiring
from bot.config import load_settings
from bot.logging_setup import configure_logging
from sandbox.app import Sandbox


@pytest.mark.parametrize("hubspot", ["private_app", "service_key"])  # pat-... and a token of no known shape
def test_scan_logs_are_json_without_token_values(tmp_path, caplog, hubspot):
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    try:
        with Sandbox(slack_post_rate_per_s=100, slack_post_burst=100) as sb:
            sb.load("mixed")
            env = sb.bot_environment(hubspot=hubspot) | {"QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"),
                                          "QBSYNC_FIX_ALLOWED": "U0ALLOWED1"}
            settings = load_settings(env, env_file=None)
            configure_logging("DEBUG", secrets=settings.secret_values(), stream=stream)  # as `qbsync run`
            caplog.set_level(logging.DEBUG)
            plan = sb.faults(rate=0.3, seed=9, kinds=("429", "5xx", "drop"), services=("hubspot", "qbo"))
            parts = wiring.build(settings, post_interval=0, hubspot_options={"sleep": lambda s: None},
                                 qbo_options={"sleep": lambda s: None, "throttle_wait": 0})
            result = parts.scanner.scan()
            plan.configure(rate=0)
            assert result.problem is None and plan.count() > 0
            issued = parts.store.load_qbo_tokens(settings.qbo_realm_id)
    finally:
        for h in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(h)
        root.setLevel(level)

    secrets = [*settings.secret_values(), issued["access_token"], issued["refresh_token"]]
    assert len(secrets) >= 5 and all(len(s) > 10 for s in secrets)
    lines = stream.getvalue().splitlines()
    assert len(lines) > 20
    records = [json.loads(line) for line in lines]                      # every line is one JSON object
    assert any(r["level"] == "WARNING" and "retrying" in r["msg"] for r in records)
    text = stream.getvalue()
    for secret in secrets:
        assert secret not in text
    # qbsync's own messages never carry a token in the first place (third-party DEBUG lines,
    # e.g. slack_sdk printing request headers, rely on the redactor above).
    for record in caplog.records:
        if record.name.startswith("bot"):
            message = record.getMessage()
            assert not any(secret in message for secret in secrets), record.name
