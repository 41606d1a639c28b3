"""qbsync's settings: one table (SETTINGS) that names every setting, its environment variable,
default, which commands need it, whether it is a secret, and how it is checked.

README.md's configuration table and .env.example are generated from that table
(`python -m bot.config --markdown` / `--env-example`) and a test compares them, so the
docs cannot drift from the code.

Values come from the process environment; a `.env` file fills only what the environment
lacks (an empty variable counts as lacking). os.environ is never modified.

Which settings are required depends on the command (see COMMANDS): `run` needs the lot,
`connect` only the QBO app keys, `doctor` reports what `run` would miss, and demo/sandbox/
explain read no configuration at all. Parsing never stops at the first problem: every
malformed value is recorded, and `Settings.problems_for(command)` adds the missing ones.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from .digest_schedule import DEFAULT_AT as DEFAULT_DIGEST_AT
from .digest_schedule import MODES as DIGEST_MODES
from .digest_schedule import parse_at as _parse_digest_at
from .errors import ConfigError
from .fix_guard import FIX_TIMEOUT_S
from .invoice_source import DEFAULT_SYNC_SOURCES

# Commands that read configuration. demo / sandbox / explain read none.
COMMANDS = ("run", "doctor", "connect")
LANGUAGES = ("en", "nl", "es")
TRANSPORTS = ("socket", "http")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MIN_POLL_INTERVAL_S = 30


class _Invalid(ValueError):
    """A value is present but malformed; the message says what is expected (never the value
    itself when the setting is a secret)."""


# --------------------------------------------------------------------------- parsers
# Each parser takes the stripped, non-empty text and returns the typed value or raises
# _Invalid. Messages never echo secret values.

def _text(v: str) -> str:
    return v


def _prefixed(prefix: str, what: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        if not v.startswith(prefix) or len(v) <= len(prefix):
            raise _Invalid(f"must be {what} starting with '{prefix}'")
        if any(c.isspace() for c in v):
            raise _Invalid("must not contain spaces")
        return v
    return parse


def _no_spaces(v: str) -> str:
    if any(c.isspace() for c in v):
        raise _Invalid("must not contain spaces")
    return v


def _bearer_token(v: str) -> str:
    # HubSpot tokens come in several shapes: legacy private apps' `pat-<region>-...`, service
    # keys and project-based apps' static or OAuth tokens (HubSpot says OAuth access tokens
    # vary in size, up to 300 characters). No shape is documented for service keys
    # (developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/account-service-keys),
    # so any bearer token is taken; only whitespace (a pasted line break, two values) is refused.
    if any(c.isspace() for c in v):
        raise _Invalid("must be one token, without spaces or line breaks")
    return v


def _value_list(v: str) -> tuple[str, ...]:
    # Comma-separated; values may contain spaces ("Data Sync"), so only the commas split.
    items = tuple(dict.fromkeys(x.strip() for x in v.split(",") if x.strip()))
    if not items:
        raise _Invalid("must list at least one value, comma-separated")
    return items


def _choice(options: Iterable[str], *, lower: bool = True) -> Callable[[str], str]:
    opts = tuple(options)

    def parse(v: str) -> str:
        x = v.lower() if lower else v.upper()
        if x not in opts:
            raise _Invalid(f"must be one of {', '.join(opts)} (got {v!r})")
        return x
    return parse


def _int_range(lo: int, hi: int | None, unit: str = "") -> Callable[[str], int]:
    sfx = f" {unit}" if unit else ""

    def parse(v: str) -> int:
        try:
            n = int(v)
        except ValueError:
            raise _Invalid(f"must be a whole number{' of ' + unit if unit else ''} (got {v!r})") from None
        if n < lo or (hi is not None and n > hi):
            bound = f"at least {lo}{sfx}" if hi is None else f"between {lo} and {hi}{sfx}"
            raise _Invalid(f"must be {bound} (got {n})")
        return n
    return parse


_CHANNEL_RX = re.compile(r"^[CG][A-Z0-9]{8,20}$")
_USER_RX = re.compile(r"^[UW][A-Z0-9]{8,20}$")
_GROUP_RX = re.compile(r"^S[A-Z0-9]{8,20}$")


def _digest_at(v: str) -> str:
    try:
        _parse_digest_at(v)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    return " ".join(v.lower().split())


def _channel(v: str) -> str:
    # Slack conversation ids: C... public, G... private (older) channels. A name like
    # "#alerts" does not work with chat.postMessage once a channel is renamed, so ids only.
    if not _CHANNEL_RX.match(v):
        raise _Invalid(f"must be a Slack channel id like C0123ABCD, not a name (got {v!r})")
    return v


# Problems every sync shares (bot/scan.py raises them as `global:` alerts): they always go to
# QBSYNC_ALERT_CHANNEL, so routing one elsewhere is a mistake worth naming.
SHARED_RULES = ("qbo-auth", "qbo-subscription", "rate-limited")


def _routes(v: str) -> tuple[tuple[str, str], ...]:
    # `rule-id=channel-id` pairs, comma-separated. Rule ids come from rules/registry.py
    # (imported here, not at the top: the rules import parts of bot). Every bad entry is named.
    from rules import registry

    known = registry.ids()
    routes: dict[str, str] = {}
    bad: list[str] = []
    for item in (p.strip() for p in v.split(",")):
        if not item:
            continue
        rule, sep, channel = (x.strip() for x in item.partition("="))
        if not sep or not rule or not channel:
            bad.append(f"{item!r} is not rule-id=channel-id")
        elif rule not in known:
            bad.append(f"{item!r}: no rule {rule!r}")
        elif rule in SHARED_RULES:
            bad.append(f"{item!r}: {rule} is a problem every sync shares; it always goes to QBSYNC_ALERT_CHANNEL")
        elif not _CHANNEL_RX.match(channel):
            bad.append(f"{item!r}: {channel!r} is not a Slack channel id like C0123ABCD")
        elif routes.get(rule, channel) != channel:
            bad.append(f"{item!r}: {rule} is already routed to {routes[rule]}")
        else:
            routes[rule] = channel
    if bad:
        routable = ", ".join(r for r in known if r not in SHARED_RULES)
        raise _Invalid(f"has bad entries: {'; '.join(bad)} (rule ids: {routable})")
    if not routes:
        raise _Invalid("must list rule-id=channel-id pairs, comma-separated")
    return tuple(routes.items())


def _principals(v: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    users: list[str] = []
    groups: list[str] = []
    bad: list[str] = []
    for item in (p.strip() for p in v.split(",")):
        if not item:
            continue
        if _USER_RX.match(item):
            users.append(item)
        elif _GROUP_RX.match(item):
            groups.append(item)
        else:
            bad.append(item)
    if bad:
        raise _Invalid("has entries that are not Slack user ids (U.../W...) or user-group ids "
                       f"(S...): {', '.join(repr(b) for b in bad)}")
    return tuple(dict.fromkeys(users)), tuple(dict.fromkeys(groups))


def _digits(v: str) -> str:
    if not v.isdigit():
        raise _Invalid(f"must be digits only (the QuickBooks company id), got {v!r}")
    return v


def _url(v: str) -> str:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Invalid(f"must be an http(s) URL (got {v!r})")
    return v


def _database_url(v: str) -> str:
    # The value is never echoed: a database URL may carry a password.
    parts = urlsplit(v)
    if parts.scheme not in ("postgresql", "postgres") or not (parts.netloc or parts.query):
        raise _Invalid("must be a postgresql://user:password@host:port/database URL")
    return v


def _slack_base(v: str) -> str:
    # slack_sdk joins method names onto base_url, so it must end with a slash.
    v = _url(v)
    return v if v.endswith("/") else v + "/"


def _fernet_key(v: str) -> str:
    from .token_cipher import check_key

    try:
        return check_key(v)
    except (ValueError, UnicodeEncodeError):
        raise _Invalid("must be a Fernet key: 32 url-safe base64-encoded bytes (Fernet.generate_key())") from None


def _qbo_environment(v: str) -> str:
    # intuit-oauth's AuthClient accepts 'sandbox', 'production' or a discovery-document URL;
    # the URL form is how the local sandbox stand-in is reached.
    if v.lower() in ("sandbox", "production"):
        return v.lower()
    if v.startswith(("http://", "https://")):
        return _url(v)
    raise _Invalid(f"must be sandbox, production, or the URL of an OpenID discovery document (got {v!r})")


# --------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class Spec:
    name: str                  # Settings attribute
    env: str                   # environment variable
    help: str                  # one line for README / .env.example
    parse: Callable[[str], Any] = _text
    default: Any = None
    secret: bool = False
    required_for: tuple[str, ...] = ()
    # (setting name, value): required only when that setting has that value
    only_if: tuple[str, str] | None = None
    # commands whose behaviour this setting affects (malformed values matter to them)
    used_by: tuple[str, ...] = ("run", "doctor")
    section: str = ""


SETTINGS: tuple[Spec, ...] = (
    # Slack
    Spec("slack_bot_token", "SLACK_BOT_TOKEN", "Bot token of the Slack app (OAuth & Permissions page).",
         _prefixed("xoxb-", "a bot token"), secret=True, required_for=("run",), section="Slack"),
    Spec("slack_app_token", "SLACK_APP_TOKEN",
         "App-level token with the connections:write scope, for Socket Mode (Basic Information page).",
         _prefixed("xapp-", "an app-level token"), secret=True, required_for=("run",),
         only_if=("slack_transport", "socket"), section="Slack"),
    Spec("slack_signing_secret", "SLACK_SIGNING_SECRET",
         "Signing secret of the Slack app, to verify requests in HTTP mode (Basic Information page).",
         _no_spaces, secret=True, required_for=("run",), only_if=("slack_transport", "http"),
         section="Slack"),
    Spec("alert_channel", "QBSYNC_ALERT_CHANNEL",
         "Id of the channel alerts go to (channel details > About), e.g. C0123ABCD. Invite the bot there.",
         _channel, required_for=("run",), section="Slack"),
    Spec("routes", "QBSYNC_ROUTES",
         "Channels per cause: comma-separated rule-id=channel-id pairs, e.g. missing-customer=C0123ABCD. "
         "Rules not listed, and problems every sync shares, go to QBSYNC_ALERT_CHANNEL; an invoice's thread is in "
         "the channel of its first cause. Invite the bot to every channel listed.",
         _routes, section="Slack"),
    Spec("slack_client_id", "SLACK_CLIENT_ID",
         "HTTP mode, several workspaces: Client ID of the Slack app (Basic Information page). With "
         "SLACK_CLIENT_SECRET it turns on /slack/install (Add to Slack).", _no_spaces, section="Slack"),
    Spec("slack_client_secret", "SLACK_CLIENT_SECRET",
         "Client Secret of the Slack app (Basic Information page), for the Add to Slack install flow.",
         _no_spaces, secret=True, section="Slack"),
    Spec("slack_redirect_uri", "QBSYNC_SLACK_REDIRECT_URI",
         "Public URL of qbsync's /slack/oauth_redirect, as listed in the app's redirect URLs; empty: the "
         "app's only redirect URL.", _url, section="Slack"),
    Spec("secret_key", "QBSYNC_SECRET_KEY",
         "Optional Fernet key that encrypts the Slack bot tokens of installed workspaces in the database; make "
         "one with: python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\".",
         _fernet_key, secret=True, section="Slack"),
    Spec("slack_transport", "QBSYNC_SLACK_TRANSPORT",
         "How Slack reaches qbsync: socket (Socket Mode, no public URL) or http (public request URL).",
         _choice(TRANSPORTS), default="socket", section="Slack"),
    Spec("http_port", "QBSYNC_HTTP_PORT", "Port qbsync listens on in http mode.",
         _int_range(1, 65535), default=3000, section="Slack"),
    # HubSpot
    Spec("hubspot_token", "HUBSPOT_ACCESS_TOKEN",
         "HubSpot service key (recommended) or a legacy private app's access token (pat-...); scopes in README.",
         _bearer_token, secret=True, required_for=("run",), section="HubSpot"),
    Spec("hubspot_client_id", "HUBSPOT_CLIENT_ID",
         "Several companies: Client ID of qbsync's HubSpot app (project-based app, Auth tab), for "
         "`qbsync connect hubspot --connection ID` (OAuth). Not needed with Service Keys.",
         _no_spaces, used_by=("run", "doctor", "connect"), section="HubSpot"),
    Spec("hubspot_client_secret", "HUBSPOT_CLIENT_SECRET",
         "Client secret of that HubSpot app; qbsync also uses it to renew the connections' access tokens.",
         _no_spaces, secret=True, used_by=("run", "doctor", "connect"), section="HubSpot"),
    Spec("hubspot_redirect_uri", "HUBSPOT_REDIRECT_URI",
         "Redirect URL listed in that HubSpot app; `qbsync connect hubspot` listens on its localhost port.",
         _url, default="http://localhost:8766/hubspot/callback", used_by=("connect",), section="HubSpot"),
    Spec("hubspot_source_property", "QBSYNC_HUBSPOT_SOURCE_PROPERTY",
         "Internal name of HubSpot's \"Invoice Source\" property (undocumented by HubSpot; change if it differs).",
         _no_spaces, default="hs_invoice_source", section="HubSpot"),
    Spec("hubspot_sync_sources", "QBSYNC_HUBSPOT_SYNC_SOURCES",
         "Invoice Source values that mark an invoice imported by a sync (comma-separated; case, spaces, "
         "_ and - ignored). Every other value, and none, counts as created in HubSpot; `qbsync doctor` "
         "shows the split.",
         _value_list, default=",".join(DEFAULT_SYNC_SOURCES), section="HubSpot"),
    # QuickBooks Online
    Spec("qbo_client_id", "QBO_CLIENT_ID", "Client ID of the Intuit developer app (Keys & credentials).",
         _no_spaces, required_for=("run", "connect"), used_by=("run", "doctor", "connect"),
         section="QuickBooks Online"),
    Spec("qbo_client_secret", "QBO_CLIENT_SECRET", "Client secret of the Intuit developer app.",
         _no_spaces, secret=True, required_for=("run", "connect"), used_by=("run", "doctor", "connect"),
         section="QuickBooks Online"),
    Spec("qbo_realm_id", "QBO_REALM_ID",
         "QuickBooks company id (digits); `qbsync connect quickbooks` prints it.",
         _digits, required_for=("run",), section="QuickBooks Online"),
    # Not required: `qbsync connect quickbooks` saves the token chain in the database, and
    # the QBO adapter uses the stored chain when no seed is configured. A seed is needed only
    # when the tokens were obtained elsewhere (another machine, Intuit's OAuth Playground).
    Spec("qbo_refresh_token", "QBO_REFRESH_TOKEN",
         "Refresh token to start qbsync's token chain from. Leave empty when `qbsync connect quickbooks` "
         "saved the tokens in QBSYNC_DB_PATH; qbsync rotates and stores them itself.",
         _no_spaces, secret=True, section="QuickBooks Online"),
    Spec("qbo_environment", "QBO_ENVIRONMENT",
         "sandbox or production (Intuit's two environments); the local sandbox uses a discovery-document URL.",
         _qbo_environment, default="sandbox", used_by=("run", "doctor", "connect"),
         section="QuickBooks Online"),
    Spec("qbo_redirect_uri", "QBO_REDIRECT_URI",
         "Redirect URI registered in the Intuit app; `qbsync connect quickbooks` listens on its localhost port.",
         _url, default="http://localhost:8765/callback", used_by=("connect",), section="QuickBooks Online"),
    # Behaviour
    Spec("poll_interval_s", "QBSYNC_POLL_INTERVAL",
         f"Seconds between checks of HubSpot and QBO (minimum {MIN_POLL_INTERVAL_S}).",
         _int_range(MIN_POLL_INTERVAL_S, None, "seconds"), default=300, section="Behaviour"),
    Spec("grace_minutes", "QBSYNC_GRACE_MINUTES",
         "Minutes an invoice may take to appear in QBO before qbsync calls it failed.",
         _int_range(0, 10080, "minutes"), default=10, section="Behaviour"),
    Spec("fix_timeout_s", "QBSYNC_FIX_TIMEOUT",
         "Seconds after which a fix still marked running is taken as interrupted by a crash; the next "
         "scan's re-check then settles its alert. A fix takes seconds; keep well above that.",
         _int_range(1, 86400, "seconds"), default=int(FIX_TIMEOUT_S), section="Behaviour"),
    Spec("fix_allowed", "QBSYNC_FIX_ALLOWED",
         "Who may press Fix: comma-separated Slack user ids (U.../W...) and user-group ids (S...).",
         _principals, required_for=("run",), section="Behaviour"),
    Spec("view_allowed", "QBSYNC_VIEW_ALLOWED",
         "Who else may read record details (names, emails, amounts) in `/qbsync explain`, `list` and the App "
         "Home: Slack user ids and user-group ids as in QBSYNC_FIX_ALLOWED, whose people always may. "
         "Everyone else gets the rule's general explanation.",
         _principals, section="Behaviour"),
    Spec("remind_after_hours", "QBSYNC_REMIND_AFTER_HOURS",
         "Hours after which an open alert nobody has acknowledged, snoozed or begun fixing is raised again "
         "in its thread, mentioning the people and groups in QBSYNC_FIX_ALLOWED; 0 turns reminders off.",
         _int_range(0, 8760, "hours"), default=24, section="Behaviour"),
    Spec("reminders_per_day", "QBSYNC_REMINDERS_PER_DAY",
         "At most this many reminders in any 24 hours, across all alerts.",
         _int_range(0, 10000), default=20, section="Behaviour"),
    Spec("digest", "QBSYNC_DIGEST",
         "The digest in the alert channel (counts by cause, oldest open failures, who resolved what, time to "
         "resolve, a chart of failures per day): weekly, daily or off.",
         _choice(DIGEST_MODES), default="weekly", section="Behaviour"),
    Spec("digest_at", "QBSYNC_DIGEST_AT",
         "When the digest is due, in UTC: a day and time for weekly (mon 08:00), a time for daily (08:00; a "
         "day given is ignored). It covers the 7 days (or the day) before; sent by the first scan after.",
         _digest_at, default=DEFAULT_DIGEST_AT, section="Behaviour"),
    Spec("language", "QBSYNC_LANGUAGE",
         "Language of alerts when the user's Slack locale is not en, nl or es: en, nl or es.",
         _choice(LANGUAGES), default="en", section="Behaviour"),
    Spec("db_path", "QBSYNC_DB_PATH", "SQLite file for alerts, audit log and QBO tokens.",
         _text, default="./qbsync.db", used_by=("run", "doctor", "connect"), section="Behaviour"),
    Spec("database_url", "QBSYNC_DATABASE_URL",
         "PostgreSQL instead of the SQLite file: postgresql://user:password@host:port/database (psycopg 3). "
         "Empty: SQLite at QBSYNC_DB_PATH.",
         _database_url, secret=True, used_by=("run", "doctor", "connect"), section="Behaviour"),
    Spec("log_level", "QBSYNC_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR (logs are JSON lines on stderr).",
         _choice(LOG_LEVELS, lower=False), default="INFO", used_by=("run", "doctor", "connect"),
         section="Behaviour"),
    Spec("ops_port", "QBSYNC_OPS_PORT",
         "Port of the operations endpoints /healthz and /metrics (Prometheus); 0 turns them off.",
         _int_range(0, 65535), default=9464, section="Behaviour"),
    # Sandbox-only overrides
    Spec("hubspot_api_base", "QBSYNC_HUBSPOT_API_BASE",
         "Sandbox/tests only: HubSpot API host, e.g. http://127.0.0.1:PORT. Leave empty in production.",
         _url, section="Sandbox overrides"),
    Spec("qbo_api_base", "QBSYNC_QBO_API_BASE",
         "Sandbox/tests only: QBO accounting API base URL. Leave empty in production.",
         _url, section="Sandbox overrides"),
    Spec("slack_api_base", "QBSYNC_SLACK_API_BASE",
         "Sandbox/tests only: Slack Web API base URL, e.g. http://127.0.0.1:PORT/api/. Leave empty in production.",
         _slack_base, section="Sandbox overrides"),
    Spec("slack_authorize_url", "QBSYNC_SLACK_AUTHORIZE_URL",
         "Sandbox/tests only: Slack's OAuth consent page, e.g. http://127.0.0.1:PORT/oauth/v2/authorize. "
         "Leave empty in production.", _url, section="Sandbox overrides"),
    Spec("hubspot_authorize_url", "QBSYNC_HUBSPOT_AUTHORIZE_URL",
         "Sandbox/tests only: HubSpot's OAuth page, e.g. http://127.0.0.1:PORT/oauth/authorize. "
         "Leave empty in production.", _url, used_by=("connect",), section="Sandbox overrides"),
)

SPECS_BY_NAME = {s.name: s for s in SETTINGS}
SPECS_BY_ENV = {s.env: s for s in SETTINGS}


_PRINCIPALS = ("fix_allowed", "view_allowed")  # (user ids, user-group ids)


def _default(spec: Spec) -> Any:
    if spec.name in _PRINCIPALS:
        return ((), ())
    if spec.name == "hubspot_sync_sources":
        return DEFAULT_SYNC_SOURCES
    return spec.default


def _mask(spec: Spec, value: Any) -> Any:
    if value is None or not spec.secret:
        return value
    # Keep a known, non-secret prefix so a wrong kind of token is still recognisable.
    for prefix in ("xoxb-", "xapp-", "pat-"):
        if isinstance(value, str) and value.startswith(prefix):
            return prefix + "***"
    return "***"


# --------------------------------------------------------------------------- Settings

@dataclass(frozen=True)
class Problem:
    env: str
    message: str
    kind: str  # "missing" | "invalid"

    def __str__(self) -> str:
        return f"{self.env} {self.message}"


@dataclass(frozen=True, repr=False)
class Settings:
    slack_bot_token: str | None = None
    slack_app_token: str | None = None
    slack_signing_secret: str | None = None
    alert_channel: str | None = None
    routes: tuple[tuple[str, str], ...] | None = None  # (rule id, channel id): QBSYNC_ROUTES
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_redirect_uri: str | None = None
    secret_key: str | None = None
    slack_transport: str = "socket"
    http_port: int = 3000
    hubspot_token: str | None = None
    hubspot_client_id: str | None = None
    hubspot_client_secret: str | None = None
    hubspot_redirect_uri: str = "http://localhost:8766/hubspot/callback"
    hubspot_source_property: str = "hs_invoice_source"
    hubspot_sync_sources: tuple[str, ...] = DEFAULT_SYNC_SOURCES
    qbo_client_id: str | None = None
    qbo_client_secret: str | None = None
    qbo_realm_id: str | None = None
    qbo_refresh_token: str | None = None
    qbo_environment: str = "sandbox"
    qbo_redirect_uri: str = "http://localhost:8765/callback"
    poll_interval_s: int = 300
    grace_minutes: int = 10
    fix_timeout_s: int = int(FIX_TIMEOUT_S)
    fix_allowed: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    view_allowed: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    remind_after_hours: int = 24
    reminders_per_day: int = 20
    digest: str = "weekly"
    digest_at: str = DEFAULT_DIGEST_AT
    language: str = "en"
    db_path: str = "./qbsync.db"
    database_url: str | None = None
    log_level: str = "INFO"
    ops_port: int = 9464
    hubspot_api_base: str | None = None
    qbo_api_base: str | None = None
    slack_api_base: str | None = None
    slack_authorize_url: str | None = None
    hubspot_authorize_url: str | None = None
    # Malformed values found while parsing (the field then holds its default / None).
    invalid: tuple[Problem, ...] = field(default=(), compare=False)

    # ---- convenience views
    @property
    def store_target(self) -> str:
        """What Store() opens: the PostgreSQL URL when set, else the SQLite file."""
        return self.database_url or self.db_path

    @property
    def fix_users(self) -> tuple[str, ...]:
        return self.fix_allowed[0]

    @property
    def fix_usergroups(self) -> tuple[str, ...]:
        return self.fix_allowed[1]

    @property
    def view_users(self) -> tuple[str, ...]:
        return self.view_allowed[0]

    @property
    def view_usergroups(self) -> tuple[str, ...]:
        return self.view_allowed[1]

    @property
    def route_map(self) -> dict[str, str]:
        """QBSYNC_ROUTES as rule id -> channel id (rules not in it go to alert_channel)."""
        return dict(self.routes or ())

    @property
    def slack_oauth(self) -> bool:
        """Add to Slack (several workspaces): HTTP mode with the app's client id and secret."""
        return not self.socket_mode and bool(self.slack_client_id and self.slack_client_secret)

    @property
    def socket_mode(self) -> bool:
        return self.slack_transport == "socket"

    def is_set(self, name: str) -> bool:
        """True when the setting has a usable value (present and well-formed)."""
        spec = SPECS_BY_NAME[name]
        if any(p.env == spec.env for p in self.invalid):
            return False
        value = getattr(self, name)
        if name in _PRINCIPALS:
            return bool(value[0] or value[1])
        return value is not None and value != ""

    def is_required(self, name: str, command: str) -> bool:
        spec = SPECS_BY_NAME[name]
        if command not in spec.required_for:
            return False
        if spec.only_if:
            other, wanted = spec.only_if
            return getattr(self, other) == wanted
        return True

    def problems_for(self, command: str) -> list[Problem]:
        """Every problem that stops `command`: malformed values of the settings it uses,
        then required settings that are missing, in table order."""
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r}")
        out: list[Problem] = []
        invalid_envs = {p.env for p in self.invalid}
        for spec in SETTINGS:
            if spec.env in invalid_envs:
                if command in spec.used_by:
                    out.extend(p for p in self.invalid if p.env == spec.env)
                continue
            if self.is_required(spec.name, command) and not self.is_set(spec.name):
                why = "is missing"
                if spec.only_if:
                    why += f" (needed when {SPECS_BY_NAME[spec.only_if[0]].env}={spec.only_if[1]})"
                out.append(Problem(spec.env, f"{why}: {spec.help}", "missing"))
        return out

    def require(self, command: str) -> "Settings":
        problems = self.problems_for(command)
        if problems:
            raise ConfigError([str(p) for p in problems])
        return self

    # ---- secrets
    def redacted(self) -> dict[str, Any]:
        """Every setting by name, secrets masked: safe to log."""
        out: dict[str, Any] = {}
        for spec in SETTINGS:
            value = getattr(self, spec.name)
            if spec.name in _PRINCIPALS:
                value = ",".join(value[0] + value[1])
            elif spec.name == "hubspot_sync_sources":
                value = ",".join(value)
            elif spec.name == "routes" and value is not None:
                value = ",".join(f"{rule}={channel}" for rule, channel in value)
            out[spec.name] = _mask(spec, value)
        return out

    def secret_values(self) -> list[str]:
        """The secret values themselves, for the log redactor (never print these)."""
        return [v for s in SETTINGS if s.secret and isinstance(v := getattr(self, s.name), str) and v]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.redacted().items())
        if self.invalid:
            inner += f", invalid={[p.env for p in self.invalid]!r}"
        return f"Settings({inner})"

    __str__ = __repr__


