"""Clicks and commands whose slow part runs as a job in a `qbsync worker` (PostgreSQL).

On PostgreSQL `qbsync run` only answers Slack (bot/runner.py): a Fix click, a bulk fix's
Confirm and `/qbsync digest` are acked, authorised and (a fix) claimed in the listener exactly
as with SQLite, then queued here as Procrastinate jobs (bot/jobs.py). A worker runs each job
through the same code the listener runs with SQLite (actions.run_claimed_fix, bulk.run_plan,
commands.send_digest) inside the same `run_step`, so the person is answered in the same words:
the thread replies go to the alert's thread (the alert names it), the ephemeral answers to the
click's response_url (bolt's Respond, as in the listener; Slack lets it be used 5 times within
30 minutes: https://docs.slack.dev/interactivity/handling-user-interaction#message_responses,
/work/shared/knowledge/apis.md).

Retries: a fault before the job's outcome is recorded (the database dropped, a crash) is raised
for Procrastinate to run the job again (bot/jobs.py FIX_RETRIES); everything else ends as an
answer, as in the listener. A worker killed mid-fix (SIGKILL) leaves the job `doing`; the
stalled-job retry runs it again (bot/jobs.py retry_stalled_jobs): the fix's claim has no outcome
and the alert is in "fixing" with its fix run begun, so the run resumes with the re-check first
(actions._run_fix resume): the cause gone means the write landed; it is recorded, not made twice.

`connection` is an explicit argument of every job: the connection of the channel the click or
command came from (Services.connection_id, handlers/tenancy.py); the worker runs the job with
that connection's parts and store (bot/jobs.py WorkerScans.parts_for).
"""
from __future__ import annotations

import logging
import os
import secrets
from typing import Callable

from bot.errors import QbsyncError
from bot.jobs import DEFAULT_CONNECTION

from .services import Services
from .steps import Interaction, Refused, Say, Usage, run_step

log = logging.getLogger(__name__)


def jobs_of(svc):
    """The job queue when slow work runs in workers (`qbsync run` on PostgreSQL sets it on
    Services, bot/runner.py), else None: the work runs here."""
    return getattr(svc, "scan_jobs", None)


def _answer_to(ix: Interaction) -> dict:
    """What a worker needs to answer the person: who, where, in which language, and the
    click's response_url (None: no ephemeral answer, e.g. an event)."""
    return {"user": ix.user, "channel": ix.channel, "lang": ix.lang,
            "response_url": getattr(ix.respond, "response_url", None), "kind": ix.kind}


# -- the listener's side: queue the job ------------------------------------------------------

def _connection_of(ix: Interaction) -> str:
    return getattr(ix.services, "connection_id", None) or DEFAULT_CONNECTION


def defer_fix(ix: Interaction, alert: dict, fix_id: str, claim: str, connection: str | None = None) -> int:
    """Queue a claimed fix. The alert's state before the fix travels along: a resumed run
    puts it back there if the fix fails."""
    svc = ix.services
    request = _answer_to(ix) | {
        "key": alert["key"], "fix_id": fix_id, "claim": claim, "version": alert["version"],
        "before": {"state": alert["state"], "acknowledged_by": alert["acknowledged_by"],
                   "snoozed_until": alert["snoozed_until"]},
        "thread": {"channel": alert["channel"], "ts": alert["ts"]}}
    try:
        job = jobs_of(svc).defer_fix(connection or _connection_of(ix), str(alert["invoice_id"] or alert["key"]),
                                     request)
    except Exception:
        svc.store.release_action(claim)  # not queued: a new click may try again
        raise
    log.info("fix %s of %s queued as job %s", fix_id, alert["key"], job)
    ix.answer(ix.t("queued_for_worker"))
    return job


def defer_bulk_fix(ix: Interaction, plan_id: str, connection: str | None = None) -> int:
    return jobs_of(ix.services).defer_bulk_fix(connection or _connection_of(ix), plan_id,
                                               _answer_to(ix) | {"plan": plan_id})


def defer_digest(ix: Interaction, connection: str | None = None) -> int:
    connection = connection or _connection_of(ix)
    """The token makes the job's digest at most once: a worker killed after posting it does
    not post it again when the job runs again."""
    job = jobs_of(ix.services).defer_digest(connection, _answer_to(ix) | {"token": secrets.token_urlsafe(12)})
    ix.answer(ix.t("queued_for_worker"))
    return job


# -- the worker's side: run the job ----------------------------------------------------------

