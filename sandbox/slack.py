"""Slack's Web API as far as qbsync uses it, plus the response_url hooks, served from a
`Workspace` (slack_workspace.py).

    POST /api/<method>     auth.test, chat.postMessage, chat.update, chat.postEphemeral,
                           views.open, views.publish, users.info, usergroups.users.list,
                           conversations.info, conversations.members, conversations.history,
                           conversations.replies, chat.getPermalink,
                           files.getUploadURLExternal, files.completeUploadExternal (slack_files.py),
                           apps.connections.open
    POST /upload/v1/<file id>   the upload URL files.getUploadURLExternal hands out
    POST /commands/<team>/<id>/<secret>, /actions/<team>/<id>/<secret>   response_url

`SlackStandIn` puts the pieces together (Web API server, Socket Mode WebSocket server,
signed HTTP delivery, the driver); sandbox/app.py runs one beside HubSpot and QBO.

Behaviour copied from Slack, with where it comes from:
- Arguments come as a query string, a form body or a JSON body (slack_sdk sends chat.* and
  views.* as JSON, users.info & co. as query parameters, always POST). In a form body,
  `blocks` and `view` are JSON strings. The token is the `Authorization: Bearer` header or a
  `token` argument. Missing: `not_authed`; unknown: `invalid_auth`; revoked: `token_revoked`;
  an app-level token (xapp-) on a bot method, or a bot token on apps.connections.open:
  `not_allowed_token_type`. A token without the method's scope: `missing_scope` with
  `needed` and `provided` (Slack's documented error shape).
- Errors are HTTP 200 `{"ok": false, "error": ...}`; only rate limits are HTTP 429, with
  `Retry-After` in whole seconds and `{"ok": false, "error": "ratelimited"}` (Slack's rate
  limit docs; slack_sdk's RateLimitErrorRetryHandler reads the header).
- Every answer carries `x-oauth-scopes` (the token's scopes) and `x-accepted-oauth-scopes`
  (what the method takes), as Slack's do; qbsync doctor reads the first after auth.test.
- Every method is rate-limited by its tier, per workspace and method (slack_limits.py: the
  tier of each method with its source, the sliding-window model, the opt-in non-Marketplace
  limits of conversations.history/replies). `method_limits={method: n}` raises or lowers one.
- chat.postMessage: about one message per second per channel with short bursts allowed
  (Slack's "Rate limits" page: "1 per second ... short bursts >1 allowed"), modelled as a
  token bucket (`post_rate_per_s`, `post_burst`). `channel_not_found`, `not_in_channel`
  (the bot must be a member: qbsync has no chat:write.public), `is_archived`, `no_text`,
  `msg_too_long` (text over 40,000 characters), `invalid_blocks` with the problems in
  `errors` and `response_metadata.messages` (shape of Slack's answers as seen in client
  issues; the 2020 OpenAPI spec predates the code and lists neither invalid_blocks nor
  ratelimited, so tests check those two by hand).
- chat.update: only messages the same token posted (`cant_update_message`), else
  `message_not_found`; the old version is kept as edit history.
- views.open: a trigger_id works once (`exchanged_trigger_id`), for 3 seconds
  (`expired_trigger_id`), `invalid_trigger_id` if never issued. View problems (title over
  24, more than 100 blocks ...) are `invalid_arguments` with response_metadata.messages.
  views.publish: Home tab, 100 blocks, optional `hash` (`hash_conflict` when stale).
- response_url (hooks.slack.com on the real service): up to 5 posts within 30 minutes;
  200 `ok` on success; 404 `used_url` / `expired_url` / `no_service` as plain text (the
  incoming-webhook style of answer; remembered, not documented in Slack's reference).
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable
from urllib.parse import parse_qs

from .clock import Clock
from .server import Request, RequestLog, Response, Route, Service, ServiceServer, json_response, text_response
from .slack_blocks import MESSAGE_MAX_BLOCKS, check_blocks, check_view
from .slack_files import FileStore, file_object, permalink
from .slack_limits import MethodLimits
from .slack_oauth import SlackOAuth
from .slack_workspace import (
    APP_ID, BOT_ID, BOT_USER_ID, RESPONSE_URL_MAX_USES, RESPONSE_URL_TTL_S, TEAM_ID,
    TRIGGER_TTL_S, Ephemeral, Message, Token, User, View, Workspace,
)

MAX_TEXT = 40_000

# Scope each method needs (Slack's method reference pages). None: no scope needed.
METHOD_SCOPES: dict[str, tuple[str, ...] | None] = {
    "auth.test": None,
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "views.open": None,
    "views.publish": None,
    "users.info": ("users:read",),
    "bots.info": ("users:read",),
    "usergroups.users.list": ("usergroups:read",),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.members": ("channels:read", "groups:read"),
    # channels:history for public channels, groups:history for private ones (checked per
    # channel in the method itself).
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.replies": ("channels:history", "groups:history"),
    "apps.connections.open": ("connections:write",),
    "chat.getPermalink": None,   # Slack's reference lists no scope for it
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    # Any one of these (Slack's reference for conversations.open).
    "conversations.open": ("channels:manage", "groups:write", "im:write", "mpim:write"),
}


def _with_block_ids(blocks: list) -> list:
    """A copy of `blocks` where every block has a block_id: Slack makes one up for blocks sent
    without (a few random characters) and returns it in the stored message."""
    out = copy.deepcopy(blocks)
    for block in out:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(3)
    return out


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; time from the sandbox clock."""

    def __init__(self, rate: float, burst: int, clock: Clock):
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self.clock = clock
        self.tokens = float(self.burst)
        self.at = clock.time()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        now = self.clock.time()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class Fault:
    """An injected failure for one Web API method: `error` (HTTP 200 ok:false), or an HTTP
    `status` (429 with Retry-After, 5xx, or -1 to drop the connection). With `after`, the
    call is carried out first and only its answer is replaced (5xx) or lost (-1): Slack
    took the post, the client cannot know."""
    method: str
    error: str | None = None
    status: int = 200
    times: int = 1
    retry_after: int = 1
    after: bool = False


