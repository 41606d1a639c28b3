"""Issue 12 part 4, through the Slack stand-in: a storm of invoices failing for the same
fixable cause is fixed with one click on the group's "Fix all N like this" and one Confirm;
each invoice's fix is applied exactly once, progress is one thread message edited in place,
the members that need a person are listed, a second Confirm does nothing, and a person not
allowed to fix is refused."""
from __future__ import annotations

import copy
import re
import time

import pytest

from bot.alerts import is_group
from bot.slack.edit_pacer import EDIT_EVERY_S
from bot.slack.messages import ACTION_BULK_CONFIRM, ACTION_BULK_FIX, parse_plan_value
from handlers.texts import t
from sandbox import slack_payloads as payloads
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE, BRAM, CARMEN, FIXERS, scenario

FIXABLE = 30
NO_EMAIL = 3
# Each member's fix and re-check make about 12 QuickBooks and 7 HubSpot requests, and the
# adapters pace at the published limits (QBO about 10 a second, HubSpot 100 per 10 s): about
# 1.3 s a member, 40 s for 30 (measured). The storm tests run against a company with raised
# limits (the sandbox enforces them; the adapters pace under them): QBO_PER_S QuickBooks
# requests a second, so 30 members take about 9 s and the progress message is edited a few
# times on the way.
QBO_PER_S = 40
FAST_HUBSPOT = {"requests_per_10s": 5000, "searches_per_second": 500}


def storm_world(fixable: int = FIXABLE, no_email: int = NO_EMAIL) -> dict:
    """The missing-customer scenario grown into a storm: `fixable` invoices whose contacts
    (with an email) have no QuickBooks customer, and `no_email` whose contacts have no email
    (no fix may be offered for those: a person must add one). Contact sync is off, so nothing
    creates their customers but a fix."""
    data = copy.deepcopy(scenario("missing-customer"))
    hs = data["hubspot"]
    template = hs["invoices"][1]  # Lisa's: no company; it syncs
    hs["invoices"] = [template]   # Ann's own failure is left out: the storm is the one below
    data["expect"] = {}
    for i in range(fixable + no_email):
        cid, iid = str(7000 + i), str(8000 + i)
        email = f"person{i}@storm.example" if i < fixable else ""
        # Untrusted text in the names: it must reach Slack escaped.
        last = "<Smit & Co>" if i == 0 else f"Storm{i:02d}"
        hs["contacts"].append({"id": cid, "email": email, "firstname": "Ann", "lastname": last})
        inv = dict(template, id=iid, number=f"INV-{5000 + i}", contact=cid)
        hs["invoices"].append(inv)
        data["expect"][iid] = ["missing-customer"]
    return data


def customers_with(sb, email: str) -> list[dict]:
    return [c for c in sb.qbo.entities["Customer"].values()
            if (c.get("PrimaryEmailAddr") or {}).get("Address") == email]


def qbo_writes(sb) -> int:
    """Create/update requests QuickBooks received (POST /v3/company/{realm}/{entity})."""
    return sb.log.count("qbo", "POST /v3/company/{realmId}/{entity}")


def group_alert(bot) -> dict:
    groups = [a for a in bot.store.list_alerts() if is_group(a)]
    assert len(groups) == 1, groups
    return groups[0]


def bulk_button(message) -> dict:
    return next(el for b in message.blocks if b["type"] == "actions" for el in b["elements"]
                if el["action_id"] == ACTION_BULK_FIX)


def updates_of(bot, ts: str) -> list[dict]:
    return [args for method, args in bot.sb.slack.service.calls if method == "chat.update" and args.get("ts") == ts]


def plan_ephemeral(bot, user: str):
    return bot.d.wait_for(lambda: next((e for e in reversed(bot.d.ephemerals(user))
                                        if any(b["type"] == "actions" for b in (e.blocks or []))), None), timeout=10)


@pytest.fixture
def fast_bot(request):
    """make_bot(world) against a sandbox company with raised API limits (see QBO_PER_S). make_bot
    is set up after this fixture, so its bot stops before these sandboxes do."""
    made = []

    def make(world, qbo_per_s: int = QBO_PER_S, **options):
        make_bot = request.getfixturevalue("make_bot")
        # The company allows more than the adapters are told to send: a request counted a little
        # late must not meet a 429 (that would wait out QuickBooks' throttle pause).
        sb = Sandbox(hubspot_limit_per_10s=5000, hubspot_searches_per_s=500, qbo_per_second=4 * qbo_per_s,
                     qbo_per_minute=240 * qbo_per_s, slack_post_rate_per_s=100, slack_post_burst=100).start()
        made.append(sb)
        return make_bot(world, sandbox=sb, hubspot_options=FAST_HUBSPOT, **options,
                        qbo_options={"pace_limits": [(qbo_per_s, 1.0), (60 * qbo_per_s, 60.0)]})
    yield make
    for sb in made:
        sb.stop()


