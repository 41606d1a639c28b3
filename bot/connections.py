"""Connections: the companies qbsync watches. A connection is one HubSpot portal, one
QuickBooks company and one Slack workspace and channel.

- "default" is the company configured from the environment (HUBSPOT_ACCESS_TOKEN, QBO_*,
  SLACK_BOT_TOKEN, QBSYNC_ALERT_CHANNEL): it is not a row here, its data is the main store,
  and a single-company install never needs anything in this module.
- Every other connection is a row of `connections` in the main store (migration 11), made by
  `qbsync connect hubspot|quickbooks|slack --connection ID` and listed or removed by
  `qbsync connections list|remove`. Its alerts, mirror, cursors, QBO tokens, audit log and
  pacing state live in a store of its own (`Store(main, connection=ID)`: a PostgreSQL schema,
  or a SQLite file in connections/ beside the main one), so no query of one connection can
  read another's rows, whatever its WHERE clause says.
- Secrets (a HubSpot OAuth refresh token or Service Key) are sealed with QBSYNC_SECRET_KEY
  (bot/token_cipher.py) like Slack's bot tokens; the Slack token of a connection is its
  workspace's installation (bot/slack_oauth_store.py), looked up by team id, never copied.
- Per-company settings (who may fix, language, routes, digest ...) are `overrides`: the same
  environment names and parsers as bot/config.py, a whitelist of the ones that are about a
  company rather than the process (OVERRIDABLE).

A connection is passed explicitly everywhere (jobs carry its id, handlers resolve it from the
channel a person typed in); nothing holds "the current connection" in a global.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from .store import DEFAULT_CONNECTION, Store
from .store.db import connection_schema, connection_sqlite_path, is_postgres_url, upsert_sql
from .token_cipher import TokenCipher

__all__ = ["DEFAULT_CONNECTION", "Connection", "ConnectionRegistry", "ConnectionProblem", "OVERRIDABLE",
           "check_id", "settings_for"]

_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")

# Settings a connection may set for itself: about the company and its people, not the process.
OVERRIDABLE = ("QBSYNC_FIX_ALLOWED", "QBSYNC_VIEW_ALLOWED", "QBSYNC_LANGUAGE", "QBSYNC_ROUTES",
               "QBSYNC_DIGEST", "QBSYNC_DIGEST_AT", "QBSYNC_GRACE_MINUTES", "QBSYNC_REMIND_AFTER_HOURS",
               "QBSYNC_REMINDERS_PER_DAY", "QBSYNC_HUBSPOT_SOURCE_PROPERTY", "QBSYNC_HUBSPOT_SYNC_SOURCES")

_FIELDS = ("name", "hubspot_portal_id", "hubspot_auth", "qbo_realm_id", "slack_team_id", "slack_channel")


class ConnectionProblem(ValueError):
    """A connection id or change that cannot be accepted (bad id, unknown, channel taken)."""


def check_id(connection_id: str) -> str:
    """Lower-case letters, digits and inner hyphens, 1-40 long: it names a PostgreSQL schema
    and a file, and people type it."""
    if connection_id == DEFAULT_CONNECTION or not _ID.match(connection_id or ""):
        raise ConnectionProblem(
            f"{connection_id!r} is not a connection id: use 1-40 lower-case letters, digits and hyphens "
            f"(not {DEFAULT_CONNECTION!r}, which is the company configured from the environment)")
    connection_schema(connection_id)
    return connection_id


@dataclass(frozen=True)
class Connection:
    id: str
    name: str = ""
    hubspot_portal_id: str = ""
    hubspot_auth: str = ""      # 'oauth' | 'service_key' | 'private_app' | '' (not connected yet)
    qbo_realm_id: str = ""
    slack_team_id: str = ""
    slack_channel: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def missing(self) -> list[str]:
        """What still has to be connected before it can be scanned: 'hubspot', 'quickbooks',
        'slack' (the QBO tokens themselves are in the connection's store: see ready())."""
        out = []
        if not self.hubspot_auth:
            out.append("hubspot")
        if not self.qbo_realm_id:
            out.append("quickbooks")
        if not (self.slack_team_id and self.slack_channel):
            out.append("slack")
        return out

    @property
    def complete(self) -> bool:
        return not self.missing


class ConnectionRegistry:
    """The `connections` table of the main store, with its secrets sealed."""

    def __init__(self, store: Store, *, cipher: TokenCipher | None = None, clock=time.time):
        if store.connection is not None:
            raise ValueError("the connections list lives in the main store, not in a connection's own")
        self.store = store
        self.cipher = cipher or TokenCipher(None)
        self.clock = clock

    # -- reading -----------------------------------------------------------------------------
    def get(self, connection_id: str) -> Connection | None:
        rows = self.store.query_rows("SELECT * FROM connections WHERE id = ?", (connection_id,))
        return _connection(rows[0]) if rows else None

    def require(self, connection_id: str) -> Connection:
        found = self.get(connection_id)
        if found is None:
            raise ConnectionProblem(f"no connection {connection_id!r} (qbsync connections list shows them)")
        return found

    def all(self) -> list[Connection]:
        return [_connection(r) for r in self.store.query_rows("SELECT * FROM connections ORDER BY id")]

    def ids(self, *, complete_only: bool = True) -> list[str]:
        return [c.id for c in self.all() if c.complete or not complete_only]

    def for_channel(self, team_id: str | None, channel_id: str | None) -> Connection | None:
        """The connection whose alerts go to this channel of this workspace, if any: its alert
        channel, or a channel its QBSYNC_ROUTES sends some causes to (a button or `/qbsync` in
        a route channel acts on the connection whose alerts are posted there)."""
        if not channel_id:
            return None
        rows = self.store.query_rows(
            "SELECT * FROM connections WHERE slack_channel = ? AND slack_team_id = ?",
            (channel_id, team_id or ""))
        if rows:
            return _connection(rows[0])
        return next((c for c in self.for_team(team_id) if channel_id in route_channels(c)), None)

    def for_team(self, team_id: str | None) -> list[Connection]:
        if not team_id:
            return []
        return [_connection(r) for r in self.store.query_rows(
            "SELECT * FROM connections WHERE slack_team_id = ? ORDER BY id", (team_id,))]

    def hubspot_secret(self, connection_id: str) -> dict[str, Any] | None:
        """The HubSpot credential ({"token": ...} for a Service Key or private-app token, or the
        OAuth token set), or None when
        none is stored or it cannot be opened (no QBSYNC_SECRET_KEY, or another key)."""
        rows = self.store.query_rows("SELECT hubspot_secret FROM connections WHERE id = ?", (connection_id,))
        if not rows or not rows[0]["hubspot_secret"]:
            return None
        opened = self.cipher.open(rows[0]["hubspot_secret"])
        return json.loads(opened) if opened else None

    # -- writing -----------------------------------------------------------------------------
    def save(self, connection_id: str, **changes: Any) -> Connection:
        """Create the connection or change some of its fields (`overrides` merges: a value of
        None removes that setting). Raises ConnectionProblem when the Slack channel already
        belongs to another connection."""
        check_id(connection_id)
        unknown = set(changes) - set(_FIELDS) - {"overrides"}
        if unknown:
            raise ValueError(f"unknown connection fields: {sorted(unknown)}")
        bad = set(changes.get("overrides") or {}) - set(OVERRIDABLE)
        if bad:
            raise ConnectionProblem(f"not a per-company setting: {', '.join(sorted(bad))} "
                                   f"(these are: {', '.join(OVERRIDABLE)})")
        check_overrides({k: v for k, v in (changes.get("overrides") or {}).items() if v is not None})
        now = self.clock()
        with self.store.transaction() as db:
            current = self.get(connection_id) or Connection(connection_id, created_at=now)
            overrides = dict(current.overrides)
            for name, value in (changes.pop("overrides", None) or {}).items():
                if value is None:
                    overrides.pop(name, None)
                else:
                    overrides[name] = str(value)
            text_changes: dict[str, Any] = {k: str(v or "") for k, v in changes.items()}
            new = replace(current, **text_changes, overrides=overrides, updated_at=now)
            # A channel of a workspace is one connection's (its alert channel or a route): a
            # request from it must name one company (handlers/tenancy.py).
            for channel in (new.slack_channel, *sorted(route_channels(new))):
                other = self.for_channel(new.slack_team_id, channel)
                if other is not None and other.id != connection_id:
                    raise ConnectionProblem(f"channel {channel} already belongs to connection {other.id!r}")
            columns = ("id", *_FIELDS, "overrides", "created_at", "updated_at")
            values = (new.id, *(getattr(new, f) for f in _FIELDS), json.dumps(new.overrides, sort_keys=True),
                      new.created_at, new.updated_at)
            # hubspot_secret is not among the columns: a new row gets its default (''), a
            # changed row keeps its secret (set_hubspot_secret writes it).
            db.execute(upsert_sql("connections", columns, ("id",)), values)
        return new

    def set_hubspot_secret(self, connection_id: str, auth: str, secret: dict[str, Any], *,
                           portal_id: str | None = None) -> Connection:
        """Store a HubSpot credential (sealed) and how it authenticates."""
        if auth not in ("oauth", "service_key", "private_app"):
            raise ValueError(f"unknown HubSpot auth {auth!r}")
        changes: dict[str, Any] = {"hubspot_auth": auth}
        if portal_id is not None:
            changes["hubspot_portal_id"] = portal_id
        with self.store.transaction() as db:
            conn = self.save(connection_id, **changes)
            db.execute("UPDATE connections SET hubspot_secret = ? WHERE id = ?",
                       (self.cipher.seal(json.dumps(secret, sort_keys=True)), connection_id))
        return conn

    def remove(self, connection_id: str, *, keep_data: bool = False) -> bool:
        """Forget the connection; unless `keep_data`, delete its own store too (its alerts,
        mirror, QBO tokens, audit). False when there was no such connection."""
        check_id(connection_id)
        with self.store.transaction() as db:
            gone = db.execute("DELETE FROM connections WHERE id = ?", (connection_id,)).rowcount
        if gone and not keep_data:
            drop_store(self.store.main_path, connection_id)
        return bool(gone)


def _spec(env: str):
    from .config import SETTINGS

    return next(s for s in SETTINGS if s.env == env)


def check_overrides(overrides: dict[str, Any]) -> None:
    """Each per-company setting parses as bot/config.py parses it from the environment; else
    ConnectionProblem naming every bad one (a bad value must not wait for the connection's
    parts to be built, where it would stop its scans)."""
    bad = []
    for env, value in sorted(overrides.items()):
        try:
            _spec(env).parse(str(value))
        except ValueError as exc:
            bad.append(f"{env} {exc}")
    if bad:
        raise ConnectionProblem("; ".join(bad))


def route_channels(connection: Connection) -> set[str]:
    """The channels the connection's own QBSYNC_ROUTES send alerts to (none when unset)."""
    text = connection.overrides.get("QBSYNC_ROUTES")
    if not text:
        return set()
    try:
        return {channel for _, channel in _spec("QBSYNC_ROUTES").parse(text)}
    except ValueError:  # a value saved before save() checked them: not a route of anything
        return set()


def env_company_channels(settings) -> frozenset[str]:
    """The channels of the company configured from the environment ("default"): its alert
    channel and its routes. handlers/tenancy.py picks a connection before "default" for a
    channel, so a connection given one of these would take over the env company's channel."""
    if not settings.alert_channel:
        return frozenset()
    return frozenset({settings.alert_channel, *settings.route_map.values()})


def open_store(main_path: str, connection_id: str, **kwargs) -> Store:
    """A connection's own store ("default": the main store at `main_path`)."""
    return Store(main_path, connection=connection_id, **kwargs)


def drop_store(main_path: str | Path, connection_id: str) -> None:
    """Delete a connection's own store: its PostgreSQL schema, or its SQLite file (with the
    WAL and shared-memory files beside it)."""
    main_path = str(main_path)
    if is_postgres_url(main_path):
        import psycopg

        with psycopg.connect(main_path, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {connection_schema(connection_id)} CASCADE")
        return
    path = connection_sqlite_path(main_path, connection_id)
    if path == ":memory:":
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(path + suffix).unlink(missing_ok=True)
    parent = Path(path).parent
    if parent.name == "connections" and parent.is_dir() and not any(parent.iterdir()):
        shutil.rmtree(parent, ignore_errors=True)


def settings_for(settings, connection: Connection, *, hubspot_token: str | None,
                 slack_bot_token: str | None):
    """The process's Settings seen by one connection: its HubSpot credential, QBO realm
    (its refresh token is in the connection's store, so none is passed), Slack token and
    channel, and its per-company overrides parsed as bot/config.py parses the environment."""
    from .config import SETTINGS

    specs = {s.env: s for s in SETTINGS}
    # Who may fix or read records is about the connection's own Slack workspace: the env's
    # QBSYNC_FIX_ALLOWED / QBSYNC_VIEW_ALLOWED name people of the env company's workspace, so a
    # connection without its own override lets nobody fix or read records (and its reminders
    # mention nobody) rather than inheriting them.
    # QBSYNC_ROUTES likewise: the env's routes are channels of the env company (and of its
    # workspace); a connection inheriting them posted its alerts among the env company's, or
    # tried another workspace's channels. A connection routes only with its own override.
    values: dict[str, Any] = {"fix_allowed": ((), ()), "view_allowed": ((), ()), "routes": None}
    for env, text in connection.overrides.items():
        spec = specs.get(env)
        if spec is not None and env in OVERRIDABLE:
            values[spec.name] = spec.parse(text)
    return replace(settings, hubspot_token=hubspot_token, qbo_realm_id=connection.qbo_realm_id or None,
                   qbo_refresh_token=None, slack_bot_token=slack_bot_token,
                   alert_channel=connection.slack_channel or None, **values)


def _connection(row: dict) -> Connection:
    return Connection(
        id=row["id"], name=row["name"], hubspot_portal_id=row["hubspot_portal_id"],
        hubspot_auth=row["hubspot_auth"], qbo_realm_id=row["qbo_realm_id"], slack_team_id=row["slack_team_id"],
        slack_channel=row["slack_channel"], overrides=json.loads(row["overrides"] or "{}"),
        created_at=float(row["created_at"]), updated_at=float(row["updated_at"]))


def describe(connections: Iterable[Connection]) -> list[dict[str, str]]:
    """Rows for `qbsync connections list`: nothing secret."""
    return [{"id": c.id, "name": c.name,
             "hubspot": c.hubspot_auth and f"portal {c.hubspot_portal_id or '?'} ({c.hubspot_auth})",
             "quickbooks": c.qbo_realm_id and f"company {c.qbo_realm_id}",
             "slack": c.slack_channel and f"{c.slack_team_id}/{c.slack_channel}",
             "missing": ", ".join(c.missing) or "-"} for c in connections]
