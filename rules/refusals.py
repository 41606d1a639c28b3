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
    # ---- nl/es inline (bot.i18n_harvest moves them into rules/locale at merge) ----------------
    "nl": {
        "names_taken": "Er is niets gewijzigd: elke naam van {first} tot {last} is in QuickBooks al in "
                       "gebruik. Maak er daar één vrij en voer de controle opnieuw uit.",
        "no_email_customer": "Er is niets gewijzigd: het contact heeft geen e-mailadres, en qbsync maakt "
                             "nooit een klant met een leeg e-mailadres.",
        "no_email": "Er is niets gewijzigd: het contact heeft geen e-mailadres, en qbsync schrijft nooit een "
                    "leeg e-mailadres.",
        "email_moved": "Er is niets gewijzigd: QBO-klant {name} heeft nu e-mailadres {have}, niet wat de "
                       "melding toonde. Kies Opnieuw controleren.",
        "email_in_use": "Er is niets gewijzigd: HubSpot-contact {contact} gebruikt {email}; het wijzigen "
                        "zou de synchronisatie van dat contact breken.",
        "paid_invoice": "Er is niets gewijzigd: factuur {number} is betaald, en HubSpot laat het contact "
                        "van een betaalde factuur niet wijzigen.",
        "multicurrency_off": "Er is niets gewijzigd: meerdere valuta staat nu uit in QuickBooks, en qbsync "
                             "zet het nooit aan.",
        "numbers_taken": "Er is in QuickBooks geen vrij nummer meer van {first} tot {last}. Maak er daar één "
                         "vrij en voer de controle opnieuw uit.",
        "search_stuck": "Meer dan {count} HubSpot-facturen hebben hetzelfde wijzigingstijdstip; de "
                        "zoekopdracht kan er niet voorbij.",
        "qbo_no_refresh_token": "er is geen QuickBooks-vernieuwingstoken ingesteld of bewaard; "
                                "koppel opnieuw met `qbsync connect quickbooks`",
        "qbo_refresh_refused": "QuickBooks weigerde het vernieuwingstoken: het is ingetrokken, verlopen of "
                               "al gebruikt; koppel opnieuw met `qbsync connect quickbooks`",
        "qbo_client_refused": "Intuit weigerde de client-id en het geheim van de app; controleer "
                              "QBO_CLIENT_ID en QBO_CLIENT_SECRET",
        "qbo_refresh_failed": "het vernieuwen van het token mislukte met HTTP {status}; "
                              "koppel opnieuw met `qbsync connect quickbooks`",
        "qbo_token_rejected": "QuickBooks weigerde het toegangstoken; "
                              "koppel opnieuw met `qbsync connect quickbooks`",
        "qbo_company_refused": "QuickBooks weigerde toegang tot dit bedrijf; controleer QBO_REALM_ID of koppel opnieuw "
                               "met `qbsync connect quickbooks`",
        "hubspot_scopes": "het HubSpot-token mist de bevoegdheden {scopes}",
        "hubspot_refresh_refused": "HubSpot weigerde het vernieuwingstoken van koppeling {connection}; "
                                   "is de app verwijderd?",
        "settings": "Er is niets gewijzigd: de instellingen van qbsync voor dit bedrijf zijn onvolledig of "
                    "onleesbaar. Een beheerder ziet waarom met `qbsync doctor`.",
    },
    "es": {
        "names_taken": "No se cambió nada: todos los nombres de {first} a {last} ya están en uso en "
                       "QuickBooks. Libera uno allí y vuelve a ejecutar la comprobación.",
        "no_email_customer": "No se cambió nada: el contacto no tiene correo electrónico, y qbsync nunca "
                             "crea un cliente con el correo vacío.",
        "no_email": "No se cambió nada: el contacto no tiene correo electrónico, y qbsync nunca escribe un "
                    "correo vacío.",
        "email_moved": "No se cambió nada: el cliente de QBO {name} tiene ahora el correo {have}, no el que "
                       "mostraba la alerta. Pulsa Volver a comprobar.",
        "email_in_use": "No se cambió nada: el contacto de HubSpot {contact} usa {email}; cambiarlo "
                        "rompería las sincronizaciones de ese contacto.",
        "paid_invoice": "No se cambió nada: la factura {number} está pagada, y HubSpot no permite cambiar "
                        "el contacto de una factura pagada.",
        "multicurrency_off": "No se cambió nada: la multidivisa está desactivada ahora en QuickBooks, y "
                             "qbsync nunca la activa.",
        "numbers_taken": "No queda ningún número libre de {first} a {last} en QuickBooks. Libera uno allí y "
                         "vuelve a ejecutar la comprobación.",
        "search_stuck": "Más de {count} facturas de HubSpot comparten la misma hora de modificación; la "
                        "búsqueda no puede pasar de ellas.",
        "qbo_no_refresh_token": "no hay ningún token de actualización de QuickBooks configurado ni guardado; "
                                "vuelve a conectar con `qbsync connect quickbooks`",
        "qbo_refresh_refused": "QuickBooks rechazó el token de actualización: fue revocado, caducó o ya se "
                               "usó; vuelve a conectar con `qbsync connect quickbooks`",
        "qbo_client_refused": "Intuit rechazó el id de cliente y el secreto de la aplicación; revisa "
                              "QBO_CLIENT_ID y QBO_CLIENT_SECRET",
        "qbo_refresh_failed": "la renovación del token falló con HTTP {status}; "
                              "vuelve a conectar con `qbsync connect quickbooks`",
        "qbo_token_rejected": "QuickBooks rechazó el token de acceso; "
                              "vuelve a conectar con `qbsync connect quickbooks`",
        "qbo_company_refused": "QuickBooks denegó el acceso a esta empresa; revisa QBO_REALM_ID o vuelve a conectar "
                               "con `qbsync connect quickbooks`",
        "hubspot_scopes": "al token de HubSpot le faltan los permisos {scopes}",
        "hubspot_refresh_refused": "HubSpot rechazó el token de actualización de la conexión {connection}; "
                                   "¿se desinstaló la aplicación?",
        "settings": "No se cambió nada: la configuración de qbsync para esta empresa está incompleta o no se "
                    "puede leer. Un administrador puede ver por qué con `qbsync doctor`.",
    },
    # ---- end of nl/es inline ------------------------------------------------------------------
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
