""""Fix all N like this" on a storm group's parent (issue 12, part 4).

The click does not fix anything: it stores a plan (the members that share the group's
recommended fix, each with the version and evidence fingerprint it had) and shows it to the
person in an ephemeral message with a Confirm button carrying the plan's id. An ephemeral
message rather than a modal: it is sent through the click's response_url, which stays valid
for 30 minutes (docs: /work/shared/knowledge/apis.md, Slack section), while views.open needs
the trigger_id within 3 s, and the plan is built after the ack on the worker pool, where a big
group can take longer than that. A Block Kit `confirm` on the parent's button could not do it
either: it is fixed when the parent is posted, so it cannot show fresh counts.

Confirm (fixers only, the first click of a plan not expired) runs each planned member through
the same path as a single fix (handlers/actions.py apply_fix: its own claim, the invoice's
fix guard, apply, re-check, resolve, audit). A member whose alert changed since the plan is
left for a person. Progress is one message in the group's thread, edited in place at a paced
rate (bot/slack/edit_pacer.py), ending with the counts: fixed, failed with reasons, and the
members that need a person with why.

Cancel (the plan's author only, before any Confirm) marks the plan cancelled (audited) and
replaces the ephemeral plan with a short "cancelled"; a later Confirm of it does nothing and
says so. A double click cancels once (the store's update takes one of them).

A run that dies (SQLite: the bot's process ended mid-run; nothing runs it again) leaves its
progress message at "X of N". The next "Fix all" click on the group finds the run is no
longer running in this process (the only one that runs plans on SQLite: _RUNNING) and edits
that message to say where it stopped and that the rest are open in the group again. On
PostgreSQL a worker's job that died is run again by the stalled-job retry (handlers/deferred.py)
and keeps editing the same message to the end. Members of a run still going are not planned
again by a second person's "Fix all": they are listed as in another run (and, were one
reached by two runs, its fix claim lets one run it: the other reports it as started once).
"""
from __future__ import annotations

import logging
import secrets
import threading
from collections import Counter
from contextlib import contextmanager
from typing import Iterator

from bot.alerts import OPEN_STATES, is_group, member_line
from bot.bulk_offer import FIXABLE_STATES, judge
from bot.errors import QbsyncError
from bot.slack.edit_pacer import EditPacer
from bot.slack.messages import listing, thread_reply
from bot.slack.mrkdwn import escape, user as mention
from bot.slack.texts import t as slack_t
from rules.fixes import error_words

from .actions import apply_fix, fix_begun, fix_claim, offered_fix, run_claimed_fix
from .deferred import defer_bulk_fix, jobs_of
from .steps import Interaction, Say
from .texts import t

log = logging.getLogger(__name__)

PLAN_TTL_S = 15 * 60   # a plan shown longer ago than this is not applied: the data may have moved on
SHOWN = 5              # invoices named in the confirm
NEEDS_SHOWN = 25       # members needing a person named in the confirm
OUTCOME_SHOWN = 200    # failures / members needing a person named in the final progress message
ACTION_PLAN = "slack:bulk-plan"        # the click on "Fix all N like this"
ACTION_CONFIRM = "slack:bulk-confirm"  # the click on Confirm
ACTION_DONE = "slack:bulk-fix"         # the run's counts, once every member is through
ACTION_CANCEL = "slack:bulk-cancel"    # the click on Cancel
ACTION_STOPPED = "bulk-fix:stopped"    # a run found dead: its progress message now says so

# Plans whose run is going in this process (confirmed, then run here: SQLite). A confirmed plan
# that is neither here nor ended, on SQLite, was being run by a process that died.
_RUNNING: set[str] = set()
_RUNNING_LOCK = threading.Lock()


@contextmanager
def _running_here(plan_id: str) -> Iterator[None]:
    with _RUNNING_LOCK:
        _RUNNING.add(plan_id)
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(plan_id)


def _runs_here(plan_id: str) -> bool:
    with _RUNNING_LOCK:
        return plan_id in _RUNNING


# -- the click on "Fix all N like this": a plan to confirm -----------------------------------

