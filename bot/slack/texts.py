"""The words of qbsync's Slack chrome (state lines, buttons, dialog titles) in en/nl/es.

The rules own the words about causes and fixes (rules/*.py TEXTS); this file only has the
frame around them. `t(lang, key, **values)` falls back to English for a missing key.
"""
from __future__ import annotations

from bot.i18n import pick

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "headline": "{number} did not reach QuickBooks",
        "in_hubspot": "{name} in HubSpot",
        "headline_group": "{count} invoices are not reaching QuickBooks",
        "headline_global": "Every invoice sync is affected",
        "state_open": "Open",
        "state_acknowledged": "Acknowledged by {user}",
        "state_fixing": "Fix in progress",
        "state_resolved": "Resolved",
        "state_resolved_why": "Resolved: {why}",
        "state_snoozed": "Snoozed until {until}",
        "causes_count": "{count} causes, to fix in this order:",
        "th_cause_resolved": ":white_check_mark: {cause}: resolved ({why})",
        "th_cause_resolved_by": ":white_check_mark: {cause}: resolved by {user} ({why})",
        "th_cause_new": ":heavy_plus_sign: Another cause: {cause}",
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
        "th_back": ":repeat: The failure is back.",
        "th_changed": ":pencil2: What qbsync sees changed.",
        "th_resolved": ":white_check_mark: Resolved: {why}",
        "th_resolved_by": ":white_check_mark: Resolved by {user}: {why}",
        "th_synced": ":arrows_counterclockwise: HubSpot synced {number} to QuickBooks Online: the fix held.",
        "th_snooze_over": ":alarm_clock: The snooze is over and this is still failing.",
        "th_reminder": ":bell: Still failing and nobody has acknowledged it for {hours} h.{who}",
        "why_gone": "synced to QuickBooks or the cause is gone",
        "why_qbo_back": "QuickBooks answers again",
        "why_fix_interrupted_gone": "a fix was interrupted (qbsync stopped while it ran); the re-check shows the cause is gone",
        "th_fix_interrupted_still": ":warning: A fix was interrupted: qbsync stopped while it ran. The re-check shows the "
                                    "cause still holds, so the alert is open again: press the fix again (the same "
                                    "request is never applied twice).",
        "storm_hint": "_Many invoices failed at once for this cause, so they share one message: each is "
                      "listed in the thread. `/qbsync explain <number>` shows one invoice with its fixes._",
        "th_storm_members": "*Invoices in this group ({first}–{last}):*",
        "th_storm_left": ":white_check_mark: {count} of these now sync or no longer fail; {open} still fail.",
        # -- issue 12 part 4: bulk fix (handlers/bulk.py) -- begin
        "btn_bulk_fix": "Fix all {count} like this",
        "bulk_progress": ":hourglass_flowing_sand: {user} is fixing all like this: {done} of {total} done…",
        "bulk_done": ":white_check_mark: Fix all by {user}: {fixed} fixed, {failed} failed, {needs} need a person.",
        "bulk_failed_head": "*Failed ({count}):*",
        "bulk_needs_head": "*Need a person ({count}):*",
        # -- issue 12 part 4: bulk fix -- end
    },
    "nl": {
        "headline": "{number} is niet in QuickBooks aangekomen",
        "in_hubspot": "{name} in HubSpot",
        "headline_group": "{count} facturen komen niet in QuickBooks aan",
        "headline_global": "Alle synchronisaties van facturen zijn getroffen",
        "state_open": "Open",
        "state_acknowledged": "Opgepakt door {user}",
        "state_fixing": "Herstel bezig",
        "state_resolved": "Opgelost",
        "state_resolved_why": "Opgelost: {why}",
        "state_snoozed": "Gesnoozed tot {until}",
        "causes_count": "{count} oorzaken, op te lossen in deze volgorde:",
        "th_cause_resolved": ":white_check_mark: {cause}: opgelost ({why})",
        "th_cause_resolved_by": ":white_check_mark: {cause}: opgelost door {user} ({why})",
        "th_cause_new": ":heavy_plus_sign: Nog een oorzaak: {cause}",
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
        "th_back": ":repeat: De fout is terug.",
        "th_changed": ":pencil2: Wat qbsync ziet is veranderd.",
        "th_resolved": ":white_check_mark: Opgelost: {why}",
        "th_resolved_by": ":white_check_mark: Opgelost door {user}: {why}",
        "th_synced": ":arrows_counterclockwise: HubSpot heeft {number} naar QuickBooks Online gesynchroniseerd: de oplossing werkt.",
        "th_snooze_over": ":alarm_clock: De snooze is voorbij en dit mislukt nog steeds.",
        "th_reminder": ":bell: Dit mislukt nog steeds en niemand heeft het in {hours} uur bevestigd.{who}",
        "why_gone": "gesynchroniseerd naar QuickBooks of de oorzaak is weg",
        "why_qbo_back": "QuickBooks antwoordt weer",
        "why_fix_interrupted_gone": "een oplossing werd onderbroken (qbsync stopte terwijl die liep); de controle laat zien dat de oorzaak weg is",
        "th_fix_interrupted_still": ":warning: Een oplossing werd onderbroken: qbsync stopte terwijl die liep. De controle "
                                    "laat zien dat de oorzaak er nog is, dus de melding staat weer open: druk nogmaals op "
                                    "de oplossing (hetzelfde verzoek wordt nooit twee keer uitgevoerd).",
        "storm_hint": "_Veel facturen mislukten tegelijk door deze oorzaak en delen daarom één bericht: "
                      "elk staat in de thread. `/qbsync explain <nummer>` toont één factuur met de oplossingen._",
        "th_storm_members": "*Facturen in deze groep ({first}–{last}):*",
        "th_storm_left": ":white_check_mark: {count} hiervan synchroniseren nu of mislukken niet meer; {open} mislukken nog.",
        # -- issue 12 part 4: bulk fix (handlers/bulk.py) -- begin
        "btn_bulk_fix": "Herstel alle {count} zo",
        "bulk_progress": ":hourglass_flowing_sand: {user} herstelt alle zo: {done} van {total} klaar…",
        "bulk_done": ":white_check_mark: Alle hersteld door {user}: {fixed} hersteld, {failed} mislukt, {needs} hebben een mens nodig.",
        "bulk_failed_head": "*Mislukt ({count}):*",
        "bulk_needs_head": "*Hebben een mens nodig ({count}):*",
        # -- issue 12 part 4: bulk fix -- end
    },
    "es": {
        "headline": "{number} no llegó a QuickBooks",
        "in_hubspot": "{name} en HubSpot",
        "headline_group": "{count} facturas no llegan a QuickBooks",
        "headline_global": "Todas las sincronizaciones de facturas están afectadas",
        "state_open": "Abierta",
        "state_acknowledged": "Atendida por {user}",
        "state_fixing": "Corrección en curso",
        "state_resolved": "Resuelta",
        "state_resolved_why": "Resuelta: {why}",
        "state_snoozed": "Pospuesta hasta {until}",
        "causes_count": "{count} causas, a corregir en este orden:",
        "th_cause_resolved": ":white_check_mark: {cause}: resuelta ({why})",
        "th_cause_resolved_by": ":white_check_mark: {cause}: resuelta por {user} ({why})",
        "th_cause_new": ":heavy_plus_sign: Otra causa: {cause}",
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
        "th_back": ":repeat: El fallo ha vuelto.",
        "th_changed": ":pencil2: Lo que qbsync ve ha cambiado.",
        "th_resolved": ":white_check_mark: Resuelta: {why}",
        "th_resolved_by": ":white_check_mark: Resuelta por {user}: {why}",
        "th_synced": ":arrows_counterclockwise: HubSpot sincronizó {number} con QuickBooks Online: la corrección funcionó.",
        "th_snooze_over": ":alarm_clock: El aplazamiento terminó y esto sigue fallando.",
        "th_reminder": ":bell: Sigue fallando y nadie lo ha reconocido en {hours} h.{who}",
        "why_gone": "sincronizada con QuickBooks o la causa ya no existe",
        "why_qbo_back": "QuickBooks vuelve a responder",
        "why_fix_interrupted_gone": "una corrección se interrumpió (qbsync se detuvo mientras corría); la comprobación muestra que la causa ya no existe",
        "th_fix_interrupted_still": ":warning: Una corrección se interrumpió: qbsync se detuvo mientras corría. La "
                                    "comprobación muestra que la causa sigue, así que la alerta vuelve a estar abierta: "
                                    "pulsa la corrección otra vez (la misma solicitud nunca se aplica dos veces).",
        "storm_hint": "_Muchas facturas fallaron a la vez por esta causa y comparten un mensaje: cada una "
                      "aparece en el hilo. `/qbsync explain <número>` muestra una factura con sus correcciones._",
        "th_storm_members": "*Facturas de este grupo ({first}–{last}):*",
        "th_storm_left": ":white_check_mark: {count} de estas ya se sincronizan o ya no fallan; {open} siguen fallando.",
        # -- issue 12 part 4: bulk fix (handlers/bulk.py) -- begin
        "btn_bulk_fix": "Corregir las {count} así",
        "bulk_progress": ":hourglass_flowing_sand: {user} está corrigiendo todas así: {done} de {total} hechas…",
        "bulk_done": ":white_check_mark: Corrección en bloque de {user}: {fixed} corregidas, {failed} fallidas, {needs} necesitan a una persona.",
        "bulk_failed_head": "*Fallidas ({count}):*",
        "bulk_needs_head": "*Necesitan a una persona ({count}):*",
        # -- issue 12 part 4: bulk fix -- end
    },
}


def t(lang: str, key: str, **values) -> str:
    return pick(TEXTS, lang, key, **values)
