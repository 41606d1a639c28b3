"""`/qbsync <sub-command>`: one small class per sub-command.

The listener acks at once with an empty body (nothing to wait for), then the sub-command
runs on the worker pool and answers through the command's response URL, as an ephemeral
message in the person's language. Unknown sub-commands and bad arguments get a usage message
that says what was wrong.
"""
from __future__ import annotations

from bot.slack.mrkdwn import slack_date as when

import csv
import io
import logging
import re
import time

from bot.alerts import OPEN_STATES, invoice_amount, is_group
from bot.digest import cause_title
from bot.errors import ApiError
from bot.explain import entry, explain_text, finding_entries
from bot.slack.messages import STATE_EMOJI
from bot.slack.mrkdwn import clip, escape, escape_lines, user
from bot.slack.texts import t as slack_t
from rules import registry
from rules.base import Classification
from rules.diagnose import SYNCABLE
from rules.text import LANGS

from .deferred import defer_digest, jobs_of
from .history import Reader as HistoryReader
from .live import diagnose_now
from .services import ScanQueued
from .steps import Interaction, Say, Usage, code, parse_duration

log = logging.getLogger(__name__)

LIST_MAX = 40
DAYS_LOW = 14
_INVOICE_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/#-]{0,40}$")


def thread_link(services, channel: str | None, ts: str | None) -> str | None:
    """A thread's permalink from Slack (SlackPoster.permalink: chat.getPermalink), or None."""
    poster = getattr(getattr(services, "parts", None), "poster", None)
    if poster is None or not channel or not ts:
        return None
    return poster.permalink(channel, ts)


def rules_list() -> str:
    return ", ".join(f"`{r}`" for r in registry.ids())


def _rule_arg(value: str) -> str:
    if value not in registry.ids():
        raise Usage("usage_rule", rule=code(value), rules=rules_list())
    return value


def _unescape(text: str) -> str:
    # Slack sends &, <, > in command text as entities.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class Command:
    name = ""
    usage = ""
    min_args = 0
    max_args: int | None = 0

    def check_args(self, args: list[str]) -> None:
        if len(args) < self.min_args:
            raise Usage("usage_missing", usage=escape(self.usage))
        if self.max_args is not None and len(args) > self.max_args:
            raise Usage("usage_extra", usage=escape(self.usage))

    def run(self, ix: Interaction, args: list[str], raw: str) -> None:
        raise NotImplementedError


class Help(Command):
    name, usage = "help", "/qbsync help"
    max_args = None

    def run(self, ix, args, raw):
        # The help text shows <placeholders>: as entities, or Slack would read them as links.
        text = ix.t("help", rules=rules_list()) + "\n" + ix.t("help_digest")
        ix.answer(text.replace("<", "&lt;").replace(">", "&gt;"))


class Status(Command):
    name, usage = "status", "/qbsync status"

    def run(self, ix, args, raw):
        ix.answer(status_text(ix.services.status(), ix.t, ix.lang))


def status_lines(data, tr) -> list[str]:
    """Health lines shared by `status` and the App Home."""
    lines = [tr("status_last", when=when(data.last_scan) if data.last_scan else tr("never")),
             tr("status_next", when=when(data.next_scan) if data.next_scan else tr("not_scheduled"))]
    if data.qbo_broken:
        lines.append(tr("qbo_broken"))
    elif data.qbo_days_left is None:
        lines.append(tr("qbo_unknown"))
    else:
        days = max(0, int(data.qbo_days_left))
        lines.append(tr("qbo_days_low" if days < DAYS_LOW else "qbo_days", days=days))
    if data.throttled:
        lines.append(tr("throttled"))
    if data.mutes:
        lines.append(tr("muted_line", rules=", ".join(f"`{r}` ({when(u)})" for r, u in sorted(data.mutes.items()))))
    return lines


def status_text(data, tr, lang: str = "en") -> str:
    lines = [tr("status_head")]
    if data.open_count:
        lines.append(tr("status_open", count=data.open_count))
        for rule, alerts in sorted(data.open_by_rule.items()):
            title = rule_title(rule, lang)
            lines.append(f"• `{rule}`: {len(alerts)}" + (f" · {escape(title)}" if title else ""))
    else:
        lines.append(tr("status_none"))
    return "\n".join(lines + status_lines(data, tr) + risk_lines(getattr(data, "risks", None) or [], tr, lang))


