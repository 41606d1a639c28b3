"""The buttons on an alert: the rule's fixes, Re-check, Acknowledge, Snooze, Resolve.

A button carries only the alert key (and the fix id); permission and state are checked
against the stored alert, never the message the click came from. Every state-changing click
first claims an action key that includes the alert's version, so a double click or a
retried delivery of the same payload runs once; the alert's version moves with each change,
so a later, deliberate click (a retry after a failed fix) gets a key of its own.

Thread replies are in the channel's language (everyone reads the thread); answers only the
clicking person sees are in theirs.
"""
from __future__ import annotations

from bot.slack.mrkdwn import slack_date as when

import logging

from bot.alerts import OPEN_STATES, finding_from_alert, has_invoice_parent
from bot.mirror import QboMirror
from bot.slack.mrkdwn import escape, user as mention
from rules import registry
from rules.base import Classification, FixContext

from . import deferred
from .live import diagnose_now
from .steps import Interaction, Say
from .texts import t

log = logging.getLogger(__name__)

SNOOZE_BUTTON_S = 86400.0


def _thread(svc, key: str, text_key: str, **values) -> None:
    svc.alerts.reply(key, t(svc.alerts.lang, text_key, **values))


def _load(ix: Interaction, key: str, action: str, *, allow_fixing: bool = False) -> dict:
    """The stored alert, if it is still one a click can act on."""
    store = ix.services.store
    alert = store.get_alert(key)
    if alert is None:
        store.audit(ix.user, action, "noop", target=key, detail={"why": "no such alert"})
        raise Say("alert_missing")
    if alert["state"] == "resolved":
        store.audit(ix.user, action, "noop", target=key, detail={"why": "already resolved"})
        raise Say("alert_resolved")
    if alert["state"] == "fixing" and not allow_fixing:
        store.audit(ix.user, action, "noop", target=key, detail={"why": "a fix is running"})
        raise Say("alert_fixing")
    return alert


def _causes(ix: Interaction, key: str, action: str) -> list[dict]:
    """What a state button on `key`'s parent acts on (issue 12: one parent per invoice): every
    open cause sharing the invoice's thread, in fix order, except those a fix is running on
    (the fix settles them). A parent of one cause, a storm group or a global alert: itself.
    Refused (like _load) when nothing is left to act on."""
    alert = _load(ix, key, action, allow_fixing=True)
    if has_invoice_parent(alert):
        causes = [c for c in ix.services.alerts.causes(alert) if c["state"] in OPEN_STATES]
    else:
        causes = [alert]
    idle = [c for c in causes if c["state"] != "fixing"]
    if not idle:
        ix.services.store.audit(ix.user, action, "noop", target=key, detail={"why": "a fix is running"})
        raise Say("alert_fixing")
    return idle


def _claim(ix: Interaction, name: str, alert: dict, action: str) -> str | None:
    """The action key for this click, or None (audited) when it is a repeat."""
    claim = f"{name}:{alert['key']}:{alert['version']}"
    if ix.services.store.claim_action(claim, ix.user):
        return claim
    ix.services.store.audit(ix.user, action, "noop", target=alert["key"], detail={"why": "repeat delivery"})
    return None


def _watch(svc, key: str, by: str) -> None:
    alert = svc.store.get_alert(key)
    if alert and alert["invoice_id"] and alert["state"] == "resolved":
        svc.store.watch_sync(key, alert["invoice_id"], alert["version"], by)


# -- Fix -----------------------------------------------------------------------------------

def fix(ix: Interaction, key: str, fix_id: str) -> None:
    """Authorise and claim the click here (in the listener); the run itself goes to a `qbsync
    worker` as a job when the store is on PostgreSQL (handlers/deferred.py), else runs here.
    Either way the run is run_claimed_fix below."""
    svc = ix.services
    action = f"slack:fix:{fix_id}"
    ix.require_fixer("what_fix", action=action, target=key)
    alert = _load(ix, key, action)
    chosen = offered_fix(svc, alert, fix_id)
    if chosen is None:
        svc.store.audit(ix.user, action, "noop", target=key, detail={"why": "fix not offered"})
        raise Say("fix_gone")
    claim = claim_fix(svc, ix.user, alert, fix_id, action)
    if claim is None:
        raise Say("fix_repeat")
    if deferred.jobs_of(svc) is not None:
        deferred.defer_fix(ix, alert, fix_id, claim)
        return
    outcome, _message = run_claimed_fix(svc, ix.user, alert, chosen, action, claim)
    say_outcome(outcome)


