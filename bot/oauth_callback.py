"""The local end of an OAuth 2.0 authorization-code flow, for `qbsync connect quickbooks` and
`qbsync connect hubspot`: listen on the redirect URI's localhost port, print the consent URL
(and open a browser unless told not to), and take the one callback that carries our `state`.

1. Listen before printing the URL, so a busy port fails early.
2. `GET <redirect path>?code=&state=...` (or `?error=access_denied`) arrives once; a wrong
   `state` is refused (it did not come from the URL we printed: RFC 6749 section 10.12) and
   ends the flow, as a refusal does. Other paths (a browser's /favicon.ico) get 404.
3. The caller exchanges the code; nothing is stored here.
"""
from __future__ import annotations

import html
import secrets
import sys
import threading
import webbrowser
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import IO, Callable
from urllib.parse import parse_qs, urlsplit

from .errors import ConfigError, QbsyncError

DEFAULT_TIMEOUT_S = 300
_LOCAL_HOSTS = ("localhost", "127.0.0.1")


class ConnectError(QbsyncError):
    """The consent flow did not complete (timeout, refused, wrong state)."""


@dataclass
class Callback:
    params: dict[str, str] = field(default_factory=dict)   # the callback's query (code, realmId ...)
    error: str | None = None


def redirect_target(redirect_uri: str, setting: str, command: str) -> tuple[str, int, str]:
    """(host, port, path) to listen on; the redirect URI must be local plain http."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in _LOCAL_HOSTS:
        raise ConfigError([
            f"{setting} must be http://localhost:PORT/PATH for `{command}` "
            f"(it runs the callback server itself), got {redirect_uri!r}"])
    return "127.0.0.1", parts.port or 80, parts.path or "/"


class _CallbackServer(HTTPServer):
    """A one-shot server: the first request to the redirect path settles the flow."""

    allow_reuse_address = True

    def __init__(self, host: str, port: int, path: str, state: str, service: str,
                 check: Callable[[dict[str, str]], str | None]):
        self.expected_path = path
        self.expected_state = state
        self.service = service
        self.check = check
        self.result = Callback()
        self.done = threading.Event()
        super().__init__((host, port), _CallbackHandler)


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def log_message(self, format, *args):  # the query holds the authorization code: never log it
        pass

    def _page(self, status: int, title: str, text: str) -> None:
        body = (f"<!doctype html><meta charset=utf-8><title>qbsync</title>"
                f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        parts = urlsplit(self.path)
        if parts.path != srv.expected_path or srv.done.is_set():
            self._page(404, "Not found", f"This is qbsync's one-time {srv.service} callback.")
            return
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        # Constant-time compare: the state is what proves the callback followed our URL.
        if not secrets.compare_digest(q.get("state", ""), srv.expected_state):
            srv.result = Callback(error="the callback's state does not match the consent URL qbsync "
                                        "printed (a stale or forged link); nothing was saved")
            self._page(400, "qbsync: wrong state", "This link did not come from qbsync's consent page.")
            srv.done.set()
            return
        if "error" in q:
            reason = q.get("error", "")
            srv.result = Callback(error=f"{srv.service} answered '{reason}' (consent refused or cancelled); "
                                        "nothing was saved")
            self._page(200, "qbsync: not connected", f"{srv.service} did not grant access. You can close this tab.")
            srv.done.set()
            return
        problem = srv.check(q)
        if problem:
            srv.result = Callback(error=problem)
            self._page(400, "qbsync: incomplete callback", problem)
            srv.done.set()
            return
        srv.result = Callback(params=q)
        self._page(200, f"qbsync: {srv.service} connected",
                   "Access granted. You can close this tab and return to the terminal.")
        srv.done.set()


def run_consent(url: str, *, redirect_uri: str, state: str, service: str, setting: str, command: str,
                check: Callable[[dict[str, str]], str | None], open_browser: bool = True,
                timeout: float = DEFAULT_TIMEOUT_S, out: IO[str] | None = None,
                on_url: Callable[[str], None] | None = None) -> dict[str, str]:
    """Show `url`, wait for the callback on `redirect_uri` with `state`; return its query.
    `check(query)`: a problem with an otherwise good callback (a missing code), or None.
    Raises ConfigError (redirect URI not local) or ConnectError."""
    out = out or sys.stdout
    host, port, path = redirect_target(redirect_uri, setting, command)
    try:
        server = _CallbackServer(host, port, path, state, service, check)
    except OSError as exc:
        raise ConnectError(f"cannot listen on {host}:{port} for the callback ({exc.strerror}); "
                           f"free the port or change {setting} (and the app's redirect URI)") from None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="qbsync-connect-callback", daemon=True)
    thread.start()
    try:
        out.write(f"Open this URL to let qbsync read and write your {service} account:\n\n"
                  f"  {url}\n\n"
                  f"Waiting for {service} to send you back to {redirect_uri} (up to {timeout:.0f} s)...\n")
        out.flush()
        if on_url:
            on_url(url)
        if open_browser:
            try:
                webbrowser.open(url)
            except Exception:  # noqa: S110 - the URL is printed; a missing browser is not an error
                pass
        if not server.done.wait(timeout):
            raise ConnectError(f"no answer from {service} within {timeout:.0f} s; nothing was saved. "
                               f"Run `{command}` again and finish the consent page "
                               f"(check that the app's redirect URI is exactly {redirect_uri}).")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    if server.result.error:
        raise ConnectError(server.result.error)
    return server.result.params
