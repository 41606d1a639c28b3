"""bot/logging_setup.py: JSON lines, and no secret survives into a log line, whatever logger
or traceback it travels through."""
from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logging_setup import REDACTED, configure_logging


@pytest.fixture()
def capture():
    buf = io.StringIO()
    root = logging.getLogger()
    old_level = root.level
    # bolt gives its class loggers ("slack_bolt.RequestVerification", ...) the root's level when
    # an App is made (slack_bolt/logger/__init__.py _configure_from_root): an App another test in
    # this process made at WARNING would keep those loggers at WARNING. Here they follow the root.
    bolt = {name: (lg.level, lg.disabled) for name, lg in logging.root.manager.loggerDict.items()
            if name.startswith("slack_bolt") and isinstance(lg, logging.Logger)}
    for name in bolt:
        logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger(name).disabled = False
    redactor = configure_logging("DEBUG", secrets=["configured-secret-123", "abc"], stream=buf)
    yield buf, redactor
    for h in [h for h in root.handlers if h.get_name() == "qbsync"]:
        root.removeHandler(h)
    root.setLevel(old_level)
    for name, (level, disabled) in bolt.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).disabled = disabled


def lines(buf):
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_json_lines_with_extra_fields(capture):
    buf, _ = capture
    logging.getLogger("qbsync.poller").info("polled %d invoices", 3, extra={"realm": "934145"})
    [rec] = lines(buf)
    assert rec["level"] == "INFO" and rec["logger"] == "qbsync.poller"
    assert rec["msg"] == "polled 3 invoices" and rec["realm"] == "934145"
    assert rec["ts"].endswith("Z")


def test_configured_and_pattern_secrets_are_redacted(capture):
    buf, redactor = capture
    log = logging.getLogger("slack_sdk.web")
    log.debug("token configured-secret-123 xoxb-1-2-abcdef xapp-1-A1-xyz pat-na1-1111-2222 "
              "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload")
    log.debug("POST body grant_type=refresh_token&refresh_token=AB11secret&client_secret=cs1")
    log.debug("callback /callback?code=AB11-authorization-code-xyz&state=s&realmId=1 fault code=6240")
    log.info("fields", extra={"body": {"access_token": "eyJaccess", "refresh_token": "AB11r"}})
    redactor.add(["rotated-refresh-token-999"])
    log.info("new token rotated-refresh-token-999")
    log.info("label abc stays")
    try:
        raise RuntimeError('{"refresh_token": "AB11inside-exception", "x": 1}')
    except RuntimeError:
        log.exception("failed")
    out = buf.getvalue()
    for secret in ("configured-secret-123", "xoxb-1-2-abcdef", "xapp-1-A1-xyz", "pat-na1-1111-2222",
                   "eyJhbGciOiJIUzI1NiJ9", "AB11secret", "cs1&", "AB11-authorization-code-xyz",
                   "eyJaccess", "AB11r", "rotated-refresh-token-999", "AB11inside-exception"):
        assert secret not in out, secret
    assert out.count(REDACTED) >= 12
    # ordinary text survives: a short "secret" is not used (it would mask words), fault codes stay
    assert "code=6240" in out and "label abc stays" in out
    assert "realmId=1" in out


def test_a_configured_secret_of_no_known_shape_is_redacted_in_every_spelling():
    """A HubSpot service key has no known prefix, so no pattern catches it: redaction by value
    must, also where the value appears JSON-escaped or percent-encoded."""
    buf = io.StringIO()
    root = logging.getLogger()
    old_level = root.level
    key = 'CiRz/ZXJ2+aWNl"LWtl\\eS10=ZXN0'  # quotes and backslashes get escaped in a JSON line
    from urllib.parse import quote

    try:
        configure_logging("DEBUG", secrets=[key], stream=buf)
        log = logging.getLogger("qbsync.test")
        log.info("key %s", key)
        log.info("fields", extra={"headers": {"X-Key": key}, "url": f"https://h/x?k={quote(key, safe='')}"})
    finally:
        for h in [h for h in root.handlers if h.get_name() == "qbsync"]:
            root.removeHandler(h)
        root.setLevel(old_level)
    out = buf.getvalue()
    assert out.count(REDACTED) == 3, out
    for spelling in (key, json.dumps(key)[1:-1], quote(key, safe=""), "CiRz"):
        assert spelling not in out


def test_reconfiguring_does_not_stack_handlers(capture):
    buf, _ = capture
    buf2 = io.StringIO()
    configure_logging("INFO", stream=buf2)
    logging.getLogger("x").info("once")
    assert buf.getvalue() == "" and len(buf2.getvalue().splitlines()) == 1


def test_slack_request_material_is_redacted(capture):
    buf, _ = capture
    log = logging.getLogger("slack_bolt.RequestVerification")
    hook = "https://hooks.slack.com/commands/T0TEAM0001/1234567890/AbCdEfSecretPart"
    log.debug("Sending a request - url: %s, body: {}", hook)
    log.debug("payload %s", {"token": "verif-token-value", "response_url": "https://x.example/r/1", "ok": 1})
    log.debug('payload {"token": "verif-token-json", "response_url": "https://x.example/r/2"}')
    log.debug("form token=verif-token-form&response_url=https%3A%2F%2Fhooks.slack.com%2Fx&text=hi")
    log.debug("local %s", "http://127.0.0.1:4000/actions/T0SANDBOX01/0000000002/secretpart")
    log.info("Invalid request signature detected (signature: v0=ab, timestamp: 1, body: "
             "command=/qbsync&text=leaked-body-part\nsecond line)")
    out = buf.getvalue()
    for leaked in ("AbCdEfSecretPart", "1234567890", "verif-token-value", "https://x.example/r/1",
                   "verif-token-json", "https://x.example/r/2", "verif-token-form", "hooks.slack.com%2Fx",
                   "secretpart", "leaked-body-part", "second line"):
        assert leaked not in out, leaked
    assert "text=hi" in out and '"ok": 1' in out.replace("'ok'", '"ok"')   # the rest survives
    assert [json.loads(line)["msg"] for line in out.splitlines()][-1].startswith("Invalid request signature")
