"""qbsync's QuickBooks Online adapter: every call goes through python-quickbooks' `QuickBooks`
client, tokens come from intuit-oauth's `AuthClient` (via QboTokenManager), and every failure
leaves here as a bot.errors type.

Why a session of our own (`QboSession`):
- python-quickbooks calls `session.request(...)` and reads `session.access_token`
  (QuickBooks.process_request); a plain requests.Session with that attribute is enough, so
  there is no requests_oauthlib session and no need for OAUTHLIB_INSECURE_TRANSPORT to reach
  a local http:// sandbox;
- `access_token` is a property asking the token manager, so each request carries a valid
  token and refreshes happen in one place;
- python-quickbooks throws the HTTP status and headers away; the session remembers the last
  response per thread so errors can be classified (401 vs 403 vs 429 vs 5xx) and
  `intuit_tid` logged;
- a default timeout (python-quickbooks sets none) and query text sent as UTF-8 bytes
  (http.client would encode a str body as Latin-1).

Query text is built only with `quote()`: it escapes backslash and single quote (QBO's escape
character is the backslash; python-quickbooks escapes only the quote).
"""
from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote as url_quote

import requests

from bot.errors import (BOOKS_CLOSED, ApiError, AuthError, BooksClosed, CompanyUnavailable, NotFound, RateLimited,
                        StaleObject, Transient, ValidationFailed, qbo_5010_kind)

from .pacing import PacerFactory, shared_pacer
from .qbo_auth import QboTokenManager

log = logging.getLogger(__name__)

MINOR_VERSION = 75
# QBO allows 10 requests a second and 500 a minute per company; stay a little under both so
# a burst waits milliseconds instead of drawing a 429 and Intuit's 60-second penalty.
# A request is counted when QBO receives it, a little after we send it, and that delay varies
# (and varies more between worker processes on several machines sharing the count,
# bot/adapters/shared_pacing.py): two requests sent exactly a window apart can land inside one
# window. Pacing over a slightly longer window absorbs it (as bot/adapters/hubspot.py does);
# tests/test_shared_rate_limits.py drew 429s from ten processes with (9, 1.0). It costs no
# sustained speed: 480 a minute (8 a second) binds before 9 per 1.1 s does.
WINDOW_MARGIN_S = 0.1
PACE_LIMITS = [(9, 1.0 + WINDOW_MARGIN_S), (480, 60.0 + WINDOW_MARGIN_S)]
THROTTLE_WAIT_S = 60.0  # Intuit: after a 429, wait 60 s (QBO sends no Retry-After we know of)
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_IN_CHUNK = 50  # values per IN (...) list


def quote(value: Any) -> str:
    """A QBO query string literal: '...' with backslash and single quote escaped."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_server_time(stamp: Any) -> datetime | None:
    """QBO's response `time` ("2015-10-26T12:36:25.170-07:00": the server's clock, with the
    company's offset) as an aware datetime; None when absent or unreadable."""
    if not isinstance(stamp, str) or not stamp.strip():
        return None
    try:
        dt = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None  # no offset: we cannot place it in time


class CdcAnswer(dict):
    """{entity: [changed objects]} from one CDC call, plus `server_time`: QBO's clock when it
    answered (the IntuitResponse `time`), None if the answer had none. A dict, so callers
    that only want the objects need not know about the time."""

    server_time: datetime | None = None


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


class QboSession(requests.Session):
    """The HTTP session python-quickbooks uses (see module doc)."""

    def __init__(self, token_source: Callable[[], str], timeout: float = 30.0, pacer=None):
        super().__init__()
        self._token_source = token_source
        self._pacer = pacer
        self.default_timeout = timeout
        self._local = threading.local()

    @property
    def access_token(self) -> str:  # read by QuickBooks.process_request before each call
        token = self._token_source()
        self._local.sent_token = token
        return token

    @property
    def sent_token(self) -> str | None:
        return getattr(self._local, "sent_token", None)

    @property
    def last_response(self) -> requests.Response | None:
        return getattr(self._local, "last", None)

    def forget_last(self) -> None:
        self._local.last = None
        self._local.sent_token = None

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.default_timeout)
        if isinstance(kwargs.get("data"), str):
            kwargs["data"] = kwargs["data"].encode("utf-8")
        if self._pacer is not None:
            self._pacer.wait()
        response = super().request(method, url, *args, **kwargs)
        self._local.last = response
        return response


