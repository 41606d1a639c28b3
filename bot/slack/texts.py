"""The words of qbsync's Slack chrome (state lines, buttons, dialog titles) in en/nl/es.

The rules own the words about causes and fixes (rules/*.py TEXTS); this file only has the
frame around them. `t(lang, key, **values)` falls back to English for a missing key.
"""
from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "headline": "{number} did not reach QuickBooks",
        "headline_group": "{count} invoices are not reaching QuickBooks",
        "state_open": "Open",
        "state_acknowledged": "Acknowledged by {user}",
        "state_fixing": "Fix in progress",
        "state_resolved": "Resolved",
        "state_resolved_why": "Resolved: {why}",
        "state_snoozed": "Snoozed until {until}",
        "failing_for": "failing for {age}",
        "btn_recheck": "Re-check",
        "btn_ack": "Acknowledge",
        "btn_snooze": "Snooze 1 day",
        "btn_resolve": "Resolve",
        "confirm_title": "Apply this fix?",
        "confirm_yes": "Apply",
        "confirm_no": "Cancel",
        "details": "Details",
        "no_fix": "No automatic fix for this one: follow the steps above.",
    },
    "nl": {
        "headline": "{number} is niet in QuickBooks aangekomen",
        "headline_group": "{count} facturen komen niet in QuickBooks aan",
        "state_open": "Open",
        "state_acknowledged": "Opgepakt door {user}",
        "state_fixing": "Herstel bezig",
        "state_resolved": "Opgelost",
        "state_resolved_why": "Opgelost: {why}",
        "state_snoozed": "Gesnoozed tot {until}",
        "failing_for": "mislukt sinds {age}",
        "btn_recheck": "Opnieuw controleren",
        "btn_ack": "Oppakken",
        "btn_snooze": "1 dag snoozen",
        "btn_resolve": "Oplossen",
        "confirm_title": "Deze oplossing toepassen?",
        "confirm_yes": "Toepassen",
        "confirm_no": "Annuleren",
        "details": "Details",
        "no_fix": "Hiervoor is geen automatische oplossing: volg de stappen hierboven.",
    },
    "es": {
        "headline": "{number} no llegó a QuickBooks",
        "headline_group": "{count} facturas no llegan a QuickBooks",
        "state_open": "Abierta",
        "state_acknowledged": "Atendida por {user}",
        "state_fixing": "Corrección en curso",
        "state_resolved": "Resuelta",
        "state_resolved_why": "Resuelta: {why}",
        "state_snoozed": "Pospuesta hasta {until}",
        "failing_for": "fallando desde hace {age}",
        "btn_recheck": "Volver a comprobar",
        "btn_ack": "Atender",
        "btn_snooze": "Posponer 1 día",
        "btn_resolve": "Resolver",
        "confirm_title": "¿Aplicar esta corrección?",
        "confirm_yes": "Aplicar",
        "confirm_no": "Cancelar",
        "details": "Detalles",
        "no_fix": "No hay corrección automática: sigue los pasos de arriba.",
    },
}


def t(lang: str, key: str, **values) -> str:
    table = TEXTS.get(lang) or TEXTS["en"]
    template = table.get(key) or TEXTS["en"][key]
    return template.format(**values) if values else template
