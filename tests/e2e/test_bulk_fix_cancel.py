"""Issue 12 part 4, the bulk plan's Cancel (handlers/bulk.py cancel), through the Slack stand-in:
only the plan's author cancels it; the plan is marked cancelled and audited; the ephemeral plan
is replaced by a short "cancelled"; a double click cancels once; a Confirm of it afterwards does
nothing and says so; a Cancel after the Confirm changes nothing."""
from __future__ import annotations

from bot.slack.messages import ACTION_BULK_CANCEL, ACTION_BULK_CONFIRM, ACTION_BULK_FIX, parse_plan_value
from handlers.texts import t
from sandbox import slack_payloads as payloads
from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE, CARMEN, FIXERS
from .test_bulk_fix import fast_bot, group_alert, plan_ephemeral, qbo_writes, storm_world  # noqa: F401

MEMBERS = 21  # a storm is more than 20 new alerts in one pass (bot/alerts.py)


def click_payload(bot, user: str, shown, action_id: str) -> dict:
    """The payload of `user` clicking `action_id` on the ephemeral `shown`, built now and sent
    later: two of them sent back to back are a double click (both built before either is
    answered), and one built for another user is a replay of the author's button."""
    d, ws = bot.d, bot.sb.slack.workspace
    block_id, el = d.find_element(shown.blocks, action_id)
    with ws.lock:
        url = ws.mint_response_url(bot.sb.slack.url, "actions", ALERT_CHANNEL, user, message_ts=shown.ts,
                                   ephemeral=True)
        return payloads.block_actions_on_message(ws.users[user], ALERT_CHANNEL, "qbsync-alerts", shown,
                                                 payloads.action(el, block_id, None), response_url=url,
                                                 trigger_id=ws.mint_trigger(user))


def send(bot, payload: dict) -> None:
    assert bot.d._send("interactive", payload, accepts_response_payload=False).acked


def audited(bot, group_key: str, action: str, actor: str = ALICE) -> list[dict]:
    return [e for e in bot.store.audit_entries(target=group_key) if e["action"] == action and e["actor"] == actor]


def planned(bot, user: str = ALICE):
    bot.scan()
    group = group_alert(bot)
    bot.d.click(user, ALERT_CHANNEL, bot.parent_of(group["key"]).ts, ACTION_BULK_FIX)
    return group, plan_ephemeral(bot, user)


def test_cancel_drops_the_plan_once_and_a_later_confirm_does_nothing(request):
    make = request.getfixturevalue("fast_bot")  # test_bulk_fix's fixture
    bot = make(storm_world(fixable=MEMBERS, no_email=0), qbo_per_s=500)
    d, sb = bot.d, bot.sb
    group, shown = planned(bot)
    labels = [el["text"]["text"] for b in shown.blocks if b["type"] == "actions" for el in b["elements"]]
    assert labels == [f"Confirm: fix {MEMBERS}", "Cancel"]
    plan_id = parse_plan_value(d.find_element(shown.blocks, ACTION_BULK_CANCEL)[1]["value"])
    # Built while the plan is on screen: a double click on Cancel, and a Confirm pressed late.
    cancels = [click_payload(bot, ALICE, shown, ACTION_BULK_CANCEL) for _ in range(2)]
    late_confirm = click_payload(bot, ALICE, shown, ACTION_BULK_CONFIRM)
    writes, posts_before = qbo_writes(sb), len(sb.slack.service.calls)

    for payload in cancels:
        send(bot, payload)
    d.wait_for(lambda: len(audited(bot, group["key"], "slack:bulk-cancel")) == 2, timeout=10)
    rows = audited(bot, group["key"], "slack:bulk-cancel")
    assert sorted(r["outcome"] for r in rows) == ["noop", "ok"]  # cancelled once; the repeat is a no-op
    assert next(r for r in rows if r["outcome"] == "noop")["detail"] == {"why": "repeat", "plan": plan_id}
    assert next(r for r in rows if r["outcome"] == "ok")["detail"] == {"plan": plan_id, "members": MEMBERS}
    stored = bot.store.get_bulk_plan(plan_id)
    assert stored["cancelled_by"] == ALICE and stored["cancelled_at"] is not None and stored["confirmed_at"] is None
    # The plan (with its buttons) is gone from Alice's screen, replaced by one short text.
    cancelled = t("en", "bulk_cancelled")
    d.wait_for(lambda: cancelled in bot.ephemeral_texts(ALICE), timeout=10)
    assert not any(e.ts == shown.ts for e in d.ephemerals(ALICE))
    assert bot.ephemeral_texts(ALICE).count(cancelled) == 1
    assert [e.blocks for e in d.ephemerals(ALICE) if e.text == cancelled] in ([None], [[]])

    # The Confirm pressed afterwards runs nothing and says why.
    before = len(d.ephemerals(ALICE))
    send(bot, late_confirm)
    assert bot.wait_ephemeral(ALICE, before + 1)[-1] == t("en", "bulk_was_cancelled")
    [confirm_row] = audited(bot, group["key"], "slack:bulk-confirm")
    assert (confirm_row["outcome"], confirm_row["detail"]) == ("noop", {"why": "cancelled", "plan": plan_id})
    assert bot.store.get_bulk_plan(plan_id)["confirmed_at"] is None
    assert qbo_writes(sb) == writes
    assert not [m for m, _ in sb.slack.service.calls[posts_before:] if m in ("chat.postMessage", "chat.update")]
    assert {m["state"] for m in bot.store.group_members(group["key"])} == {"open"}


