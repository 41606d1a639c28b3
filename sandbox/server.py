"""HTTP plumbing shared by the sandbox's stand-ins for HubSpot, QuickBooks Online and Slack.

Each stand-in is a `Service`: a list of routes (method + path pattern -> handler). A
`ServiceServer` serves one service on 127.0.0.1 on a port of its own (the real services
live on different hosts, and the official clients are pointed at one host each), counts
every request by service and endpoint, and gives a hook for fault injection.

Nothing here knows about invoices; see hubspot.py, qbo.py.
"""
from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)
    client: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query-string parameter (names are case-sensitive, as on the real APIs)."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        """The body as JSON; raises ValueError (a service answers that with its own 400)."""
        if not self.body:
            raise ValueError("empty body")
        return json.loads(self.body.decode("utf-8"))

    def bearer_token(self) -> str | None:
        auth = self.header("authorization") or ""
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    hdrs = {"Content-Type": "application/json;charset=UTF-8"}
    hdrs.update(headers or {})
    return Response(status, body, hdrs)


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8",
                  headers: dict[str, str] | None = None) -> Response:
    hdrs = {"Content-Type": content_type}
    hdrs.update(headers or {})
    return Response(status, text.encode("utf-8"), hdrs)


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    pattern: str  # e.g. "/crm/v3/objects/{objectType}/{objectId}"
    handler: Handler
    regex: re.Pattern = field(init=False)

    def __post_init__(self):
        parts = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", self.pattern)
        rx = "".join(
            f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts
        )
        self.regex = re.compile(f"^{rx}$")

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.pattern}"


class Service:
    """A stand-in for one remote service. Subclasses list their routes."""

    name = "service"

    def routes(self) -> list[Route]:  # pragma: no cover - abstract
        raise NotImplementedError

    def not_found(self, request: Request) -> Response:
        return json_response(404, {"status": "error", "message": f"No route for {request.method} {request.path}"})

    def before_request(self, request: Request, route: Route) -> Response | None:
        """Hook for auth, rate limits and injected faults; return a Response to answer early."""
        return None

    def tenant_of(self, request: Request) -> str | None:
        """Which company a routed request is for (RequestLog.by_tenant); None: not known."""
        return None


class RequestLog:
    """Counts every request the sandbox receives, by service and endpoint (for benchmarks and tests)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()
        # (service, endpoint, tenant) -> count: which company a request was for (Service.tenant_of)
        self._by_tenant: Counter[tuple[str, str, str]] = Counter()

    def record(self, service: str, endpoint: str, status: int, tenant: str | None = None) -> None:
        with self._lock:
            self._counts[(service, endpoint)] += 1
            self._statuses[(service, status)] += 1
            if tenant is not None:
                self._by_tenant[(service, endpoint, tenant)] += 1

    def by_tenant(self, service: str, endpoints: "set[str] | None" = None) -> dict[str, int]:
        """{tenant: count} of `service`'s requests (only `endpoints`, when given): a QBO
        request's realm id, a HubSpot request's portal id (the token's). Requests without a
        known tenant (auth, OAuth) are not in it."""
        with self._lock:
            out: Counter[str] = Counter()
            for (s, e, t), n in self._by_tenant.items():
                if s == service and (endpoints is None or e in endpoints):
                    out[t] += n
            return dict(out)

    def count(self, service: str | None = None, endpoint: str | None = None) -> int:
        with self._lock:
            return sum(
                n for (s, e), n in self._counts.items()
                if (service is None or s == service) and (endpoint is None or e == endpoint)
            )

    def count_status(self, service: str, status: int) -> int:
        with self._lock:
            return self._statuses[(service, status)]

    def snapshot(self) -> dict[str, dict[str, int]]:
        """{service: {endpoint: count}}"""
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (s, e), n in sorted(self._counts.items()):
                out.setdefault(s, {})[e] = n
            return out

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._statuses.clear()
            self._by_tenant.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Small answers otherwise wait ~40 ms for a delayed ACK (Nagle): every sandbox call would.
    disable_nagle_algorithm = True
    server: "_HTTPServer"

    def log_message(self, format, *args):  # keep test output clean
        pass

    def _dispatch(self):
        server = self.server
        service: Service = server.service
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client=self.client_address[0],
        )
        route, endpoint = None, f"{self.command} <unmatched>"
        for candidate in server.routes:
            if candidate.method != self.command:
                continue
            m = candidate.regex.match(split.path)
            if m:
                route = candidate
                request.path_params = m.groupdict()
                endpoint = candidate.endpoint
                break
        try:
            if route is None:
                response = service.not_found(request)
            else:
                # A FaultPlan (sandbox/faults.py) set on the server answers first, when it draws one.
                faults = server.faults
                response = (faults.apply(service, request, route) if faults is not None else None) \
                    or service.before_request(request, route) or route.handler(request)
        except Exception as exc:  # a sandbox bug must show as a 500, not hang the client
            response = json_response(500, {"status": "error", "message": f"sandbox error: {exc!r}"})
        try:
            tenant = service.tenant_of(request) if route is not None else None
        except Exception:  # counting never breaks an answer
            tenant = None
        server.log.record(service.name, endpoint, response.status, tenant)
        if response.status == -1:  # injected dropped connection
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        self.send_response(response.status)
        for k, v in response.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, service: Service, log: RequestLog, port: int = 0):
        self.service = service
        self.routes = service.routes()
        self.log = log
        self.faults = None  # a sandbox.faults.FaultPlan, or None
        super().__init__(("127.0.0.1", port), _Handler)


class ServiceServer:
    """Serves one Service on 127.0.0.1 in a background thread."""

    def __init__(self, service: Service, log: RequestLog, port: int = 0):
        self.service = service
        self._httpd = _HTTPServer(service, log, port)
        self._thread: threading.Thread | None = None

    @property
    def faults(self):
        """The FaultPlan applied to every routed request (None: none)."""
        return self._httpd.faults

    @faults.setter
    def faults(self, plan) -> None:
        self._httpd.faults = plan

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServiceServer":
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"sandbox-{self.service.name}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