def risk_lines(risks, tr, lang: str) -> list[str]:
    """Settings that will break syncs (bot/sync_risks.py), each with where to change it. The
    words carry HubSpot invoice numbers and QBO values: escaped for Slack."""
    if not risks:
        return []
    return [tr("risks_head", count=len(risks))] + [
        f"• `{r.id}`: {escape(r.text(lang))} {tr('risk_where')} {escape(r.where(lang))}" for r in risks]


class Scan(Command):
    name, usage = "scan", "/qbsync scan"

    def run(self, ix, args, raw):
        ix.answer(ix.t("scanning"))
        ix.services.store.audit(ix.user, "command:scan", "started")
        result = ix.services.run_scan()
        if isinstance(result, ScanQueued):  # PostgreSQL: a `qbsync worker` runs it
            ix.answer(ix.t("scan_queued" if result.job_id is not None else "scan_already_queued"))
            return
        if result is None:
            ix.answer(ix.t("scan_busy"))
            return
        if result.problem:
            ix.answer(ix.t("scan_problem", problem=code(result.problem)))
            return
        ix.answer(ix.t("scan_done", checked=ix.t("scan_checked", count=result.checked),
                       failing=ix.t("scan_failing", count=len(result.failing)),
                       created=ix.t("scan_created", count=len(result.created)),
                       resolved=ix.t("scan_resolved", count=len(result.resolved))))


class Explain(Command):
    name, usage = "explain", "/qbsync explain <invoice number | error text>"
    min_args, max_args = 1, None

    def run(self, ix, args, raw):
        text = _unescape(raw.split(None, 1)[1].strip())
        svc = ix.services
        if " " not in text and _INVOICE_LIKE.match(text) and any(c.isdigit() for c in text):
            invoice = svc.hubspot.find_invoice_by_number(text)
            if invoice is None:
                raise Usage("usage_invoice", number=code(text))
            ix.answer(self.invoice_answer(ix, invoice))
            return
        entry = explain_text(text, ix.lang)
        ix.answer(render_entries([entry], ix))

    @staticmethod
    def invoice_answer(ix, invoice) -> str:
        number = escape(invoice.number)
        if not invoice.is_native:
            return ix.t("explain_imported", number=number)
        if invoice.status not in SYNCABLE:
            return ix.t("explain_status", number=number, status=escape(invoice.status))
        found = diagnose_now(ix.services, invoice)
        if not found:
            return ix.t("explain_none", number=number)
        if not ix.may_view(action="command:explain", target=invoice.number):
            return render_entries(rule_entries(found, ix.lang), ix) + "\n\n_" + ix.t("records_hidden") + "_"
        return render_entries(finding_entries(found, ix.lang), ix)


def rule_entries(findings, lang: str) -> list[dict]:
    """The causes of `findings` at the level of the rule (its general title, text and steps),
    with none of the records' values: for people who may not read record details."""
    out = []
    for f in findings:
        rule = registry.get(f.rule)
        e = rule.explain(Classification(f.rule, None, {}, None), lang)
        steps = [{"id": f"step-{n}", "label": s, "confirm": None} for n, s in enumerate(rule.steps(e.locale), 1)]
        out.append(entry(f.rule, e.title, e.text, steps, e.locale, {}))
    return out


def render_entries(entries: list[dict], ix) -> str:
    out = []
    for e in entries:
        part = [f"*{escape(e['title'])}* `{e['rule']}`", escape(e["explanation"])]
        if e["fixes"]:
            heading = ix.t("explain_fixes") if e["fixes"][0].get("confirm") else ix.t("explain_steps")
            part.append(f"*{heading}*\n" + "\n".join(f"• {escape(f['label'])}" for f in e["fixes"]))
        for line in e["evidence"].get("fixes_not_offered", []):
            part.append(f"_{escape(line)}_")
        out.append("\n".join(part))
    return "\n\n".join(out)


class List(Command):
    name, usage = "list", "/qbsync list [rule]"
    max_args = 1

    def run(self, ix, args, raw):
        rule = _rule_arg(args[0]) if args else None
        found = ix.services.store.list_alerts(states=OPEN_STATES, rule=rule)
        groups = {a["key"]: a for a in found if is_group(a)}  # open groups come with their members
        alerts = []
        for a in found:
            if is_group(a):
                continue  # its members are listed, each linking to the group's thread
            group = groups.get(a["group_key"]) if a["group_key"] and not a["ts"] and a["listed"] else None
            if group and group["ts"]:
                a = dict(a, channel=group["channel"], ts=group["ts"])
            alerts.append(a)
        suffix = f" (`{rule}`)" if rule else ""
        if not alerts:
            ix.answer(ix.t("list_none", rule=suffix))
            return
        details = ix.may_view(action="command:list", target=rule or "")
        lines = [ix.t("list_head", rule=suffix, count=len(alerts))]
        for a in alerts[:LIST_MAX]:
            lines.append(alert_line(a, ix.t, details=details, link=thread_link(ix.services, a["channel"], a["ts"]),
                                    lang=ix.lang))
        if len(alerts) > LIST_MAX:
            lines.append(ix.t("list_more", count=len(alerts) - LIST_MAX))
        ix.answer("\n".join(lines))


