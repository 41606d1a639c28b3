"""rate-limited: QBO HTTP 429 "ThrottleExceeded" (code 3001), or HubSpot HTTP 429 with a
`policyName`. Back off; never one alert per invoice. From text only."""
from __future__ import annotations

from .base import Rule


class RateLimited(Rule):
    id = "rate-limited"
    order = 1
    fault_codes = ("3001",)
    patterns = {
        "en": (r"throttleexceeded", r"throttle exceeded", r"too many requests", r"rate limit",
               r"\b(?:http|status|statuscode)[ =:]*429\b", r"policyname", r"ten_secondly_rolling"),
    }
    TEXTS = {
        "en": {"title": "The service is throttling requests",
               "generic": "QuickBooks Online or HubSpot answered \"too many requests\". Nothing is wrong with the "
                          "invoices; requests resume after a short wait (QuickBooks asks for 60 seconds).",
               "steps": ["Wait a minute; qbsync backs off and retries by itself.",
                         "If it keeps happening, another app may be using the same QuickBooks company heavily."]},
        "nl": {"title": "De dienst remt verzoeken af",
               "generic": "QuickBooks Online of HubSpot antwoordde \"te veel verzoeken\". Er is niets mis met de "
                          "facturen; na een korte pauze gaat het verder (QuickBooks vraagt 60 seconden).",
               "steps": ["Wacht een minuut; qbsync wacht en probeert het zelf opnieuw.",
                         "Gebeurt het vaak, dan gebruikt een andere app hetzelfde QuickBooks-bedrijf intensief."]},
        "es": {"title": "El servicio está limitando las solicitudes",
               "generic": "QuickBooks Online o HubSpot respondió \"demasiadas solicitudes\". Las facturas están bien; "
                          "se reanuda tras una breve espera (QuickBooks pide 60 segundos).",
               "steps": ["Espera un minuto; qbsync espera y reintenta solo.",
                         "Si ocurre a menudo, otra aplicación puede estar usando mucho la misma empresa de QuickBooks."]},
    }


RULE = RateLimited()
