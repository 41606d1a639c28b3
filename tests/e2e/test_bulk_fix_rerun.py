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
