"""qbo-auth: QuickBooks refused qbsync's (or the integration's) credentials: HTTP 401 with
fault code 3200 "AuthenticationFailed" (lower-case `fault`/`error` body), 3100
ApplicationAuthorizationFailed, an invalid_grant on refresh. Every sync fails while this
holds, so it is one alert, not one per invoice. From text only."""
from __future__ import annotations

from .base import Rule


class QboAuth(Rule):
    id = "qbo-auth"
    order = 0
    fault_codes = ("3200", "3100", "003200", "003100")
    patterns = {
        "en": (r"authenticationfailed", r"authentication failed", r"applicationauthorizationfailed",
               r"invalid_grant", r"\btoken (?:has )?(?:expired|been revoked|is (?:expired|invalid|revoked))",
               r"\b(?:http|status|statuscode)[ =:]*401\b", r"\bunauthorized\b"),
    }
    TEXTS = {
        "en": {"title": "QuickBooks refused the connection's credentials",
               "generic": "QuickBooks Online refused the access token (authentication failed). Until the connection is "
                          "renewed nothing syncs, so this is one problem, not one per invoice.",
               "steps": ["Run `qbsync connect quickbooks` to authorize qbsync again (and reconnect HubSpot's QuickBooks "
                         "integration if its sync fails for every invoice).",
                         "Check that QBO_REALM_ID is the company you authorized."]},
        "nl": {"title": "QuickBooks weigert de inloggegevens van de koppeling",
               "generic": "QuickBooks Online weigerde het toegangstoken (authenticatie mislukt). Tot de koppeling is "
                          "vernieuwd synchroniseert niets; dit is één probleem, niet één per factuur.",
               "steps": ["Voer `qbsync connect quickbooks` uit om qbsync opnieuw toegang te geven (en koppel de "
                         "QuickBooks-integratie van HubSpot opnieuw als elke factuur faalt).",
                         "Controleer dat QBO_REALM_ID het bedrijf is dat je hebt gekoppeld."]},
        "es": {"title": "QuickBooks rechazó las credenciales de la conexión",
               "generic": "QuickBooks Online rechazó el token de acceso (fallo de autenticación). Hasta renovar la "
                          "conexión no se sincroniza nada; es un solo problema, no uno por factura.",
               "steps": ["Ejecuta `qbsync connect quickbooks` para autorizar de nuevo a qbsync (y vuelve a conectar la "
                         "integración de QuickBooks de HubSpot si fallan todas las facturas).",
                         "Comprueba que QBO_REALM_ID es la empresa que autorizaste."]},
    }


RULE = QboAuth()
