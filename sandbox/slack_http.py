"""HTTP-mode delivery for the Slack stand-in: POST a payload to the app's request URL the way
Slack does, signed with the app's signing secret.

Signing (Slack's "Verifying requests from Slack"): `X-Slack-Request-Timestamp: <unix seconds>`
and `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:<timestamp>:<raw body>")>`;
apps reject timestamps more than five minutes off. The timestamp is real time (time.time()),
not the sandbox clock: the bot checks it against its own real clock, as it would in production.
Retries carry `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`.
Bodies: slash commands `application/x-www-form-urlencoded` fields; interactions
`payload=<url-encoded JSON>` (also form-encoded); events `application/json`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlencode


@dataclass
class HttpResult:
    status: int | None            # None: no answer (timeout / connection refused)
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    error: str | None = None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def encode(kind: str, payload: dict) -> tuple[bytes, str]:
    """(body, content type) as Slack sends a payload of this kind over HTTP."""
    if kind == "slash_commands":
        return urlencode(payload).encode(), "application/x-www-form-urlencoded"
    if kind == "interactive":
        return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"
    return json.dumps(payload).encode(), "application/json"


def post_signed(url: str, body: bytes, content_type: str, secret: str, *, timeout: float = 3.0,
                forge: bool = False, stale_s: float = 0.0, retry_num: int | None = None,
                retry_reason: str = "http_timeout", timestamp: str | None = None) -> HttpResult:
    """POST `body` signed like Slack. `forge`: sign with a wrong secret; `stale_s`: date the
    request that many seconds in the past; `retry_num`: mark it as Slack's n-th retry;
    `timestamp`: send (and sign) exactly this X-Slack-Request-Timestamp, e.g. to replay a
    request byte for byte or to send one that is not a number."""
    ts = timestamp if timestamp is not None else str(int(time.time() - stale_s))
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(("forged-" + secret) if forge else secret, ts, body),
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = resp.read()
            return HttpResult(resp.status, data, dict(resp.headers), time.monotonic() - start)
    except urllib.error.HTTPError as exc:
        data = exc.read()
        return HttpResult(exc.code, data, dict(exc.headers), time.monotonic() - start)
    except (urllib.error.URLError, OSError) as exc:  # timeout, refused: Slack saw no answer
        return HttpResult(None, b"", {}, time.monotonic() - start, error=f"{type(exc).__name__}: {exc}")
