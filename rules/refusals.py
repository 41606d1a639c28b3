"""qbsync's own refusal and error sentences, in the reader's language.

An ApiError (bot/errors.py) raised by qbsync itself (a fix that refuses before writing, an
adapter that explains a failed token refresh) names its sentence here by key (`exc.words`)
with the names and numbers as placeholders (`exc.values`); its English `message` stays for
logs and the terminal. What the service itself said (`exc.quoted`, its Detail and code) is
shown as it came, in brackets: those are QuickBooks' or HubSpot's words, not ours.
"""
from __future__ import annotations

from .catalog import words
from .text import lang_of, render

REFUSALS = words({
    "en": {
        # a fix refuses before it writes (rules/fixes.py, missing_customer.py, currency_mismatch.py)
        "names_taken": "Nothing was changed: every name from {first} to {last} is taken in QuickBooks. "
                       "Free one of them there, then run the check again.",
        "no_email_customer": "Nothing was changed: the contact has no email, and qbsync never creates "
                             "a customer with a blank email.",
        "no_email": "Nothing was changed: the contact has no email, and qbsync never writes a blank email.",
        "email_moved": "Nothing was changed: QBO customer {name} now has email {have}, not what the alert "
                       "showed. Run Re-check.",
        "email_in_use": "Nothing was changed: HubSpot contact {contact} uses {email}, and changing it would "
                        "break that contact's syncs.",
        "paid_invoice": "Nothing was changed: invoice {number} is paid, and HubSpot does not let a paid "
                        "invoice change contact.",
        "multicurrency_off": "Nothing was changed: multicurrency is off in QuickBooks now, and qbsync never "
                             "turns it on.",
        "numbers_taken": "No free number from {first} to {last} is left in QuickBooks. Free one there, then "
                         "run the check again.",
        # an adapter cannot go on (bot/adapters/)
        "search_stuck": "More than {count} HubSpot invoices share one modification time; the search cannot "
                        "move past them.",
        "qbo_no_refresh_token": "no QuickBooks refresh token is configured or stored; "
                                "reconnect with `qbsync connect quickbooks`",
        "qbo_refresh_refused": "QuickBooks refused the refresh token: it was revoked, expired or already used; "
                               "reconnect with `qbsync connect quickbooks`",
        "qbo_client_refused": "Intuit rejected the app's client id and secret; check QBO_CLIENT_ID and "
                              "QBO_CLIENT_SECRET",
        "qbo_refresh_busy": "another qbsync process has been renewing the QuickBooks access for {seconds} "
                            "seconds; qbsync tries again later",
        "qbo_refresh_failed": "the token refresh failed with HTTP {status}; "
                              "reconnect with `qbsync connect quickbooks`",
        "qbo_token_rejected": "QuickBooks rejected the access token; "
                              "reconnect with `qbsync connect quickbooks`",
        "qbo_company_refused": "QuickBooks refused access to this company; check QBO_REALM_ID or reconnect with "
                               "`qbsync connect quickbooks`",
        "hubspot_scopes": "the HubSpot token lacks the scopes {scopes}",
        "hubspot_refresh_refused": "HubSpot refused the refresh token of connection {connection}; "
                                   "was the app uninstalled?",
        # a ConfigError (bot/errors.py) met while a person waits: its problems are for the terminal
        "settings": "Nothing was changed: qbsync's settings for this company are incomplete or cannot be read. "
                    "An administrator can see why with `qbsync doctor`.",
    },
})


def refusal(lang: str, key: str, **values) -> str:
    """REFUSALS[key] in `lang` with `values`: for a fix that says no without raising."""
    return render(REFUSALS[lang_of(lang)][key], values)


def own_words(exc: Exception, lang: str) -> str:
    """qbsync's own sentence of `exc` in `lang`, or "" when qbsync gave it none."""
    key = getattr(exc, "words", "")
    if not key:
        return ""
    return refusal(lang, key, **getattr(exc, "values", {}))


def service_said(exc: Exception, besides: str = "") -> str:
    """What the service said, as it came: its message, its Detail, its code ("" if nothing).
    A Detail already in `besides` (qbsync's sentence names the missing scopes) is not repeated."""
    quoted = getattr(exc, "quoted", "")
    bits = [quoted]
    extra = getattr(exc, "detail", "")
    if extra and extra not in quoted and extra not in besides:
        bits.append(extra)
    if getattr(exc, "code", None):
        bits.append(f"code {exc.code}")  # type: ignore[attr-defined]
    return "; ".join(b for b in bits if b)


def described(exc: Exception, lang: str) -> str:
    """The error for a reader of `lang`: qbsync's sentence, with the service's words in
    brackets after it; only the service's words when qbsync wrote none."""
    own = own_words(exc, lang)
    said = service_said(exc, own)
    if own and said:
        return f"{own} ({said})"
    return own or said


__all__ = ["REFUSALS", "described", "own_words", "refusal", "service_said"]