# --------------------------------------------------------------------------- loading

def read_sources(environ: Mapping[str, str] | None = None,
                 env_file: str | Path | None = ".env") -> dict[str, str]:
    """The raw text of every known setting: environment first, `.env` for the rest.
    Empty values count as absent. Unknown variables are ignored."""
    import os

    env = os.environ if environ is None else environ
    file_values: dict[str, str | None] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values

        # interpolate=False: a secret containing "${...}" is taken literally.
        file_values = dotenv_values(env_file, interpolate=False)
    raw: dict[str, str] = {}
    for spec in SETTINGS:
        value = (env.get(spec.env) or "").strip()
        if not value:
            value = (file_values.get(spec.env) or "").strip()
        if value:
            raw[spec.env] = value
    return raw


def parse_settings(raw: Mapping[str, str]) -> Settings:
    """Typed Settings from raw text; malformed values are recorded in `invalid`, not raised."""
    values: dict[str, Any] = {}
    invalid: list[Problem] = []
    for spec in SETTINGS:
        text = raw.get(spec.env)
        if text is None:
            values[spec.name] = _default(spec)
            continue
        try:
            values[spec.name] = spec.parse(text)
        except _Invalid as exc:
            invalid.append(Problem(spec.env, str(exc), "invalid"))
            values[spec.name] = _default(spec)
    return Settings(**values, invalid=tuple(invalid))


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env",
                  *, require: str | None = None) -> Settings:
    """Read and check the configuration.

    require=None: return Settings even with problems (doctor shows them itself).
    require="run" | "connect" | "doctor": raise ConfigError listing every problem that
    command has (malformed values of the settings it uses + required settings missing).
    """
    settings = parse_settings(read_sources(environ, env_file))
    if require is not None:
        settings.require(require)
    return settings


