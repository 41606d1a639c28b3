"""`/qbsync history <invoice>` in words a finance reader follows (issue 12 part 7).

The audit log (bot/store, `audit_log`) keeps what happened as data: an action code
(`slack:fix:create-customer`), an outcome code (`ok`, `noop`, `refused`, `started`), the
target (an alert key `<invoice id>:<rule>` or the invoice id) and a JSON detail. The store and
the CSV export keep that data as it is; this module turns each entry into one sentence in the
reader's language: the cause named by its title, people by mention, times as Slack date
tokens, a fix's own message (already words, in the channel's language) kept as it was said.

Every audit action that can be recorded about an invoice's alerts has its sentences here
(`SENTENCES`, by action or action prefix); actions that are never about one invoice are
listed in `NOT_ABOUT_AN_INVOICE`. tests/test_history_words.py scans bot/, handlers/ and
rules/ for audit action literals and fails on one that is in neither. An entry with no
sentence of its own still reads as a sentence (`generic`), never as a code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from bot.alerts import finding_from_alert
from bot.slack.mrkdwn import clip, escape, slack_date
from bot.slack.mrkdwn import user as mention
from bot.slack.texts import TEXTS as CHANNEL_TEXTS
from rules import registry
from rules.base import Classification
from rules.catalog import words
from rules.text import LANGS

from .texts import TEXTS as ANSWER_TEXTS

MESSAGE_MAX = 300  # a fix's message, clipped: the history is a list, the thread has the whole reply

WORDS: dict[str, dict[str, str]] = words({
    "en": {
        "found": "qbsync found “{cause}” in a scan and posted the alert",
        "route_refused": "qbsync could not post “{cause}” in its route channel and posted it in the alert channel",
        "reminded": "qbsync reminded the fixers of “{cause}”: nobody had acknowledged it",
        "reopened": "“{cause}” came back in a scan: reopened",
        "synced": "the invoice reached QuickBooks: “{cause}” stays resolved",
        "resolved_synced": "“{cause}” resolved: synced to QuickBooks or the cause is gone",
        "resolved_by_hand": "{who} resolved “{cause}” by hand",
        "resolved_fixed": "“{cause}” resolved: the re-check after the fix passed",
        "resolved_recheck": "“{cause}” resolved: {who}'s re-check found the cause gone",
        "resolved_interrupted": "“{cause}” resolved: a fix was interrupted and its re-check found the cause gone",
        "resolved": "“{cause}” resolved",
        "recovery_gone": "qbsync settled an interrupted fix of “{cause}” by {who}: the cause is gone",
        "recovery_still": "qbsync settled an interrupted fix of “{cause}” by {who}: the cause still holds",
        "fix_started": "{who} started the fix “{label}”",
        "fix_ok": "{who} fixed “{cause}”: {message}",
        "fix_failed": "the fix of “{cause}” by {who} did not work: {message}",
        "fix_not_run": "the fix of “{cause}” by {who} was not run: {reason}",
        "write_ok": "{who} changed the records for “{cause}”: {message}",
        "write_already": "the change for “{cause}” was already made: {message}",
        "write_failed": "the change for “{cause}” did not work: {message}",
        "worker_began": "a qbsync worker began the fix of “{cause}”",
        "recheck_gone": "{who} re-checked “{cause}”: the cause is gone",
        "recheck_still": "{who} re-checked “{cause}”: it still fails",
        "acknowledged": "{who} acknowledged “{cause}”",
        "snoozed": "{who} snoozed “{cause}” until {until}",
        "snoozed_invoice": "{who} snoozed the invoice until {until}",
        "not_done": "the click of {who} on “{cause}” changed nothing: {reason}",
        "refused_fix": "{who} was refused: not allowed to fix “{cause}”",
        "refused_ack": "{who} was refused: not allowed to acknowledge “{cause}”",
        "refused_snooze": "{who} was refused: not allowed to snooze “{cause}”",
        "refused_resolve": "{who} was refused: not allowed to resolve “{cause}”",
        "refused_snoozed": "{who} could not acknowledge “{cause}”: it was snoozed",
        "refused_records": "{who} was shown “{cause}” without names, emails or amounts: not allowed to read them",
        "refused": "{who} was refused: not allowed",
        "generic": "{who} acted on “{cause}”",
        "the_invoice": "the invoice",
        "a_worker": "a qbsync worker",
        # why a click or a fix run changed nothing (audit detail "why")
        "why_gone": "the alert no longer existed",
        "why_resolved": "it was already resolved",
        "why_running": "a fix was already running",
        "why_repeat": "the same click arrived twice",
        "why_not_offered": "that fix was no longer offered",
        "why_changed": "the alert had changed meanwhile",
        "why_claimed": "another fix had already started it",
        "why_other": "there was nothing to do",
    },
})

# The audit detail's "why" of a click or run that changed nothing (handlers/actions.py,
# handlers/deferred.py, handlers/bulk.py) -> the words that say it.
WHY = {"no such alert": "why_gone", "already resolved": "why_resolved", "a fix is running": "why_running",
       "repeat delivery": "why_repeat", "fix not offered": "why_not_offered",
       "changed while queued": "why_changed", "changed since the plan": "why_changed",
       "claimed by another fix": "why_claimed"}

# An alert:resolve entry's "why" is the resolution text in the channel's language at the time
# (AlertService.resolve(key, why)). It is recognised by the text it was made from, in any of
# the three languages, and said again in the reader's: (table, key) -> our sentence.
RESOLUTIONS = ((CHANNEL_TEXTS, "why_gone", "resolved_synced"),
               (CHANNEL_TEXTS, "why_fix_interrupted_gone", "resolved_interrupted"),
               (ANSWER_TEXTS, "th_resolve_why", "resolved_by_hand"),
               (ANSWER_TEXTS, "th_recheck_why", "resolved_recheck"),
               (ANSWER_TEXTS, "th_fixed_why", "resolved_fixed"))


def _resolution(why: str) -> str:
    """The sentence key for a resolution text, "resolved" when it is none of ours."""
    for table, key, sentence in RESOLUTIONS:
        for lang in LANGS:
            template = table[lang][key]
            head, _, tail = template.partition("{label}")
            if why == template or (tail and why.startswith(head) and why.endswith(tail)):
                return sentence
    return "resolved"


@dataclass
class Entry:
    """One audit entry with what its sentence needs, in the reader's language."""
    e: dict
    lang: str
    cause: str       # the cause's title (escaped), or "the invoice" for invoice-level entries
    label: Callable[[str], str]  # fix id -> the fix's label (escaped)

    def say(self, key: str, **values) -> str:
        return WORDS[self.lang][key].format(**values)

    @property
    def who(self) -> str:
        return who(self.e["actor"], self.lang)

    @property
    def detail(self) -> dict:
        d = self.e["detail"]
        return d if isinstance(d, dict) else {}

    def message(self) -> str:
        return clip(escape(self.detail.get("message") or ""), MESSAGE_MAX)

    def reason(self) -> str:
        return self.say(WHY.get(str(self.detail.get("why", "")), "why_other"))


