"""Sending to Slack: a thin layer over slack_sdk's WebClient that maps Slack's errors to
typed exceptions, waits out 429s (slack_sdk's RateLimitErrorRetryHandler honours
Retry-After), retries dropped connections, and paces posts per channel so qbsync stays
near Slack's ~1 message per second per channel instead of collecting 429s.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, ServerErrorRetryHandler,
)

from bot.errors import ApiError, AuthError, NotFound, RateLimited, Transient, ValidationFailed

from .messages import Message, parent_block_id

log = logging.getLogger(__name__)

# New non-Marketplace Slack apps may read conversations.history only about once a minute and
# 15 messages a page (Slack's 2025 limits for such apps); a crash is rare, so a few pages are
# worth waiting for, and past them posting again beats losing the alert.
HISTORY_PAGE = 15
HISTORY_PAGES = 4
CLOCK_MARGIN_S = 60    # our clock against Slack's ts
POST_WINDOW_S = 900    # a post (pacing, retries of 429/5xx) ends within this after it began


class SlackError(ApiError):
    """Slack refused a call for a reason the caller should look at (e.g. not_in_channel)."""


_AUTH = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope"}
_NOT_FOUND = {"channel_not_found", "message_not_found", "user_not_found", "thread_not_found"}
_INVALID = {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "invalid_arguments",
            "cant_update_message", "invalid_trigger_id", "expired_trigger_id"}


def map_slack_error(exc: SlackApiError, what: str) -> ApiError:
    status = getattr(exc.response, "status_code", None)
    error = (exc.response.get("error") if hasattr(exc.response, "get") else None) or "unknown_error"
    message = f"{what}: {error}"
    if status == 429 or error == "ratelimited":
        retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
        return RateLimited("slack", message, retry_after=retry_after, status=429, code=error)
    if error in _AUTH:
        return AuthError("slack", message, status=status, code=error)
    if error in _NOT_FOUND:
        return NotFound("slack", message, status=status, code=error)
    if error in _INVALID:
        return ValidationFailed("slack", message, status=status, code=error)
    if status and status >= 500:
        return Transient("slack", message, status=status, code=error)
    return SlackError("slack", message, status=status, code=error)


class ChannelPacer:
    """At most one post per `interval` seconds per channel (Slack allows bursts, but a storm
    of alerts must not become a storm of 429s). Posts to one channel go one at a time (a
    lock per channel: the scan and a button's thread reply may post at once), and the
    interval runs from when the previous post was answered, not from when it was sent:
    spacing only the sends let two land within one second at Slack (seen in the benchmark)."""

    def __init__(self, interval: float = 1.0, clock=time.monotonic, sleep=time.sleep):
        self.interval = interval
        self._clock, self._sleep = clock, sleep
        self._next: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, channel: str) -> Iterator[None]:
        """Hold the channel's turn: wait for it, post inside, the next turn starts one
        interval after leaving."""
        with self._lock:
            lock = self._locks.setdefault(channel, threading.Lock())
        with lock:
            now = self._clock()
            at = self._next.get(channel, now)
            if at > now:
                self._sleep(at - now)
            try:
                yield
            finally:
                self._next[channel] = self._clock() + self.interval


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's ServerErrorRetryHandler retries only 500 and 503; Slack's edge also answers
    502 and 504 during incidents. Backoff with jitter comes from the base class."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and 500 <= response.status_code <= 599


def make_web_client(token: str, *, base_url: str | None = None, timeout: int = 30) -> WebClient:
    # slack_sdk counts attempts across handlers (one RetryState per call): each number is the
    # most retries a call gets when that is the last kind of failure it meets. A 5xx or a
    # connection lost after Slack took a chat.postMessage can repeat the post; Slack has no
    # idempotency key, and a repeated thread line beats a lost alert.
    kwargs = {"token": token, "timeout": timeout,
              "retry_handlers": [RateLimitErrorRetryHandler(max_retry_count=3),
                                 ConnectionErrorRetryHandler(max_retry_count=3),
                                 AnyServerErrorRetryHandler(max_retry_count=3)]}
    if base_url:
        kwargs["base_url"] = base_url
    return WebClient(**kwargs)


class SlackPoster:
    """Posts and edits messages as qbsync's bot user."""

    def __init__(self, client: WebClient, *, pacer: ChannelPacer | None = None):
        self.client = client
        self.pacer = pacer or ChannelPacer()
        # Called once per Web API call with its HTTP status (None: no answer); metrics hook it.
        self.on_call = None

    def _send(self, what: str, fn, **kwargs):
        status = None
        try:
            resp = fn(**kwargs)
            status = resp.status_code
            return resp
        except SlackApiError as exc:
            status = getattr(exc.response, "status_code", None)
            status = 400 if status == 200 else status  # ok:false counts as a refused call
            raise map_slack_error(exc, what) from None
        finally:
            if self.on_call is not None:
                self.on_call(status)

    def post(self, channel: str, message: Message, *, thread_ts: str | None = None) -> str:
        with self.pacer.slot(channel):
            resp = self._send("chat.postMessage", self.client.chat_postMessage, channel=channel, text=message.text,
                              blocks=message.blocks or None, thread_ts=thread_ts, unfurl_links=False,
                              unfurl_media=False)
        return resp["ts"]

    def find_parent(self, channel: str, alert_key: str, since: float) -> str | None:
        """The ts of a parent message for `alert_key` posted at or after `since` (epoch s), if
        the channel's history has one: its first block's block_id names the alert. None when
        there is none, or when history cannot be read (missing scope, not in channel): the
        caller then posts, and a crash at the wrong moment can repeat that one parent."""
        cursor, wanted = None, parent_block_id(alert_key)
        for _ in range(HISTORY_PAGES):
            try:
                resp = self._send("conversations.history", self.client.conversations_history, channel=channel,
                                  oldest=f"{max(since - CLOCK_MARGIN_S, 0):.6f}",
                                  latest=f"{since + POST_WINDOW_S:.6f}", inclusive=True, limit=HISTORY_PAGE,
                                  cursor=cursor)
            except ApiError as exc:
                log.warning("cannot look for an unsaved alert message in the channel history: %s", exc)
                return None
            for msg in resp.get("messages") or []:
                blocks = msg.get("blocks") or []
                if blocks and blocks[0].get("block_id") == wanted:
                    return msg.get("ts")
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                return None
        return None

    def update(self, channel: str, ts: str, message: Message) -> None:
        self._send("chat.update", self.client.chat_update, channel=channel, ts=ts, text=message.text,
                   blocks=message.blocks or [])

    def ephemeral(self, channel: str, user_id: str, message: Message, *, thread_ts: str | None = None) -> None:
        self._send("chat.postEphemeral", self.client.chat_postEphemeral, channel=channel, user=user_id,
                   text=message.text, blocks=message.blocks or None, thread_ts=thread_ts)
