"""QuickBooks Online OAuth tokens: keep a valid access token, and never lose the refresh token.

Intuit's refresh can hand back a NEW refresh token and retire the old one. Losing the new one
(a crash between the refresh and the save) means a person must reconnect the books, so a
refresh persists the new token set to the Store before the new access token is used or
returned. The Store is the source of truth: every process that shares the database (bot,
CLI) reads the latest chain from it before refreshing.

Refreshes are one at a time across processes too (Store.qbo_token_lock: an advisory lock on
PostgreSQL, a file lock on SQLite), and the chain is read again once the lock is held. The
listener and a worker both finding the access token expired used to refresh with the same
refresh token; the second got invalid_grant and, when the first had not saved its new tokens
yet, reported "reconnect the books" and failed its scan (the multi-company benchmark under
load). The in-process lock stays in front, so threads of one process queue without opening a
database connection each.

The operator configures a "seed" refresh token (from `qbsync connect quickbooks` or Intuit's
OAuth playground). Its sha256 is kept as `seed_hash`: when the configured seed changes, the
operator pasted a new one, and the chain restarts from it.

Never log a token.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import requests

from bot.errors import AuthError, Transient

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 60  # refresh this long before the access token expires
RECONNECT_HINT = "Reconnect the books: run `qbsync connect quickbooks`."
# Another process's refresh (one HTTP call and one save) takes well under a second; past this
# the holder is stuck, and the caller is told to try later rather than wait on it.
SHARED_LOCK_WAIT_S = 60.0
# intuitlib's AuthClient is a requests.Session whose token calls pass no timeout
# (intuitlib/utils.py send_request: session.request(method, url, headers=..., data=...)), so a
# connection Intuit never answers would hang the refresh, and the shared lock with it.
TOKEN_CALL_TIMEOUT_S = 30.0


def with_timeout(client, seconds: float | None = None):
    """`client` (a requests.Session) with `seconds` (TOKEN_CALL_TIMEOUT_S) as the timeout of
    every request that names none."""
    seconds = TOKEN_CALL_TIMEOUT_S if seconds is None else seconds
    if isinstance(client, requests.Session):
        plain = client.request

        def request(method, url, **kwargs):
            kwargs.setdefault("timeout", seconds)
            return plain(method, url, **kwargs)

        client.request = request  # type: ignore[method-assign,assignment]
    return client


def seed_hash(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()


class QboTokenManager:
    """Gives out valid QBO access tokens; refreshes one at a time (a lock), persisting first.

    auth_client_factory: () -> intuitlib AuthClient (built lazily, once: building it fetches
    Intuit's discovery document). store: has load_qbo_tokens/save_qbo_tokens.
    """

    def __init__(self, auth_client_factory: Callable[[], Any], store, realm_id: str,
                 seed_refresh_token: str | None, clock: Callable[[], float] = time.time):
        self._factory = auth_client_factory
        self._auth_client = None
        self._store = store
        self._realm_id = str(realm_id)
        self._seed = (seed_refresh_token or "").strip()
        self._seed_hash = seed_hash(self._seed) if self._seed else None
        self._clock = clock
        self._lock = threading.RLock()
        self._tokens: dict | None = None

    # -- public ---------------------------------------------------------------------------
    def access_token(self) -> str:
        """A valid access token, refreshing when it is expired or within 60 s of expiry."""
        with self._lock:
            tokens = self._tokens if self._tokens is not None else self._load()
            if self._usable(tokens):
                return tokens["access_token"]
            self._client()  # built (Intuit's discovery document read) before holding the shared lock
            with self._shared_lock():
                # Another process may have refreshed meanwhile, or while we waited for the
                # lock: look at the store first.
                tokens = self._load()
                if self._usable(tokens):
                    return tokens["access_token"]
                return self._refresh(tokens)

    def force_refresh(self, rejected_token: str | None = None) -> str:
        """After an HTTP 401. If another thread or process already replaced the rejected
        token, use that one instead of refreshing again."""
        with self._lock:
            self._client()  # built before holding the shared lock, as in access_token
            with self._shared_lock():
                tokens = self._load()
                if rejected_token and tokens.get("access_token") not in (None, rejected_token) and \
                        self._usable(tokens):
                    return tokens["access_token"]
                return self._refresh(tokens)

    def refresh_token_days_left(self) -> float | None:
        """Days until the refresh token expires (100-day rolling lifetime), None if unknown."""
        with self._lock:
            tokens = self._tokens if self._tokens is not None else self._load()
            expires = tokens.get("refresh_expires_at")
            if not expires:
                return None
            return (float(expires) - self._clock()) / 86400.0

    # -- internals ------------------------------------------------------------------------
    @contextmanager
    def _shared_lock(self) -> Iterator[None]:
        from bot.store.db import LockBusy

        try:
            with self._store.qbo_token_lock(self._realm_id, timeout_s=SHARED_LOCK_WAIT_S):
                yield
        except LockBusy:
            raise Transient("qbo", f"Another qbsync process has been refreshing the QuickBooks token for "
                                   f"{SHARED_LOCK_WAIT_S:.0f} s; trying again later.", words="qbo_refresh_busy",
                            values={"seconds": f"{SHARED_LOCK_WAIT_S:.0f}"}) from None

    def _usable(self, tokens: dict) -> bool:
        return bool(tokens.get("access_token")) and \
            float(tokens.get("access_expires_at") or 0) - REFRESH_MARGIN_S > self._clock()

    def _load(self) -> dict:
        stored = self._store.load_qbo_tokens(self._realm_id)
        if stored and (self._seed_hash is None or stored.get("seed_hash") == self._seed_hash):
            self._tokens = dict(stored)
        elif self._seed:
            # First use, or the operator pasted a new refresh token: start the chain from it.
            if stored:
                log.info("qbo: configured refresh token changed; starting from it")
            self._tokens = {"access_token": None, "access_expires_at": 0.0, "refresh_token": self._seed,
                            "refresh_expires_at": None, "seed_hash": self._seed_hash, "updated_at": self._clock()}
        else:
            raise AuthError("qbo", f"No QuickBooks refresh token is configured or stored. {RECONNECT_HINT}",
                            words="qbo_no_refresh_token")
        return self._tokens

    def _client(self):
        if self._auth_client is None:
            try:
                self._auth_client = with_timeout(self._factory())
            except requests.RequestException as exc:
                raise Transient("qbo", "Could not reach Intuit's OAuth discovery document: "
                                       f"{type(exc).__name__}", quoted=type(exc).__name__) from exc
            except Exception as exc:  # intuitlib raises AuthClientError for a non-200 answer
                status = getattr(exc, "status_code", None)
                if status is not None and (status >= 500 or status == 429):
                    raise Transient("qbo", f"Intuit's OAuth discovery document answered HTTP {status}",
                                    status=status, quoted=f"HTTP {status}") from exc
                raise
        return self._auth_client

    def _refresh(self, tokens: dict, retried: bool = False) -> str:
        from intuitlib.exceptions import AuthClientError  # imported here: optional at import time

        client = self._client()
        used = tokens["refresh_token"]
        try:
            client.refresh(refresh_token=used)
        except AuthClientError as exc:
            body = (exc.content or b"").decode("utf-8", "replace")[:500]
            if exc.status_code == 400 and "invalid_grant" in body:
                # Maybe another process rotated the token after we read it: try the stored one.
                stored = self._store.load_qbo_tokens(self._realm_id)
                if not retried and stored and stored.get("refresh_token") not in (None, used) and \
                        (self._seed_hash is None or stored.get("seed_hash") == self._seed_hash):
                    self._tokens = dict(stored)
                    if self._usable(self._tokens):
                        return self._tokens["access_token"]
                    return self._refresh(self._tokens, retried=True)
                raise AuthError("qbo", "QuickBooks refused the refresh token (invalid_grant): it was revoked, "
                                       f"expired or already used. {RECONNECT_HINT}",
                                status=400, code="invalid_grant", raw=body, words="qbo_refresh_refused") from exc
            if exc.status_code == 401:
                raise AuthError("qbo", "Intuit rejected the app's client id/secret (invalid_client). Check "
                                       "QBO_CLIENT_ID and QBO_CLIENT_SECRET.", status=401,
                                code="invalid_client", raw=body, words="qbo_client_refused") from exc
            if exc.status_code >= 500 or exc.status_code == 429:
                raise Transient("qbo", f"Intuit's token endpoint answered HTTP {exc.status_code}",
                                status=exc.status_code, raw=body, quoted=f"HTTP {exc.status_code}") from exc
            raise AuthError("qbo", f"Token refresh failed with HTTP {exc.status_code}. {RECONNECT_HINT}",
                            status=exc.status_code, raw=body, words="qbo_refresh_failed",
                            values={"status": exc.status_code}) from exc
        except requests.RequestException as exc:
            raise Transient("qbo", f"Could not reach Intuit's token endpoint: {type(exc).__name__}",
                            quoted=type(exc).__name__) from exc
        now = self._clock()
        new = {
            "access_token": client.access_token,
            "access_expires_at": now + float(client.expires_in or 3600),
            "refresh_token": client.refresh_token or used,
            "refresh_expires_at": now + float(client.x_refresh_token_expires_in)
            if client.x_refresh_token_expires_in else tokens.get("refresh_expires_at"),
            "seed_hash": tokens.get("seed_hash") or self._seed_hash or "",
            "updated_at": now,
        }
        # Durable before anyone uses the new access token: if this raises, the caller gets
        # the error and the new tokens are not used.
        self._store.save_qbo_tokens(self._realm_id, new)
        self._tokens = new
        log.info("qbo: access token refreshed (refresh token %s)",
                 "rotated" if new["refresh_token"] != used else "unchanged")
        return new["access_token"]