def who(actor: str, lang: str) -> str:
    """A person by mention; qbsync itself by name; a worker process as "a qbsync worker"."""
    if actor == "system":
        return "qbsync"
    if actor.startswith("worker:"):
        return WORDS[lang]["a_worker"]
    return mention(actor)


# -- the sentences, by action ------------------------------------------------------------------

def _post(x: Entry) -> str:
    return x.say("found", cause=x.cause)


def _route(x: Entry) -> str:
    return x.say("route_refused", cause=x.cause)


def _remind(x: Entry) -> str:
    return x.say("reminded", cause=x.cause)


def _reopen(x: Entry) -> str:
    return x.say("reopened", cause=x.cause)


def _synced(x: Entry) -> str:
    return x.say("synced", cause=x.cause)


def _resolve(x: Entry) -> str:
    return x.say(_resolution(str(x.detail.get("why", ""))), cause=x.cause, who=x.who)


def _recovery(x: Entry) -> str:
    by = who(str(x.detail.get("by") or "system"), x.lang)
    return x.say("recovery_gone" if x.detail.get("cause") == "gone" else "recovery_still", cause=x.cause, who=by)


def _refused(x: Entry, own: str) -> str:
    if x.detail.get("shown") == "rule level":  # may_view: answered without the records
        return x.say("refused_records", who=x.who, cause=x.cause)
    return x.say(own, who=x.who, cause=x.cause)


