"""rate-limited: QBO HTTP 429 "ThrottleExceeded" (code 3001), or HubSpot HTTP 429 with a
`policyName`. Back off; never one alert per invoice. From text only."""
from __future__ import annotations

from .base import Rule
from .catalog import words


class RateLimited(Rule):
    id = "rate-limited"
    order = 1
    fault_codes = ("3001",)
    patterns = {
        "en": (r"throttleexceeded", r"throttle exceeded", r"too many requests", r"rate limit",
               r"\b(?:http|status|statuscode)[ =:]*429\b", r"policyname", r"ten_secondly_rolling"),
    }
    TEXTS = words({
        "en": {"title": "The service is throttling requests",
               "generic": "QuickBooks Online or HubSpot answered \"too many requests\". Nothing is wrong with the "
                          "invoices; requests resume after a short wait (QuickBooks asks for 60 seconds).",
               "steps": ["Wait a minute; qbsync backs off and retries by itself.",
                         "If it keeps happening, another app may be using the same QuickBooks company heavily."]},
    })


RULE = RateLimited()