def plan(ix: Interaction, group_key: str, fix_id: str) -> None:
    svc = ix.services
    ix.require_fixer("what_fix", action=ACTION_PLAN, target=group_key)
    group = svc.store.get_alert(group_key)
    if group is None or not is_group(group):
        svc.store.audit(ix.user, ACTION_PLAN, "noop", target=group_key, detail={"why": "no such group"})
        raise Say("alert_missing")
    if group["state"] == "resolved":
        svc.store.audit(ix.user, ACTION_PLAN, "noop", target=group_key, detail={"why": "already resolved"})
        raise Say("alert_resolved")
    taken = members_of_live_runs(svc, group_key)
    verdicts = [judge(m, ix.lang) for m in svc.store.group_members(group_key, states=OPEN_STATES)]
    planned = [v for v in verdicts if v.fix is not None and v.fix.id == fix_id and v.alert["key"] not in taken]
    in_plan = {v.alert["key"] for v in planned}
    if not planned:
        why = "members in a running fix all" if any(v.alert["key"] in taken for v in verdicts) else \
            "no member shares the fix"
        svc.store.audit(ix.user, ACTION_PLAN, "noop", target=group_key, detail={"why": why})
        raise Say("bulk_running" if taken else "bulk_none")
    needs = [{"key": v.alert["key"], "number": _number(v.alert),
              "why": "bulk_why_other_run" if v.alert["key"] in taken else v.why or "bulk_why_other_fix",
              "label": v.fix.label if v.fix is not None else ""}
             for v in verdicts if v.alert["key"] not in in_plan]
    plan_id = secrets.token_urlsafe(12)
    svc.store.save_bulk_plan(
        plan_id, group_key=group_key, fix_id=fix_id, by=ix.user, expires_at=svc.clock() + PLAN_TTL_S,
        members=[{"key": v.alert["key"], "version": v.alert["version"], "fingerprint": v.alert["fingerprint"]}
                 for v in planned],
        needs_person=needs)
    svc.store.audit(ix.user, ACTION_PLAN, "ok", target=group_key,
                    detail={"plan": plan_id, "fix": fix_id, "members": len(planned), "needs_person": len(needs)})
    ix.answer_blocks(*_plan_message(ix, plan_id, fix_id, planned, verdicts, needs))