def say_outcome(outcome: str) -> None:
    """What the clicking person is told (ephemeral) beyond the thread's replies."""
    if outcome == "repeat":
        raise Say("fix_repeat")
    if outcome == "conflict":
        raise Say("changed")


def offered_fix(svc, alert: dict, fix_id: str):
    """The fix `fix_id` as the rule offers it for the stored alert now, or None."""
    finding = finding_from_alert(alert)
    if finding is None:
        return None
    return next((f for f in registry.get(alert["rule"]).fixes(finding, svc.alerts.lang) if f.id == fix_id), None)


def apply_fix(svc, user: str, alert: dict, chosen, action: str, *, detail: dict | None = None) -> tuple[str, str]:
    """One alert's fix, the same for a single click and for each member of a bulk fix
    (handlers/bulk.py): claim its own action key (a repeat does nothing: outcome "repeat"),
    then run_claimed_fix. Returns (outcome, message), outcome in ok | failed | conflict |
    repeat. `detail`: added to the audit rows (a bulk fix names its plan)."""
    claim = claim_fix(svc, user, alert, chosen.id, action, detail=detail)
    if claim is None:
        return "repeat", ""
    return run_claimed_fix(svc, user, alert, chosen, action, claim, detail=detail)


def fix_claim(fix_id: str, alert: dict) -> str:
    """The action key of a fix of `alert` as it is now: a double click or a redelivery of the
    same payload claims the same key; the alert's version moves with each change."""
    return f"fix:{fix_id}:{alert['key']}:{alert['version']}"


def claim_fix(svc, user: str, alert: dict, fix_id: str, action: str, *, detail: dict | None = None) -> str | None:
    """The fix's claim, or None (audited) when someone already claimed it: a repeat."""
    claim = fix_claim(fix_id, alert)
    if svc.store.claim_action(claim, user):
        return claim
    svc.store.audit(user, action, "noop", target=alert["key"], detail={"why": "repeat delivery", **(detail or {})})
    return None


def fix_begun(svc, alert: dict, fix_id: str, user: str) -> bool:
    """`user`'s fix `fix_id` of `alert` was begun and never ended: its fix run is still open
    (bot/fix_guard.py ends it whatever happens, unless the process died)."""
    return any(run["key"] == alert["key"] and run["fix_id"] == fix_id and run["by"] == user
               for run in svc.store.fix_runs(alert["invoice_id"] or alert["key"], unfinished=True))


def run_claimed_fix(svc, user: str, alert: dict, chosen, action: str, claim: str, *,
                    detail: dict | None = None, resume: bool = False) -> tuple[str, str]:
    """The whole run of a claimed fix under the invoice's fix guard, then its outcome recorded
    on the claim and audited. In the listener (SQLite) or in a worker's job (PostgreSQL,
    handlers/deferred.py): the same code. `alert`: as it was when the fix was claimed.
    `resume`: a worker runs the job again after the one that began it died (SIGKILL) with the
    alert in "fixing": the re-check comes first, so a write that landed is not made twice."""
    key = alert["key"]
    # The whole run under the invoice's fix guard: no scan records this invoice meanwhile, nor
    # from data it read before the fix ended (bot/fix_guard.py). The outcome is recorded once
    # the guard is released, so whoever sees it sees the run finished.
    outcome, message = "failed", ""
    try:
        with svc.alerts.guard.running(key, alert["invoice_id"] or key, chosen.id, user):
            outcome, message = _run_fix(svc, user, alert, chosen, action, svc.alerts.lang, detail, resume=resume)
    finally:
        if outcome == "conflict":
            svc.store.finish_action(claim, {"outcome": "conflict"})
        else:
            svc.store.finish_action(claim, {"outcome": outcome, "message": message})
            svc.store.audit(user, action, outcome, target=key, detail={"message": message, **(detail or {})})
    return outcome, message


