"""The words of qbsync's answers to people (slash commands, button refusals, App Home) in
en/nl/es. Values are inserted already escaped for mrkdwn by the caller; `t()` falls back to
English for a key a language lacks. The rules own the words about causes and fixes.
English here; nl and es come from the gettext catalogs (rules/locale, see rules/catalog.py)."""
from __future__ import annotations

from bot.i18n import pick
from rules.catalog import plural, words

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
        "history_head": plural("*History of {number}* ({count} entry, newest last)",
                               "*History of {number}* ({count} entries, newest last)"),
        "history_none": "Nobody has done anything with its alerts yet.",
        "history_older": plural("_{count} older entry not shown._", "_{count} older entries not shown._"),
        "export_sent": plural("The export ({count} alert) is in your direct messages with qbsync, shared with nobody "
                              "else.",
                              "The export ({count} alerts) is in your direct messages with qbsync, shared with nobody "
                              "else."),
        "export_file": plural("{count} alert: open, or resolved in the last {days} days.",
                              "{count} alerts: open, or resolved in the last {days} days."),
        "export_head": plural("*Export*: {count} alert (open, or resolved in the last {days} days), only you can see "
                              "this:",
                              "*Export*: {count} alerts (open, or resolved in the last {days} days), only you can see "
                              "this:"),
        "export_too_large": "The export has {count} alerts: too many to show here. Narrow it down with `/qbsync list`.",
        "lang_set": "From now on qbsync answers you in English.",
        "scanning": ":mag: Scanning HubSpot and QuickBooks…",
        "scan_busy": "A scan is already running; its alerts show up in the channel.",
        "scan_done": "Scan done: {checked}, {failing}, {created}, {resolved}.",
        "scan_checked": plural("{count} invoice checked", "{count} invoices checked"),
        "scan_failing": plural("{count} failing", "{count} failing"),
        "scan_created": plural("{count} new alert", "{count} new alerts"),
        "scan_resolved": plural("{count} resolved", "{count} resolved", context="scan: alerts"),
        "scan_problem": "The scan stopped: {problem}. The alert in the channel says what to do.",
        "status_head": "*qbsync status*",
        "status_open": "Open alerts: {count}",
        "status_none": "Open alerts: none",
        "status_last": "Last scan: {when}",
        "status_next": "Next scan: {when}",
        "never": "never",
        "not_scheduled": "not scheduled",
        "qbo_days": plural("QuickBooks: connected; the refresh token expires in {days} day",
                           "QuickBooks: connected; the refresh token expires in {days} days", n="days"),
        "qbo_days_low": plural(":warning: QuickBooks: the refresh token expires in {days} day; run "
                               "`qbsync connect quickbooks` soon",
                               ":warning: QuickBooks: the refresh token expires in {days} days; run "
                               "`qbsync connect quickbooks` soon", n="days"),
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
        "digest_not_configured": "The digest could not be posted: it is not set up (QBSYNC_DIGEST).",
        # ---- end of the digest block ----
        # -- issue 12 part 4: bulk fix (handlers/bulk.py) -- begin
        "bulk_confirm_head": plural("*Fix {count} like this?* qbsync applies the recommended fix to this invoice, "
                                    "once, with its own record in the audit log:",
                                    "*Fix all {count} like this?* qbsync applies the recommended fix to each of these "
                                    "invoices, each once, with its own record in the audit log:"),
        "bulk_more": "…and {count} more.",
        "bulk_per_fix": "*Recommended fixes in this group:*",
        "bulk_what_changes": "*What each fix writes, for example {number}:*",
        "bulk_fix_this": "{count} like “{label}” (this button)",
        "bulk_fix_other": plural("{count} like “{label}” (needs a person)", "{count} like “{label}” (need a person)"),
        "bulk_no_fix_count": plural("no fix offered: {count} (needs a person)", "no fix offered: {count} (need a person)"),
        "bulk_needs_head": "*Need a person ({count})*, left as they are:",
        "bulk_expires": "This plan holds for {minutes} minutes. An invoice that changes before you confirm is left for a person.",
        "bulk_confirm_btn": "Confirm: fix {count}",
        "bulk_confirmed": plural("Confirmed: fixing {count} invoice. Progress is shown in the group's thread.",
                                 "Confirmed: fixing {count} invoices. Progress is shown in the group's thread."),
        "bulk_none": "No open invoice in this group shares that fix any more. Nothing was changed.",
        "bulk_plan_missing": "qbsync does not know this plan. Nothing was changed; press the group's Fix all button again.",
        "bulk_expired": "This plan expired (plans hold {minutes} minutes). Nothing was changed; press the group's Fix all button again.",
        "bulk_repeat": "This plan was already confirmed; it is not run again.",
        "bulk_why_no_fix": "no automatic fix is offered",
        "bulk_why_other_fix": "a different fix is recommended: {label}",
        "bulk_why_snoozed": "snoozed",
        "bulk_why_fixing": "a fix is already running",
        "bulk_why_changed": "changed since the plan was shown",
        "bulk_why_repeat": "this fix was already started once",
        "bulk_crashed": "qbsync hit an unexpected error; see its log",
        # cancel, runs going (issue 12 part 4, the release's gaps)
        "bulk_cancel_btn": "Cancel",
        "bulk_cancelled": "Cancelled: nothing was fixed. The group's Fix all button makes a new plan.",
        "bulk_was_cancelled": "This plan was cancelled; nothing was fixed. The group's Fix all button makes a new plan.",
        "bulk_cancel_too_late": "This plan was already confirmed and is running; its progress is in the group's thread.",
        "bulk_running": "Every invoice of this group with that fix is in a Fix all that is running; its progress is "
                        "in the group's thread. Nothing was changed.",
        "bulk_why_other_run": "in another Fix all that is running",
        "th_snooze_causes": ":zzz: {user} snoozed this until {until}: {causes}.",
        # -- issue 12 part 4: bulk fix -- end
        # -- issue 13 part 4: scans in workers (bot/jobs.py) -- begin
        "scan_queued": "Scan queued: a qbsync worker runs it; its alerts show up in the channel.",
        "scan_already_queued": "A scan is already queued; its alerts show up in the channel.",
        # -- issue 13 part 4: scans in workers -- end
        # -- issue 13 tenancy: the channel's connection (handlers/tenancy.py) -- begin
        "not_connected": "This channel is not connected to a company in qbsync, so nothing was done. An admin "
                         "connects it with `qbsync connect slack --connection ID --channel {channel}` (and "
                         "`qbsync connect hubspot` and `qbsync connect quickbooks` for the same ID).",
        "home_not_connected": "No channel of this workspace is connected to a company in qbsync yet. An admin "
                              "connects one with `qbsync connect slack --connection ID --channel CHANNEL` (and "
                              "`qbsync connect hubspot` and `qbsync connect quickbooks` for the same ID).",
        "home_others": "*Also in this workspace*: {companies}",
        "home_other": plural("{name} ({count} open alert)", "{name} ({count} open alerts)"),
        # -- issue 13 tenancy -- end
        # -- issue 13 part 4: fixes and digests in workers (handlers/deferred.py) -- begin
        "queued_for_worker": "Queued: a qbsync worker does it now and answers here.",
        # -- issue 13 part 4: fixes and digests in workers -- end
    },
})


def t(lang: str, key: str, **values) -> str:
    return pick(TEXTS, lang, key, **values)
