"""The words of qbsync's answers to people (slash commands, button refusals, App Home) in
en/nl/es. Values are inserted already escaped for mrkdwn by the caller; `t()` falls back to
English for a key a language lacks. The rules own the words about causes and fixes.
English here; nl and es come from the gettext catalogs (rules/locale, see rules/catalog.py)."""
from __future__ import annotations

from bot.i18n import pick
from rules.catalog import words

TEXTS: dict[str, dict[str, str]] = words({
    "en": {
        "help": (
            "*qbsync*: finds HubSpot invoices that did not reach QuickBooks Online and fixes them.\n"
            "`/qbsync status`: open alerts by rule, last and next scan, connection health\n"
            "`/qbsync scan`: scan HubSpot and QuickBooks now\n"
            "`/qbsync explain <invoice number | error text>`: why an invoice failed, or what an error means\n"
            "`/qbsync list [rule]`: open alerts with links to their threads\n"
            "`/qbsync snooze <invoice number> <duration>`: quiet an invoice's alerts (30m, 2h, 1d, 1w; at most 30d)\n"
            "`/qbsync mute <rule> <duration>` / `/qbsync unmute <rule>`: no new alerts for a rule\n"
            "`/qbsync lang en|nl|es`: the language qbsync answers you in\n"
            "`/qbsync history <invoice number>`: what people and qbsync did with an invoice's alerts\n"
            "`/qbsync export`: a CSV of open alerts and those resolved in the last 30 days, shown only to you\n"
            "Fix, Acknowledge, Resolve, Snooze, `snooze`, `mute` and `unmute` are for the people and user groups in "
            "QBSYNC_FIX_ALLOWED; they and QBSYNC_VIEW_ALLOWED see names, emails and amounts in `explain`, `list` "
            "and the App Home; everyone may use the rest. Rules: {rules}."),
        "usage_unknown_sub": "`{sub}` is not a qbsync command.",
        "usage_missing": "Missing argument. Usage: `{usage}`",
        "usage_extra": "Too many arguments. Usage: `{usage}`",
        "usage_duration": "`{value}` is not a duration: use a number and m, h, d or w (30m, 2h, 1d, 1w), at most 30d.",
        "usage_rule": "There is no rule `{rule}`. Rules: {rules}.",
        "usage_invoice": "No HubSpot invoice has the number `{number}`.",
        "usage_lang": "`{value}` is not a language qbsync speaks: use en, nl or es.",
        "usage_hint": "Type `/qbsync help` for every command.",
        "not_allowed": "Only the people and user groups in QBSYNC_FIX_ALLOWED may {what}. Nothing was changed.",
        "what_fix": "apply fixes",
        "what_resolve": "resolve alerts",
        "what_snooze": "snooze alerts",
        "what_mute": "mute or unmute rules",
        "what_ack": "acknowledge alerts",
        "ack_snoozed": "This alert is snoozed until {until}; acknowledging it would end the snooze, so nothing was "
                       "changed. Snooze or Resolve it instead, or wait until the snooze is over.",
        "records_hidden": "Names, emails and amounts are shown only to the people in QBSYNC_FIX_ALLOWED and "
                          "QBSYNC_VIEW_ALLOWED.",
        "records_refused": "Only the people and user groups in QBSYNC_FIX_ALLOWED or QBSYNC_VIEW_ALLOWED may read "
                           "alert histories and exports.",
        "history_unknown": "qbsync has no alerts for an invoice numbered `{number}`.",
        "history_head": "*History of {number}* ({count} entries, newest last)",
        "history_none": "Nobody has done anything with its alerts yet.",
        "history_older": "_{count} older entries not shown._",
        "export_sent": "The export ({count} alerts) is in your direct messages with qbsync, shared with nobody else.",
        "export_file": "{count} alerts: open, or resolved in the last {days} days.",
        "export_head": "*Export*: {count} alerts (open, or resolved in the last {days} days), only you can see this:",
        "export_too_large": "The export has {count} alerts: too many to show here. Narrow it down with `/qbsync list`.",
        "lang_set": "From now on qbsync answers you in English.",
        "scanning": ":mag: Scanning HubSpot and QuickBooks…",
        "scan_busy": "A scan is already running; its alerts show up in the channel.",
        "scan_done": "Scan done: {checked} invoices checked, {failing} failing, {created} new alerts, {resolved} resolved.",
        "scan_problem": "The scan stopped: {problem}. The alert in the channel says what to do.",
        "status_head": "*qbsync status*",
        "status_open": "Open alerts: {count}",
        "status_none": "Open alerts: none",
        "status_last": "Last scan: {when}",
        "status_next": "Next scan: {when}",
        "never": "never",
        "not_scheduled": "not scheduled",
        "qbo_days": "QuickBooks: connected; the refresh token expires in {days} days",
        "qbo_days_low": ":warning: QuickBooks: the refresh token expires in {days} days; run `qbsync connect quickbooks` soon",
        "qbo_unknown": "QuickBooks: no token yet (it is fetched on the first scan)",
        "qbo_broken": ":red_circle: QuickBooks: the connection is broken; see the alert in the channel",
        "throttled": ":large_orange_circle: QuickBooks or HubSpot is throttling qbsync; see the alert in the channel",
        "muted_line": "Muted: {rules}",
        "risks_head": "*Sync risks* ({count}): QuickBooks settings that will break syncs",
        "risk_where": "_Where:_",
        "list_none": "No open alerts{rule}.",
        "list_head": "*Open alerts{rule}* ({count}):",
        "list_more": "…and {count} more",
        "not_posted": "not posted yet",
        "snoozed": "Invoice {number} is snoozed until {until}.",
        "muted": "Rule `{rule}` is muted until {until}: no new alerts for it until then.",
        "unmuted": "Rule `{rule}` is no longer muted; its waiting alerts post on the next scan.",
        "not_muted": "Rule `{rule}` was not muted.",
        "explain_none": "{number} is in QuickBooks Online and matches HubSpot: nothing to fix.",
        "explain_imported": "{number} was imported from QuickBooks: the integration does not push it.",
        "explain_status": "{number} is {status}: the integration pushes only open and paid invoices.",
        "explain_fixes": "Fixes",
        "explain_steps": "What to do",
        "alert_missing": "qbsync no longer has this alert. Nothing was changed.",
        "alert_resolved": "This alert is already resolved. Nothing was changed.",
        "alert_fixing": "A fix is already running on this alert. Nothing else was started.",
        "fix_gone": "That fix is no longer offered for this alert (the data changed). Nothing was changed; press Re-check.",
        "fix_repeat": "This fix was already started once; it is not run again.",
        "changed": "The alert changed while you clicked. Nothing was changed; look at it again.",
        "recheck_still": "Still failing: {title}",
        "recheck_other": "This cause is gone, but another one holds now: {title}",
        "bad_button": "This button is not one of qbsync's. Nothing was changed.",
        "error": "Something went wrong inside qbsync (it is logged). Nothing more was changed.",
        # thread replies (in the channel's language)
        "th_applying": ":wrench: {user} is applying *{label}*…",
        "th_applied": ":heavy_check_mark: {message}",
        "th_failed": ":x: The fix did not work: {message}",
        "th_recheck_failed": ":x: The fix ran, but the re-check says the cause still holds: {message}",
        "th_fixed_why": "fixed with “{label}”; re-check passed",
        "th_recheck_why": "re-check found the cause gone",
        "th_ack": ":eyes: {user} is looking at this.",
        "th_snooze": ":zzz: {user} snoozed this until {until}.",
        "th_resolve_why": "resolved by hand",
        "home_title": "qbsync",
        "home_alerts": "*Open alerts* ({count})",
        "home_rule": "*{rule}* ({count}): {numbers}",
        "home_health": "*Connections*",
        # ---- issue 12 part 6: /qbsync digest ----
        "help_digest": "`/qbsync digest`: post the digest of the last week (or day, with QBSYNC_DIGEST=daily) in the "
                       "alert channel now; for the people in QBSYNC_FIX_ALLOWED or QBSYNC_VIEW_ALLOWED",
        "digest_sent": "The digest is in {channel}.",
        "digest_failed": "The digest could not be posted: {error}.",
        # ---- end of the digest block ----
    },
    "nl": {
        "help": (
            "*qbsync*: vindt HubSpot-facturen die niet in QuickBooks Online zijn aangekomen en lost ze op.\n"
            "`/qbsync status`: open meldingen per regel, laatste en volgende scan, verbindingen\n"
            "`/qbsync scan`: HubSpot en QuickBooks nu scannen\n"
            "`/qbsync explain <factuurnummer | fouttekst>`: waarom een factuur mislukte, of wat een fout betekent\n"
            "`/qbsync list [regel]`: open meldingen met links naar hun threads\n"
            "`/qbsync snooze <factuurnummer> <duur>`: meldingen van een factuur stil (30m, 2h, 1d, 1w; hoogstens 30d)\n"
            "`/qbsync mute <regel> <duur>` / `/qbsync unmute <regel>`: geen nieuwe meldingen voor een regel\n"
            "`/qbsync lang en|nl|es`: de taal waarin qbsync jou antwoordt\n"
            "`/qbsync history <factuurnummer>`: wat mensen en qbsync met de meldingen van een factuur deden\n"
            "`/qbsync export`: een CSV van open meldingen en die van de laatste 30 dagen, alleen voor jou\n"
            "Oplossen, Oppakken, Resolve, Snooze, `snooze`, `mute` en `unmute` zijn voor de mensen en groepen in "
            "QBSYNC_FIX_ALLOWED; zij en QBSYNC_VIEW_ALLOWED zien namen, e-mailadressen en bedragen in `explain`, "
            "`list` en de App Home; de rest mag iedereen. Regels: {rules}."),
        "usage_unknown_sub": "`{sub}` is geen qbsync-opdracht.",
        "usage_missing": "Er ontbreekt iets. Gebruik: `{usage}`",
        "usage_extra": "Te veel argumenten. Gebruik: `{usage}`",
        "usage_duration": "`{value}` is geen duur: gebruik een getal met m, h, d of w (30m, 2h, 1d, 1w), hoogstens 30d.",
        "usage_rule": "Er is geen regel `{rule}`. Regels: {rules}.",
        "usage_invoice": "Geen HubSpot-factuur heeft het nummer `{number}`.",
        "usage_lang": "`{value}` is geen taal van qbsync: kies en, nl of es.",
        "usage_hint": "Typ `/qbsync help` voor alle opdrachten.",
        "not_allowed": "Alleen de mensen en groepen in QBSYNC_FIX_ALLOWED mogen {what}. Er is niets gewijzigd.",
        "what_fix": "oplossingen toepassen",
        "what_resolve": "meldingen afsluiten",
        "what_snooze": "meldingen snoozen",
        "what_mute": "regels dempen of weer aanzetten",
        "what_ack": "meldingen oppakken",
        "ack_snoozed": "Deze melding is gesnoozed tot {until}; oppakken zou de snooze beëindigen, dus er is niets "
                       "gewijzigd. Snooze of sluit haar af, of wacht tot de snooze voorbij is.",
        "records_hidden": "Namen, e-mailadressen en bedragen zijn alleen zichtbaar voor de mensen in "
                          "QBSYNC_FIX_ALLOWED en QBSYNC_VIEW_ALLOWED.",
        "records_refused": "Alleen de mensen en groepen in QBSYNC_FIX_ALLOWED of QBSYNC_VIEW_ALLOWED mogen "
                           "geschiedenissen en exports van meldingen lezen.",
        "history_unknown": "qbsync heeft geen meldingen voor een factuur met nummer `{number}`.",
        "history_head": "*Geschiedenis van {number}* ({count} regels, nieuwste onderaan)",
        "history_none": "Niemand heeft nog iets met de meldingen gedaan.",
        "history_older": "_{count} oudere regels niet getoond._",
        "export_sent": "De export ({count} meldingen) staat in je privéberichten met qbsync, met niemand anders gedeeld.",
        "export_file": "{count} meldingen: open, of afgesloten in de laatste {days} dagen.",
        "export_head": "*Export*: {count} meldingen (open, of afgesloten in de laatste {days} dagen), alleen jij ziet dit:",
        "export_too_large": "De export heeft {count} meldingen: te veel om hier te tonen. Beperk het met `/qbsync list`.",
        "lang_set": "Vanaf nu antwoordt qbsync je in het Nederlands.",
        "scanning": ":mag: HubSpot en QuickBooks worden gescand…",
        "scan_busy": "Er loopt al een scan; de meldingen verschijnen in het kanaal.",
        "scan_done": "Scan klaar: {checked} facturen gecontroleerd, {failing} mislukt, {created} nieuwe meldingen, {resolved} opgelost.",
        "scan_problem": "De scan is gestopt: {problem}. De melding in het kanaal zegt wat te doen.",
        "status_head": "*qbsync-status*",
        "status_open": "Open meldingen: {count}",
        "status_none": "Open meldingen: geen",
        "status_last": "Laatste scan: {when}",
        "status_next": "Volgende scan: {when}",
        "never": "nog nooit",
        "not_scheduled": "niet gepland",
        "qbo_days": "QuickBooks: verbonden; het refresh-token verloopt over {days} dagen",
        "qbo_days_low": ":warning: QuickBooks: het refresh-token verloopt over {days} dagen; voer binnenkort `qbsync connect quickbooks` uit",
        "qbo_unknown": "QuickBooks: nog geen token (wordt bij de eerste scan opgehaald)",
        "qbo_broken": ":red_circle: QuickBooks: de verbinding is verbroken; zie de melding in het kanaal",
        "throttled": ":large_orange_circle: QuickBooks of HubSpot remt qbsync af; zie de melding in het kanaal",
        "muted_line": "Gedempt: {rules}",
        "risks_head": "*Synchronisatierisico's* ({count}): QuickBooks-instellingen die synchronisaties laten mislukken",
        "risk_where": "_Waar:_",
        "list_none": "Geen open meldingen{rule}.",
        "list_head": "*Open meldingen{rule}* ({count}):",
        "list_more": "…en nog {count}",
        "not_posted": "nog niet geplaatst",
        "snoozed": "Factuur {number} is gesnoozed tot {until}.",
        "muted": "Regel `{rule}` is gedempt tot {until}: tot dan geen nieuwe meldingen.",
        "unmuted": "Regel `{rule}` is niet langer gedempt; wachtende meldingen komen bij de volgende scan.",
        "not_muted": "Regel `{rule}` was niet gedempt.",
        "explain_none": "{number} staat in QuickBooks Online en klopt met HubSpot: niets op te lossen.",
        "explain_imported": "{number} is uit QuickBooks geïmporteerd: de integratie stuurt hem niet door.",
        "explain_status": "{number} is {status}: de integratie stuurt alleen open en betaalde facturen door.",
        "explain_fixes": "Oplossingen",
        "explain_steps": "Wat te doen",
        "alert_missing": "qbsync heeft deze melding niet meer. Er is niets gewijzigd.",
        "alert_resolved": "Deze melding is al opgelost. Er is niets gewijzigd.",
        "alert_fixing": "Er loopt al een oplossing voor deze melding. Er is niets extra gestart.",
        "fix_gone": "Die oplossing wordt niet meer aangeboden (de gegevens zijn veranderd). Er is niets gewijzigd; klik op Opnieuw controleren.",
        "fix_repeat": "Deze oplossing is al eens gestart; ze wordt niet nog een keer uitgevoerd.",
        "changed": "De melding veranderde terwijl je klikte. Er is niets gewijzigd; bekijk haar opnieuw.",
        "recheck_still": "Nog steeds mislukt: {title}",
        "recheck_other": "Deze oorzaak is weg, maar er speelt nu een andere: {title}",
        "bad_button": "Deze knop is niet van qbsync. Er is niets gewijzigd.",
        "error": "Er ging iets mis in qbsync (het is gelogd). Er is verder niets gewijzigd.",
        "th_applying": ":wrench: {user} past *{label}* toe…",
        "th_applied": ":heavy_check_mark: {message}",
        "th_failed": ":x: De oplossing werkte niet: {message}",
        "th_recheck_failed": ":x: De oplossing is uitgevoerd, maar de controle zegt dat de oorzaak er nog is: {message}",
        "th_fixed_why": "opgelost met “{label}”; controle geslaagd",
        "th_recheck_why": "controle vond de oorzaak niet meer",
        "th_ack": ":eyes: {user} kijkt hiernaar.",
        "th_snooze": ":zzz: {user} heeft dit gesnoozed tot {until}.",
        "th_resolve_why": "met de hand afgesloten",
        "home_title": "qbsync",
        "home_alerts": "*Open meldingen* ({count})",
        "home_rule": "*{rule}* ({count}): {numbers}",
        "home_health": "*Verbindingen*",
        # ---- issue 12 part 6: /qbsync digest ----
        "help_digest": "`/qbsync digest`: zet het overzicht van de afgelopen week (of dag, met QBSYNC_DIGEST=daily) nu "
                       "in het meldingenkanaal; voor de mensen in QBSYNC_FIX_ALLOWED of QBSYNC_VIEW_ALLOWED",
        "digest_sent": "Het overzicht staat in {channel}.",
        "digest_failed": "Het overzicht kon niet worden geplaatst: {error}.",
        # ---- end of the digest block ----
    },
    "es": {
        "help": (
            "*qbsync*: encuentra facturas de HubSpot que no llegaron a QuickBooks Online y las corrige.\n"
            "`/qbsync status`: alertas abiertas por regla, último y próximo escaneo, estado de las conexiones\n"
            "`/qbsync scan`: escanear HubSpot y QuickBooks ahora\n"
            "`/qbsync explain <número de factura | texto de error>`: por qué falló una factura o qué significa un error\n"
            "`/qbsync list [regla]`: alertas abiertas con enlaces a sus hilos\n"
            "`/qbsync snooze <número de factura> <duración>`: silenciar las alertas de una factura (30m, 2h, 1d, 1w; máximo 30d)\n"
            "`/qbsync mute <regla> <duración>` / `/qbsync unmute <regla>`: sin alertas nuevas para una regla\n"
            "`/qbsync lang en|nl|es`: el idioma en que qbsync te responde\n"
            "`/qbsync history <número de factura>`: qué hicieron las personas y qbsync con las alertas de una factura\n"
            "`/qbsync export`: un CSV de alertas abiertas y de las resueltas en los últimos 30 días, solo para ti\n"
            "Corregir, Atender, Resolver, Posponer, `snooze`, `mute` y `unmute` son para las personas y grupos de "
            "QBSYNC_FIX_ALLOWED; ellas y QBSYNC_VIEW_ALLOWED ven nombres, correos e importes en `explain`, `list` "
            "y la App Home; lo demás lo puede usar cualquiera. Reglas: {rules}."),
        "usage_unknown_sub": "`{sub}` no es un comando de qbsync.",
        "usage_missing": "Falta un argumento. Uso: `{usage}`",
        "usage_extra": "Sobran argumentos. Uso: `{usage}`",
        "usage_duration": "`{value}` no es una duración: usa un número con m, h, d o w (30m, 2h, 1d, 1w), máximo 30d.",
        "usage_rule": "No existe la regla `{rule}`. Reglas: {rules}.",
        "usage_invoice": "Ninguna factura de HubSpot tiene el número `{number}`.",
        "usage_lang": "`{value}` no es un idioma de qbsync: usa en, nl o es.",
        "usage_hint": "Escribe `/qbsync help` para ver todos los comandos.",
        "not_allowed": "Solo las personas y grupos de QBSYNC_FIX_ALLOWED pueden {what}. No se cambió nada.",
        "what_fix": "aplicar correcciones",
        "what_resolve": "resolver alertas",
        "what_snooze": "posponer alertas",
        "what_mute": "silenciar o reactivar reglas",
        "what_ack": "atender alertas",
        "ack_snoozed": "Esta alerta está pospuesta hasta {until}; atenderla terminaría el aplazamiento, así que no "
                       "se cambió nada. Pospónla o resuélvela, o espera a que termine el aplazamiento.",
        "records_hidden": "Los nombres, correos e importes solo se muestran a las personas de QBSYNC_FIX_ALLOWED "
                          "y QBSYNC_VIEW_ALLOWED.",
        "records_refused": "Solo las personas y grupos de QBSYNC_FIX_ALLOWED o QBSYNC_VIEW_ALLOWED pueden leer "
                           "historiales y exportaciones de alertas.",
        "history_unknown": "qbsync no tiene alertas para una factura con el número `{number}`.",
        "history_head": "*Historial de {number}* ({count} entradas, la más reciente al final)",
        "history_none": "Nadie ha hecho nada con sus alertas todavía.",
        "history_older": "_{count} entradas anteriores no se muestran._",
        "export_sent": "La exportación ({count} alertas) está en tus mensajes directos con qbsync, sin compartir con "
                       "nadie más.",
        "export_file": "{count} alertas: abiertas, o resueltas en los últimos {days} días.",
        "export_head": "*Exportación*: {count} alertas (abiertas, o resueltas en los últimos {days} días), solo tú lo ves:",
        "export_too_large": "La exportación tiene {count} alertas: demasiadas para mostrarlas aquí. Usa `/qbsync list`.",
        "lang_set": "A partir de ahora qbsync te responde en español.",
        "scanning": ":mag: Escaneando HubSpot y QuickBooks…",
        "scan_busy": "Ya hay un escaneo en curso; sus alertas aparecen en el canal.",
        "scan_done": "Escaneo terminado: {checked} facturas revisadas, {failing} con fallos, {created} alertas nuevas, {resolved} resueltas.",
        "scan_problem": "El escaneo se detuvo: {problem}. La alerta del canal dice qué hacer.",
        "status_head": "*Estado de qbsync*",
        "status_open": "Alertas abiertas: {count}",
        "status_none": "Alertas abiertas: ninguna",
        "status_last": "Último escaneo: {when}",
        "status_next": "Próximo escaneo: {when}",
        "never": "nunca",
        "not_scheduled": "no programado",
        "qbo_days": "QuickBooks: conectado; el refresh token caduca en {days} días",
        "qbo_days_low": ":warning: QuickBooks: el refresh token caduca en {days} días; ejecuta pronto `qbsync connect quickbooks`",
        "qbo_unknown": "QuickBooks: aún no hay token (se obtiene en el primer escaneo)",
        "qbo_broken": ":red_circle: QuickBooks: la conexión está rota; mira la alerta del canal",
        "throttled": ":large_orange_circle: QuickBooks o HubSpot está limitando a qbsync; mira la alerta del canal",
        "muted_line": "Silenciadas: {rules}",
        "risks_head": "*Riesgos de sincronización* ({count}): ajustes de QuickBooks que harán fallar las sincronizaciones",
        "risk_where": "_Dónde:_",
        "list_none": "No hay alertas abiertas{rule}.",
        "list_head": "*Alertas abiertas{rule}* ({count}):",
        "list_more": "…y {count} más",
        "not_posted": "aún sin publicar",
        "snoozed": "La factura {number} está pospuesta hasta {until}.",
        "muted": "La regla `{rule}` está silenciada hasta {until}: sin alertas nuevas hasta entonces.",
        "unmuted": "La regla `{rule}` ya no está silenciada; sus alertas pendientes se publican en el próximo escaneo.",
        "not_muted": "La regla `{rule}` no estaba silenciada.",
        "explain_none": "{number} está en QuickBooks Online y coincide con HubSpot: nada que corregir.",
        "explain_imported": "{number} se importó desde QuickBooks: la integración no la envía.",
        "explain_status": "{number} está en estado {status}: la integración solo envía facturas abiertas y pagadas.",
        "explain_fixes": "Correcciones",
        "explain_steps": "Qué hacer",
        "alert_missing": "qbsync ya no tiene esta alerta. No se cambió nada.",
        "alert_resolved": "Esta alerta ya está resuelta. No se cambió nada.",
        "alert_fixing": "Ya hay una corrección en curso para esta alerta. No se inició nada más.",
        "fix_gone": "Esa corrección ya no se ofrece para esta alerta (los datos cambiaron). No se cambió nada; pulsa Volver a comprobar.",
        "fix_repeat": "Esta corrección ya se inició una vez; no se vuelve a ejecutar.",
        "changed": "La alerta cambió mientras hacías clic. No se cambió nada; vuelve a mirarla.",
        "recheck_still": "Sigue fallando: {title}",
        "recheck_other": "Esta causa desapareció, pero ahora hay otra: {title}",
        "bad_button": "Este botón no es de qbsync. No se cambió nada.",
        "error": "Algo falló dentro de qbsync (quedó registrado). No se cambió nada más.",
        "th_applying": ":wrench: {user} está aplicando *{label}*…",
        "th_applied": ":heavy_check_mark: {message}",
        "th_failed": ":x: La corrección no funcionó: {message}",
        "th_recheck_failed": ":x: La corrección se aplicó, pero la comprobación dice que la causa sigue: {message}",
        "th_fixed_why": "corregida con “{label}”; comprobación superada",
        "th_recheck_why": "la comprobación ya no encontró la causa",
        "th_ack": ":eyes: {user} está mirando esto.",
        "th_snooze": ":zzz: {user} pospuso esto hasta {until}.",
        "th_resolve_why": "resuelta a mano",
        "home_title": "qbsync",
        "home_alerts": "*Alertas abiertas* ({count})",
        "home_rule": "*{rule}* ({count}): {numbers}",
        "home_health": "*Conexiones*",
        # ---- issue 12 part 6: /qbsync digest ----
        "help_digest": "`/qbsync digest`: publica ahora el resumen de la última semana (o del día, con "
                       "QBSYNC_DIGEST=daily) en el canal de alertas; para las personas de QBSYNC_FIX_ALLOWED o "
                       "QBSYNC_VIEW_ALLOWED",
        "digest_sent": "El resumen está en {channel}.",
        "digest_failed": "No se pudo publicar el resumen: {error}.",
        # ---- end of the digest block ----
    },
})


def t(lang: str, key: str, **values) -> str:
    return pick(TEXTS, lang, key, **values)
