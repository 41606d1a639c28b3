"""The Slack workspace the stand-in serves: users, user groups, channels, messages (with
their edit history and threads), ephemeral messages, views, trigger ids and response URLs.

Pure state, no HTTP: sandbox/slack.py answers the Web API from it, slack_socket.py and
slack_http.py deliver user actions to the bot, slack_driver.py reads it back for tests.
Every change holds `lock` (the HTTP server is threaded and the driver runs in the test's
thread). Times come from the sandbox Clock so a test can jump past a trigger id's 3 seconds
or a response URL's 30 minutes instead of sleeping.
"""
from __future__ import annotations

import copy
import itertools
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .slack_blocks import iter_texts

TEAM_ID = "T0SANDBOX01"
TEAM_NAME = "qbsync sandbox"
TEAM_DOMAIN = "qbsync-sandbox"
APP_ID = "A0QBSYNC001"
BOT_ID = "B0QBSYNC001"
BOT_USER_ID = "U0QBSYNCBOT"
ALERT_CHANNEL = "C0ALERTS01"  # matches bot/config.py's channel-id check: ^[CG][A-Z0-9]{8,20}$

# Credentials the stand-in accepts. They are not secrets: they only open the local sandbox.
BOT_TOKEN = "xoxb-0000000001-0000000000001-sandboxbottoken0000000"
APP_TOKEN = "xapp-1-A0QBSYNC001-0000000000001-sandboxapptoken000000000000000000"
SIGNING_SECRET = "sandbox0signing0secret00000000000"
VERIFICATION_TOKEN = "sandboxVerificationToken"  # the deprecated `token` field in payloads

TRIGGER_TTL_S = 3.0               # views.open: "trigger_id ... expires in 3 seconds"
RESPONSE_URL_TTL_S = 30 * 60      # response_url: up to 5 uses within 30 minutes
RESPONSE_URL_MAX_USES = 5

# Mentions that notify people when they reach Slack unescaped: <!channel>, <!here>,
# <!everyone>, <!subteam^S123>, <@U123>, and links <https://...|label> (can disguise a URL).
_MENTION_RX = re.compile(r"<(?:(?:!(?:channel|here|everyone|subteam\^[A-Z0-9]+)|@[UW][A-Z0-9]+)(?:\|[^>]*)?"
                         r"|(?:https?|mailto):[^>|]*(?:\|[^>]*)?)>")


def find_mentions(text: str) -> list[str]:
    """Special mentions and links in mrkdwn as Slack would render them (pings / live links)."""
    return _MENTION_RX.findall(text or "")


