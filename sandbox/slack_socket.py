"""Socket Mode for the Slack stand-in: the WebSocket server that apps.connections.open points to.

What Slack does, and so what this does (Slack's "Using Socket Mode" guide):
- apps.connections.open (app-level token) returns a one-time URL `wss://.../link/?ticket=...`;
  here `ws://127.0.0.1:PORT/link/?ticket=...&app_id=...` (no TLS in the sandbox; slack_sdk's
  built-in client uses a plain socket on any port but 443). A ticket works once.
- On connect the server sends `{"type": "hello", "num_connections": n, "connection_info":
  {"app_id": ...}, "debug_info": {...}}`.
- Each delivery is an envelope `{"envelope_id", "type": "slash_commands" | "interactive" |
  "events_api", "payload", "accepts_response_payload"}` (events also carry retry_attempt and
  retry_reason) sent to one of the app's open connections; the app acknowledges with
  `{"envelope_id": ..., "payload": {...}}` (payload optional) within 3 seconds, or Slack shows
  the user an error. `deliver()` waits for that ack and returns it with the time it took;
  envelopes not acknowledged in time are kept in `unacked`.
- Slack refreshes connections now and then: it sends `{"type": "disconnect", "reason":
  "refresh_requested"}`, the client opens a new connection, and Slack closes the old one
  (`refresh()`); a dropped connection (`drop()`) must be noticed and replaced by the client.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from .slack_workspace import APP_ID, Workspace


class NotConnected(RuntimeError):
    """No Socket Mode connection is open: the bot is not running (or not in Socket Mode)."""


@dataclass
class Ack:
    envelope_id: str
    type: str
    envelope: dict
    acked: bool
    payload: dict | None       # what the app put in its ack (e.g. a slash command's reply)
    elapsed_s: float           # delivery to ack (or to the timeout)
    connection: int | None


@dataclass
class _Conn:
    id: int
    ws: ServerConnection
    opened_at: float
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    draining: bool = False     # told to go away: no more deliveries to it


@dataclass
class _Pending:
    envelope: dict
    sent_at: float
    conn_id: int
    done: threading.Event = field(default_factory=threading.Event)
    ack: dict | None = None


class SocketModeServer:
    def __init__(self, workspace: Workspace, *, host: str = "127.0.0.1", drain_s: float = 5.0):
        self.ws = workspace
        self.host = host
        self.drain_s = drain_s              # how long a refreshed connection may linger
        self._server = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._conns: dict[int, _Conn] = {}
        self._conn_ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._round_robin = itertools.count()
        self._changed = threading.Condition(self._lock)
        self.connects = 0                   # connections ever opened (reconnects show here)
        self.rejected = 0                   # handshakes refused (bad or reused ticket)
        self.acks: list[Ack] = []
        self.unacked: list[dict] = []       # envelopes not acknowledged in time
        self.late_acks: list[dict] = []     # acks that came after deliver() gave up

    # ---- life cycle ------------------------------------------------------------------------
    def start(self) -> "SocketModeServer":
        if self._server is None:
            self._server = serve(self._handle, self.host, 0, process_request=self._check_ticket,
                                 compression=None, ping_interval=None, close_timeout=1,
                                 server_header="sandbox-slack-applink")
            self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-slack-socket",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            if self._thread:
                self._thread.join(timeout=5)
            self._server = None
        with self._changed:
            for p in self._pending.values():
                p.done.set()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.socket.getsockname()[1]

    def issue_url(self) -> str:
        """A one-time WebSocket URL (what apps.connections.open returns)."""
        ticket = str(uuid.uuid4())
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"

    # ---- connections -----------------------------------------------------------------------
    def _check_ticket(self, connection: ServerConnection, request):
        query = parse_qs(urlsplit(request.path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self._lock:
            if ticket in self._tickets:
                self._tickets.discard(ticket)
                return None
            self.rejected += 1
        return connection.respond(401, "invalid ticket\n")

    def _handle(self, ws: ServerConnection) -> None:
        with self._changed:
            conn = _Conn(next(self._conn_ids), ws, time.monotonic())
            self._conns[conn.id] = conn
            self.connects += 1
            live = sum(1 for c in self._conns.values() if not c.draining)
        try:
            self._send(conn, {"type": "hello", "num_connections": live,
                              "debug_info": {"host": "applink-sandbox", "build_number": 1,
                                             "approximate_connection_time": 18060},
                              "connection_info": {"app_id": APP_ID}})
            with self._changed:
                self._changed.notify_all()
            for raw in ws:
                self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._conns.pop(conn.id, None)
                for p in self._pending.values():  # sent on this connection: no ack will come
                    if p.conn_id == conn.id and p.ack is None:
                        p.done.set()
                self._changed.notify_all()

    def _send(self, conn: _Conn, message: dict) -> None:
        with conn.send_lock:
            conn.ws.send(json.dumps(message))

    def _on_message(self, raw) -> None:
        try:
            msg = json.loads(raw)
        except (TypeError, ValueError):
            return
        if not isinstance(msg, dict) or "envelope_id" not in msg:
            return
        with self._changed:
            pending = self._pending.get(msg["envelope_id"])
            if pending is None:
                self.late_acks.append(msg)
                return
            pending.ack = msg
            pending.done.set()

    @property
    def connection_count(self) -> int:
        """Connections that get deliveries (open, not told to go away)."""
        with self._lock:
            return sum(1 for c in self._conns.values() if not c.draining)

    @property
    def open_count(self) -> int:
        """All open connections, including ones told to go away that the app has not closed yet.
        (slack_sdk's built-in client takes up to its 3-second receive timeout to let go of the
        old connection after a refresh; envelopes sent meanwhile wait in the new one.)"""
        with self._lock:
            return len(self._conns)

    def wait_connected(self, timeout: float = 5.0, count: int = 1) -> bool:
        """Wait until the app has `count` live connections (after hello)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(1 for c in self._conns.values() if not c.draining) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def refresh(self, reason: str = "refresh_requested") -> None:
        """Ask every open connection to go away (Slack's periodic refresh); the client opens a
        new one. Connections still open after `drain_s` are closed."""
        with self._lock:
            conns = [c for c in self._conns.values() if not c.draining]
            for c in conns:
                c.draining = True
        for c in conns:
            try:
                self._send(c, {"type": "disconnect", "reason": reason,
                               "debug_info": {"host": "applink-sandbox"}})
            except ConnectionClosed:
                pass
            timer = threading.Timer(self.drain_s, self._close, args=(c,))
            timer.daemon = True
            timer.start()

    def drop(self) -> None:
        """Close every connection at once, without a disconnect message (a network drop)."""
        with self._lock:
            conns = list(self._conns.values())
        for c in conns:
            self._close(c)

    @staticmethod
    def _close(conn: _Conn) -> None:
        try:
            conn.ws.close(1001, "going away")
        except Exception:  # already gone
            pass

    # ---- deliveries --------------------------------------------------------------------------
    def deliver(self, kind: str, payload: dict, *, accepts_response_payload: bool = False,
                timeout: float = 3.0, retry_attempt: int | None = None, retry_reason: str | None = None,
                connect_wait: float = 5.0) -> Ack:
        """Send one envelope to one live connection and wait up to `timeout` for its ack."""
        envelope = {"envelope_id": str(uuid.uuid4()), "payload": payload, "type": kind,
                    "accepts_response_payload": accepts_response_payload}
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        if not self.wait_connected(connect_wait):
            raise NotConnected("no Socket Mode connection is open (is the bot running in socket mode?)")
        with self._changed:
            live = [c for c in self._conns.values() if not c.draining]
            if not live:
                raise NotConnected("the Socket Mode connection went away")
            conn = live[next(self._round_robin) % len(live)]
            pending = _Pending(envelope, time.monotonic(), conn.id)
            self._pending[envelope["envelope_id"]] = pending
        try:
            self._send(conn, envelope)
            acked = pending.done.wait(timeout) and pending.ack is not None
        except ConnectionClosed:
            acked = False
        elapsed = time.monotonic() - pending.sent_at
        with self._changed:
            self._pending.pop(envelope["envelope_id"], None)
            ack = Ack(envelope["envelope_id"], kind, envelope, acked,
                      (pending.ack or {}).get("payload") if acked else None, elapsed, conn.id)
            self.acks.append(ack)
            if not acked:
                self.unacked.append(envelope)
        return ack