def _slack_fix(x: Entry) -> str:
    fix_id = x.e["action"].removeprefix("slack:fix:")
    outcome = x.e["outcome"]
    if outcome == "started":
        return x.say("fix_started", who=x.who, label=x.label(fix_id) or escape(x.detail.get("label", "")) or x.cause)
    if outcome == "ok":
        return x.say("fix_ok", who=x.who, cause=x.cause, message=x.message())
    if outcome == "failed":
        return x.say("fix_failed", who=x.who, cause=x.cause, message=x.message())
    if outcome == "refused":
        return _refused(x, "refused_fix")
    return x.say("fix_not_run", who=x.who, cause=x.cause, reason=x.reason())


def _write(x: Entry) -> str:
    """The write itself (rules/fixes.py guarded): shown when no click's entry says it."""
    key = {"ok": "write_ok", "noop": "write_already"}.get(x.e["outcome"], "write_failed")
    return x.say(key, who=x.who, cause=x.cause, message=x.message())


def _worker(x: Entry) -> str:
    return x.say("worker_began", cause=x.cause)


def _recheck(x: Entry) -> str:
    if x.e["outcome"] == "refused":
        return _refused(x, "refused")
    if x.e["outcome"] != "ok":
        return x.say("not_done", who=x.who, cause=x.cause, reason=x.reason())
    return x.say("recheck_gone" if x.detail.get("gone") else "recheck_still", who=x.who, cause=x.cause)


def _ack(x: Entry) -> str:
    if x.e["outcome"] == "refused":
        return _refused(x, "refused_snoozed" if x.detail.get("why") == "snoozed" else "refused_ack")
    if x.e["outcome"] != "ok":
        return x.say("not_done", who=x.who, cause=x.cause, reason=x.reason())
    return x.say("acknowledged", who=x.who, cause=x.cause)


def _until(x: Entry) -> str:
    until = x.detail.get("until")
    return slack_date(float(until)) if isinstance(until, (int, float)) else "?"


def _snooze(x: Entry) -> str:
    if x.e["outcome"] == "refused":
        return _refused(x, "refused_snooze")
    if x.e["outcome"] != "ok":
        return x.say("not_done", who=x.who, cause=x.cause, reason=x.reason())
    return x.say("snoozed", who=x.who, cause=x.cause, until=_until(x))


def _snooze_command(x: Entry) -> str:
    if x.e["outcome"] == "refused":
        return _refused(x, "refused_snooze")
    return x.say("snoozed_invoice", who=x.who, until=_until(x))


def _resolve_click(x: Entry) -> str:
    # A click's own "ok" is the alert:resolve entry (by the person); here: refusals and no-ops.
    if x.e["outcome"] == "refused":
        return _refused(x, "refused_resolve")
    return x.say("not_done", who=x.who, cause=x.cause, reason=x.reason())


def _generic(x: Entry) -> str:
    if x.e["outcome"] == "refused":
        return x.say("refused", who=x.who)
    return x.say("generic", who=x.who, cause=x.cause)


# Action (or, ending in ":", action prefix) -> its sentence. Actions recorded with an alert
# key or an invoice id as target: bot/alerts.py, bot/store (reopen), bot/scan.py (recovery),
# handlers/actions.py, handlers/bulk.py (a member's fix), handlers/deferred.py, rules/fixes.py,
# handlers/commands.py (snooze).
SENTENCES: dict[str, Callable[[Entry], str]] = {
    "alert:post": _post,
    "alert:route": _route,
    "alert:remind": _remind,
    "alert:reopen": _reopen,
    "alert:resolve": _resolve,
    "alert:synced": _synced,
    "fix-recovery": _recovery,
    "slack:fix:": _slack_fix,
    "fix:": _write,
    "job:fix": _worker,
    "slack:recheck": _recheck,
    "slack:ack": _ack,
    "slack:snooze": _snooze,
    "slack:resolve": _resolve_click,
    "command:snooze": _snooze_command,
}

