"""The words of qbsync's Slack chrome (state lines, buttons, dialog titles) in en/nl/es.

The rules own the words about causes and fixes (rules/*.py TEXTS); this file only has the
frame around them. `t(lang, key, **values)` falls back to English for a missing key.
English here; nl and es come from the gettext catalogs (rules/locale, see rules/catalog.py).
"""
from __future__ import annotations

from bot.i18n import pick
from rules.catalog import plural, words

TEXTS: dict[str, dict[str, str]] = words({
    "en": {
        "headline": "{number} did not reach QuickBooks",
        "in_hubspot": "{name} in HubSpot",
        "headline_group": plural("{count} invoice is not reaching QuickBooks",
                                 "{count} invoices are not reaching QuickBooks"),
        "headline_global": "Every invoice sync is affected",
        "state_open": "Open",
        "state_acknowledged": "Acknowledged by {user}",
        "state_fixing": "Fix in progress",
        "state_resolved": "Resolved",
        "state_resolved_why": "Resolved: {why}",
        "state_snoozed": "Snoozed until {until}",
        "causes_count": plural("{count} cause, to fix in this order:", "{count} causes, to fix in this order:"),
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
        "th_reminder": plural(":bell: Still failing and nobody has acknowledged it for {hours} hour.{who}",
                              ":bell: Still failing and nobody has acknowledged it for {hours} hours.{who}", n="hours"),
        "why_gone": "synced to QuickBooks or the cause is gone",
        "why_qbo_back": "QuickBooks answers again",
        "why_fix_interrupted_gone": "a fix was interrupted (qbsync stopped while it ran); the re-check shows the cause is gone",
        "th_fix_interrupted_still": ":warning: A fix was interrupted: qbsync stopped while it ran. The re-check shows the "
                                    "cause still holds, so the alert is open again: press the fix again (the same "
                                    "request is never applied twice).",
        "storm_hint": "_Many invoices failed at once for this cause, so they share one message: each is "
                      "listed in the thread. `/qbsync explain <number>` shows one invoice with its fixes._",
        "th_storm_members": "*Invoices in this group ({first}–{last}):*",
        # ":white_check_mark: {synced}; {still}." (bot/alerts.py): one plural entry per count
        "storm_synced": plural("{count} of these now syncs or no longer fails",
                               "{count} of these now sync or no longer fail"),
        "storm_still": plural("{count} still fails", "{count} still fail"),
        # ---- issue 12 part 6: the digest (bot/slack/digest_message.py, bot/digest_chart.py) ----
        "digest_head_weekly": ":bar_chart: Weekly qbsync digest",
        "digest_head_daily": ":bar_chart: Daily qbsync digest",
        "digest_empty_weekly": "No failures this week, and none open. :tada:",
        "digest_empty_daily": "No failures in the last 24 hours, and none open. :tada:",
        # "{new} · {resolved} · {open now}" and, per cause, "{new}, {open}": one plural entry per count
        "digest_new": plural("{count} new", "{count} new"),
        "digest_resolved": plural("{count} resolved", "{count} resolved", context="digest: failures"),
        "digest_open_now": plural("{count} open now", "{count} open now"),
        "digest_open": plural("{count} open", "{count} open"),
        "digest_by_cause": "By cause",
        "digest_oldest": "Oldest open failures",
        "digest_failing_for": "failing for {age}",
        "digest_resolved_head": "Resolved, and by whom",
        "digest_by_system": "on their own (synced, or the cause went away)",
        "digest_more": "and {count} more",
        "digest_fix_time": "*Time to resolve*: median {median}, worst {worst}",
        "dur_d": plural("{n} day", "{n} days", n="n"),
        "dur_h": plural("{n} hour", "{n} hours", n="n"),
        "dur_m": plural("{n} minute", "{n} minutes", n="n"),
        "digest_weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
        "digest_chart_title": "Failures per day (UTC)",
        "digest_chart_new": "New failures",
        "digest_chart_open": "Still open at the end of the day",
        "digest_chart_comment": "Failures per day over the last 7 days",
        "digest_chart_failed": ":warning: The chart could not be attached ({error}); the figures above are complete.",
        # ---- end of the digest block ----
        # -- issue 12 part 4: bulk fix (handlers/bulk.py) -- begin
        "btn_bulk_fix": "Fix all {count} like this",
        "bulk_progress": ":hourglass_flowing_sand: {user} is fixing all like this: {done} of {total} done…",
        "bulk_done": ":white_check_mark: Fix all by {user}: {fixed}, {failed}, {needs}.",
        "bulk_fixed": plural("{count} fixed", "{count} fixed"),
        "bulk_failed": plural("{count} failed", "{count} failed"),
        "bulk_needs": plural("{count} needs a person", "{count} need a person"),
        "bulk_failed_head": "*Failed ({count}):*",
        "bulk_needs_head": "*Need a person ({count}):*",
        "bulk_stopped": ":warning: Fix all by {user} stopped at {done} of {total} ({fixed}): qbsync stopped "
                        "during the run. The invoices it did not reach are open in this group again (Fix all plans "
                        "them anew); one it was fixing is re-checked by the next scan.",
        # -- issue 12 part 4: bulk fix -- end
    },
})


def t(lang: str, key: str, **values) -> str:
    return pick(TEXTS, lang, key, **values)