class WorkerInteractions:
    """What a worker's fix, bulk-fix and digest jobs run, with the Services of the job's
    connection (bot/cli.py cmd_worker: built from the worker's parts of that connection). Each
    is `(connection, request)`."""

    def __init__(self, services_for: Callable[[str], "Services"]):
        """services_for(connection) -> that connection's Services (raises when it is gone)."""
        self.services_for = services_for

    def _interaction(self, connection: str, request: dict) -> Interaction:
        services = self.services_for(connection)
        respond = None
        if request.get("response_url"):
            from slack_bolt.context.respond import Respond

            respond = Respond(response_url=request["response_url"])
        return Interaction(services, request["user"], request.get("channel"), respond,
                           request.get("kind") or "action", _lang=request.get("lang"))

    def _run(self, ix: Interaction, step: Callable[[Interaction], None], recorded: Callable[[], bool]) -> None:
        """run_step (every outcome answered as in the listener), except a crash before the
        outcome was recorded: raised, so Procrastinate runs the job again."""
        retry: list[BaseException] = []

        def guarded(i: Interaction) -> None:
            try:
                step(i)
            except (Say, Usage, Refused, QbsyncError):
                raise
            except Exception as exc:
                if recorded():
                    raise
                retry.append(exc)

        guarded.__name__ = getattr(step, "__name__", "job")
        run_step(ix, guarded)
        if retry:
            raise retry[0]

    def fix(self, connection: str, request: dict) -> None:
        ix = self._interaction(connection, request)
        self._audit(ix, "job:fix", request["key"])
        self._run(ix, lambda i: run_fix_job(i, request),
                  lambda: ix.services.store.action_result(request["claim"]) is not None)

    def bulk_fix(self, connection: str, request: dict) -> None:
        from .bulk import plan_done, run_confirmed_plan

        ix = self._interaction(connection, request)
        self._audit(ix, "job:bulk-fix", request["plan"])
        store = ix.services.store

        def recorded() -> bool:
            plan = store.get_bulk_plan(request["plan"])
            return plan is None or plan_done(ix.services, plan)

        self._run(ix, lambda i: run_confirmed_plan(i, request["plan"]), recorded)

    def digest(self, connection: str, request: dict) -> None:
        from .commands import send_digest

        ix = self._interaction(connection, request)
        claim = f"digest-now:{request['token']}"
        if not ix.services.store.claim_action(claim, ix.user):
            log.warning("on-demand digest %s was begun by a worker that died; not posted again", request["token"])
            return
        self._run(ix, send_digest, lambda: True)
        ix.services.store.finish_action(claim, {"outcome": "done"})

    def _audit(self, ix: Interaction, action: str, target: str) -> None:
        # Which worker ran (or ran again) the job: actor worker:<pid>, as the scan jobs do.
        ix.services.store.audit(f"worker:{os.getpid()}", action, "started", target=target,
                                  detail={"for": ix.user})


def run_fix_job(ix: Interaction, request: dict) -> None:
    """One claimed fix in a worker: the stored alert checked again (it may have changed while
    the job waited), then the same run as in the listener. Run again after its worker died,
    it resumes the begun fix instead (see the module doc)."""
    from . import actions

    svc = ix.services
    key, fix_id, claim = request["key"], request["fix_id"], request["claim"]
    action = f"slack:fix:{fix_id}"
    if svc.store.action_result(claim) is not None:
        log.info("fix %s already has its outcome recorded; nothing to run again", claim)
        return
    alert = svc.store.get_alert(key)
    if alert is None:
        _noop(svc, ix.user, action, claim, key, "no such alert")
        raise Say("alert_missing")
    resume = alert["state"] == "fixing" and actions.fix_begun(svc, alert, fix_id, ix.user)
    if not resume and alert["version"] != request["version"]:
        _noop(svc, ix.user, action, claim, key, "changed while queued")
        raise Say("alert_resolved" if alert["state"] == "resolved" else "changed")
    chosen = actions.offered_fix(svc, alert, fix_id)
    if chosen is None:
        _noop(svc, ix.user, action, claim, key, "fix not offered")
        raise Say("fix_gone")
    before = alert | request["before"] | {"version": request["version"]}
    outcome, _message = actions.run_claimed_fix(svc, ix.user, before, chosen, action, claim, resume=resume)
    actions.say_outcome(outcome)


def _noop(svc, user: str, action: str, claim: str, key: str, why: str) -> None:
    svc.store.finish_action(claim, {"outcome": "noop", "why": why})
    svc.store.audit(user, action, "noop", target=key, detail={"why": why})
