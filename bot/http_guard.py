"""The gate in front of bolt's WSGI adapter in HTTP mode: what bolt leaves open.

In order, for each POST to the Slack path (anything else goes to bolt untouched):
1. Size: a Content-Length over the cap -> 413 before any byte of the body is read; then at
   most cap+1 bytes are read (a chunked body has no length up front), more -> 413. waitress'
   own max_request_body_size stops the same bodies one layer earlier (bot/app.py); this keeps
   the cap whatever server runs the app. Slack's payloads are a few KB.
2. Timestamp: X-Slack-Request-Timestamp must be ASCII digits -> else 401 (slack_sdk's
   SignatureVerifier calls int() on it and a non-number became a 500).
3. Signature and 5-minute window: slack_sdk's SignatureVerifier -> else 401. Checked here
   so bolt never sees (nor logs, see bot/logging_setup.py) a forged body.
4. Shape: bot/payload_check.py -> else 400; nothing runs.
5. Installation: the payload's team_id / api_app_id must be this bot's
   (bot/slack_installation.py) -> else 401. A body signed by this app's secret but meant for
   another workspace must not act on this one.
6. Replay: the body is claimed in bot/replay_ledger.py; a body already taken inside its
   window (a replay, or Slack's retry with X-Slack-Retry-Num) -> 200 with an empty body, the
   answer Slack reads as "acknowledged", and nothing runs again.
Then the body is handed to bolt from memory, exactly as it came.

Rejections are logged with the status and the rule, never with the body.
"""
from __future__ import annotations

import io
import logging
import re
import time

from slack_sdk.signature import Clock, SignatureVerifier

from .payload_check import Malformed, check

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
_DIGITS = re.compile(r"^[0-9]{1,12}\Z")  # \Z: `$` would also take a final "\n"
_NO_DEDUPE = ("url_verification", "ssl_check")


class _Clock(Clock):
    """slack_sdk's SignatureVerifier takes a clock object with now() (slack_sdk/signature/__init__.py:
    `class Clock`, the type of its `clock` argument, so this subclasses it)."""

    def __init__(self, clock):
        self._clock = clock

    def now(self) -> float:
        return self._clock()


class SlackRequestGuard:
    def __init__(self, inner, *, signing_secret: str, installation, ledger, path: str = "/slack/events",
                 max_body: int = MAX_BODY_BYTES, clock=time.time):
        """inner: the WSGI app (bolt's SlackRequestHandler); installation: an Installation;
        ledger: a ReplayLedger."""
        self.inner = inner
        self.path = path
        self.max_body = max_body
        self.installation = installation
        self.ledger = ledger
        self.verifier = SignatureVerifier(signing_secret or "", clock=_Clock(clock))

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != self.path:
            return self.inner(environ, start_response)
        body, refusal = self._read(environ)
        if refusal is None:
            refusal, checked = self._vet(environ, body)
        if refusal is not None:
            status, reason = refusal
            log.info("Slack request refused: %s (%s)", status, reason,
                     extra={"http_status": int(status.split()[0]), "reason": reason})
            return _answer(start_response, status, reason)
        dedupe = checked.kind not in _NO_DEDUPE
        if dedupe and not self.ledger.claim(body, int(environ["HTTP_X_SLACK_REQUEST_TIMESTAMP"])):
            log.info("Slack request already taken: answered, not run again",
                     extra={"retry_num": environ.get("HTTP_X_SLACK_RETRY_NUM")})
            return _answer(start_response, "200 OK", "")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        seen: list[str] = []

        def remember(status, headers, exc_info=None):
            seen.append(status)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            result = self.inner(environ, remember)
        except BaseException:
            if dedupe:
                self.ledger.release(body)
            raise
        if dedupe and seen and seen[0][:1] == "5":
            self.ledger.release(body)  # it did not run: let Slack's retry through
        return result

    # -- steps ----------------------------------------------------------------------------
    def _read(self, environ) -> tuple[bytes, tuple[str, str] | None]:
        raw_length = (environ.get("CONTENT_LENGTH") or "").strip()
        if raw_length:
            if not raw_length.isascii() or not raw_length.isdigit():
                return b"", ("400 Bad Request", "Content-Length is not a number")
            if int(raw_length) > self.max_body:
                return b"", ("413 Payload Too Large", "body over the size cap")
        stream = environ.get("wsgi.input")
        if stream is None:
            return b"", None
        want = min(int(raw_length), self.max_body + 1) if raw_length else self.max_body + 1
        body = _read_up_to(stream, want)
        if len(body) > self.max_body:
            return b"", ("413 Payload Too Large", "body over the size cap")
        return body, None

    def _vet(self, environ, body: bytes):
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not _DIGITS.match(timestamp):
            return ("401 Unauthorized", "timestamp is not a number"), None
        try:  # slack_sdk's verifier decodes the body as UTF-8 and would raise
            body.decode("utf-8")
        except UnicodeDecodeError:
            return ("400 Bad Request", "malformed payload: body is not UTF-8"), None
        if not self.verifier.is_valid(body, timestamp, signature):
            return ("401 Unauthorized", "bad signature or stale timestamp"), None
        try:
            checked = check(body, environ.get("CONTENT_TYPE", ""))
        except Malformed as exc:
            return ("400 Bad Request", f"malformed payload: {exc}"), None
        if checked.kind not in _NO_DEDUPE:
            why = self.installation.refuses(checked.team_id, checked.app_id)
            if why:
                return ("401 Unauthorized", why), None
        return None, checked


def _read_up_to(stream, limit: int) -> bytes:
    chunks, got = [], 0
    while got < limit:
        chunk = stream.read(min(65536, limit - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _answer(start_response, status: str, text: str):
    data = text.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]