def test_a_storm_of_30_is_fixed_with_one_click_and_one_confirm(fast_bot):
    bot = fast_bot(storm_world())
    sb, d = bot.sb, bot.d
    bot.scan()
    group = group_alert(bot)
    members = bot.store.group_members(group["key"])
    assert len(members) == FIXABLE + NO_EMAIL and {m["rule"] for m in members} == {"missing-customer"}
    parent = bot.parent_of(group["key"])
    button = bulk_button(parent)
    assert button["text"]["text"] == f"Fix all {FIXABLE} like this"
    assert "confirm" not in button  # a static confirm could not show fresh counts: the click shows the plan
    customers_before = len(sb.qbo.entities["Customer"])
    writes_before = qbo_writes(sb)
    company_info_reads = sb.log.count("qbo", "GET /v3/company/{realmId}/companyinfo/{id}")

    # Bram may not fix: refused, audited, nothing planned or changed.
    r = d.click(BRAM, ALERT_CHANNEL, parent.ts, ACTION_BULK_FIX)
    assert r.acked and r.in_time
    refusal = bot.wait_ephemeral(BRAM, 1)[-1]
    assert refusal == t("nl", "not_allowed", what=t("nl", "what_fix"))  # Bram reads Dutch
    assert bot.store.query_rows("SELECT COUNT(*) AS n FROM bulk_plans")[0]["n"] == 0
    assert any(e["action"] == "slack:bulk-plan" and e["outcome"] == "refused"
               for e in bot.store.audit_entries(actor=BRAM))

    # Alice clicks: nothing is fixed yet; she is shown exactly what will change.
    r = d.click(ALICE, ALERT_CHANNEL, parent.ts, ACTION_BULK_FIX)
    assert r.acked and r.in_time
    shown = plan_ephemeral(bot, ALICE)
    text = "\n".join(b["text"]["text"] for b in shown.blocks if b["type"] == "section")
    assert f"Fix all {FIXABLE} like this?" in text
    assert "INV-5000" in text and "&lt;Smit &amp; Co&gt;" in text and "<Smit" not in text  # names escaped
    # The fix is named by the label it has for the first member (an example), never by its id.
    assert re.search(rf"{FIXABLE} like “Create a QBO customer for [^”]+” \(this button\)", text), text
    assert "create-customer" not in text
    assert f"Need a person ({NO_EMAIL})" in text
    for i in range(FIXABLE, FIXABLE + NO_EMAIL):
        assert f"INV-{5000 + i}: no automatic fix is offered" in text
    assert len(sb.qbo.entities["Customer"]) == customers_before  # the click changed nothing

    started = time.monotonic()
    r = d.click(ALICE, ALERT_CHANNEL, shown.ts, ACTION_BULK_CONFIRM)
    assert r.acked and r.in_time  # the listener acks at once; the fixes run on the worker pool
    done = bot.wait_audit(group["key"], "slack:bulk-fix", "ok", timeout=25)
    took = time.monotonic() - started
    assert done["detail"] == {"plan": done["detail"]["plan"], "fixed": FIXABLE, "failed": 0,
                              "needs_person": NO_EMAIL}

    # Each invoice's customer was created exactly once, and its alert resolved.
    for i in range(FIXABLE):
        assert len(customers_with(sb, f"person{i}@storm.example")) == 1, i
    assert len(sb.qbo.entities["Customer"]) == customers_before + FIXABLE
    # Exactly one write request per invoice reached QuickBooks (not a retry deduplicated there).
    assert qbo_writes(sb) - writes_before == FIXABLE
    # Each re-check took CompanyInfo (its tax facts) as the scan stored it: no read per member.
    assert sb.log.count("qbo", "GET /v3/company/{realmId}/companyinfo/{id}") == company_info_reads
    states = {m["key"]: bot.alert(m["key"])["state"] for m in members}
    assert sorted(states.values()) == ["open"] * NO_EMAIL + ["resolved"] * FIXABLE

    # One audit row per member with its outcome, naming the plan.
    plan_id = done["detail"]["plan"]
    for m in members[:FIXABLE]:
        rows = [e for e in bot.store.audit_entries(target=m["key"])
                if e["action"] == "slack:fix:create-customer" and e["outcome"] == "ok"]
        assert len(rows) == 1 and rows[0]["detail"]["bulk"] == plan_id and rows[0]["actor"] == ALICE

    # Progress: one message in the group's thread, edited in place, paced, ending in the counts.
    progress_ts = bot.store.get_bulk_plan(plan_id)["progress_ts"]
    thread = d.thread(ALERT_CHANNEL, parent.ts)
    mine = [m for m in thread if "fixing all like this" in (m.edits[0].text if m.edits else m.text)
            or "Fix all by" in m.text]
    assert [m.ts for m in mine] == [progress_ts]
    edits = updates_of(bot, progress_ts)
    assert 2 <= len(edits) <= 2 + int(took / EDIT_EVERY_S), (len(edits), took)  # paced, plus the final one
    progress = d.message(ALERT_CHANNEL, progress_ts)
    shown_before = [e.text for e in progress.edits]  # what it said before each edit, oldest first
    assert shown_before[0].endswith(f"0 of {FIXABLE} done…") and f"of {FIXABLE} done…" in shown_before[-1]
    counts = [int(x.split(" of ")[0].rsplit(" ", 1)[1]) for x in shown_before]
    assert counts == sorted(counts) and 0 < counts[-1] < FIXABLE  # it moved on as members finished
    paced = [e.at for e in progress.edits][:-1]  # the final counts are shown whenever the run ends
    assert all(b - a >= EDIT_EVERY_S - 0.2 for a, b in zip(paced, paced[1:], strict=False)), paced
    final = progress.visible_text()
    assert f"{FIXABLE} fixed, 0 failed, {NO_EMAIL} need a person" in final, final
    for i in range(FIXABLE, FIXABLE + NO_EMAIL):
        assert f"INV-{5000 + i}" in final
    # The group's parent counts what is left; its button is gone (no member left to fix).
    parent = bot.parent_of(group["key"])
    assert f"{NO_EMAIL} invoices" in parent.visible_text()
    assert not any(el["action_id"] == ACTION_BULK_FIX for b in parent.blocks if b["type"] == "actions"
                   for el in b["elements"])

    # A second Confirm of the same plan changes nothing.
    calls_before = len(sb.slack.service.calls)
    before = len(d.ephemerals(ALICE))
    d.click(ALICE, ALERT_CHANNEL, shown.ts, ACTION_BULK_CONFIRM)
    again = bot.wait_ephemeral(ALICE, before + 1)[-1]
    assert "already confirmed" in again
    assert len(sb.qbo.entities["Customer"]) == customers_before + FIXABLE
    assert updates_of(bot, progress_ts) == edits
    assert qbo_writes(sb) - writes_before == FIXABLE
    assert not [m for m, _ in sb.slack.service.calls[calls_before:] if m in ("chat.postMessage", "chat.update")]
    assert any(e["action"] == "slack:bulk-confirm" and e["outcome"] == "noop" and e["detail"]["why"] == "repeat"
               for e in bot.store.audit_entries(target=group["key"]))


