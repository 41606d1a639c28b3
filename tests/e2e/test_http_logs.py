"""At DEBUG, a run of the bot in HTTP mode logs no response_url, no verification token and no
body of a rejected request (bot/logging_setup.py), whichever logger (qbsync, bolt, slack_sdk,
waitress) writes the line."""
from __future__ import annotations

import io
import json
import logging
from urllib.parse import urlencode

import pytest

from bot.logging_setup import configure_logging
from bot.slack.messages import ACTION_ACK
from sandbox.slack_http import encode, post_signed
from sandbox.slack_workspace import VERIFICATION_TOKEN

from .conftest import ALICE
from .test_http_guard import slash_fields

MARK = "rejected-body-marker-7f3a"


@pytest.fixture
def debug_log():
    buf = io.StringIO()
    root = logging.getLogger()
    old_level = root.level
    configure_logging("DEBUG", stream=buf)
    yield buf
    for h in [h for h in root.handlers if h.get_name() == "qbsync"]:
        root.removeHandler(h)
    root.setLevel(old_level)


def test_debug_logs_hold_no_response_url_token_or_rejected_body(make_bot, debug_log):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    bot.scan()
    secret = bot.sb.slack.workspace.signing_secret
    assert bot.d.slash(ALICE, "/qbsync", "status").status == 200     # answered through response_url
    key = "3001:missing-customer"
    assert bot.d.click(ALICE, "C0ALERTS01", bot.alert(key)["ts"], ACTION_ACK).status == 200
    bot.wait_audit(key, "slack:ack", "ok")
    bot.d.wait_for(lambda: len(bot.d.responses()) >= 1, timeout=10)

    fields = slash_fields(bot, f"mute {MARK} 1h")
    body, ctype = encode("slash_commands", fields)
    forged = post_signed(bot.runner.url, body, ctype, secret, forge=True)              # bolt's old line
    stale = post_signed(bot.runner.url, body, ctype, secret, stale_s=900)
    malformed = post_signed(bot.runner.url, urlencode({"payload": "{" + MARK}).encode(), ctype, secret)
    assert (forged.status, stale.status, malformed.status) == (401, 401, 400)
    # bolt's own verification, reached directly (as without the guard), logs the body at INFO
    from slack_bolt.request import BoltRequest
    refused = bot.app.dispatch(BoltRequest(body=body.decode(), headers={
        "content-type": ctype, "x-slack-request-timestamp": "1", "x-slack-signature": "v0=00"}))
    assert refused.status == 401

    out = debug_log.getvalue()
    assert "DEBUG" in out and "Slack request refused" in out       # it did log, at DEBUG
    assert "Invalid request signature detected" in out   # bolt's line is there, without its body
    assert "Sending a request - url: [REDACTED]" in out  # slack_sdk's WebhookClient line, without the URL
    assert all(json.loads(line) for line in out.splitlines())      # redaction keeps lines JSON
    urls = [d.response_url for d in bot.d.deliveries if d.response_url] + [fields["response_url"]]
    assert urls
    for url in urls:
        assert url not in out and url.split("/", 3)[3] not in out
    assert "/commands/T0SANDBOX01/" not in out and "/actions/T0SANDBOX01/" not in out
    assert VERIFICATION_TOKEN not in out
    assert MARK not in out
