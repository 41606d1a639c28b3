"""qbsync's own typed errors. Adapters turn client-package exceptions into these, so the
rest of the bot never imports hubspot/quickbooks exception classes or parses their text.
"""
from __future__ import annotations

import re


class QbsyncError(Exception):
    """Base class for errors qbsync knows how to explain."""


class ConfigError(QbsyncError):
    """One or more settings are missing or malformed. `problems` lists every one."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class ApiError(QbsyncError):
    """A remote API refused or failed a request.

    service: "hubspot" | "qbo" | "slack"; status: HTTP status when known;
    code: the service's own error code when known (QBO fault code as a string, e.g. "6240").
    """

    def __init__(self, service: str, message: str, *, status: int | None = None,
                 code: str | None = None, detail: str = "", raw: str = "",
                 words: str = "", values: dict | None = None, quoted: str | None = None):
        self.service = service
        self.message = message  # English, for logs and the terminal
        self.status = status
        self.code = code
        self.detail = detail
        self.raw = raw  # the body as received (may hold untrusted text: escape before Slack)
        # What a Slack reader is told (rules/refusals.py, in their language): `words` names
        # qbsync's own sentence there, `values` its placeholders; `quoted` is what the service
        # itself said, shown as it came (by default the whole message; "" when qbsync wrote
        # all of it).
        self.words = words
        self.values = dict(values or {})
        self.quoted = ("" if words else message) if quoted is None else quoted
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"{self.service}"]
        if self.status:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code {self.code}")
        head = " ".join(parts)
        text = self.message + (f" ({self.detail})" if self.detail and self.detail != self.message else "")
        return f"{head}: {text}"


class AuthError(ApiError):
    """Credentials are missing, expired or revoked, and a refresh did not help."""


class RateLimited(ApiError):
    """The service throttled us. `retry_after` is seconds to wait (from the service, or its documented window)."""

    def __init__(self, service: str, message: str, *, retry_after: float, **kw):
        self.retry_after = float(retry_after)
        super().__init__(service, message, **kw)


class NotFound(ApiError):
    """The record does not exist (HubSpot 404, QBO 610)."""


class ValidationFailed(ApiError):
    """The service refused the request as invalid (QBO faults 2000-6999, HubSpot 400/409).
    `code` carries the QBO fault code, `detail` its Detail text, `element` the field it names."""

    def __init__(self, service: str, message: str, *, element: str = "", **kw):
        self.element = element
        super().__init__(service, message, **kw)


class StaleObject(ValidationFailed):
    """QBO 5010: the SyncToken we sent is not the current one. Re-read and retry."""


class BooksClosed(ValidationFailed):
    """QBO refused a write dated inside closed books ("Account Period Closed"). QBO sends
    it as fault 5010 too (python-quickbooks#208), but it is no stale object: re-reading and
    retrying cannot help; the closing date (AccountingInfoPrefs.BookCloseDate) must move or
    the transaction date must change, an accountant's decision."""


# "Account Period Closed" / "The account period has closed. ..." (python-quickbooks#208;
# vendor help pages quoted in /work/shared/knowledge/real-failures.md, `books-closed`).
_BOOKS_CLOSED = re.compile(r"account(?:ing)? period (?:has |is )?closed", re.I)
STALE_OBJECT, BOOKS_CLOSED = "stale-object", "books-closed"


def qbo_5010_kind(*texts: str | None) -> str:
    """What a QBO fault 5010 means, from its Message/Detail: BOOKS_CLOSED when the words say
    the account period is closed, else STALE_OBJECT (the code's usual meaning)."""
    return BOOKS_CLOSED if any(t and _BOOKS_CLOSED.search(str(t)) for t in texts) else STALE_OBJECT


class CompanyUnavailable(ApiError):
    """QBO fault 6190 "Invalid Company Status": the company's subscription or trial ended, was
    cancelled, or has a billing problem, and QBO refuses to add data ("You can't add data to
    QuickBooks Online ... because your trial or subscription period ended ...",
    intuit/QuickBooks-V3-PHP-SDK#211). Every write fails until the subscription is in order:
    one shared problem (rule `qbo-subscription`), not one per invoice or fix."""


class Transient(ApiError):
    """5xx, timeout, connection reset: worth retrying later with backoff."""