def test_a_member_changed_after_the_plan_is_left_for_a_person(fast_bot):
    bot = fast_bot(storm_world(fixable=22, no_email=0), qbo_per_s=500)
    d = bot.d
    bot.scan()
    group = group_alert(bot)
    parent = bot.parent_of(group["key"])
    d.click(ALICE, ALERT_CHANNEL, parent.ts, ACTION_BULK_FIX)
    shown = plan_ephemeral(bot, ALICE)
    assert "Fix all 22 like this?" in shown.blocks[0]["text"]["text"]
    # Meanwhile someone snoozes one of the invoices: it is no longer what the plan showed.
    bot.command(ALICE, "snooze INV-5003 1d")
    snoozed = next(m for m in bot.store.group_members(group["key"]) if m["invoice_number"] == "INV-5003")
    assert snoozed["state"] == "snoozed"

    d.click(ALICE, ALERT_CHANNEL, shown.ts, ACTION_BULK_CONFIRM)
    done = bot.wait_audit(group["key"], "slack:bulk-fix", "ok", timeout=25)
    assert (done["detail"]["fixed"], done["detail"]["needs_person"]) == (21, 1)
    assert customers_with(bot.sb, "person3@storm.example") == []
    assert bot.alert(snoozed["key"])["state"] == "snoozed"
    progress_ts = bot.store.get_bulk_plan(done["detail"]["plan"])["progress_ts"]
    final = d.message(ALERT_CHANNEL, progress_ts).visible_text()
    assert "INV-5003: changed since the plan was shown" in final, final