class QuickBooksAdapter:
    """QBO for the rest of qbsync. Methods raise only bot.errors types."""

    def __init__(self, client_id: str | None, client_secret: str | None, realm_id: str | None,
                 refresh_token: str | None, environment: str, store, api_base: str | None = None, *,
                 minorversion: int = MINOR_VERSION,
                 timeout: float = 30.0, max_attempts: int = 4, sleep: Callable[[float], None] = time.sleep,
                 throttle_wait: float = THROTTLE_WAIT_S, backoff_base: float = 1.0, backoff_cap: float = 30.0,
                 redirect_uri: str = "http://localhost:8000/qbo/callback",
                 clock: Callable[[], float] = time.time, pace_limits: list[tuple[int, float]] | None = None,
                 pacers: PacerFactory | None = None):
        """pacers: (key, limits) -> pacer; by default the process-wide one per company
        (bot/adapters/pacing.py), with PostgreSQL one counted in the database for every worker
        (bot/adapters/shared_pacing.py, chosen in bot/wiring.py)."""
        from intuitlib.client import AuthClient
        from quickbooks import QuickBooks

        self.realm_id = str(realm_id)
        self._seen = threading.local()  # per thread: the server time of its last answer
        self.max_attempts = max(1, int(max_attempts))
        self._sleep = sleep
        self.throttle_wait = float(throttle_wait)
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)

        def make_auth_client():
            return AuthClient(client_id=client_id, client_secret=client_secret, redirect_uri=redirect_uri,
                              environment=environment)

        self.tokens = QboTokenManager(make_auth_client, store, self.realm_id, refresh_token, clock=clock)
        self.pacer = (pacers or shared_pacer)(f"qbo:{api_base or environment}:{self.realm_id}",
                                              pace_limits if pace_limits is not None else PACE_LIMITS)
        self.session = QboSession(self.tokens.access_token, timeout=timeout, pacer=self.pacer)
        qb = QuickBooks(company_id=self.realm_id, minorversion=minorversion)
        qb.session = self.session
        qb.sandbox = environment == "sandbox"
        if api_base:
            qb.api_url_v3 = qb.sandbox_api_url_v3 = api_base.rstrip("/")
        self._qb = qb

    # -- reads ----------------------------------------------------------------------------
    def company_info(self) -> dict:
        return self._call("companyinfo", lambda qb: qb.get_single_object("CompanyInfo", self.realm_id))["CompanyInfo"]

    def preferences(self) -> dict:
        url = f"{self._qb.api_url}/company/{self.realm_id}/preferences"
        return self._call("preferences", lambda qb: qb.get(url))["Preferences"]

    def query(self, sql: str) -> list[dict]:
        """One page of a query (QBO's default page is 100 rows; say MAXRESULTS)."""
        response = self._call("query", lambda qb: qb.query(sql)).get("QueryResponse") or {}
        for _key, value in response.items():
            if isinstance(value, list):
                return value
        return []

    def count(self, entity: str, where: str = "") -> int:
        sql = f"SELECT COUNT(*) FROM {self._entity(entity)}" + (f" WHERE {where}" if where else "")
        response = self._call("query", lambda qb: qb.query(sql)).get("QueryResponse") or {}
        return int(response.get("totalCount") or 0)

    def query_all(self, entity: str, where: str = "", order_by: str | None = None,
                  page_size: int = 1000) -> Iterator[dict]:
        """Every matching record, page by page (STARTPOSITION) until a short page."""
        entity = self._entity(entity)
        page_size = max(1, min(int(page_size), 1000))
        base = f"SELECT * FROM {entity}" + (f" WHERE {where}" if where else "")
        if order_by:
            base += f" ORDERBY {order_by}"
        start = 1
        while True:
            rows = self.query(f"{base} STARTPOSITION {start} MAXRESULTS {page_size}")
            yield from rows
            if len(rows) < page_size:
                return
            start += page_size

    def get(self, entity: str, record_id: str) -> dict:
        entity = self._entity(entity)
        rid = url_quote(str(record_id), safe="")
        return self._call(f"get {entity}", lambda qb: qb.get_single_object(entity, rid))[entity]

    def customers_by_email(self, emails: Iterable[str]) -> dict[str, list[dict]]:
        """{lower-cased email: [active customers whose PrimaryEmailAddr is it]}, one entry per
        email asked for (empty list: nobody has it)."""
        wanted = {e.strip().lower() for e in emails if e and e.strip()}
        out: dict[str, list[dict]] = {e: [] for e in sorted(wanted)}
        # Ask for the spelling given and the lower-cased one: QBO may compare case-sensitively.
        spellings = sorted({e.strip() for e in emails if e and e.strip()} | wanted)
        seen: set[str | None] = set()
        for chunk in _chunks(spellings, _IN_CHUNK):
            where = f"PrimaryEmailAddr IN ({', '.join(quote(e) for e in chunk)})"
            for customer in self.query_all("Customer", where):
                address = ((customer.get("PrimaryEmailAddr") or {}).get("Address") or "").strip().lower()
                if address in out and customer.get("Id") not in seen:
                    seen.add(customer.get("Id"))
                    out[address].append(customer)
        return out

    def names_in_use(self, display_names: Iterable[str]) -> list[tuple[str, dict]]:
        """Customers, vendors and employees (active or not) holding any of these names."""
        names = sorted({n for n in display_names if n and n.strip()})
        found: list[tuple[str, dict]] = []
        for entity in ("Customer", "Vendor", "Employee"):
            for chunk in _chunks(names, _IN_CHUNK):
                where = f"DisplayName IN ({', '.join(quote(n) for n in chunk)}) AND Active IN (true, false)"
                found.extend((entity, r) for r in self.query_all(entity, where))
        return found

    def documents_by_doc_number(self, numbers: Iterable[str]) -> list[tuple[str, dict]]:
        """Invoices and credit memos carrying any of these DocNumbers."""
        docs = sorted({str(n) for n in numbers if n not in (None, "")})
        found: list[tuple[str, dict]] = []
        for entity in ("Invoice", "CreditMemo"):
            for chunk in _chunks(docs, _IN_CHUNK):
                where = f"DocNumber IN ({', '.join(quote(d) for d in chunk)})"
                found.extend((entity, r) for r in self.query_all(entity, where))
        return found

    def cdc(self, entities: Iterable[str], changed_since: datetime) -> CdcAnswer:
        """{entity: [changed objects]} since `changed_since` (deleted ones carry status "Deleted"),
        with `.server_time` (QBO's clock at the answer: the base for the next cursor).
        QBO answers at most 1,000 objects and looks back at most 30 days."""
        names = [self._entity(e) for e in entities]
        if changed_since.tzinfo is None:
            changed_since = changed_since.replace(tzinfo=timezone.utc)
        since = changed_since.isoformat(timespec="seconds")
        result = self._call("cdc", lambda qb: qb.change_data_capture(",".join(names), since))
        out = CdcAnswer({n: [] for n in names})
        out.server_time = parse_server_time(result.get("time"))
        for block in result.get("CDCResponse") or []:
            for response in block.get("QueryResponse") or []:
                for key, value in response.items():
                    if isinstance(value, list):
                        out.setdefault(key, []).extend(value)
        return out

    # -- writes ---------------------------------------------------------------------------
    def create(self, entity: str, body: dict, *, request_id: str) -> dict:
        entity = self._entity(entity)
        payload = json.dumps(body, ensure_ascii=False)
        result = self._call(f"create {entity}",
                            lambda qb: qb.create_object(entity, payload, request_id=self._rid(request_id)))
        return result[entity]

    def update(self, entity: str, body: dict, *, request_id: str, sparse: bool = False) -> dict:
        """Full update (sparse=False) replaces the object: send every field you want kept."""
        entity = self._entity(entity)
        if not body.get("Id") or body.get("SyncToken") in (None, ""):
            raise ValueError("an update needs Id and SyncToken")
        body = dict(body)
        if sparse:
            body["sparse"] = True
        payload = json.dumps(body, ensure_ascii=False)
        result = self._call(f"update {entity}",
                            lambda qb: qb.update_object(entity, payload, request_id=self._rid(request_id)))
        return result[entity]

    def update_preferences(self, body: dict, *, request_id: str) -> dict:
        payload = json.dumps(body, ensure_ascii=False)
        result = self._call("update Preferences",
                            lambda qb: qb.update_object("Preferences", payload, request_id=self._rid(request_id)))
        return result["Preferences"]

    def refresh_token_days_left(self) -> float | None:
        return self.tokens.refresh_token_days_left()

    def last_server_time(self) -> datetime | None:
        """QBO's clock (`time`) in the last successful answer this thread received, if any."""
        return getattr(self._seen, "time", None)

    # -- plumbing -------------------------------------------------------------------------
    @staticmethod
    def _entity(entity: str) -> str:
        if not isinstance(entity, str) or not _IDENT.match(entity) or "." in entity:
            raise ValueError(f"not a QBO entity name: {entity!r}")
        return entity

    @staticmethod
    def _rid(request_id: str) -> str:
        if not request_id or not str(request_id).strip():
            raise ValueError("writes need a request_id (QBO's requestid makes retries safe)")
        return str(request_id)

    def _call(self, what: str, fn: Callable[[Any], dict]) -> dict:
        """Run one client call with qbsync's error mapping and retry policy:
        401 -> refresh once and retry; 429 -> wait and retry; 5xx/network -> backoff and retry."""
        from quickbooks.exceptions import QuickbooksException

        attempt = 0
        refreshed = False
        rejected: str | None = None
        while True:
            attempt += 1
            self.session.forget_last()
            try:
                if rejected is not None:
                    self.tokens.force_refresh(rejected)
                    rejected = None
                result = fn(self._qb)
                if isinstance(result, dict):
                    self._seen.time = parse_server_time(result.get("time"))
                return result
            except QuickbooksException as exc:
                err = self._classify(what, exc)
            except requests.RequestException as exc:
                err = Transient("qbo", f"{what}: {type(exc).__name__} talking to QuickBooks",
                                quoted=type(exc).__name__)
            except ApiError as exc:  # from the token manager (AuthError, Transient)
                err = exc
            if isinstance(err, AuthError) and err.status == 401 and not refreshed:
                # The access token was refused (expired early, revoked, clock skew): refresh
                # once and retry; a second 401 is a real authentication failure.
                refreshed = True
                rejected = self.session.sent_token or ""
                attempt -= 1  # the refresh-and-retry is not one of the max_attempts
                continue
            if attempt >= self.max_attempts or not isinstance(err, (RateLimited, Transient)):
                raise err
            wait = err.retry_after if isinstance(err, RateLimited) else self._backoff(attempt)
            log.warning("qbo: %s: %s; retrying in %.1f s (attempt %d of %d)", what, err, wait, attempt + 1,
                        self.max_attempts)
            self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - "equal jitter" for retries, not a secret

    def _classify(self, what: str, exc) -> ApiError:
        response = self.session.last_response
        status = response.status_code if response is not None else None
        raw = response.text[:2000] if response is not None else str(exc)
        tid = response.headers.get("intuit_tid") if response is not None else None
        code = str(exc.error_code) if getattr(exc, "error_code", None) not in (None, "", 0) else None
        message = str(getattr(exc, "message", "") or exc)
        detail = str(getattr(exc, "detail", "") or "")
        element = ""
        if response is not None:
            try:
                error = (response.json().get("Fault") or {}).get("Error") or [{}]
                element = error[0].get("element") or ""
            except (ValueError, AttributeError):
                pass
        if tid:
            log.info("qbo: %s failed: HTTP %s code %s (intuit_tid %s)", what, status, code, tid)
        prefix = f"{what}: "
        if status == 401:
            return AuthError("qbo", prefix + "QuickBooks rejected the access token (AuthenticationFailed). "
                             "If this persists: run `qbsync connect quickbooks`.",
                             status=401, code="3200", raw=raw, words="qbo_token_rejected")
        if status == 403:
            return AuthError("qbo", prefix + "QuickBooks refused access to this company: check QBO_REALM_ID, "
                                             "or run `qbsync connect quickbooks` to reconnect it",
                             status=403, code="3100", raw=raw, words="qbo_company_refused")
        if status == 429 or code == "3001":
            retry_after = self.throttle_wait
            header = response.headers.get("Retry-After") if response is not None else None
            if header:
                try:
                    retry_after = max(0.0, float(header))
                except ValueError:
                    pass
            return RateLimited("qbo", prefix + "QuickBooks throttled us (ThrottleExceeded)", retry_after=retry_after,
                               status=status, code="3001", detail=detail, raw=raw, quoted="ThrottleExceeded")
        if status is not None and status >= 500:
            return Transient("qbo", prefix + message, status=status, code=code, detail=detail, raw=raw,
                             quoted=message)
        if code is not None and code.isdigit():
            n = int(code)
            if n == 610:
                return NotFound("qbo", message, status=status, code=code, detail=detail, raw=raw)
            if n == 5010:
                # 5010 is also "Account Period Closed" (python-quickbooks#208): only the words
                # tell it from a stale SyncToken, and retrying cannot fix closed books.
                kind = BooksClosed if qbo_5010_kind(message, detail) == BOOKS_CLOSED else StaleObject
                return kind("qbo", message, status=status, code=code, detail=detail, element=element, raw=raw)
            if n == 6190:
                # "Invalid Company Status ... Subscription period has ended or cancelled or
                # there was a billing problem" (intuit/QuickBooks-V3-PHP-SDK#211).
                return CompanyUnavailable("qbo", message, status=status, code=code, detail=detail, raw=raw)
            if 0 < n <= 499 or n in (3100, 3200):
                return AuthError("qbo", prefix + message, status=status, code=code, detail=detail, raw=raw,
                                 quoted=message)
            if n == 10000 and status in (None, 200):
                # python-quickbooks' own code for "not JSON" / unexpected status
                return Transient("qbo", prefix + message, status=status, code=code, raw=raw, quoted=message)
        return ValidationFailed("qbo", message, status=status, code=code, detail=detail,
                                element=element, raw=raw)