def _plan_message(ix: Interaction, plan_id: str, fix_id: str, planned, verdicts, needs):
    lines = [member_line(v.alert, ix.lang) for v in planned[:SHOWN]]  # amounts in the clicker's words
    if len(planned) > SHOWN:
        lines.append(ix.t("bulk_more", count=len(planned) - SHOWN))
    # Each fix named by its label for the first member it would fix (a label names the record
    # it writes, so it reads as an example), never by its id.
    per_fix = Counter(v.fix.id for v in verdicts if v.fix is not None)
    example: dict[str, str] = {}
    for v in verdicts:
        if v.fix is not None:
            example.setdefault(v.fix.id, v.fix.label)
    counts = [ix.t("bulk_fix_this", label=example[fix_id], count=per_fix[fix_id])]
    counts += [ix.t("bulk_fix_other", label=example[other], count=n) for other, n in per_fix.items()
               if other != fix_id]
    no_fix = sum(1 for v in verdicts if v.fix is None)
    if no_fix:
        counts.append(ix.t("bulk_no_fix_count", count=no_fix))
    parts = [(ix.t("bulk_confirm_head", count=len(planned)), lines), (ix.t("bulk_per_fix"), counts)]
    # What each write does beyond its invoice: the fix's own confirm text (what else relies on
    # the record it writes), as the single fix's button shows it, for the first planned member.
    first = planned[0]
    if first.fix is not None and first.fix.confirm:
        parts.append((ix.t("bulk_what_changes", number=escape(_number(first.alert))), [first.fix.confirm]))
    if needs:
        shown = [_need_line(ix.lang, n) for n in needs[:NEEDS_SHOWN]]
        if len(needs) > NEEDS_SHOWN:
            shown.append(ix.t("bulk_more", count=len(needs) - NEEDS_SHOWN))
        parts.append((ix.t("bulk_needs_head", count=len(needs)), shown))
    message = listing(parts, fallback=ix.t("bulk_confirm_head", count=len(planned)),
                      footer=ix.t("bulk_expires", minutes=PLAN_TTL_S // 60),
                      confirm=(ix.t("bulk_confirm_btn", count=len(planned)), plan_id),
                      cancel=ix.t("bulk_cancel_btn"))
    return message.text, message.blocks


def _number(alert: dict) -> str:
    return alert["invoice_number"] or alert["invoice_id"] or alert["key"]


def _need_line(lang: str, need: dict) -> str:
    """One member needing a person, as a plain line (the builder escapes it)."""
    return f"{need['number']}: {t(lang, need['why'], label=need.get('label') or '')}"


# -- the click on Confirm: run the plan ------------------------------------------------------

def confirm(ix: Interaction, plan_id: str) -> None:
    svc = ix.services
    ix.require_fixer("what_fix", action=ACTION_CONFIRM, target=plan_id)
    found = svc.store.get_bulk_plan(plan_id)
    if found is None:
        svc.store.audit(ix.user, ACTION_CONFIRM, "noop", target=plan_id, detail={"why": "no such plan"})
        raise Say("bulk_plan_missing")
    if found["by"] != ix.user:  # the plan was shown to its author only: nobody else confirmed it
        svc.store.audit(ix.user, ACTION_CONFIRM, "noop", target=found["group_key"],
                        detail={"why": "not the person the plan was shown to", "plan": plan_id})
        raise Say("bulk_plan_missing")
    if jobs_of(svc) is not None:  # PostgreSQL: a worker runs the plan (handlers/deferred.py)
        _confirm(ix, found)
        defer_bulk_fix(ix, plan_id)
        return
    with _running_here(plan_id):  # before the confirm: a plan confirmed here is never seen dead
        _confirm(ix, found)
        run_plan(svc, ix.user, found)


def _confirm(ix: Interaction, found: dict) -> None:
    """Mark the plan confirmed (the first Confirm only), or say why not."""
    svc, plan_id = ix.services, found["id"]
    if not svc.store.confirm_bulk_plan(plan_id, ix.user):
        again = svc.store.get_bulk_plan(plan_id) or found
        why = "repeat" if again["confirmed_at"] is not None else \
            "cancelled" if again["cancelled_at"] is not None else "expired"
        svc.store.audit(ix.user, ACTION_CONFIRM, "noop", target=found["group_key"],
                        detail={"why": why, "plan": plan_id})
        raise Say({"repeat": "bulk_repeat", "cancelled": "bulk_was_cancelled"}.get(why, "bulk_expired"),
                  minutes=PLAN_TTL_S // 60)
    svc.store.audit(ix.user, ACTION_CONFIRM, "ok", target=found["group_key"],
                    detail={"plan": plan_id, "members": len(found["members"])})
    ix.answer(ix.t("bulk_confirmed", count=len(found["members"])))


# -- the click on Cancel: drop the plan ------------------------------------------------------

def cancel(ix: Interaction, plan_id: str) -> None:
    """Only the plan's author, only before a Confirm. The one click that cancels it replaces
    the ephemeral plan with a short "cancelled"; a repeat of it (a double click) is audited
    and says nothing more."""
    svc = ix.services
    found = svc.store.get_bulk_plan(plan_id)
    if found is None or found["by"] != ix.user:  # shown to its author only: nobody else sees it
        svc.store.audit(ix.user, ACTION_CANCEL, "noop", target=found["group_key"] if found else plan_id,
                        detail={"why": "no such plan" if found is None else "not the person the plan was shown to",
                                "plan": plan_id})
        raise Say("bulk_plan_missing")
    if svc.store.cancel_bulk_plan(plan_id, ix.user):
        svc.store.audit(ix.user, ACTION_CANCEL, "ok", target=found["group_key"],
                        detail={"plan": plan_id, "members": len(found["members"])})
        ix.replace_answer(ix.t("bulk_cancelled"))
        return
    again = svc.store.get_bulk_plan(plan_id) or found
    why = "repeat" if again["cancelled_at"] is not None else "confirmed"
    svc.store.audit(ix.user, ACTION_CANCEL, "noop", target=found["group_key"], detail={"why": why, "plan": plan_id})
    if why == "confirmed":
        raise Say("bulk_cancel_too_late")


# -- runs of the group: which are going, which died ------------------------------------------

def members_of_live_runs(svc, group_key: str) -> set[str]:
    """Member keys of the group's confirmed plans whose run is going (or, on PostgreSQL, will
    be run again by the stalled-job retry). On SQLite a run not going in this process died:
    its progress message is told so first (stop_dead_run)."""
    taken: set[str] = set()
    for found in svc.store.confirmed_bulk_plans(group_key):
        if plan_done(svc, found):
            continue
        if jobs_of(svc) is None and not _runs_here(found["id"]):
            stop_dead_run(svc, found)
            continue
        taken.update(m["key"] for m in found["members"])
    return taken


def stop_dead_run(svc, found: dict) -> None:
    """Mark a dead run stopped (once) and edit its progress message to say where it stopped:
    the members it did not reach are open in the group again (a new plan takes them); one it
    was inside is re-checked by the next scan (bot/scan.py settle_interrupted_fixes)."""
    if not svc.store.stop_bulk_plan(found["id"]):
        return
    svc.store.audit("system", ACTION_STOPPED, "ok", target=found["group_key"],
                    detail={"plan": found["id"], "done": found["done"], "fixed": found["fixed"],
                            "total": len(found["members"])})
    group = svc.store.get_alert(found["group_key"])
    if not found.get("progress_ts") or group is None:
        return
    lang = svc.alerts.lang
    text = slack_t(lang, "bulk_stopped", user=mention(found["confirmed_by"] or found["by"]), done=found["done"],
                   total=len(found["members"]), fixed=slack_t(lang, "bulk_fixed", count=found["fixed"]))
    try:
        svc.alerts.poster.update(group["channel"], found["progress_ts"], thread_reply(text, lang=lang))
    except Exception:  # the stop is recorded and audited; the message is for people
        log.exception("could not edit the progress of stopped bulk fix %s", found["id"])


def run_confirmed_plan(ix: Interaction, plan_id: str) -> None:
    """A worker's bulk-fix job: the plan the listener confirmed, run as in the listener."""
    found = ix.services.store.get_bulk_plan(plan_id)
    if found is None or found["confirmed_at"] is None:
        raise Say("bulk_plan_missing")
    if plan_done(ix.services, found):
        log.info("bulk fix %s already ran to its end; its job is not run again", plan_id)
        return
    run_plan(ix.services, ix.user, found)


def plan_done(svc, plan: dict) -> bool:
    """The plan's run ended (its counts are audited, the last thing run_plan does)."""
    return any(e["action"] == ACTION_DONE and (e["detail"] or {}).get("plan") == plan["id"]
               for e in svc.store.audit_entries(target=plan["group_key"]))


def run_plan(svc, user: str, plan: dict, *, pacer: EditPacer | None = None) -> dict:
    """Fix each planned member once; returns the counts {fixed, failed, needs_person}."""
    lang = svc.alerts.lang
    # The plan ran before (its progress message exists) and its worker died: members it got to
    # keep the outcome recorded then, or resume the fix it was inside (handlers/deferred.py).
    rerun = bool(plan.get("progress_ts"))
    progress = Progress(svc, plan, user, pacer or EditPacer())
    fixed: list[str] = []
    failed: list[tuple[str, str]] = []
    needs = [_need_line(lang, n) for n in plan["needs_person"]]
    action = f"slack:fix:{plan['fix_id']}"
    detail = {"bulk": plan["id"]}
    for done, member in enumerate(plan["members"], 1):
        alert = svc.store.get_alert(member["key"])
        number = _number(alert) if alert else member["key"]
        outcome, message = "changed", ""
        claim = fix_claim(plan["fix_id"], member)
        prior = svc.store.action_result(claim) if rerun else None
        resume = rerun and prior is None and alert is not None and alert["state"] == "fixing" \
            and fix_begun(svc, alert, plan["fix_id"], user)
        chosen = offered_fix(svc, alert, plan["fix_id"]) if resume or _unchanged(alert, member) else None
        if prior is not None:
            # This plan's job ran before and its worker died: the member's outcome is recorded.
            outcome, message = prior.get("outcome", "failed"), prior.get("message", "")
        elif resume and chosen is not None:
            # Its worker died inside this member's fix: resume it (re-check first, no second write).
            before = alert | {"state": "open", "version": member["version"]}
            try:
                outcome, message = run_claimed_fix(svc, user, before, chosen, action, claim, detail=detail,
                                                   resume=True)
            except QbsyncError as exc:
                outcome, message = "failed", error_words(exc, lang)
        elif alert is not None and chosen is not None:
            try:
                outcome, message = apply_fix(svc, user, alert, chosen, action, detail=detail)
            except QbsyncError as exc:  # audited by apply_fix; the next member still runs
                outcome, message = "failed", error_words(exc, lang)
            except Exception:
                log.exception("bulk fix %s: member %s crashed", plan["id"], member["key"])
                outcome, message = "failed", t(lang, "bulk_crashed")
        elif svc.store.action_claimed(claim):
            # Another fix of the member as planned (another run, a single click) claimed it first.
            outcome = "repeat"
            svc.store.audit(user, action, "noop", target=member["key"],
                            detail={"why": "claimed by another fix", **detail})
        else:
            svc.store.audit(user, action, "noop", target=member["key"],
                            detail={"why": "changed since the plan", **detail})
        if outcome == "ok":
            fixed.append(member["key"])
        elif outcome == "failed":
            failed.append((number, message))
        else:  # changed, conflict (changed while starting), repeat (already started once)
            why = "bulk_why_repeat" if outcome == "repeat" else "bulk_why_changed"
            needs.append(f"{number}: {t(lang, why)}")
        svc.store.set_bulk_counts(plan["id"], done=done, fixed=len(fixed))
        progress.step(done, resolved=len(fixed))
    progress.finish(fixed=len(fixed), failed=failed, needs=needs)
    if fixed:
        svc.alerts.settle_groups({plan["group_key"]: len(fixed)})
    counts = {"fixed": len(fixed), "failed": len(failed), "needs_person": len(needs)}
    svc.store.audit(user, ACTION_DONE, "ok", target=plan["group_key"], detail={"plan": plan["id"], **counts})
    return counts


def _unchanged(alert: dict | None, member: dict) -> bool:
    """The member is as the person saw it in the plan (and still fixable)."""
    return (alert is not None and alert["state"] in FIXABLE_STATES and alert["version"] == member["version"]
            and alert["fingerprint"] == member["fingerprint"])


class Progress:
    """The one progress message of a bulk fix, in the group's thread, edited in place."""

    def __init__(self, svc, plan: dict, user: str, pacer: EditPacer):
        self.svc, self.plan, self.user, self.pacer = svc, plan, user, pacer
        self.total = len(plan["members"])
        group = svc.store.get_alert(plan["group_key"])
        self.channel: str | None = group["channel"] if group else None
        self.thread: str | None = group["ts"] if group else None
        self.ts: str | None = plan.get("progress_ts")  # run again after its worker died: the same message
        if self.thread and not self.ts:
            self.pacer.due()  # the post counts as the first edit
            self.ts = svc.alerts.poster.post(self.channel, self._running(0), thread_ts=self.thread)
            svc.store.set_bulk_progress(plan["id"], self.ts)

    def _running(self, done: int):
        lang = self.svc.alerts.lang
        return thread_reply(slack_t(lang, "bulk_progress", user=mention(self.user), done=done, total=self.total),
                            lang=lang)

    def step(self, done: int, *, resolved: int) -> None:
        if not self.ts or done >= self.total or not self.pacer.due():
            return  # the last step is the final message
        self._edit(self._running(done))
        if resolved:
            self.svc.alerts.refresh_parent(self.plan["group_key"])  # the parent's count shrinks as members resolve

    def finish(self, *, fixed: int, failed: list[tuple[str, str]], needs: list[str]) -> None:
        if not self.ts:
            return
        lang = self.svc.alerts.lang
        head = slack_t(lang, "bulk_done", user=mention(self.user), fixed=slack_t(lang, "bulk_fixed", count=fixed),
                       failed=slack_t(lang, "bulk_failed", count=len(failed)),
                       needs=slack_t(lang, "bulk_needs", count=len(needs)))
        parts: list[tuple[str, list[str]]] = [(head, [])]
        if failed:
            parts.append((slack_t(lang, "bulk_failed_head", count=len(failed)),
                          _capped([f"{n}: {why}" for n, why in failed], lang)))
        if needs:
            parts.append((slack_t(lang, "bulk_needs_head", count=len(needs)), _capped(needs, lang)))
        self._edit(listing(parts, fallback=head))

    def _edit(self, message) -> None:
        try:
            self.svc.alerts.poster.update(self.channel, self.ts, message)
        except Exception:  # progress is for people; the fixes themselves are recorded and audited
            log.exception("could not edit the progress of bulk fix %s", self.plan["id"])


def _capped(lines: list[str], lang: str) -> list[str]:
    if len(lines) <= OUTCOME_SHOWN:
        return lines
    return lines[:OUTCOME_SHOWN] + [t(lang, "bulk_more", count=len(lines) - OUTCOME_SHOWN)]