def test_members_whose_fix_fails_are_counted_with_the_reason_and_stay_open(fast_bot):
    bot = fast_bot(storm_world(fixable=21, no_email=0), qbo_per_s=500)
    d, sb = bot.d, bot.sb
    bot.scan()
    group = group_alert(bot)
    parent = bot.parent_of(group["key"])
    d.click(ALICE, ALERT_CHANNEL, parent.ts, ACTION_BULK_FIX)
    shown = plan_ephemeral(bot, ALICE)
    sb.qbo.subscription_ended = True  # QuickBooks now refuses every write (error 6190)
    writes_before = qbo_writes(sb)
    d.click(ALICE, ALERT_CHANNEL, shown.ts, ACTION_BULK_CONFIRM)
    done = bot.wait_audit(group["key"], "slack:bulk-fix", "ok", timeout=25)
    assert (done["detail"]["fixed"], done["detail"]["failed"], done["detail"]["needs_person"]) == (0, 21, 0)
    assert qbo_writes(sb) - writes_before == 21  # each tried once, none retried
    members = bot.store.group_members(group["key"])
    assert {m["state"] for m in members} == {"open"}  # back as they were: a person can retry
    for m in members:
        outcomes = [e["outcome"] for e in bot.store.audit_entries(target=m["key"])
                    if e["action"] == "slack:fix:create-customer"]
        assert outcomes == ["started", "failed"], (m["key"], outcomes)
    progress_ts = bot.store.get_bulk_plan(done["detail"]["plan"])["progress_ts"]
    final = d.message(ALERT_CHANNEL, progress_ts).visible_text()
    assert "0 fixed, 21 failed, 0 need a person" in final and "Failed (21)" in final
    assert "INV-5000: " in final and "subscription" in final, final  # the reason, per invoice
    assert bulk_button(bot.parent_of(group["key"]))["text"]["text"] == "Fix all 21 like this"  # still offered


def test_only_the_person_shown_the_plan_can_confirm_it(fast_bot):
    """Carmen (also a fixer here) replays Alice's Confirm with the plan id: refused, nothing runs."""
    bot = fast_bot(storm_world(fixable=21, no_email=0), qbo_per_s=500, allowed=f"{FIXERS},{CARMEN}")
    d, sb, ws = bot.d, bot.sb, bot.sb.slack.workspace
    bot.scan()
    group = group_alert(bot)
    d.click(ALICE, ALERT_CHANNEL, bot.parent_of(group["key"]).ts, ACTION_BULK_FIX)
    shown = plan_ephemeral(bot, ALICE)
    block_id, el = d.find_element(shown.blocks, ACTION_BULK_CONFIRM)
    with ws.lock:
        url = ws.mint_response_url(sb.slack.url, "actions", ALERT_CHANNEL, CARMEN, message_ts=shown.ts,
                                   ephemeral=True)
        payload = payloads.block_actions_on_message(ws.users[CARMEN], ALERT_CHANNEL, "qbsync-alerts", shown,
                                                    payloads.action(el, block_id, None), response_url=url,
                                                    trigger_id=ws.mint_trigger(CARMEN))
    writes = qbo_writes(sb)
    assert d._send("interactive", payload, accepts_response_payload=False).acked
    bot.d.wait_for(lambda: any(e["action"] == "slack:bulk-confirm" and e["actor"] == CARMEN
                               for e in bot.store.audit_entries(target=group["key"])), timeout=10)
    assert bot.store.get_bulk_plan(parse_plan_value(el["value"]))["confirmed_at"] is None
    assert qbo_writes(sb) == writes
    # Alice's own Confirm still works afterwards.
    d.click(ALICE, ALERT_CHANNEL, shown.ts, ACTION_BULK_CONFIRM)
    assert bot.wait_audit(group["key"], "slack:bulk-fix", "ok", timeout=25)["detail"]["fixed"] == 21