# --------------------------------------------------------------------------- docs

def _required_label(spec: Spec) -> str:
    if not spec.required_for:
        return "-"
    label = ", ".join(spec.required_for)
    if spec.only_if:
        label += f" (when {SPECS_BY_NAME[spec.only_if[0]].env}={spec.only_if[1]})"
    return label


def _default_label(spec: Spec) -> str:
    return "-" if spec.default is None else f"`{spec.default}`"


def markdown_table() -> str:
    """README's configuration table (a test checks README carries exactly this)."""
    lines = ["| variable | required for | default | secret | meaning |",
             "|---|---|---|---|---|"]
    for spec in SETTINGS:
        lines.append(f"| `{spec.env}` | {_required_label(spec)} | {_default_label(spec)} | "
                     f"{'yes' if spec.secret else ''} | {spec.help.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def env_example() -> str:
    """The content of .env.example: every setting, defaults filled in, secrets empty."""
    out = ["# qbsync configuration. Copy to .env and fill in; real environment variables win over",
           "# this file. Generated by `python -m bot.config --env-example` from bot/config.py.",
           "# Never commit a filled-in .env."]
    section = None
    for spec in SETTINGS:
        if spec.section != section:
            section = spec.section
            out += ["", f"# --- {section}"]
        req = _required_label(spec)
        out.append(f"# {spec.help}" + ("" if req == "-" else f" Required for: {req}."))
        value = "" if spec.default is None else str(spec.default)
        out.append(f"{spec.env}={value}")
    return "\n".join(out) + "\n"


def _main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m bot.config",
                                description="Print generated configuration docs.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--markdown", action="store_true", help="README's configuration table")
    g.add_argument("--env-example", action="store_true", help="the content of .env.example")
    args = p.parse_args(argv)
    sys.stdout.write(markdown_table() if args.markdown else env_example())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())


__all__ = ["Settings", "Spec", "Problem", "SETTINGS", "COMMANDS", "load_settings", "parse_settings",
           "read_sources", "markdown_table", "env_example"]