def alert_label(alert: dict, *, details: bool) -> str:
    """What names an alert in a list: its invoice number; without one, its summary (which can
    name records) for those who may read record details, else its rule. Escaped, link-safe."""
    label = alert["invoice_number"] or (alert["summary"] if details else None) or alert["rule"] or alert["key"]
    return clip(escape(label).replace("|", "/"), 80)


def record_details(alert: dict, lang: str = "en") -> str:
    """Who the invoice is for and its amount in `lang`'s words (escaped), or ''."""
    inv = alert["evidence"].get("invoice", {}) if isinstance(alert.get("evidence"), dict) else {}
    return " · ".join(escape(x) for x in (inv.get("who"), invoice_amount(inv, lang)) if x)


def alert_line(alert: dict, tr, *, details: bool = False, link: str | None = None, lang: str = "en") -> str:
    label = alert_label(alert, details=details)
    if link:
        shown = f"<{link}|{label}>"
    else:
        shown = label if alert["ts"] and alert["channel"] else f"{label} ({tr('not_posted')})"
    extra = record_details(alert, lang) if details else ""
    extra = f" · {clip(extra, 160)}" if extra else ""
    title = rule_title(alert["rule"], lang)
    cause = f"{escape(title)} (`{alert['rule']}`)" if title else f"`{alert['rule']}`"
    return f"{STATE_EMOJI.get(alert['state'], '')} {shown}{extra} · {cause} · {state_words(alert, lang)}"


def rule_title(rule_id: str, lang: str) -> str:
    """A rule's title in `lang` (bot/digest.py cause_title), or '' for a rule no longer known:
    lists name the cause in words, with its id beside it for /qbsync list|mute <rule>."""
    title = cause_title(rule_id, lang)
    return "" if title == rule_id else title


def state_words(alert: dict, lang: str) -> str:
    """An alert's state in words (the parent's state line without its emoji)."""
    state = alert["state"]
    if state == "acknowledged" and alert.get("acknowledged_by"):
        return slack_t(lang, "state_acknowledged", user=user(alert["acknowledged_by"]))
    if state == "snoozed" and alert.get("snoozed_until"):
        return slack_t(lang, "state_snoozed", until=when(alert["snoozed_until"]))
    try:
        return slack_t(lang, f"state_{state}")
    except KeyError:
        return escape(state)


class Snooze(Command):
    name, usage = "snooze", "/qbsync snooze <invoice number> <duration>"
    min_args, max_args = 2, 2

    def run(self, ix, args, raw):
        number, seconds = args[0], parse_duration(args[1])
        svc = ix.services
        ix.require_fixer("what_snooze", action="command:snooze", target=number)
        invoice_id = next((a["invoice_id"] for a in svc.store.list_alerts() if a["invoice_number"] == number
                           and a["invoice_id"]), None)
        if invoice_id is None:
            invoice = svc.hubspot.find_invoice_by_number(number)
            if invoice is None:
                raise Usage("usage_invoice", number=code(number))
            invoice_id = invoice.id
        until = svc.clock() + seconds
        svc.store.snooze(invoice_id, until, ix.user)
        from bot.alerts import rule_order

        from .actions import snooze_causes

        # As the parent's Snooze button: every open cause, each its own state and audit row,
        # and one thread reply per thread (an invoice's causes share one) naming them.
        causes = sorted(svc.store.list_alerts(states=("open", "acknowledged"), invoice_id=invoice_id),
                        key=lambda a: (rule_order(a["rule"]), a["id"]))
        threads: dict[tuple, list[dict]] = {}
        for alert in causes:
            threads.setdefault((alert["channel"], alert["ts"] or alert["key"]), []).append(alert)
        for same_thread in threads.values():
            snooze_causes(ix, same_thread, until, "command:snooze")
        svc.store.audit(ix.user, "command:snooze", "ok", target=invoice_id,
                        detail={"number": number, "until": until})
        ix.answer(ix.t("snoozed", number=escape(number), until=when(until)))