# Actions never recorded about one invoice's alerts (their target is a scan, a connection,
# a digest period, a rule, a storm group, a bulk plan, the person, or the invoice's number):
# they never reach an invoice's history, which reads entries by alert key and invoice id.
NOT_ABOUT_AN_INVOICE = frozenset({
    "scan", "job:scan", "job:bulk-fix", "digest:post", "digest:chart", "connection:set", "connection:remove",
    "alert:group", "command:scan", "command:mute", "command:unmute", "command:lang", "command:history",
    "command:export", "command:digest", "command:list", "command:explain", "home:view",
    "slack:bulk-plan", "slack:bulk-confirm", "slack:bulk-cancel", "slack:bulk-fix", "bulk-fix:stopped",
})


def sentence_for(action: str) -> Callable[[Entry], str] | None:
    """The sentence maker of `action`: by the action itself, else by its longest prefix."""
    if action in SENTENCES:
        return SENTENCES[action]
    prefixes = [p for p in SENTENCES if p.endswith(":") and action.startswith(p)]
    return SENTENCES[max(prefixes, key=len)] if prefixes else None


def _shown(entries: list[dict]) -> list[dict]:
    """Entries worth a line. Left out, because the click's own entry (`slack:fix:<id>`) that
    follows for the same cause says it: a fix's write (`fix:<id>`, the same message) and the
    resolution a passed fix writes ("fixed with …; re-check passed")."""
    out = []
    for i, e in enumerate(entries):
        later = entries[i + 1:]
        if e["action"].startswith("fix:"):
            click = "slack:" + e["action"]
            if any(x["action"] == click and x["target"] == e["target"] and x["outcome"] in ("ok", "failed")
                   for x in later):
                continue
        if e["action"] == "alert:resolve" and _resolution(str((e["detail"] or {}).get("why", ""))) == \
                "resolved_fixed" and any(x["action"].startswith("slack:fix:") and x["target"] == e["target"]
                                         and x["outcome"] == "ok" for x in later):
            continue
        out.append(e)
    return out


class Reader:
    """Turns one invoice's audit entries into lines for a reader of `lang`."""

    def __init__(self, alerts: list[dict], lang: str):
        self.lang = lang
        self.by_key = {a["key"]: a for a in alerts}
        self._titles: dict[str, str] = {}

    def cause(self, target: str) -> str:
        """The cause's title for an alert key, escaped; "the invoice" for an invoice id."""
        if target not in self._titles:
            alert = self.by_key.get(target)
            self._titles[target] = escape(self._title(alert)) if alert else WORDS[self.lang]["the_invoice"]
        return self._titles[target]

    def _title(self, alert: dict) -> str:
        rule = registry.get(alert["rule"])
        finding = finding_from_alert(alert)
        if finding is not None:
            title = rule.explain(finding, self.lang).title
        else:
            title = rule.explain(Classification(alert["rule"], None, {}, None), self.lang).title
        # "Invoice INV-1003: no QuickBooks customer has …": the history is the invoice's own, so
        # its number is said once, in the head line.
        head, sep, rest = title.partition(": ")
        number = alert["invoice_number"] or ""
        return rest if sep and rest and number and number in head and len(head) < 40 else title

    def label_of(self, target: str) -> Callable[[str], str]:
        """fix id -> the fix's label as the rule words it for this alert in the reader's language."""
        alert = self.by_key.get(target)

        def label(fix_id: str) -> str:
            finding = finding_from_alert(alert) if alert else None
            if alert is None or finding is None:
                return ""
            found = next((f for f in registry.get(alert["rule"]).fixes(finding, self.lang) if f.id == fix_id), None)
            return escape(found.label) if found else ""
        return label

    def lines(self, entries: list[dict]) -> list[str]:
        return [self.line(e) for e in _shown(entries)]

    def line(self, e: dict) -> str:
        x = Entry(e, self.lang, self.cause(e["target"]), self.label_of(e["target"]))
        say = sentence_for(e["action"]) or _generic
        return f"• {slack_date(e['at'])} · {say(x)}"
