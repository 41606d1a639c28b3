"""Issue 12 "Done when": a storm is fixed with one click and one confirm, each invoice exactly
once, also when a second person presses "Fix all" on the same group while the first run goes.

Alice's run is held inside its first member's QuickBooks write (a gate around the QBO
stand-in's Customer create). Meanwhile:
- Carmen's new "Fix all" click plans nothing: every member is in Alice's running fix all;
- Carmen confirms a plan she was shown before Alice confirmed (the same members): her run
  fixes the members Alice's run has not reached, and reports the one Alice's run holds as
  started already. Released, Alice's run finishes its member and reports the rest so.
Each invoice's customer is created once, with one write request and one "ok" audit row."""
from __future__ import annotations

from bot.slack.messages import ACTION_BULK_CONFIRM, ACTION_BULK_FIX
from handlers.texts import t
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.qbo_gates import CustomerWriteGate

from .conftest import ALICE, CARMEN, FIXERS
from .test_bulk_fix import (customers_with, fast_bot, group_alert, plan_ephemeral, qbo_writes,  # noqa: F401
                            storm_world)

MEMBERS = 21


def runs(bot, group_key: str) -> dict[str, dict]:
    return {e["actor"]: e["detail"] for e in bot.store.audit_entries(target=group_key)
            if e["action"] == "slack:bulk-fix" and e["outcome"] == "ok"}


def test_a_second_fix_all_during_a_run_fixes_nothing_twice(request):
    make = request.getfixturevalue("fast_bot")  # test_bulk_fix's fixture
    bot = make(storm_world(fixable=MEMBERS, no_email=0), qbo_per_s=500, allowed=f"{FIXERS},{CARMEN}")
    d, sb = bot.d, bot.sb
    bot.scan()
    group = group_alert(bot)
    parent_ts = bot.parent_of(group["key"]).ts
    members = bot.store.group_members(group["key"])
    d.click(CARMEN, ALERT_CHANNEL, parent_ts, ACTION_BULK_FIX)
    carmen_plan = plan_ephemeral(bot, CARMEN)  # shown before Alice's run: all 21 members
    assert f"{MEMBERS}" in carmen_plan.text
    writes_before, customers_before = qbo_writes(sb), len(sb.qbo.entities["Customer"])
    gate = CustomerWriteGate(sb.qbo)

    d.click(ALICE, ALERT_CHANNEL, parent_ts, ACTION_BULK_FIX)
    d.click(ALICE, ALERT_CHANNEL, plan_ephemeral(bot, ALICE).ts, ACTION_BULK_CONFIRM)
    try:
        assert gate.entered.wait(15)  # Alice's run is inside its first member's write

        # A new "Fix all" now: nothing to plan, every member is in Alice's running fix all.
        before = len(d.ephemerals(CARMEN))
        d.click(CARMEN, ALERT_CHANNEL, parent_ts, ACTION_BULK_FIX)
        assert bot.wait_ephemeral(CARMEN, before + 1)[-1] == t("es", "bulk_running")  # Carmen reads Spanish
        assert any(e["action"] == "slack:bulk-plan" and e["outcome"] == "noop"
                   and e["detail"]["why"] == "members in a running fix all"
                   for e in bot.store.audit_entries(target=group["key"]) if e["actor"] == CARMEN)

        # Carmen confirms the plan she was shown earlier: her run takes what Alice's has not reached.
        d.click(CARMEN, ALERT_CHANNEL, carmen_plan.ts, ACTION_BULK_CONFIRM)
        d.wait_for(lambda: CARMEN in runs(bot, group["key"]), timeout=25)
    finally:
        gate.release.set()
    d.wait_for(lambda: ALICE in runs(bot, group["key"]), timeout=25)
    done = runs(bot, group["key"])
    assert (done[ALICE]["fixed"], done[ALICE]["needs_person"]) == (1, MEMBERS - 1)
    assert (done[CARMEN]["fixed"], done[CARMEN]["needs_person"]) == (MEMBERS - 1, 1)
    assert done[ALICE]["failed"] == done[CARMEN]["failed"] == 0

    # Each invoice fixed exactly once: one customer, one write, one "ok" row, all resolved.
    for i in range(MEMBERS):
        assert len(customers_with(sb, f"person{i}@storm.example")) == 1, i
    assert len(sb.qbo.entities["Customer"]) == customers_before + MEMBERS
    assert qbo_writes(sb) - writes_before == MEMBERS
    for m in members:
        oks = [e for e in bot.store.audit_entries(target=m["key"])
               if e["action"] == "slack:fix:create-customer" and e["outcome"] == "ok"]
        assert len(oks) == 1, m["key"]
        assert bot.alert(m["key"])["state"] == "resolved"
    # Each run's progress names the members the other run had claimed.
    plans = {row["by"]: row for row in bot.store.query_rows("SELECT * FROM bulk_plans"
                                                             " WHERE confirmed_at IS NOT NULL")}
    carmen_final = d.message(ALERT_CHANNEL, plans[CARMEN]["progress_ts"]).visible_text()
    assert "INV-5000: this fix was already started once" in carmen_final, carmen_final
    alice_final = d.message(ALERT_CHANNEL, plans[ALICE]["progress_ts"]).visible_text()
    assert f"1 fixed, 0 failed, {MEMBERS - 1} need a person" in alice_final
    assert "INV-5001: this fix was already started once" in alice_final, alice_final
