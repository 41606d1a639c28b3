"""The Slack app: a bolt App with qbsync's listeners, and the two ways Slack reaches it.

- Socket Mode (default; no public URL): `SocketModeRunner(app, app_token).start()`.
- HTTP mode (production behind a load balancer): `HttpRunner(app, port).start()` serves bolt's
  WSGI adapter on `/slack/events` with waitress, a production WSGI server with a thread pool.
  bot/http_guard.py vets each request first (size cap, signature and timestamp, payload
  shape, this workspace and app, replays) and answers 413/401/400, or 200 for a replay,
  before bolt (which checks the signature again) or any listener sees it.

Acks: bolt runs each listener on its own executor and answers Slack as soon as the listener
calls ack(); qbsync's listeners ack first and leave the slow part to Services' worker pool
(handlers/__init__.py), so a scan or a fix never delays anyone's acknowledgement.
"""
from __future__ import annotations

import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App

log = logging.getLogger(__name__)

ACK_THREADS = 16      # bolt's listener executor: only acks and hand-offs run there
SOCKET_THREADS = 16   # Socket Mode envelopes processed at once
SLOW_CLIENT_S = 10    # HTTP mode: a connection silent this long is closed (see HttpRunner)


def create_app(parts, *, token_verification: bool = True, services=None,
               connection_build: dict | None = None) -> App:
    """A bolt App on `parts.slack` (the WebClient) with every listener registered. `parts`: the
    env-configured company ("default"); each request acts on the connection of its channel
    (handlers/tenancy.py), whose parts are built with wiring.build_for_connection(**connection_build)."""
    from handlers import ConnectionServices, Services, register

    from .slack_oauth import app_arguments

    settings = parts.settings
    # Add to Slack (HTTP mode with a client id and secret): bolt's OAuth flow and a per-workspace
    # token (bot/slack_oauth.py); without them, exactly the single-workspace app it was.
    oauth = app_arguments(parts)
    app = App(
        client=oauth.pop("client", parts.slack),
        # Without a signing secret every HTTP request fails verification (fail closed);
        # Socket Mode deliveries are not signed and bolt does not check them.
        signing_secret=settings.slack_signing_secret or "",
        token_verification_enabled=token_verification,
        listener_executor=ThreadPoolExecutor(max_workers=ACK_THREADS, thread_name_prefix="bolt-ack"),
        logger=logging.getLogger("qbsync.bolt"),
        **oauth,
    )
    if oauth:
        # app_uninstalled / tokens_revoked delete the workspace's installation (bolt's listeners).
        app.enable_token_revocation_listeners()
    services = services or Services(parts)
    tenants = ConnectionServices(services, build_kwargs=connection_build)
    register(app, tenants)
    app._qbsync_services = services  # type: ignore[attr-defined]  # for services_of(): bolt's App has no slot
    app._qbsync_tenants = tenants  # type: ignore[attr-defined]  # for tenants_of()
    return app


def tenants_of(app: App):
    """The handlers.ConnectionServices behind an App made by create_app (every connection's Services)."""
    return app._qbsync_tenants  # type: ignore[attr-defined]


def _close_services(app: App) -> None:
    """Every connection's Services (their pools and own stores) and the default's pool."""
    tenants = getattr(app, "_qbsync_tenants", None)
    if tenants is not None:
        tenants.close()
        return
    services = getattr(app, "_qbsync_services", None)
    if services is not None:
        services.close()


def services_of(app: App):
    """The handlers.Services behind an App made by create_app (status data, run_scan, ...)."""
    return app._qbsync_services  # type: ignore[attr-defined]


class SocketModeRunner:
    """slack_bolt's built-in Socket Mode client in the background."""

    def __init__(self, app: App, app_token: str, *, ping_interval: float = 10, concurrency: int = SOCKET_THREADS):
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        self.app = app
        self.handler = SocketModeHandler(app, app_token, ping_interval=ping_interval, concurrency=concurrency)
        self._stopped = False

    def start(self) -> "SocketModeRunner":
        """Opens the connection (apps.connections.open + WebSocket) and returns; the client's
        own threads receive, reconnect on refresh/drop, and ping."""
        self.handler.connect()
        return self

    def is_connected(self) -> bool:
        return self.handler.client.is_connected()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        client = self.handler.client
        client.auto_reconnect_enabled = False
        client.current_session_state.terminated = True
        # slack_sdk's receive loop sits in a recv() with a 3 s timeout while holding the lock
        # close() needs; shutting the socket down first makes that recv return at once.
        session = client.current_session
        sock = getattr(session, "sock", None) if session is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.handler.close()
        _close_services(self.app)


