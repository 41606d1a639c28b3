"""Structured logging (one JSON object per line on stderr) that never prints secrets.

Redaction happens in the formatter on the finished line, tracebacks included, so it also
covers records from third-party loggers (slack_sdk, urllib3, requests-oauthlib at DEBUG
print request details). Two layers:
  - the exact secret values from the configuration (`configure_logging(secrets=...)`);
  - patterns for credentials we did not configure (tokens pasted into messages, tokens
    in URLs, OAuth bodies), so a value that reaches a log some other way is still masked.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import IO, Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"

# Patterns for credential shapes. Why each: Slack tokens (xoxb/xoxp/xapp...), HubSpot
# private-app tokens (pat-<region>-<uuid>), bearer headers, and OAuth form/JSON fields
# that carry tokens, codes or client secrets (intuit-oauth / requests-oauthlib bodies).
# Slack request material (issue 10): a response_url lets whoever holds it answer as the app
# for 30 minutes (up to 5 posts), so it is a credential too: Slack's are
# https://hooks.slack.com/commands|actions/T<team>/<id>/<secret> (slack_sdk's WebhookClient
# logs the URL at DEBUG); `token` in a payload is the (deprecated) verification token.
_RESPONSE_URL = r"https?://[^\s\"'<>\\,]*?/(?:commands|actions)/T[A-Z0-9]+/[^\s\"'<>\\,]+"
_PATTERNS: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"\bpat-[a-z0-9]+-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(_RESPONSE_URL), REDACTED),
    (re.compile(r"(?i)https?://hooks\.slack\.com/[^\s\"'<>\\,]*"), REDACTED),
    (re.compile(r"(?i)\b(access_token|refresh_token|client_secret|id_token|token|response_url)=[^&\s\"']+"),
     r"\1=" + REDACTED),
    # OAuth authorization codes in callback URLs; short values are error codes (code=6240).
    (re.compile(r"(?i)\b(code)=[^&\s\"']{10,}"), r"\1=" + REDACTED),
    (re.compile(r"(?i)([\"'](?:access_token|refresh_token|client_secret|id_token|token|response_url)[\"']"
                r"\s*:\s*[\"'])[^\"']*"), r"\1" + REDACTED),
    # bolt's RequestVerification logs a refused request whole ("Invalid request signature
    # detected (signature: ..., timestamp: ..., body: <the body>)", slack_bolt/middleware/
    # request_verification/request_verification.py, at INFO): a refused body is untrusted
    # and may carry anything, so nothing after "body:" is kept. (The lookahead: the finished
    # JSON line is redacted once more, and there the rest of the line is JSON, not body.)
    (re.compile(r"(Invalid request signature detected.*?body: )(?!\[REDACTED\]).*", re.S), r"\1" + REDACTED),
)

# Attributes every LogRecord has; anything else came in through `extra=` and is emitted.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Very short values would mask ordinary words; real secrets are long. By value, whatever
        # the shape (a HubSpot service key has no known prefix for the patterns below), and also
        # as the value appears once JSON-escaped (the finished line) or percent-encoded (a URL).
        new = {v for s in secrets if isinstance(s, str) and len(s) >= 6 for v in _spellings(s)}
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(set(self._secrets) | new, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for rx, repl in _PATTERNS:
            text = rx.sub(repl, text)
        return text


def _spellings(secret: str) -> set[str]:
    return {secret, json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1],
            quote(secret, safe=""), quote_plus(secret, safe="")}


class JsonFormatter(logging.Formatter):
    """{"ts": ..., "level": ..., "logger": ..., "msg": ..., <extra fields>, "exc": ...}"""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        payload: dict = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                  + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": self.redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.redact(self.formatException(record.exc_info))
        # Redact the raw texts first (JSON escaping would hide quoted fields from the
        # patterns), then the whole line for anything that came in through `extra=`.
        line = json.dumps(payload, ensure_ascii=False, default=repr)
        return self.redact(line)


_HANDLER_NAME = "qbsync"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted, not the object it was at
    set-up: a test harness (pytest's capture) or a daemon may swap and close stderr, and a
    background thread's log line must not then fail with "I/O operation on closed file"."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass  # always the current sys.stderr


def configure_logging(level: str = "INFO", *, secrets: Iterable[str] = (),
                      stream: IO[str] | None = None) -> Redactor:
    """Send all logging to `stream` (stderr) as redacted JSON lines. Calling it again
    replaces qbsync's handler (it does not stack). Returns the redactor so callers can
    register secrets learnt later (e.g. a freshly rotated QBO token)."""
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter(redactor))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return redactor