def unescape(text: str) -> str:
    """What a person sees for mrkdwn text: Slack shows &lt; &gt; &amp; as < > &."""
    return (text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    locale: str = "en-US"
    tz: str = "Europe/Amsterdam"
    tz_offset: int = 3600
    is_bot: bool = False
    is_admin: bool = False
    deleted: bool = False
    email: str | None = None
    team_id: str = TEAM_ID     # the workspace the person belongs to (users.info answers only there)


@dataclass
class Channel:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    is_private: bool = False
    is_archived: bool = False
    created: int = 1_700_000_000
    team_id: str = TEAM_ID      # the workspace it is in: other workspaces' tokens do not see it


@dataclass
class Edit:
    at: float
    by: str            # Web API method or response_url
    text: str
    blocks: list | None


@dataclass
class Message:
    channel: str
    ts: str
    user: str                       # author: the bot user for the app's messages
    text: str
    blocks: list | None = None
    thread_ts: str | None = None    # set on replies (and on a parent once it has replies)
    reply_broadcast: bool = False
    bot_id: str | None = None
    token: str | None = None        # the token that posted it (chat.update checks it)
    posted_at: float = 0.0
    via: str = "chat.postMessage"
    edits: list[Edit] = field(default_factory=list)  # earlier versions, oldest first
    deleted: bool = False
    files: list | None = None       # files shared with it (files.completeUploadExternal), with their bytes
    team: str = TEAM_ID             # the workspace of its channel

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def edited(self) -> bool:
        return bool(self.edits)

    def mentions(self) -> list[str]:
        """Unescaped mentions / links in the text and in every mrkdwn text of the blocks."""
        found = find_mentions(self.text)
        for kind, text in iter_texts(self.blocks or []):
            if kind == "mrkdwn":
                found += find_mentions(text)
        return found

    def visible_text(self) -> str:
        """Text of the blocks (or `text` when there are none), as a person reads it."""
        if self.blocks:
            return "\n".join(unescape(t) for _, t in iter_texts(self.blocks))
        return unescape(self.text)

    def to_api(self) -> dict:
        """The message object the Web API returns (chat.postMessage's `message`)."""
        out: dict[str, Any] = {"type": "message", "text": self.text, "ts": self.ts, "user": self.user,
                               "team": self.team}
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if self.blocks is not None:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.files:
            out["files"] = [{k: v for k, v in f.items() if k != "data"} for f in self.files]
        return out


@dataclass
class Ephemeral:
    channel: str
    user: str           # the only person who sees it
    text: str
    blocks: list | None
    ts: str
    thread_ts: str | None = None
    via: str = "chat.postEphemeral"   # or "response_url", "ack"
    replaced: bool = False            # replaced / deleted later through a response_url


@dataclass
class View:
    id: str
    type: str           # modal | home
    user: str
    view: dict          # as given by the app
    hash: str
    opened_at: float
    closed: bool = False

    def to_api(self) -> dict:
        out = copy.deepcopy(self.view)
        out.update({"id": self.id, "team_id": TEAM_ID, "app_id": APP_ID, "bot_id": BOT_ID,
                    "hash": self.hash, "app_installed_team_id": TEAM_ID,
                    "state": {"values": {}}, "root_view_id": self.id, "previous_view_id": None})
        for key in ("private_metadata", "callback_id", "external_id"):
            out.setdefault(key, "")
        out.setdefault("blocks", [])
        return out


@dataclass
class Trigger:
    id: str
    user: str
    issued_at: float
    used: bool = False


@dataclass
class ResponseUrl:
    url_id: str
    kind: str                   # commands | actions
    channel: str
    user: str
    issued_at: float
    message_ts: str | None = None      # actions: the message the button sat in
    ephemeral: bool = False            # actions: that message was ephemeral
    uses: int = 0
    posts: list[dict] = field(default_factory=list)   # every body posted, with its outcome


@dataclass
class Token:
    token: str
    kind: str                   # bot | app | user
    scopes: tuple[str, ...]
    user_id: str
    revoked: bool = False
    team_id: str = TEAM_ID      # the workspace the token was issued for (sandbox/slack_oauth.py)


@dataclass
class Team:
    """A workspace the stand-in hosts. The first is the one the app is installed in from the
    start (BOT_TOKEN); more are added for OAuth installs (sandbox/slack_oauth.py)."""
    id: str
    name: str
    domain: str
    installer: str              # the signed-in person who clicks Allow on the consent page
    bot_user_id: str            # the app's bot user in this workspace
    bot_id: str                 # its bot id (bots.info / auth.test bot_id)


class Workspace:
    """One Slack workspace with the qbsync app installed."""

    def __init__(self, clock: Clock | None = None, *, bot_scopes: tuple[str, ...] | None = None,
                 defaults: bool = True):
        from bot.slack_scopes import BOT_SCOPES  # the scopes qbsync's manifest asks for

        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, dict] = {}        # id -> {"handle", "name", "users": [...]}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}  # channel -> messages in ts order
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.home_views: dict[str, str] = {}          # user -> view id
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.tokens: dict[str, Token] = {}
        self.teams: dict[str, Team] = {TEAM_ID: Team(TEAM_ID, TEAM_NAME, TEAM_DOMAIN, "U0ALICE001",
                                                     BOT_USER_ID, BOT_ID)}
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self.signing_secret = SIGNING_SECRET
        self.add_token(BOT_TOKEN, "bot", BOT_SCOPES if bot_scopes is None else bot_scopes, BOT_USER_ID)
        self.add_token(APP_TOKEN, "app", ("connections:write",), BOT_USER_ID)
        self.add_user(BOT_USER_ID, "qbsync", real_name="qbsync", is_bot=True)
        if defaults:
            self.add_user("U0ALICE001", "alice", real_name="Alice Adams", locale="en-US", tz="Europe/London",
                          tz_offset=0, email="alice@example.com")
            self.add_user("U0BRAM0001", "bram", real_name="Bram de Vries", locale="nl-NL",
                          email="bram@example.com")
            self.add_user("U0CARMEN01", "carmen", real_name="Carmen García", locale="es-ES",
                          tz="Europe/Madrid", email="carmen@example.com")
            self.add_usergroup("S0FIXERS01", "fixers", ["U0ALICE001"], name="Finance fixers")
            self.add_channel(ALERT_CHANNEL, "qbsync-alerts",
                             members=[BOT_USER_ID, "U0ALICE001", "U0BRAM0001", "U0CARMEN01"])

    # -- set-up ------------------------------------------------------------------------------
    def add_team(self, team_id: str, name: str, *, installer: str, installer_name: str,
                 locale: str = "en-US") -> Team:
        """Another workspace, with one person (who will install the app) and the app's bot user
        there. Its users are seen only with that workspace's tokens."""
        with self.lock:
            suffix = team_id[1:]
            team = Team(team_id, name, name.lower().replace(" ", "-"), installer, f"U0BOT{suffix}", f"B0BOT{suffix}")
            self.teams[team_id] = team
            self.add_user(installer, installer_name, locale=locale, team_id=team_id)
            self.add_user(team.bot_user_id, "qbsync", is_bot=True, team_id=team_id)
            return team

    def add_token(self, token: str, kind: str, scopes, user_id: str = BOT_USER_ID, *,
                  team_id: str = TEAM_ID) -> Token:
        with self.lock:
            t = Token(token, kind, tuple(scopes), user_id, team_id=team_id)
            self.tokens[token] = t
            return t

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.tokens[token].revoked = True

    def add_user(self, user_id: str, name: str, *, real_name: str = "", locale: str = "en-US",
                 tz: str = "Europe/Amsterdam", tz_offset: int = 3600, is_bot: bool = False,
                 is_admin: bool = False, email: str | None = None, team_id: str = TEAM_ID) -> User:
        with self.lock:
            u = User(user_id, name, real_name or name, locale, tz, tz_offset, is_bot, is_admin, email=email,
                     team_id=team_id)
            self.users[user_id] = u
            return u

    def add_usergroup(self, group_id: str, handle: str, users, *, name: str = "") -> dict:
        with self.lock:
            g = {"id": group_id, "handle": handle, "name": name or handle, "users": list(users)}
            self.usergroups[group_id] = g
            return g

    def add_channel(self, channel_id: str, name: str, *, members=(), is_private: bool = False,
                    team_id: str = TEAM_ID) -> Channel:
        with self.lock:
            c = Channel(channel_id, name, set(members), is_private, team_id=team_id)
            self.channels[channel_id] = c
            self.messages.setdefault(channel_id, [])
            return c

    def join(self, channel_id: str, user_id: str) -> None:
        with self.lock:
            self.channels[channel_id].members.add(user_id)

    def leave(self, channel_id: str, user_id: str) -> None:
        with self.lock:
            self.channels[channel_id].members.discard(user_id)

    # -- ids -------------------------------------------------------------------------------
    def next_ts(self) -> str:
        """A message ts: the clock's time with microseconds, strictly increasing (Slack's ts
        values are unique per channel; one counter for all channels is simpler and also unique)."""
        with self.lock:
            now = round(self.clock.time(), 6)
            ts = max(now, round(self._last_ts + 0.000001, 6))
            self._last_ts = ts
            return f"{ts:.6f}"

    def new_id(self, prefix: str) -> str:
        with self.lock:
            return f"{prefix}0{next(self._ids):08d}"

    def mint_trigger(self, user: str) -> str:
        """A trigger_id for one delivery (Slack's look like 1234567890.1234567890.0123abcd...)."""
        with self.lock:
            tid = f"{next(self._ids)}{int(self.clock.time())}.{TEAM_ID[1:]}.{secrets.token_hex(16)}"
            self.triggers[tid] = Trigger(tid, user, self.clock.time())
            return tid

    def mint_response_url(self, base_url: str, kind: str, channel: str, user: str, *,
                          message_ts: str | None = None, ephemeral: bool = False) -> str:
        with self.lock:
            url_id = f"{next(self._ids):010d}"
            secret = secrets.token_urlsafe(18)
            key = f"{url_id}/{secret}"
            self.response_urls[key] = ResponseUrl(key, kind, channel, user, self.clock.time(),
                                                  message_ts, ephemeral)
            return f"{base_url}/{kind}/{TEAM_ID}/{key}"

    # -- messages ----------------------------------------------------------------------------
    def find_message(self, channel: str, ts: str) -> Message | None:
        with self.lock:
            for m in self.messages.get(channel, []):
                if m.ts == ts and not m.deleted:
                    return m
            return None

    def add_message(self, msg: Message) -> Message:
        with self.lock:
            self.messages.setdefault(msg.channel, []).append(msg)
            if msg.is_reply:
                parent = self.find_message(msg.channel, msg.thread_ts)
                if parent is not None and parent.thread_ts is None:
                    parent.thread_ts = parent.ts
            return msg

    def edit_message(self, msg: Message, *, text: str | None, blocks: list | None, by: str) -> None:
        with self.lock:
            msg.edits.append(Edit(self.clock.time(), by, msg.text, copy.deepcopy(msg.blocks)))
            if text is not None:
                msg.text = text
            if blocks is not None:
                msg.blocks = blocks

    def transcript(self, channel: str) -> list[Message]:
        """What the channel shows: top-level messages and replies sent to the channel too."""
        with self.lock:
            return [m for m in self.messages.get(channel, [])
                    if not m.deleted and (not m.is_reply or m.reply_broadcast)]

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Parent first, then its replies in order."""
        with self.lock:
            msgs = [m for m in self.messages.get(channel, []) if not m.deleted]
            parent = [m for m in msgs if m.ts == ts]
            replies = [m for m in msgs if m.is_reply and m.thread_ts == ts]
            return parent + replies

    def user_groups_of(self, user: str) -> list[str]:
        with self.lock:
            return [g for g, info in self.usergroups.items() if user in info["users"]]