class HttpRunner:
    """bolt's WSGI adapter on waitress, in a background thread, behind bot/http_guard.py
    (body cap, timestamp, signature, payload shape, installation, replays)."""

    def __init__(self, app: App, port: int, host: str = "127.0.0.1", *, threads: int = 16,
                 path: str = "/slack/events", installation=None, ledger=None,
                 max_body: int | None = None):
        """installation: a bot.slack_installation.Installation (default: asked of Slack with
        the app's client); ledger: a bot.replay_ledger.ReplayLedger (default: on the Store)."""
        from waitress.server import create_server

        from .bolt_wsgi import FormSafeRequestHandler
        from .http_guard import MAX_BODY_BYTES, SlackRequestGuard
        from .replay_ledger import ReplayLedger
        from .slack_installation import Installations, learn_installation
        from .slack_oauth_store import SlackInstallationStore

        self.app = app
        self.path = path
        services = getattr(app, "_qbsync_services", None)
        self._own_ledger = ledger is None
        if ledger is None:
            # Its own connection, so an ack never queues behind the Store's lock. A claim lost
            # to a power cut (WAL + synchronous=NORMAL: "durable across application crashes",
            # not always across power loss: https://www.sqlite.org/pragma.html#pragma_synchronous,
            # as summarised in https://learn.microsoft.com/en-us/dotnet/api/android.database.sqlite.sqlitedatabase.syncmodenormal)
            # only reopens a replay window the signature check still bounds to five minutes.
            store = services_of(app).store
            ledger = ReplayLedger(store, db=store.side_connection(synchronous="NORMAL"))
        self.ledger = ledger
        if installation is None:
            # The bot's own client (SLACK_BOT_TOKEN): with Add to Slack the App's has no token.
            client = services.slack if services is not None else app.client
            add_to_slack = isinstance(app.installation_store, SlackInstallationStore)
            # Add to Slack without SLACK_BOT_TOKEN (a hosted install, connections only): no home
            # workspace; only the installed workspaces are accepted.
            home = learn_installation(client) if client.token or not add_to_slack else None
            installation = Installations(home, app.installation_store) if add_to_slack else home
        cap = MAX_BODY_BYTES if max_body is None else int(max_body)
        self.guard = SlackRequestGuard(FormSafeRequestHandler(app, path=path),
                                       signing_secret=services.settings.slack_signing_secret if services else "",
                                       installation=installation, ledger=ledger, path=path, max_body=cap)
        # asyncore_loop_timeout: how long stop() may wait for the server loop to notice.
        # max_request_body_size: waitress buffers a body before the app sees it and allows 1 GB
        # by default; it refuses a body of this size or more (>=), hence cap + 1.
        # channel_timeout / cleanup_interval: a client that sends headers promising a body and
        # then stalls (a lying Content-Length) holds one of waitress' 100 connections
        # (connection_limit) until it has been silent channel_timeout seconds, checked every
        # cleanup_interval (waitress/adjustments.py defaults: 120 s, every 30 s; server.py
        # maintenance() closes a silent channel with no request being answered). 110 such
        # connections kept Slack out for two minutes. Slack sends a request whole and gives up
        # on the answer after 3 s, so SLOW_CLIENT_S of silence is never a real delivery.
        self.server = create_server(self.guard, host=host, port=port, threads=threads,
                                    asyncore_loop_timeout=0.2, ident="qbsync",
                                    max_request_body_size=cap + 1,
                                    channel_timeout=SLOW_CLIENT_S, cleanup_interval=2)
        self.host = host
        self.port = self.server.effective_port
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def start(self) -> "HttpRunner":
        self._thread = threading.Thread(target=self.server.run, name="qbsync-http", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        from waitress import wasyncore

        if self._stopped:
            return
        self._stopped = True
        server = self.server
        server.task_dispatcher.shutdown(timeout=timeout)
        # Close every socket from inside the server's own loop, which then ends (empty map).
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        if self._thread is not None:
            self._thread.join(timeout)
        if self._own_ledger:
            self.ledger.close()
        _close_services(self.app)