class SlackApiError(Exception):
    def __init__(self, error: str, **extra):
        super().__init__(error)
        self.error = error
        self.extra = extra


class SlackService(Service):
    name = "slack"

    def __init__(self, workspace: Workspace, *, post_rate_per_s: float = 1.0, post_burst: int = 4,
                 socket_url: Callable[[], str] | None = None, method_limits: dict[str, int | None] | None = None,
                 non_marketplace: bool = False):
        self.ws = workspace
        self.clock = workspace.clock
        # Slack's per-method tiers (slack_limits.py); chat.postMessage's bucket is below.
        self.limits = MethodLimits(self.clock, overrides=method_limits, non_marketplace=non_marketplace)
        self.rate_limited_by_method: dict[str, int] = {}
        self.post_rate_per_s = post_rate_per_s
        self.post_burst = post_burst
        self.public_url = ""                  # set once served: response URLs point here
        self._socket_url = socket_url          # apps.connections.open -> WebSocket URL
        self._buckets: dict[str, TokenBucket] = {}
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.rate_limited = 0                  # 429s given
        self.calls: list[tuple[str, dict]] = []   # (method, arguments) in order, for tests
        self.callers: list[tuple[str, str]] = []  # (method, workspace of the token used), for tests
        self._methods: dict[str, Callable[[dict, Token], dict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "bots.info": self._bots_info,
            "usergroups.users.list": self._usergroup_users,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.members": self._conversations_members,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "apps.connections.open": self._connections_open,
            "chat.getPermalink": self._get_permalink,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }
        self.files = FileStore()
        self.oauth = SlackOAuth(workspace)     # the install flow (slack_oauth.py)

    # ---- configuration ---------------------------------------------------------------------
    def set_post_rate(self, per_second: float, burst: int) -> None:
        with self._lock:
            self.post_rate_per_s, self.post_burst = per_second, burst
            self._buckets.clear()

    def set_method_limits(self, overrides: dict[str, int | None] | None = None, *,
                          non_marketplace: bool | None = None, window_s: float | None = None) -> None:
        """Change the tier limits (see slack_limits.MethodLimits); counts start afresh."""
        self.limits.configure(overrides=overrides, non_marketplace=non_marketplace, window_s=window_s)

    def _ratelimited(self, token: Token | None, method: str, retry_after: int) -> Response:
        with self._lock:
            self.rate_limited += 1
            self.rate_limited_by_method[method] = self.rate_limited_by_method.get(method, 0) + 1
        return json_response(429, {"ok": False, "error": "ratelimited"},
                             {"Retry-After": str(retry_after), **self._headers(token, method)})

    def fail_next(self, method: str, *, error: str | None = None, status: int = 200, times: int = 1,
                  retry_after: int = 1, after: bool = False) -> None:
        """Make the next `times` calls of `method` fail (see Fault)."""
        with self._lock:
            self._faults.append(Fault(method, error, status, times, retry_after, after))

    def drop_answers(self, method: str, *, times: int = 1, status: int = -1) -> None:
        """Carry out the next `times` calls of `method`, then close the connection without an
        answer (status -1) or answer a 5xx: a post Slack accepted whose answer was lost."""
        self.fail_next(method, status=status, times=times, after=True)

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.method == method:
                    f.times -= 1
                    if f.times <= 0:
                        self._faults.remove(f)
                    return f
        return None

    # ---- routing ---------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        # One route per method so the request log counts "POST /api/chat.postMessage" apart.
        routes = self.oauth.routes()  # before /api/{method}: oauth.v2.access takes no bearer token
        for method in self._methods:
            for verb in ("POST", "GET"):
                routes.append(Route(verb, f"/api/{method}", self._make_handler(method)))
        routes += [
            Route("POST", "/api/{method}", self._unknown_method),
            Route("GET", "/api/{method}", self._unknown_method),
            Route("POST", "/upload/v1/{file_id}", self._upload_bytes),
            Route("POST", "/commands/{team}/{uid}/{secret}", self._response_url),
            Route("POST", "/actions/{team}/{uid}/{secret}", self._response_url),
        ]
        return routes

    def not_found(self, request: Request) -> Response:
        return text_response(404, "not found")

    def _unknown_method(self, request: Request) -> Response:
        return json_response(200, {"ok": False, "error": "unknown_method",
                                   "req_method": request.path_params.get("method", "")})

    def _make_handler(self, method: str):
        def handle(request: Request) -> Response:
            return self._call(method, request)
        return handle

    # ---- the common part of every Web API call ---------------------------------------------
    @staticmethod
    def parse_args(request: Request) -> dict:
        """Query string, form body or JSON body, merged (body wins)."""
        args: dict = {k: v[0] for k, v in request.query.items()}
        ctype = (request.header("content-type") or "").lower()
        if request.body:
            if "json" in ctype:
                body = request.json()
                if not isinstance(body, dict):
                    raise SlackApiError("json_not_object")
                args.update(body)
            elif "form-urlencoded" in ctype or not ctype:
                form = parse_qs(request.text(), keep_blank_values=True)
                args.update({k: v[0] for k, v in form.items()})
            else:
                raise SlackApiError("invalid_form_data")
        for key in ("blocks", "view", "attachments"):  # JSON-in-form arguments
            if isinstance(args.get(key), str) and args[key].strip()[:1] in ("[", "{"):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    raise SlackApiError(f"invalid_{key}" if key != "view" else "invalid_arguments")
        return args

    def _headers(self, token: Token | None, method: str) -> dict[str, str]:
        accepted = METHOD_SCOPES.get(method) or ()
        h = {"x-accepted-oauth-scopes": ",".join(accepted)}
        if token is not None:
            h["x-oauth-scopes"] = ",".join(token.scopes)
        return h

    def _call(self, method: str, request: Request) -> Response:
        token = None
        try:
            try:
                args = self.parse_args(request)
            except ValueError:
                raise SlackApiError("invalid_json") from None
            raw = request.bearer_token() or args.pop("token", None)
            args.pop("token", None)
            token = self._authenticate(method, raw)
            with self._lock:
                self.calls.append((method, copy.deepcopy(args)))
                self.callers.append((method, token.team_id))
            wait = self.limits.take(token.team_id, method)
            if wait:
                return self._ratelimited(token, method, wait)
            fault = self._take_fault(method)
            if fault is not None and fault.after:
                self._call_method(method, args, token)
                return Response(fault.status, b"", {})  # carried out; the answer is lost
            if fault is not None:
                if fault.status == 429:
                    return self._ratelimited(token, method, fault.retry_after)
                if fault.status != 200:
                    return Response(fault.status, b"", {})
                raise SlackApiError(fault.error or "fatal_error")
            return self._call_method(method, args, token)
        except SlackApiError as exc:
            return json_response(200, {"ok": False, "error": exc.error, **exc.extra}, self._headers(token, method))

    def _call_method(self, method: str, args: dict, token: Token) -> Response:
        try:
            if method == "chat.postMessage":
                wait = self._rate_check(str(args.get("channel") or ""))
                if wait:
                    return self._ratelimited(token, method, max(1, math.ceil(wait)))
            with self.ws.lock:
                payload = self._methods[method](args, token)
            return json_response(200, {"ok": True, **payload}, self._headers(token, method))
        except SlackApiError as exc:
            return json_response(200, {"ok": False, "error": exc.error, **exc.extra}, self._headers(token, method))

    def _authenticate(self, method: str, raw: str | None) -> Token:
        if not raw:
            raise SlackApiError("not_authed")
        token = self.ws.tokens.get(raw)
        if token is None:
            raise SlackApiError("invalid_auth")
        if token.revoked:
            raise SlackApiError("token_revoked")
        if (method == "apps.connections.open") != (token.kind == "app"):
            raise SlackApiError("not_allowed_token_type")
        needed = METHOD_SCOPES.get(method)
        if needed and not any(s in token.scopes for s in needed):
            raise SlackApiError("missing_scope", needed=",".join(needed), provided=",".join(token.scopes))
        return token

    def _rate_check(self, channel: str) -> float:
        with self._lock:
            bucket = self._buckets.get(channel)
            if bucket is None:
                bucket = self._buckets[channel] = TokenBucket(self.post_rate_per_s, self.post_burst, self.clock)
            return bucket.take()

    # ---- lookups shared by the methods -----------------------------------------------------
    def _bot_id(self, token: Token) -> str | None:
        """The app's bot id in the token's workspace (None for a person's token)."""
        return self.ws.teams[token.team_id].bot_id if token.kind == "bot" else None

    def _channel(self, args: dict, token: Token, *, member: bool = True):
        cid = args.get("channel")
        if not cid:
            raise SlackApiError("channel_not_found")
        channel = self.ws.channels.get(str(cid))
        if channel is None or channel.team_id != token.team_id:
            # A bot token is issued for one workspace and sees that workspace's channels only
            # (sandbox/slack_oauth.py: each install gets its own token).
            raise SlackApiError("channel_not_found")
        if channel.is_private and token.user_id not in channel.members:
            raise SlackApiError("channel_not_found")  # private channels are invisible to non-members
        if member and token.user_id not in channel.members:
            raise SlackApiError("not_in_channel")
        return channel

    @staticmethod
    def _content(args: dict, *, max_blocks: int = MESSAGE_MAX_BLOCKS, required: bool = True):
        text = args.get("text")
        text = None if text is None else str(text)
        blocks = args.get("blocks")
        if isinstance(blocks, str) and not blocks.strip():
            blocks = None
        if blocks is not None:
            problems = check_blocks(blocks, max_blocks=max_blocks)
            if problems:
                raise SlackApiError("invalid_blocks", errors=problems,
                                    response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
        if blocks is not None:
            blocks = _with_block_ids(blocks)
        if required and not text and not blocks and not args.get("attachments"):
            raise SlackApiError("no_text")
        if text is not None and len(text) > MAX_TEXT:
            raise SlackApiError("msg_too_long")
        return text, blocks

    def _user(self, user_id) -> User:
        user = self.ws.users.get(str(user_id or ""))
        if user is None:
            raise SlackApiError("user_not_found")
        return user

    @staticmethod
    def _flag(value) -> bool:
        return value is True or str(value).lower() in ("1", "true")

    # ---- methods ---------------------------------------------------------------------------
    def _get_permalink(self, args: dict, token: Token) -> dict:
        channel = self._channel(args, token, member=False)
        msg = self.ws.find_message(channel.id, str(args.get("message_ts") or ""))
        if msg is None:
            raise SlackApiError("message_not_found")
        return {"channel": channel.id,
                "permalink": permalink(self.ws.teams[channel.team_id].domain, channel.id, msg.ts,
                                       msg.thread_ts if msg.is_reply else None)}

    def _upload_url(self, args: dict, token: Token) -> dict:
        up = self.files.begin(args, token.token, SlackApiError)
        return {"upload_url": f"{self.public_url}/upload/v1/{up.id}", "file_id": up.id}

    def _upload_bytes(self, request: Request) -> Response:
        if not self.files.receive(request.path_params["file_id"], request.body or b""):
            return text_response(400, "upload failed")
        return text_response(200, f"OK - {len(request.body or b'')}")

    def _complete_upload(self, args: dict, token: Token) -> dict:
        channel_id = args.get("channel_id") or args.get("channels")
        channel = self._channel({"channel": str(channel_id).split(",")[0]}, token) if channel_id else None
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        if thread_ts and (channel is None or self.ws.find_message(channel.id, thread_ts) is None):
            raise SlackApiError("invalid_thread_ts" if channel else "invalid_arguments")
        uploads = self.files.complete(args, token.token, SlackApiError)
        now = self.clock.time()
        files = [file_object(up, token.user_id, now) for up in uploads]
        if channel is not None:
            msg = Message(channel=channel.id, ts=self.ws.next_ts(), user=token.user_id,
                          text=str(args.get("initial_comment") or ""), thread_ts=thread_ts,
                          bot_id=self._bot_id(token), token=token.token, posted_at=now,
                          files=[dict(f, data=up.data) for f, up in zip(files, uploads)], team=channel.team_id)
            self.ws.add_message(msg)
        return {"files": files}

    def _auth_test(self, args: dict, token: Token) -> dict:
        user = self.ws.users[token.user_id]
        team = self.ws.teams[token.team_id]  # the workspace the token was issued for
        out = {"url": f"https://{team.domain}.slack.com/", "team": team.name, "user": user.name,
               "team_id": team.id, "user_id": user.id, "is_enterprise_install": False}
        if token.kind == "bot":
            out["bot_id"] = team.bot_id
        return out

    def _post_message(self, args: dict, token: Token) -> dict:
        channel = self._channel(args, token)
        if channel.is_archived:
            raise SlackApiError("is_archived")
        text, blocks = self._content(args)
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None:
            thread_ts = str(thread_ts)
            parent = self.ws.find_message(channel.id, thread_ts)
            if parent is not None and parent.is_reply:  # replying to a reply threads on its parent
                thread_ts = parent.thread_ts
        msg = Message(channel=channel.id, ts=self.ws.next_ts(), user=token.user_id, text=text or "",
                      blocks=blocks, thread_ts=thread_ts,
                      reply_broadcast=bool(thread_ts) and self._flag(args.get("reply_broadcast")),
                      bot_id=self._bot_id(token), token=token.token,
                      posted_at=self.clock.time(), team=channel.team_id)
        self.ws.add_message(msg)
        return {"channel": channel.id, "ts": msg.ts, "message": msg.to_api()}

    def _update(self, args: dict, token: Token) -> dict:
        channel = self._channel(args, token, member=False)
        msg = self.ws.find_message(channel.id, str(args.get("ts") or ""))
        if msg is None:
            raise SlackApiError("message_not_found")
        if msg.token != token.token:
            raise SlackApiError("cant_update_message")
        text, blocks = self._content(args, required=False)
        if text is None and blocks is None:
            raise SlackApiError("no_text")
        self.ws.edit_message(msg, text=text, blocks=blocks, by="chat.update")
        message = {"text": msg.text}
        if msg.blocks is not None:
            message["blocks"] = copy.deepcopy(msg.blocks)
        return {"channel": channel.id, "ts": msg.ts, "text": msg.text, "message": message}

    def _post_ephemeral(self, args: dict, token: Token) -> dict:
        channel = self._channel(args, token)
        user = self._user(args.get("user"))
        if user.id not in channel.members:
            raise SlackApiError("user_not_in_channel")
        text, blocks = self._content(args)
        eph = Ephemeral(channel.id, user.id, text or "", blocks, self.ws.next_ts(),
                        thread_ts=args.get("thread_ts") or None)
        self.ws.ephemerals.append(eph)
        return {"message_ts": eph.ts}

    def _check_view(self, view) -> dict:
        problems = check_view(view)
        if problems:
            raise SlackApiError("invalid_arguments",
                                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
        return view

    @staticmethod
    def _hash(view: dict) -> str:
        digest = hashlib.sha1(json.dumps(view, sort_keys=True).encode()).hexdigest()[:16]
        return f"{int(digest[:8], 16)}.{digest[8:]}"

    def _views_open(self, args: dict, token: Token) -> dict:
        trigger_id = str(args.get("trigger_id") or "")
        trigger = self.ws.triggers.get(trigger_id)
        if trigger is None:
            raise SlackApiError("invalid_trigger_id")
        if trigger.used:
            raise SlackApiError("exchanged_trigger_id")
        if self.clock.time() - trigger.issued_at > TRIGGER_TTL_S:
            raise SlackApiError("expired_trigger_id")
        view = self._check_view(args.get("view"))
        if view.get("type") != "modal":
            raise SlackApiError("invalid_arguments",
                                response_metadata={"messages": ["[ERROR] must be modal [json-pointer:/view/type]"]})
        trigger.used = True
        v = View(self.ws.new_id("V"), "modal", trigger.user, copy.deepcopy(view), self._hash(view),
                 self.clock.time())
        self.ws.views[v.id] = v
        return {"view": v.to_api()}

    def _views_publish(self, args: dict, token: Token) -> dict:
        user = self._user(args.get("user_id"))
        view = self._check_view(args.get("view"))
        if view.get("type") != "home":
            raise SlackApiError("invalid_arguments",
                                response_metadata={"messages": ["[ERROR] must be home [json-pointer:/view/type]"]})
        old_id = self.ws.home_views.get(user.id)
        old = self.ws.views.get(old_id) if old_id else None
        if args.get("hash") and old is not None and args["hash"] != old.hash:
            raise SlackApiError("hash_conflict")
        v = View(old.id if old else self.ws.new_id("V"), "home", user.id, copy.deepcopy(view),
                 self._hash(view), self.clock.time())
        self.ws.views[v.id] = v
        self.ws.home_views[user.id] = v.id
        return {"view": v.to_api()}

    def _users_info(self, args: dict, token: Token) -> dict:
        u = self._user(args.get("user"))
        if u.team_id != token.team_id:  # a token sees the people of its own workspace only
            raise SlackApiError("user_not_found")
        profile = {
            "real_name": u.real_name, "real_name_normalized": u.real_name,
            "display_name": u.name, "display_name_normalized": u.name,
            "avatar_hash": "g0000000000a", "title": "", "phone": "", "skype": "",
            "status_text": "", "status_emoji": "", "fields": None, "team": u.team_id,
        }
        if u.email and "users:read.email" in token.scopes:
            profile["email"] = u.email
        if u.is_bot:
            team = self.ws.teams.get(u.team_id)
            profile["bot_id"] = team.bot_id if team is not None else BOT_ID
            profile["api_app_id"] = APP_ID
        user = {"id": u.id, "team_id": u.team_id, "name": u.name, "deleted": u.deleted, "color": "9f69e7",
                "real_name": u.real_name, "tz": u.tz, "tz_label": u.tz, "tz_offset": u.tz_offset,
                "profile": profile, "is_admin": u.is_admin, "is_owner": False, "is_primary_owner": False,
                "is_restricted": False, "is_ultra_restricted": False, "is_bot": u.is_bot,
                "is_app_user": False, "updated": 1_700_000_000}
        if self._flag(args.get("include_locale")):
            user["locale"] = u.locale
        return {"user": user}

    def _bots_info(self, args: dict, token: Token) -> dict:
        # https://docs.slack.dev/reference/methods/bots.info: the bot's app_id tells which app it is.
        team = self.ws.teams[token.team_id]
        if args.get("bot") != team.bot_id:
            raise SlackApiError("bot_not_found")
        icons = {f"image_{n}": f"https://a.slack-edge.example/bot_{n}.png" for n in (36, 48, 72)}
        return {"bot": {"id": team.bot_id, "deleted": False, "name": "qbsync", "updated": 1700000000,
                        "app_id": APP_ID, "user_id": team.bot_user_id, "icons": icons}}

    def _usergroup_users(self, args: dict, token: Token) -> dict:
        group = self.ws.usergroups.get(str(args.get("usergroup") or ""))
        if group is None:
            raise SlackApiError("no_such_subteam")
        return {"users": list(group["users"])}

    def _conversations_info(self, args: dict, token: Token) -> dict:
        c = self._channel(args, token, member=False)
        return {"channel": {"id": c.id, "name": c.name, "is_channel": not c.is_private,
                            "is_group": False, "is_im": False, "is_private": c.is_private,
                            "is_archived": c.is_archived, "is_member": token.user_id in c.members,
                            "created": c.created, "num_members": len(c.members)}}

    def _conversations_open(self, args: dict, token: Token) -> dict:
        """A 1:1 DM between the token's user and `users` (one user id). Slack's reference
        (https://docs.slack.dev/reference/methods/conversations.open, mirrored by slack_kit's
        conversations.open.json): `users` is a comma-separated list, one user makes a 1:1 DM;
        errors `users_list_not_supplied`, `user_not_found`, `user_disabled`; the answer is
        {"channel": {"id"}}, with `no_op` and `already_open` true when the DM existed. The
        stand-in opens 1:1 DMs only (several users: `method_not_supported_for_channel_type`)."""
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackApiError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackApiError("method_not_supported_for_channel_type")
        user = self.ws.users.get(users[0])
        if user is None:
            raise SlackApiError("user_not_found")
        if user.deleted:
            raise SlackApiError("user_disabled")
        cid = "D" + user.id[1:]
        existing = cid in self.ws.channels
        if not existing:
            self.ws.add_channel(cid, user.id, members=(token.user_id, user.id), is_private=True,
                                team_id=token.team_id)
        out: dict = {"channel": {"id": cid}}
        if existing:
            out.update(no_op=True, already_open=True)
        return out

    def _conversations_members(self, args: dict, token: Token) -> dict:
        c = self._channel(args, token, member=False)
        return {"members": sorted(c.members), "response_metadata": {"next_cursor": ""}}

    def _history_channel(self, args: dict, token: Token):
        """The channel whose messages history/replies read: the scope for its kind (public or
        private) and membership, as Slack checks them for both methods."""
        c = self._channel(args, token, member=False)
        needed = "groups:history" if c.is_private else "channels:history"
        if needed not in token.scopes:
            raise SlackApiError("missing_scope", needed=needed, provided=",".join(token.scopes))
        if token.user_id not in c.members:
            raise SlackApiError("not_in_channel")
        return c

    def _conversations_history(self, args: dict, token: Token) -> dict:
        """Top-level messages (and broadcast replies), newest first, between `oldest` and
        `latest` (exclusive unless `inclusive`), `limit` per page with a cursor. Thread replies
        are not in a channel's history (that is conversations.replies)."""
        c = self._history_channel(args, token)
        try:
            oldest = float(args.get("oldest") or 0)
            latest = float(args.get("latest") or 0) or float("inf")
            limit = int(args.get("limit") or 100)
            start = int(base64.urlsafe_b64decode(str(args["cursor"]).encode()).decode()) if args.get("cursor") else 0
        except (ValueError, TypeError):
            raise SlackApiError("invalid_arguments") from None
        if limit < 1:
            raise SlackApiError("invalid_limit")
        limit = min(limit, 999)
        cap = self.limits.page_cap("conversations.history")
        if cap is not None:  # non-Marketplace apps: default and maximum 15 (slack_limits.py)
            limit = min(int(args.get("limit") or cap), cap)
        inclusive = self._flag(args.get("inclusive"))

        def inside(m) -> bool:
            ts = float(m.ts)
            lo = ts >= oldest if inclusive else ts > oldest
            hi = ts <= latest if inclusive else ts < latest
            return lo and hi
        msgs = [m for m in reversed(self.ws.transcript(c.id)) if inside(m)]
        page = msgs[start:start + limit]
        more = start + limit < len(msgs)
        cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else ""
        return {"messages": [m.to_api() for m in page], "has_more": more, "pin_count": 0,
                "channel_actions_ts": None, "channel_actions_count": 0,
                "response_metadata": {"next_cursor": cursor}}

    def _conversations_replies(self, args: dict, token: Token) -> dict:
        """A thread: the parent (`ts`) first, then its replies, oldest first, filtered by
        `oldest`/`latest` and paged like history ("If no replies, just the single message
        referenced by ts will return": Slack's conversations.replies reference). The stand-in
        lets the bot token read it with channels:history / groups:history, like history; the
        reference says bot tokens may lack that permission in channels, which the bot
        tolerates (it then cannot look a reply up)."""
        c = self._history_channel(args, token)
        parent = self.ws.find_message(c.id, str(args.get("ts") or ""))
        if parent is None:
            raise SlackApiError("thread_not_found")
        try:
            oldest = float(args.get("oldest") or 0)
            latest = float(args.get("latest") or 0) or float("inf")
            limit = max(1, min(int(args.get("limit") or 1000), 1000))
            cap = self.limits.page_cap("conversations.replies")
            if cap is not None:  # non-Marketplace apps: default and maximum 15 (slack_limits.py)
                limit = max(1, min(int(args.get("limit") or cap), cap))
            start = int(base64.urlsafe_b64decode(str(args["cursor"]).encode()).decode()) if args.get("cursor") else 0
        except (ValueError, TypeError):
            raise SlackApiError("invalid_arguments") from None
        inclusive = self._flag(args.get("inclusive"))

        def inside(m) -> bool:
            ts = float(m.ts)
            return (ts >= oldest if inclusive else ts > oldest) and (ts <= latest if inclusive else ts < latest)
        msgs = [m for m in self.ws.thread(c.id, parent.ts) if inside(m)]
        page = msgs[start:start + limit]
        more = start + limit < len(msgs)
        cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else ""
        return {"messages": [m.to_api() for m in page], "has_more": more,
                "response_metadata": {"next_cursor": cursor}}

    def _connections_open(self, args: dict, token: Token) -> dict:
        if self._socket_url is None:
            raise SlackApiError("internal_error")
        return {"url": self._socket_url()}

    # ---- response_url ----------------------------------------------------------------------
    def _response_url(self, request: Request) -> Response:
        p = request.path_params
        key = f"{p['uid']}/{p['secret']}"
        with self.ws.lock:
            hook = self.ws.response_urls.get(key)
            if hook is None or p["team"] != TEAM_ID:
                return text_response(404, "no_service")
            try:
                body = request.json()
            except ValueError:
                body = {k: v[0] for k, v in parse_qs(request.text()).items()}
                if isinstance(body.get("payload"), str):
                    try:
                        body = json.loads(body["payload"])
                    except ValueError:
                        body = None
            if not isinstance(body, dict):
                return text_response(400, "invalid_payload")
            record = {"at": self.clock.time(), "body": copy.deepcopy(body)}
            hook.posts.append(record)
            if self.clock.time() - hook.issued_at > RESPONSE_URL_TTL_S:
                record["outcome"] = "expired_url"
                return text_response(404, "expired_url")
            if hook.uses >= RESPONSE_URL_MAX_USES:
                record["outcome"] = "used_url"
                return text_response(404, "used_url")
            hook.uses += 1
            try:
                record["outcome"] = self._apply_response(hook, body)
            except SlackApiError as exc:
                record["outcome"] = exc.error
                return text_response(400, exc.error)
            return text_response(200, "ok", "text/html")

    def _apply_response(self, hook, body: dict) -> str:
        ws = self.ws
        if self._flag(body.get("delete_original")):
            self._original(hook, delete=True)
            return "deleted_original"
        text, blocks = self._content(body)
        if self._flag(body.get("replace_original")) and hook.kind == "actions":
            self._original(hook, text=text, blocks=blocks)
            return "replaced_original"
        if body.get("response_type") == "in_channel":
            msg = Message(channel=hook.channel, ts=ws.next_ts(), user=BOT_USER_ID,
                          text=text or "", blocks=blocks, thread_ts=body.get("thread_ts"),
                          bot_id=BOT_ID, token=None, posted_at=self.clock.time(), via="response_url")
            ws.add_message(msg)
            return "in_channel"
        ws.ephemerals.append(Ephemeral(hook.channel, hook.user, text or "", blocks, ws.next_ts(),
                                       thread_ts=body.get("thread_ts"), via="response_url"))
        return "ephemeral"

    def _original(self, hook, *, text=None, blocks=None, delete: bool = False) -> None:
        ws = self.ws
        if hook.ephemeral:
            for e in ws.ephemerals:
                if e.user == hook.user and e.ts == hook.message_ts:
                    e.replaced = True
                    if not delete:
                        ws.ephemerals.append(Ephemeral(e.channel, e.user, text or "", blocks, ws.next_ts(),
                                                       e.thread_ts, via="response_url"))
                    return
            raise SlackApiError("message_not_found")
        msg = ws.find_message(hook.channel, hook.message_ts or "")
        if msg is None:
            raise SlackApiError("message_not_found")
        if delete:
            msg.deleted = True
        else:
            ws.edit_message(msg, text=text, blocks=blocks, by="response_url")


class SlackStandIn:
    """The Slack stand-in: workspace, Web API server, Socket Mode server, HTTP delivery, driver.

        slack = SlackStandIn(clock).start(log)
        slack.api_base          # http://127.0.0.1:PORT/api/  (WebClient(base_url=...))
        slack.driver.slash("U0ALICE001", "/qbsync", "status")
        slack.stop()
    """

    def __init__(self, clock: Clock | None = None, *, post_rate_per_s: float = 1.0, post_burst: int = 4,
                 ack_timeout_s: float = 3.0, workspace: Workspace | None = None,
                 method_limits: dict[str, int | None] | None = None, non_marketplace: bool = False):
        from .slack_driver import SlackDriver
        from .slack_socket import SocketModeServer

        self.clock = clock or Clock()
        self.workspace = workspace or Workspace(self.clock)
        self.socket = SocketModeServer(self.workspace)
        self.service = SlackService(self.workspace, post_rate_per_s=post_rate_per_s, post_burst=post_burst,
                                    socket_url=self.socket.issue_url, method_limits=method_limits,
                                    non_marketplace=non_marketplace)
        self.driver = SlackDriver(self, ack_timeout_s=ack_timeout_s)
        self.server: ServiceServer | None = None

    def start(self, log: RequestLog | None = None, *, port: int = 0) -> "SlackStandIn":
        if self.server is None:
            self.server = ServiceServer(self.service, log or RequestLog(), port).start()
            self.service.public_url = self.server.url
            self.socket.start()
        return self

    def stop(self) -> None:
        self.socket.stop()
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> "SlackStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self.server is not None, "start() first"
        return self.server.url

    @property
    def oauth(self):
        """The install flow (sandbox/slack_oauth.py SlackOAuth): register_client, issued tokens."""
        return self.service.oauth

    @property
    def authorize_url(self) -> str:
        """Where an app sends a person to install it (slack.com/oauth/v2/authorize on Slack)."""
        return f"{self.url}/oauth/v2/authorize"

    @property
    def api_base(self) -> str:
        """What WebClient(base_url=...) takes: the trailing slash matters (urljoin)."""
        return f"{self.url}/api/"