def _run_fix(svc, user: str, alert: dict, chosen, action: str, lang: str,
             detail: dict | None, *, resume: bool = False) -> tuple[str, str]:
    """Apply, re-check, and say so in the thread: (outcome, message). Resumed (the run that
    began this fix died after the alert went to "fixing", maybe after its write was sent):
    re-check first; the cause gone means the write landed, recorded without writing again."""
    key = alert["key"]
    if resume:
        svc.store.audit(user, action, "started", target=key,
                        detail={"label": chosen.label, "request_id": chosen.request_id, "resumed": True,
                                **(detail or {})})
    else:
        if svc.store.transition(key, "fixing", expected_version=alert["version"], by=user) is None:
            return "conflict", ""
        svc.store.audit(user, action, "started", target=key,
                        detail={"label": chosen.label, "request_id": chosen.request_id, **(detail or {})})
    try:
        ctx = FixContext(svc.hubspot, svc.qbo, svc.store, actor=user, lang=lang,
                         company_info=QboMirror(svc.store, svc.qbo).company_info)
        if resume:
            landed = chosen.recheck(ctx)
            if landed.ok:
                return _fixed(svc, user, key, chosen, lang, landed.message)
        else:
            svc.alerts.refresh_parent(key)
            _thread(svc, key, "th_applying", user=mention(user), label=escape(chosen.label))
        result = chosen.apply(ctx)
        if not result.ok:
            _restore(svc, alert)
            _thread(svc, key, "th_failed", message=escape(result.message))
            return "failed", result.message
        check = chosen.recheck(ctx)
        if not check.ok:
            _restore(svc, alert)
            _thread(svc, key, "th_recheck_failed", message=escape(check.message))
            return "failed", check.message
        return _fixed(svc, user, key, chosen, lang, result.message)
    except BaseException:
        _restore(svc, alert)
        raise


def _fixed(svc, user: str, key: str, chosen, lang: str, message: str) -> tuple[str, str]:
    _thread(svc, key, "th_applied", message=escape(message))
    svc.alerts.resolve(key, t(lang, "th_fixed_why", label=chosen.label), by=user)
    _watch(svc, key, user)
    return "ok", message


def _restore(svc, before: dict) -> None:
    """Back to the state the alert had before the fix started (if it is still 'fixing')."""
    current = svc.store.get_alert(before["key"])
    if current is None or current["state"] != "fixing":
        return
    svc.store.transition(before["key"], before["state"], by=before["acknowledged_by"],
                         snoozed_until=before["snoozed_until"])
    try:
        svc.alerts.refresh_parent(before["key"])
    except Exception:
        log.exception("could not show alert %s back in state %s", before["key"], before["state"])


# -- Re-check ------------------------------------------------------------------------------

def recheck(ix: Interaction, key: str) -> None:
    """Diagnose the invoice again now: every open cause of its parent that is gone resolves
    (each audited); say which still hold."""
    svc = ix.services
    action = "slack:recheck"
    causes = _causes(ix, key, action)
    alert = causes[0]
    if not alert["invoice_id"]:
        # A shared problem (QBO connection, throttling): gone when QuickBooks answers.
        svc.qbo.company_info()
        svc.alerts.resolve(alert["key"], t(svc.alerts.lang, "th_recheck_why"), by=ix.user)
        svc.store.audit(ix.user, action, "ok", target=alert["key"], detail={"gone": True})
        return
    invoice = svc.hubspot.get_invoice(alert["invoice_id"])
    found = diagnose_now(svc, invoice)
    still = []
    for cause in causes:
        same = next((f for f in found if f.rule == cause["rule"]), None)
        if same is not None:
            svc.store.audit(ix.user, action, "ok", target=cause["key"], detail={"gone": False})
            still.append(_title(ix, same, cause["key"]))
            continue
        svc.alerts.resolve(cause["key"], t(svc.alerts.lang, "th_recheck_why"), by=ix.user)
        svc.store.audit(ix.user, action, "ok", target=cause["key"],
                        detail={"gone": True, "now": [f.rule for f in found]})
        if found:
            _watch(svc, cause["key"], ix.user)  # not in QuickBooks yet: the next scan says when it is
    if still:
        raise Say("recheck_still", title="; ".join(escape(x) for x in still))
    mine = {c["rule"] for c in causes}
    others = [f for f in found if f.rule not in mine and f.rule != "unknown"]
    if others:
        raise Say("recheck_other", title=escape(_title(ix, others[0], key)))


def _title(ix: Interaction, finding, key: str) -> str:
    """A cause's title for the clicking person: with the records' values if they may read
    them, else the rule's general title."""
    rule = registry.get(finding.rule)
    if ix.may_view(action="slack:recheck", target=key):
        return rule.explain(finding, ix.lang).title
    return rule.explain(Classification(finding.rule, None, {}, None), ix.lang).title