class Mute(Command):
    name, usage = "mute", "/qbsync mute <rule> <duration>"
    min_args, max_args = 2, 2

    def run(self, ix, args, raw):
        rule, seconds = _rule_arg(args[0]), parse_duration(args[1])
        ix.require_fixer("what_mute", action="command:mute", target=rule)
        until = ix.services.clock() + seconds
        ix.services.store.mute(rule, until, ix.user)
        ix.services.store.audit(ix.user, "command:mute", "ok", target=rule, detail={"until": until})
        ix.answer(ix.t("muted", rule=rule, until=when(until)))


class Unmute(Command):
    name, usage = "unmute", "/qbsync unmute <rule>"
    min_args, max_args = 1, 1

    def run(self, ix, args, raw):
        rule = _rule_arg(args[0])
        ix.require_fixer("what_mute", action="command:unmute", target=rule)
        was = ix.services.store.unmute(rule)
        ix.services.store.audit(ix.user, "command:unmute", "ok" if was else "noop", target=rule)
        ix.answer(ix.t("unmuted" if was else "not_muted", rule=rule))


class Lang(Command):
    name, usage = "lang", "/qbsync lang en|nl|es"
    min_args, max_args = 1, 1

    def run(self, ix, args, raw):
        lang = args[0].lower()
        if lang not in LANGS:
            raise Usage("usage_lang", value=code(args[0]))
        ix.services.store.set_user_lang(ix.user, lang)
        ix.services.store.audit(ix.user, "command:lang", "ok", target=ix.user, detail={"lang": lang})
        ix.set_lang(lang)
        ix.answer(ix.t("lang_set"))


HISTORY_MAX = 40
EXPORT_DAYS = 30
EXPORT_INLINE_MAX = 10000   # larger is not shown inline (an ephemeral answer is clipped at 12,000)


def _can_view_or_refuse(ix, *, action: str, target: str) -> None:
    """Say("records_refused") (after auditing the attempt) unless the person may read records."""
    if ix.services.permissions.can_view(ix.user):
        return
    ix.services.store.audit(ix.user, action, "refused", target=target,
                            detail={"why": "record details: not in QBSYNC_FIX_ALLOWED or QBSYNC_VIEW_ALLOWED",
                                    "via": ix.kind})
    raise Say("records_refused")


class History(Command):
    name, usage = "history", "/qbsync history <invoice number>"
    min_args, max_args = 1, 1

    def run(self, ix, args, raw):
        number = _unescape(args[0])
        store = ix.services.store
        _can_view_or_refuse(ix, action="command:history", target=number)
        alerts = [a for a in store.list_alerts() if a["invoice_number"] == number and not is_group(a)]
        if not alerts:
            raise Say("history_unknown", number=code(number))
        targets = {a["key"] for a in alerts} | {a["invoice_id"] for a in alerts if a["invoice_id"]}
        entries = sorted((e for t in targets for e in store.audit_entries(target=t)),
                         key=lambda e: (e["at"], e["id"]))
        # Each entry as a sentence in the reader's language (handlers/history.py); the codes
        # and key=value details stay in the store.
        lines = HistoryReader(alerts, ix.lang).lines(entries)
        head = ix.t("history_head", number=escape(number), count=len(lines))
        store.audit(ix.user, "command:history", "ok", target=number, detail={"entries": len(lines)})
        if not lines:
            ix.answer(head + "\n" + ix.t("history_none"))
            return
        shown = [head]
        if len(lines) > HISTORY_MAX:
            shown.append(ix.t("history_older", count=len(lines) - HISTORY_MAX))
        ix.answer("\n".join(shown + lines[-HISTORY_MAX:]))  # newest last


EXPORT_COLUMNS = ("invoice number", "rule", "state", "created", "resolved", "resolution")


def _iso(ts) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""


def export_csv(alerts: list[dict], now: float, days: int = EXPORT_DAYS) -> tuple[str, int]:
    """Open alerts and those resolved in the last `days` days as CSV text, and the row count.
    Storm groups' own rows are left out (their members are listed)."""
    since = now - days * 86400
    rows = [a for a in alerts if not is_group(a)
            and (a["state"] != "resolved" or (a["resolved_at"] or 0) >= since)]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(EXPORT_COLUMNS)
    for a in rows:
        w.writerow([a["invoice_number"] or "", a["rule"], a["state"], _iso(a["created_at"]),
                    _iso(a["resolved_at"]), a["resolution"] or ""])
    return out.getvalue(), len(rows)


