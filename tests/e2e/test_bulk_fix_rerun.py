"""A bulk fix's job run again (on PostgreSQL the stalled-job retry does that when its worker
died before Procrastinate recorded the job done, bot/jobs.py qbsync.bulk_fix) does nothing a
second time: the plan's run had ended (its counts audited), so no write reaches QuickBooks and
nothing more is said in Slack (handlers/bulk.py run_confirmed_plan, handlers/deferred.py
WorkerInteractions.bulk_fix)."""
from __future__ import annotations

from bot.jobs import DEFAULT_CONNECTION
from bot.slack.messages import ACTION_BULK_CONFIRM, ACTION_BULK_FIX
from handlers.deferred import WorkerInteractions
from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE
from .test_bulk_fix import fast_bot, group_alert, plan_ephemeral, qbo_writes, storm_world, updates_of  # noqa: F401

FIXABLE, NO_EMAIL = 21, 1  # a storm is more than 20 new alerts in one pass (bot/alerts.py)


def test_a_bulk_fix_run_again_fixes_nothing_twice(request):
    bot = request.getfixturevalue("fast_bot")(storm_world(FIXABLE, NO_EMAIL))  # test_bulk_fix's fixture
    sb, d = bot.sb, bot.d
    bot.scan()
    group = group_alert(bot)
    parent = bot.parent_of(group["key"])
    d.click(ALICE, ALERT_CHANNEL, parent.ts, ACTION_BULK_FIX)
    shown = plan_ephemeral(bot, ALICE)
    d.click(ALICE, ALERT_CHANNEL, shown.ts, ACTION_BULK_CONFIRM)
    first = bot.wait_audit(group["key"], "slack:bulk-fix", "ok", timeout=25)
    plan_id = first["detail"]["plan"]
    assert first["detail"] | {"plan": None} == {"plan": None, "fixed": FIXABLE, "failed": 0, "needs_person": NO_EMAIL}
    writes, customers = qbo_writes(sb), len(sb.qbo.entities["Customer"])
    progress_ts = bot.store.get_bulk_plan(plan_id)["progress_ts"]
    thread_before = bot.thread_texts(group["key"])
    edits_before = len(updates_of(bot, progress_ts))

    # The job again, as a worker runs it after the stalled-job retry.
    WorkerInteractions(lambda _connection: bot.services).bulk_fix(DEFAULT_CONNECTION, {
        "user": ALICE, "channel": ALERT_CHANNEL, "lang": "en", "response_url": None, "kind": "action",
        "plan": plan_id})

    runs = [e for e in bot.store.audit_entries(target=group["key"]) if e["action"] == "slack:bulk-fix"]
    assert [e["detail"] for e in runs] == [first["detail"]]
    assert qbo_writes(sb) == writes and len(sb.qbo.entities["Customer"]) == customers
    fixed_rows = [e for e in bot.store.audit_entries() if e["action"] == "slack:fix:create-customer"
                  and e["outcome"] == "ok"]
    assert len(fixed_rows) == FIXABLE  # one per member, from the first run only
    # Nothing more in the thread, and the progress message still shows the first run's counts.
    assert bot.thread_texts(group["key"]) == thread_before
    assert len(updates_of(bot, progress_ts)) == edits_before
    final = d.message(ALERT_CHANNEL, progress_ts).visible_text()
    assert f"{FIXABLE} fixed, 0 failed, 1 needs a person" in final, final  # NO_EMAIL == 1: the singular


class Killed(BaseException):
    """The run's process dying between two members (not an error the run could catch)."""


def test_a_bulk_fix_job_run_again_after_a_crash_keeps_editing_its_progress_to_the_end(request, monkeypatch):
    """On PostgreSQL a worker killed mid-run leaves its job to the stalled-job retry, which runs
    the plan again: the members done keep their outcome, the rest are fixed, and the same
    progress message goes on to the final counts (it does not stay at "X of N")."""
    import handlers.bulk as bulk

    crash_at = 5
    bot = request.getfixturevalue("fast_bot")(storm_world(FIXABLE, 0), qbo_per_s=500)
    sb, d = bot.sb, bot.d
    bot.scan()
    group = group_alert(bot)
    writes = qbo_writes(sb)
    real_step, crashed = bulk.Progress.step, []

    def step(self, done, *, resolved):
        if done == crash_at and not crashed:  # once: the job run again goes through
            crashed.append(done)
            raise Killed()
        real_step(self, done, resolved=resolved)

    monkeypatch.setattr(bulk.Progress, "step", step)
    d.click(ALICE, ALERT_CHANNEL, bot.parent_of(group["key"]).ts, ACTION_BULK_FIX)
    d.click(ALICE, ALERT_CHANNEL, plan_ephemeral(bot, ALICE).ts, ACTION_BULK_CONFIRM)
    plan = d.wait_for(lambda: next(iter(bot.store.query_rows("SELECT * FROM bulk_plans WHERE done = ?",
                                                             (crash_at,))), None), timeout=20)
    d.wait_for(lambda: not bulk._runs_here(plan["id"]), timeout=10)  # the run is gone
    assert not [e for e in bot.store.audit_entries(target=group["key"]) if e["action"] == "slack:bulk-fix"]
    assert "done…" in d.message(ALERT_CHANNEL, plan["progress_ts"]).visible_text()
    thread_before = len(bot.thread_texts(group["key"]))

    WorkerInteractions(lambda _connection: bot.services).bulk_fix(DEFAULT_CONNECTION, {
        "user": ALICE, "channel": ALERT_CHANNEL, "lang": "en", "response_url": None, "kind": "action",
        "plan": plan["id"]})

    [run] = [e for e in bot.store.audit_entries(target=group["key"]) if e["action"] == "slack:bulk-fix"]
    assert run["detail"] == {"plan": plan["id"], "fixed": FIXABLE, "failed": 0, "needs_person": 0}
    assert qbo_writes(sb) - writes == FIXABLE  # the members done before the crash were not fixed again
    final = d.message(ALERT_CHANNEL, plan["progress_ts"]).visible_text()
    assert f"{FIXABLE} fixed, 0 failed, 0 need a person" in final, final
    # The same message, no second one (the thread's one new reply: the group resolved).
    thread = bot.thread_texts(group["key"])
    assert [x for x in thread if "Fix all by" in x or "fixing all like this" in x] == [final]
    assert len(thread) == thread_before + 1 and thread[-1].startswith(":white_check_mark: Resolved")
