"""qbo-auth: QuickBooks refused qbsync's (or the integration's) credentials: HTTP 401 with
fault code 3200 "AuthenticationFailed" (lower-case `fault`/`error` body), 3100
ApplicationAuthorizationFailed, an invalid_grant on refresh. Every sync fails while this
holds, so it is one alert, not one per invoice. From text only."""
from __future__ import annotations

from .base import Rule
from .catalog import words


class QboAuth(Rule):
    id = "qbo-auth"
    order = 0
    fault_codes = ("3200", "3100", "003200", "003100")
    patterns = {
        "en": (r"authenticationfailed", r"authentication failed", r"applicationauthorizationfailed",
               r"invalid_grant", r"\btoken (?:has )?(?:expired|been revoked|is (?:expired|invalid|revoked))",
               r"\b(?:http|status|statuscode)[ =:]*401\b", r"\bunauthorized\b"),
    }
    TEXTS = words({
        "en": {"title": "QuickBooks refused the connection's credentials",
               "generic": "QuickBooks Online refused the access token (authentication failed). Until the connection is "
                          "renewed nothing syncs, so this is one problem, not one per invoice.",
               "steps": ["Run `qbsync connect quickbooks` to authorize qbsync again (and reconnect HubSpot's QuickBooks "
                         "integration if its sync fails for every invoice).",
                         "Check that QBO_REALM_ID is the company you authorized."]},
    })


RULE = QboAuth()
