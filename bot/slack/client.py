"""Sending to Slack: a thin layer over slack_sdk's WebClient that maps Slack's errors to
typed exceptions, waits out 429s (slack_sdk's RateLimitErrorRetryHandler honours
Retry-After), retries dropped connections of calls that are safe to repeat, and paces posts
per channel so qbsync stays near Slack's ~1 message per second per channel instead of
collecting 429s.

A post is never repeated blindly. chat.postMessage has no idempotency key (a request for one:
slackapi/slack-api-specs#10), and a connection reset, a timeout or a 5xx can come after Slack
stored the message (python-slack-sdk#1013; apis.md "Retries"): slack_sdk's connection and
server-error retry handlers then post it twice (issue 10: 15 of 15 alerts got two parents).
So those handlers skip chat.postMessage, and SlackPoster.post looks for the message itself
(every post's first block carries a block_id naming it) before it sends it again. A 429 is
still waited out and retried: a rate-limited request is refused, not stored (Slack's "Rate
limits" page, https://docs.slack.dev/apis/web-api/rate-limits).
"""
from __future__ import annotations

import http.client
import logging
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterator

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
# Slack limits every method per workspace by tier (Tier 3: 50+ a minute, ...) and answers
# HTTP 429 with Retry-After, up to a minute for a sliding per-minute window
# (https://docs.slack.dev/apis/web-api/rate-limits). A link is a convenience: a lookup is not
# worth more than this wait (a slash command answers within 3 s, a digest should not stall a
# minute per link); past it the link is left out and lookups pause until Retry-After is over.
LINK_MAX_WAIT_S = 2
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

    def __init__(self, interval: float = 1.0, clock=time.monotonic, sleep=time.sleep, *,
                 shared: Callable[[str], Any] | None = None):
        """shared(channel) -> a pacer whose wait() also counts the other processes' posts to
        the channel (PostgreSQL: bot/adapters/shared_pacing.py). A worker's alerts and the
        listener's thread replies land in the same channel, and Slack's one post a second is
        per channel, not per process: paced apart they went over it together (the
        multi-company benchmark saw 429s end scans early)."""
        self.interval = interval
        self._shared = shared
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
            if self._shared is not None:
                self._shared(channel).wait()
            try:
                yield
            finally:
                self._next[channel] = self._clock() + self.interval


# Calls whose lost answer may hide a change Slack made: never retried by slack_sdk's
# connection/server-error handlers (SlackPoster.post looks the message up instead).
NOT_REPEATABLE = ("chat.postMessage",)
POST_ATTEMPTS = 3      # sends of one message at most, each after looking for the one before
MARK_PREFIX = "qbsync-post-"


def _repeatable(request) -> bool:
    path = (getattr(request, "url", "") or "").split("?", 1)[0]
    return not path.endswith(NOT_REPEATABLE)


class SafeConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """slack_sdk's handler for dropped connections, except for calls that are not safe to repeat."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return _repeatable(request) and super()._can_retry(state=state, request=request, response=response,
                                                           error=error)


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's ServerErrorRetryHandler retries only 500 and 503; Slack's edge also answers
    502 and 504 during incidents. Backoff with jitter comes from the base class. Calls that
    are not safe to repeat are left to the caller."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return _repeatable(request) and response is not None and 500 <= response.status_code <= 599


def _retry_after(response) -> float | None:
    for key, value in (getattr(response, "headers", None) or {}).items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, (list, tuple)) else value
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


# Methods whose 429 is waited out only when Retry-After is short (see LINK_MAX_WAIT_S).
SHORT_WAIT_S = {"chat.getPermalink": LINK_MAX_WAIT_S}


class TieredRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's handler that sleeps Retry-After and tries again, except for the methods in
    SHORT_WAIT_S when Slack asks for a longer wait: those give the 429 to the caller at once
    (SlackPoster.permalink then leaves the link out)."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        path = (getattr(request, "url", "") or "").split("?", 1)[0]
        for method, cap in SHORT_WAIT_S.items():
            if path.endswith("/" + method):
                wait = _retry_after(response)
                return wait is not None and wait <= cap
        return True


def make_web_client(token: str | None, *, base_url: str | None = None, timeout: int = 30) -> WebClient:
    # slack_sdk counts attempts across handlers (one RetryState per call): each number is the
    # most retries a call gets when that is the last kind of failure it meets.
    kwargs: dict[str, Any] = {"token": token, "timeout": timeout,
              "retry_handlers": [TieredRateLimitRetryHandler(max_retry_count=3),
                                 SafeConnectionErrorRetryHandler(max_retry_count=3),
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
        self._links: dict[tuple[str, str], str] = {}
        self._links_lock = threading.Lock()
        self._links_paused_until = 0.0   # time.monotonic(): chat.getPermalink said 429 until then

    def permalink(self, channel: str, ts: str) -> str | None:
        """A message's link, as Slack gives it (chat.getPermalink: channel + message_ts ->
        permalink, https://docs.slack.dev/reference/methods/chat.getPermalink), not built by
        hand: the workspace's domain and the thread are Slack's to know. Remembered (a
        message's permalink does not change); None when Slack cannot say. Rate-limited for
        longer than LINK_MAX_WAIT_S: None, and no lookups until Slack's Retry-After is over
        (a /qbsync list of 40 links must not ask 40 times into a closed window)."""
        key = (channel, ts)
        with self._links_lock:
            if key in self._links:
                return self._links[key]
            if time.monotonic() < self._links_paused_until:
                return None
        try:
            resp = self._send("chat.getPermalink", self.client.chat_getPermalink, channel=channel, message_ts=ts)
        except RateLimited as exc:
            log.warning("no permalink for a message in %s: rate-limited for %.0f s", channel, exc.retry_after)
            with self._links_lock:
                self._links_paused_until = time.monotonic() + max(float(exc.retry_after or 1), 1.0)
            return None
        except ApiError as exc:
            log.warning("no permalink for a message in %s: %s", channel, exc)
            return None
        link = resp.get("permalink")
        if not isinstance(link, str) or not link.startswith("https://") or any(c in link for c in "<>| "):
            return None
        with self._links_lock:
            if len(self._links) > 10_000:
                self._links.clear()
            self._links[key] = link
        return link

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
        except (OSError, http.client.HTTPException) as exc:
            # No answer (connection reset or refused, timeout; URLError is an OSError): the
            # call may or may not have been carried out.
            raise Transient("slack", f"{what}: no answer ({type(exc).__name__})", code="no_answer") from None
        finally:
            if self.on_call is not None:
                self.on_call(status)

    def post(self, channel: str, message: Message, *, thread_ts: str | None = None) -> str:
        """Post once. When the answer is lost (no answer, or a 5xx), the message may be in Slack
        all the same: it is looked for (by its first block's block_id) before it is sent again,
        up to POST_ATTEMPTS sends. A message without blocks cannot be looked for and is not
        sent again."""
        message, mark = _marked(message)
        since = time.time()
        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                with self.pacer.slot(channel):
                    resp = self._send("chat.postMessage", self.client.chat_postMessage, channel=channel,
                                      text=message.text, blocks=message.blocks or None, thread_ts=thread_ts,
                                      unfurl_links=False, unfurl_media=False)
                return resp["ts"]
            except Transient as exc:
                if mark is None or attempt == POST_ATTEMPTS:
                    raise
                log.warning("chat.postMessage got no answer (%s); looking for the message before sending it again",
                            exc)
                ts = self.find_posted(channel, mark, since, thread_ts=thread_ts)
                if ts:
                    log.info("the message reached Slack although its answer was lost; not sending it again")
                    return ts
        raise AssertionError("unreachable")

    def find_parent(self, channel: str, alert_key: str, since: float) -> str | None:
        """The ts of a parent message for `alert_key` posted at or after `since` (epoch s), if
        the channel's history has one: its first block's block_id names the alert. None when
        there is none, or when history cannot be read (missing scope, not in channel): the
        caller then posts, and a crash at the wrong moment can repeat that one parent."""
        return self.find_posted(channel, parent_block_id(alert_key), since)

    def find_posted(self, channel: str, block_id: str, since: float, *, thread_ts: str | None = None) -> str | None:
        """The ts of a message posted at or after `since` whose first block has `block_id`:
        a top-level message is looked for in conversations.history, a thread reply in
        conversations.replies of its thread. None when there is none or the history cannot be
        read. (Slack's reference says a bot token may lack the permission for
        conversations.replies in channels, https://docs.slack.dev/reference/methods/conversations.replies:
        then a lost reply's answer means it is sent again, a repeated thread line at worst.)"""
        method, call = ("conversations.replies", self.client.conversations_replies) if thread_ts \
            else ("conversations.history", self.client.conversations_history)
        extra = {"ts": thread_ts} if thread_ts else {}
        try:
            for msg in self._messages(method, call, channel, oldest=f"{max(since - CLOCK_MARGIN_S, 0):.6f}",
                                      latest=f"{since + POST_WINDOW_S:.6f}", inclusive=True, **extra):
                blocks = msg.get("blocks") or []
                if blocks and blocks[0].get("block_id") == block_id:
                    return msg.get("ts")
        except ApiError as exc:
            log.warning("cannot look for a message in the channel's %s: %s", method, exc)
        return None

    def _messages(self, method: str, call, channel: str, **args) -> Iterator[dict]:
        """The messages of a history or thread read (`method`), page by page (HISTORY_PAGE a
        page, at most HISTORY_PAGES pages); an ApiError reaches the caller."""
        cursor = None
        for _ in range(HISTORY_PAGES):
            resp = self._send(method, call, channel=channel, limit=HISTORY_PAGE, cursor=cursor, **args)
            yield from resp.get("messages") or []
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                return

    def thread_has_file(self, channel: str, thread_ts: str, filename: str) -> bool | None:
        """Whether a reply in `thread_ts`'s thread carries a file named `filename` (e.g. the
        digest's chart, uploaded before a crash). A file shared into a thread is a message of
        its own with a `files` array ("Sharing a file with a channel will now create an actual
        message ... You can even upload files into threads"; "The file attribute attached to
        messages is replaced with a new files field that includes an array of files", read
        with conversations.replies and channels:history / groups:history:
        Slack changelog "File threads have replaced file comments", 2018, as served at
        https://api.slack-gov.com/changelog/2018-05-file-threads-soon-tread), and
        conversations.replies lists a thread's parent and replies
        (https://api.slack.com/methods/conversations.replies). None when the thread cannot be
        read (missing scope, not in the channel, ...): the caller decides what an unknown means."""
        try:
            for msg in self._messages("conversations.replies", self.client.conversations_replies, channel,
                                      ts=thread_ts):
                if msg.get("ts") == thread_ts:
                    continue  # the parent itself
                if any(isinstance(f, dict) and f.get("name") == filename for f in msg.get("files") or []):
                    return True
        except ApiError as exc:
            log.warning("cannot read the thread of %s in %s: %s", thread_ts, channel, exc)
            return None
        return False

    def update(self, channel: str, ts: str, message: Message) -> None:
        """Edit a message. An edit whose answer stays lost after slack_sdk's retries (no answer,
        or a 5xx) is logged, not raised: chat.update sets the whole message from the stored
        state, so the next edit of it repairs a missed one, while raising here cut the step
        that called it in half after its change was made (a fix that landed in QBO was audited
        "failed", its "resolved by" thread reply and sync watch skipped, and the person told to
        try again). Refusals (auth, not found, invalid blocks) still raise."""
        try:
            self._send("chat.update", self.client.chat_update, channel=channel, ts=ts, text=message.text,
                       blocks=message.blocks or [])
        except Transient as exc:
            log.warning("message %s in %s may show an older state: %s", ts, channel, exc)

    def upload(self, channel: str, data: bytes, *, filename: str, title: str, comment: str = "",
               thread_ts: str | None = None, alt_txt: str | None = None) -> None:
        """Share `data` as a file in `channel` (a reply in `thread_ts`'s thread when given) with
        slack_sdk's files_upload_v2: files.getUploadURLExternal, the bytes to the upload URL,
        then files.completeUploadExternal, which shares it (scope files:write;
        https://docs.slack.dev/reference/methods/files.getUploadURLExternal and
        https://docs.slack.dev/reference/methods/files.completeUploadExternal). Errors are
        mapped like every other call (missing_scope: AuthError, not_in_channel: SlackError).
        `thread_ts` must be a parent's ts, never a reply's (Slack's files.upload reference,
        https://api.slack.com/methods/files.upload, for the same argument)."""
        kwargs: dict[str, Any] = {"channel": channel, "content": data, "filename": filename, "title": title}
        if comment:
            kwargs["initial_comment"] = comment
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if alt_txt:
            kwargs["alt_txt"] = alt_txt
        with self.pacer.slot(channel):
            self._send("files.upload_v2", self.client.files_upload_v2, **kwargs)

    def ephemeral(self, channel: str, user_id: str, message: Message, *, thread_ts: str | None = None) -> None:
        self._send("chat.postEphemeral", self.client.chat_postEphemeral, channel=channel, user=user_id,
                   text=message.text, blocks=message.blocks or None, thread_ts=thread_ts)


def _marked(message: Message) -> tuple[Message, str | None]:
    """`message` whose first block has a block_id to find it by (a parent already has one that
    names its alert; any other message gets a new random one), and that block_id. Slack keeps
    a block_id as sent (max 255 characters; generated only when none is given: Block Kit
    reference, https://docs.slack.dev/reference/block-kit/blocks/header-block)."""
    if not message.blocks:
        return message, None
    first = message.blocks[0]
    if first.get("block_id"):
        return message, first["block_id"]
    mark = MARK_PREFIX + uuid.uuid4().hex
    return replace(message, blocks=[dict(first, block_id=mark), *message.blocks[1:]]), mark