class Export(Command):
    name, usage = "export", "/qbsync export"

    def run(self, ix, args, raw):
        svc = ix.services
        _can_view_or_refuse(ix, action="command:export", target="alerts")
        text, count = export_csv(svc.store.list_alerts(), svc.clock())
        filename = time.strftime("qbsync-export-%Y%m%d-%H%M.csv", time.gmtime(svc.clock()))
        if send_to_dm(svc, ix.user, text, filename, ix.t("export_file", count=count, days=EXPORT_DAYS)):
            svc.store.audit(ix.user, "command:export", "ok", target="alerts", detail={"rows": count, "via": "dm"})
            ix.answer(ix.t("export_sent", count=count))
            return
        # The upload failed (logged): fall back to an ephemeral answer, which only the asker sees.
        if len(text) > EXPORT_INLINE_MAX:
            svc.store.audit(ix.user, "command:export", "failed", target="alerts", detail={"rows": count})
            ix.answer(ix.t("export_too_large", count=count))
            return
        svc.store.audit(ix.user, "command:export", "ok", target="alerts", detail={"rows": count, "via": "ephemeral"})
        # In a code block Slack shows the text as it is; only &, <, > need entities.
        body = escape_lines(text.rstrip("\n")).replace("`", "'")
        ix.answer(ix.t("export_head", count=count, days=EXPORT_DAYS) + "\n```\n" + body + "\n```")


def send_to_dm(svc, user_id: str, text: str, filename: str, comment: str) -> bool:
    """Share `text` as a file in `user_id`'s DM with the bot, and nobody else's: conversations.open
    (users=<id>: a 1:1 DM, scope im:write; https://docs.slack.dev/reference/methods/conversations.open),
    then slack_sdk's files_upload_v2 (files.getUploadURLExternal + files.completeUploadExternal,
    scope files:write). False (logged) when Slack refused or could not be reached."""
    client = getattr(getattr(getattr(svc, "parts", None), "poster", None), "client", None)
    if client is None:
        return False
    try:
        dm = client.conversations_open(users=user_id)["channel"]["id"]
        client.files_upload_v2(channel=dm, content=text, filename=filename, title=filename,
                               initial_comment=comment)
    except Exception as exc:  # SlackApiError or network trouble: the caller falls back
        response = getattr(exc, "response", None)
        why = response.get("error") if response is not None else type(exc).__name__
        log.warning("export: cannot send the CSV to %s's DM: %s", user_id, why)
        return False
    return True

class Digest(Command):
    """Post the digest of the period that ends now in the alert channel (bot/digest_service.py).
    It names invoices, customers and people, in a channel: for those who may read records."""
    name, usage = "digest", "/qbsync digest"

    def run(self, ix, args, raw):
        _can_view_or_refuse(ix, action="command:digest", target="digest")
        if jobs_of(ix.services) is not None:  # PostgreSQL: a worker sends it (handlers/deferred.py)
            defer_digest(ix)
            return
        send_digest(ix)


def send_digest(ix: Interaction) -> None:
    """Post the digest now and tell the person: here (SQLite) or in a worker's job."""
    svc = ix.services
    digest = getattr(getattr(svc, "parts", None), "digest", None)
    if digest is None:
        raise Say("digest_not_configured")
    try:
        ts = digest.send_now()
    except ApiError as exc:
        svc.store.audit(ix.user, "command:digest", "failed", target="digest", detail={"error": exc.code or ""})
        raise Say("digest_failed", error=code(exc.code or type(exc).__name__)) from None
    svc.store.audit(ix.user, "command:digest", "ok", target="digest", detail={"ts": ts})
    # `<#C…>` links a channel by id (Slack's "Formatting message text",
    # https://docs.slack.dev/messaging/formatting-message-text/); the id is checked by bot/config.py.
    ix.answer(ix.t("digest_sent", channel=f"<#{digest.channel}>"))


COMMANDS: dict[str, Command] = {c.name: c for c in (Help(), Status(), Scan(), Explain(), List(), Snooze(),
                                                    Mute(), Unmute(), Lang(),
                                                    History(), Export(), Digest())}


def handle_command(ix: Interaction, text: str) -> None:
    """Route `/qbsync text` to its sub-command (run inside run_step)."""
    words = (text or "").split()
    if not words:
        words = ["help"]
    sub = words[0].lower()
    command = COMMANDS.get(sub)
    if command is None:
        raise Usage("usage_unknown_sub", sub=code(words[0]))
    command.check_args(words[1:])
    command.run(ix, words[1:], (text or "").strip())