def test_only_the_author_cancels_and_not_after_the_confirm(request):
    """Carmen (a fixer too) replays Alice's Cancel: refused, the plan stands. Alice confirms;
    her Cancel pressed after that changes nothing and the run ends as planned."""
    make = request.getfixturevalue("fast_bot")  # test_bulk_fix's fixture
    bot = make(storm_world(fixable=MEMBERS, no_email=0), qbo_per_s=500, allowed=f"{FIXERS},{CARMEN}")
    d = bot.d
    group, shown = planned(bot)
    plan_id = parse_plan_value(d.find_element(shown.blocks, ACTION_BULK_CANCEL)[1]["value"])
    alice_cancel = click_payload(bot, ALICE, shown, ACTION_BULK_CANCEL)

    send(bot, click_payload(bot, CARMEN, shown, ACTION_BULK_CANCEL))
    [refused] = d.wait_for(lambda: audited(bot, group["key"], "slack:bulk-cancel", CARMEN) or None, timeout=10)
    assert refused["outcome"] == "noop" and refused["detail"]["why"] == "not the person the plan was shown to"
    assert bot.wait_ephemeral(CARMEN, 1)[-1] == t("es", "bulk_plan_missing")  # Carmen reads Spanish
    assert bot.store.get_bulk_plan(plan_id)["cancelled_at"] is None
    assert any(e.ts == shown.ts for e in d.ephemerals(ALICE))  # Alice's plan is still on her screen

    d.click(ALICE, ALERT_CHANNEL, shown.ts, ACTION_BULK_CONFIRM)
    d.wait_for(lambda: bot.store.get_bulk_plan(plan_id)["confirmed_at"] is not None, timeout=10)
    send(bot, alice_cancel)
    done = bot.wait_audit(group["key"], "slack:bulk-fix", "ok", timeout=25)
    assert done["detail"]["fixed"] == MEMBERS
    d.wait_for(lambda: len(audited(bot, group["key"], "slack:bulk-cancel")) == 1, timeout=10)
    [late] = audited(bot, group["key"], "slack:bulk-cancel")
    assert (late["outcome"], late["detail"]) == ("noop", {"why": "confirmed", "plan": plan_id})
    d.wait_for(lambda: t("en", "bulk_cancel_too_late") in bot.ephemeral_texts(ALICE), timeout=10)
    assert bot.store.get_bulk_plan(plan_id)["cancelled_at"] is None
