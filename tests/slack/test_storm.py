"""A storm: many failures at once become one parent per rule whose thread names every invoice;
later passes neither repost nor relist; members resolving shrink the group, then resolve it."""
from __future__ import annotations

import re
import time

import pytest

from bot.alerts import STORM_JOIN_S, STORM_THRESHOLD, finding_from_alert, is_group
from bot.slack.messages import parent_block_id
from rules.base import Finding
from sandbox.app import Sandbox
from sandbox.generate import generate
from tests.poller.conftest import build, parents


@pytest.fixture
def storm(tmp_path):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000, hubspot_searches_per_s=1000,
                 hubspot_limit_per_10s=100000) as sb:
        data = generate(400, failure_rate=0.25, seed=11)
        sb.load(data, validate=False)
        yield sb, data, build(sb, tmp_path / "storm.db")


def channel_text(sb, parent) -> str:
    return "\n".join(m.text + " " + str(m.blocks) for m in sb.slack.driver.thread(parent.channel, parent.ts))


def invoice_alerts(store, states=("open", "acknowledged", "fixing", "snoozed")):
    return [a for a in store.list_alerts(states=states) if not is_group(a)]


def test_a_storm_is_one_parent_per_rule_and_names_every_invoice(storm):
    sb, data, parts = storm
    parts.scanner.scan()
    failing = invoice_alerts(parts.store)
    assert len(failing) > STORM_THRESHOLD * 2
    rules = {a["rule"] for a in failing}
    posted = parents(sb)
    assert len(posted) == len(rules)  # one per rule, not one per invoice
    groups = {a["key"]: a for a in parts.store.list_alerts() if is_group(a)}
    assert {g["rule"] for g in groups.values()} == rules
    by_ts = {m.ts: m for m in posted}
    for g in groups.values():
        parent = by_ts[g["ts"]]
        assert parent.blocks[0]["block_id"] == parent_block_id(g["key"])
        members = [a for a in failing if a["group_key"] == g["key"]]
        assert f"{len(members)} invoices" in parent.text
        thread = channel_text(sb, parent)
        for a in members:  # nothing lost: every failing invoice is named in its group's thread
            assert a["listed"] == 1 and a["invoice_number"] in thread
            # ... and linked to its HubSpot record, as an invoice's own parent is
            assert re.search(rf"<https://app\.hubspot\.com/contacts/\d+/record/0-53/{a['invoice_id']}"
                             rf"\|{re.escape(a['invoice_number'])}>", thread), a["invoice_number"]
    assert all(a["group_key"] in groups for a in failing)

    # A second pass: nothing new in Slack, nothing listed twice.
    before = len(sb.slack.driver.transcript()) + sum(len(sb.slack.driver.thread(m.channel, m.ts)) for m in posted)
    parts.scanner.scan()
    after = len(sb.slack.driver.transcript()) + sum(len(sb.slack.driver.thread(m.channel, m.ts)) for m in posted)
    assert after == before


def test_members_resolving_shrink_the_group_then_resolve_it(storm):
    sb, data, parts = storm
    parts.scanner.scan()
    group = next(a for a in parts.store.list_alerts() if is_group(a))
    members = [a for a in invoice_alerts(parts.store) if a["group_key"] == group["key"]]
    assert len(members) >= 4
    # Three of them are voided in HubSpot: nothing left to sync for those.
    for a in members[:3]:
        sb.portal.update("invoices", a["invoice_id"], {"hs_invoice_status": "voided"})
    parts.scanner.scan()
    parent = sb.slack.driver.message(group["channel"], group["ts"])
    assert f"{len(members) - 3} invoices are not reaching QuickBooks" in parent.text
    assert sb.slack.driver.thread(group["channel"], group["ts"])[-1].text == \
        f":white_check_mark: 3 of these now sync or no longer fail; {len(members) - 3} still fail."
    assert parts.store.get_alert(group["key"])["state"] == "open"

    # All but one more: the parent and the thread count one invoice in the singular.
    for a in members[3:-1]:
        sb.portal.update("invoices", a["invoice_id"], {"hs_invoice_status": "voided"})
    parts.scanner.scan()
    parent = sb.slack.driver.message(group["channel"], group["ts"])
    assert "1 invoice is not reaching QuickBooks" in parent.text and "1 invoices" not in parent.text
    one_left = ":white_check_mark: 1 of these now syncs or no longer fails; 1 still fails." if len(members) == 5 else \
        f":white_check_mark: {len(members) - 4} of these now sync or no longer fail; 1 still fails."
    assert sb.slack.driver.thread(group["channel"], group["ts"])[-1].text == one_left

    sb.portal.update("invoices", members[-1]["invoice_id"], {"hs_invoice_status": "voided"})
    parts.scanner.scan()
    assert parts.store.get_alert(group["key"])["state"] == "resolved"
    assert "Resolved" in sb.slack.driver.thread(group["channel"], group["ts"])[-1].text


def test_new_failures_of_a_rule_join_its_recent_group(storm):
    sb, data, parts = storm
    parts.scanner.scan()
    n_parents = len(parents(sb))
    group = next(a for a in parts.store.list_alerts() if is_group(a) and a["rule"] == "duplicate-doc-number")
    member = next(a for a in invoice_alerts(parts.store) if a["group_key"] == group["key"])
    # One more failure of that rule in a later pass (the finding of a member, on a healthy
    # invoice): it joins the group's thread instead of getting a parent of its own.
    finding = finding_from_alert(member)
    healthy = next(i["id"] for i in data["hubspot"]["invoices"] if i["id"] not in data["expect"])
    number = f"LATE-{healthy}"
    late = Finding(rule=finding.rule, invoice_id=healthy, invoice_number=number,
                   summary_facts=finding.summary_facts, evidence=finding.evidence)
    parts.alerts.apply_findings({healthy: [late]}, {}, [])
    assert len(parents(sb)) == n_parents
    alert = parts.store.get_alert(f"{healthy}:duplicate-doc-number")
    assert alert["group_key"] == group["key"] and alert["listed"] == 1 and not alert["ts"]
    assert number in channel_text(sb, sb.slack.driver.message(group["channel"], group["ts"]))


def test_few_new_failures_without_a_recent_group_get_parents_of_their_own(storm):
    sb, data, parts = storm
    parts.scanner.scan()
    n_parents = len(parents(sb))
    member = next(a for a in invoice_alerts(parts.store) if a["rule"] == "duplicate-doc-number")
    finding = finding_from_alert(member)
    parts.alerts.clock = lambda: time.time() + STORM_JOIN_S + 1  # the storm is long over
    healthy = [i["id"] for i in data["hubspot"]["invoices"] if i["id"] not in data["expect"]][:2]
    found = {h: [Finding(rule=finding.rule, invoice_id=h, invoice_number=f"LATE-{h}",
                         summary_facts=finding.summary_facts, evidence=finding.evidence)] for h in healthy}
    parts.alerts.apply_findings(found, {}, [])
    assert len(parents(sb)) == n_parents + 2
    for h in healthy:
        alert = parts.store.get_alert(f"{h}:duplicate-doc-number")
        assert alert["ts"] and not alert["group_key"]