# -- Acknowledge, Snooze, Resolve ----------------------------------------------------------

def acknowledge(ix: Interaction, key: str) -> None:
    """Acknowledge: a state change like the others, so for fixers only. On an invoice's parent
    it acknowledges every open cause (each its own state, version and audit row). It never
    ends a snooze (someone decided to quiet this alert until then): a snoozed cause is left
    as it is, and when every cause is snoozed the person is told until when it sleeps."""
    svc = ix.services
    action = "slack:ack"
    ix.require_fixer("what_ack", action=action, target=key)
    causes = _causes(ix, key, action)
    awake = [c for c in causes if c["state"] != "snoozed"]
    if not awake:
        first = causes[0]
        svc.store.audit(ix.user, action, "refused", target=first["key"],
                        detail={"why": "snoozed", "until": first["snoozed_until"]})
        raise Say("ack_snoozed", until=when(first["snoozed_until"]) if first["snoozed_until"] else "?")
    done, changed = [], False
    for alert in awake:
        if alert["state"] == "acknowledged" and alert["acknowledged_by"] == ix.user:
            continue
        claim = _claim(ix, "ack", alert, action)
        if claim is None:
            continue
        if svc.store.transition(alert["key"], "acknowledged", expected_version=alert["version"], by=ix.user) is None:
            changed = True
            continue
        svc.store.finish_action(claim, {"outcome": "ok"})
        svc.store.audit(ix.user, action, "ok", target=alert["key"])
        done.append(alert["key"])
    if not done:
        if changed:
            raise Say("changed")
        return
    svc.alerts.refresh_parent(done[0])
    _thread(svc, done[0], "th_ack", user=mention(ix.user))


def snooze(ix: Interaction, key: str) -> None:
    """Snooze the invoice: on an invoice's parent, every open cause (each audited)."""
    svc = ix.services
    action = "slack:snooze"
    ix.require_fixer("what_snooze", action=action, target=key)
    causes = _causes(ix, key, action)
    until = svc.clock() + SNOOZE_BUTTON_S
    if causes[0]["invoice_id"]:
        svc.store.snooze(causes[0]["invoice_id"], until, ix.user)
    if snooze_causes(ix, causes, until, action) is None:
        raise Say("changed")


def snooze_causes(ix: Interaction, causes: list[dict], until: float, action: str) -> list[str] | None:
    """Snooze the causes of one invoice (the parent's Snooze, `/qbsync snooze`): each its own
    claim, state change and audit row; then the parent edited once and ONE thread reply,
    naming the causes when there are several. Returns the snoozed keys; [] when every claim
    was a repeat (nothing to say), None when every cause changed meanwhile."""
    svc = ix.services
    claims = [(c, _claim(ix, "snooze", c, action)) for c in causes]
    claims = [(c, claim) for c, claim in claims if claim is not None]
    if not claims:
        return []
    done = []
    for alert, claim in claims:
        if svc.store.transition(alert["key"], "snoozed", expected_version=alert["version"], by=ix.user,
                                snoozed_until=until) is None:
            continue
        svc.store.finish_action(claim, {"outcome": "ok", "until": until})
        svc.store.audit(ix.user, action, "ok", target=alert["key"], detail={"until": until})
        done.append(alert)
    if not done:
        return None
    svc.alerts.refresh_parent(done[0]["key"])
    if len(done) > 1:
        names = "; ".join(escape(svc.alerts.title(a)) for a in done)
        _thread(svc, done[0]["key"], "th_snooze_causes", user=mention(ix.user), until=when(until), causes=names)
    else:
        _thread(svc, done[0]["key"], "th_snooze", user=mention(ix.user), until=when(until))
    return [a["key"] for a in done]


def resolve(ix: Interaction, key: str) -> None:
    """Resolve by hand: on an invoice's parent, every open cause (each resolved and audited
    on its own; the thread names each cause)."""
    svc = ix.services
    action = "slack:resolve"
    ix.require_fixer("what_resolve", action=action, target=key)
    for alert in _causes(ix, key, action):
        claim = _claim(ix, "resolve", alert, action)
        if claim is None:
            continue
        svc.alerts.resolve(alert["key"], t(svc.alerts.lang, "th_resolve_why"), by=ix.user)
        _watch(svc, alert["key"], ix.user)
        svc.store.finish_action(claim, {"outcome": "ok"})
