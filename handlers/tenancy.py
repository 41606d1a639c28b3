"""Which connection (bot/connections.py) a Slack request acts on, and that connection's Services.

A `/qbsync` command, a button click or an App Home visit acts on the connection of the
channel it happens in, and on nothing else:

(a) the channel is a connection's alert channel, or one of its own QBSYNC_ROUTES channels (in
    that workspace) -> that connection;
(b) otherwise, a request from the workspace of SLACK_BOT_TOKEN (the env company's own), or
    any request while no connection exists at all -> "default", exactly as before connections;
(c) otherwise -> None: the listener answers that the channel is not connected to a company
    and does nothing else.

An install with connections only (`qbsync run` without a company in the environment, whose
default parts come from wiring.build_listener) has no "default": (b) never applies, in the
workspace of SLACK_BOT_TOKEN too, and the App Home lists only the workspace's connections.

Where a request comes from: a slash command's `team_id` and `channel_id`
(https://docs.slack.dev/tools/bolt-js/reference/interfaces/SlashCommand), a block_actions
payload's `team` and the `channel` of the message the button is on
(https://docs.slack.dev/reference/interaction-payloads/block_actions-payload); bolt gives the
workspace as `context.team_id` (slack_bolt/request/internals.py extract_team_id).

Buttons use the channel of the message the button is on, so a button value carrying the
alert key of another connection is looked up in this connection's own store, where it does
not exist. The App Home of a workspace shows that workspace's connections only.

Each connection's Services (its parts from wiring.build_for_connection: its own store, its
HubSpot portal and QuickBooks company, a Slack client with its workspace's bot token, its
per-company settings and permissions) is built on first use and kept; a change of the
connection's row (its updated_at) builds it again. `close()` closes them all.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from bot.connections import DEFAULT_CONNECTION, Connection, ConnectionRegistry

from .services import Services

log = logging.getLogger(__name__)

PICK_THREADS = 4


class ConnectionServices:
    """One Services per connection, picked per request from its workspace and channel."""

    def __init__(self, default: Services, *, build_kwargs: dict | None = None,
                 build_parts: Callable[..., Any] | None = None, make_services: Callable[..., Services] | None = None):
        """default: the Services of the env-configured company (its store is the main store,
        which holds the connections list). build_kwargs: passed to `build_parts`
        (wiring.build_for_connection; tests shorten the posting interval with it)."""
        from bot import wiring

        self.default = default
        # False with connections only: the default Services then carries no company, only the
        # listener's parts (wiring.build_listener: no scanner).
        self.has_default = getattr(default, "scanner", True) is not None
        self.settings = default.settings
        self.main_store = default.store
        self.registry = ConnectionRegistry(self.main_store)
        self._build_kwargs = dict(build_kwargs or {})
        self._build_parts = build_parts or wiring.build_for_connection
        self._make_services = make_services or Services
        self._lock = threading.Lock()
        self._built: dict[str, tuple[float, Services]] = {}  # id -> (row's updated_at, Services)
        self._home_team: str | None = None
        # Picking a connection (a query, maybe building its parts) runs here, not on any one
        # connection's pool: a busy company (a long scan on its pool) never delays the others'.
        self._pick_pool = ThreadPoolExecutor(max_workers=PICK_THREADS, thread_name_prefix="qbsync-pick")

    def work(self, fn, *args, **kwargs):
        """Run fn on the picking pool (after the ack); a failure is logged, never raised."""
        def run():
            try:
                fn(*args, **kwargs)
            except Exception:
                log.exception("background work %s failed", getattr(fn, "__name__", fn))
        return self._pick_pool.submit(run)

    # -- picking the connection ------------------------------------------------------------
    def resolve(self, team_id: str | None, channel_id: str | None) -> Services | None:
        """The Services a request from this workspace and channel acts on; None: (c) above."""
        found = self.registry.for_channel(team_id, channel_id)
        if found is not None:
            return self.for_connection(found) if found.complete else None
        if not self.has_default:  # connections only: a channel of none is not connected
            return None
        if not self.registry.ids(complete_only=False):  # no connections: one company, as before
            return self.default
        if team_id and team_id == self.home_team():
            return self.default
        return None

    def for_team(self, team_id: str | None) -> list[tuple[str, Services]]:
        """(name, Services) of every connection of this workspace (App Home): "default" first
        when it is the env company's workspace (or no connection exists), then the connections
        whose channel is in it, by id. Never another workspace's."""
        out: list[tuple[str, Services]] = []
        if self.has_default and (not self.registry.ids(complete_only=False)
                                 or (team_id and team_id == self.home_team())):
            out.append((DEFAULT_CONNECTION, self.default))
        out += [(c.name or c.id, self.for_connection(c)) for c in self.registry.for_team(team_id) if c.complete]
        return out

    def home_team(self) -> str | None:
        """The workspace of SLACK_BOT_TOKEN (auth.test's team_id), asked once; None without
        that token. A failed auth.test is not remembered: the next request asks again."""
        if self._home_team is None and getattr(self.default.slack, "token", None):
            try:
                self._home_team = self.default.slack.auth_test().get("team_id") or None
            except Exception as exc:  # unknown now: requests from other workspaces are not "default"
                log.warning("auth.test for the env workspace failed: %s", type(exc).__name__)
        return self._home_team

    # -- Services per connection -----------------------------------------------------------
    def for_connection(self, connection: Connection | str) -> Services:
        """The Services of one connection (built on first use, rebuilt when its row changed)."""
        if isinstance(connection, str):
            if connection == DEFAULT_CONNECTION:
                return self.default
            connection = self.registry.require(connection)
        with self._lock:
            kept = self._built.get(connection.id)
            if kept is not None and kept[0] == connection.updated_at:
                return kept[1]
            services = self._build(connection)
            self._built[connection.id] = (connection.updated_at, services)
        if kept is not None:
            _close(kept[1])  # its row changed (settings, channel, credentials): the old parts go
        return services

    def _build(self, connection: Connection) -> Services:
        parts = self._build_parts(self.settings, self.main_store, connection.id, **self._build_kwargs)
        services = self._make_services(parts, connection_id=connection.id)
        # `/qbsync scan` on PostgreSQL queues the scan of this connection (Services.run_scan).
        services.scan_jobs = self.default.scan_jobs
        return services

    def built(self) -> dict[str, Services]:
        with self._lock:
            return {cid: s for cid, (_, s) in self._built.items()}

    def close(self) -> None:
        """Every connection's Services (worker pool, then its own store) and the default's pool
        (its store belongs to whoever built the default parts)."""
        self._pick_pool.shutdown(wait=True, cancel_futures=False)
        with self._lock:
            kept = [s for _, s in self._built.values()]
            self._built.clear()
        for services in kept:
            _close(services)
        self.default.close()


def _close(services: Any) -> None:
    try:
        services.close()
    finally:
        store = getattr(services, "store", None)
        if store is not None:
            store.close()
