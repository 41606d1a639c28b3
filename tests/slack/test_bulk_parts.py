"""The pieces of a bulk fix without Slack: the edit pacer, the plan's one-time confirm and
expiry in the store, the storm parent's "Fix all N like this" button, the plan button value."""
from __future__ import annotations

import pytest

from bot.slack.edit_pacer import EditPacer
from bot.slack.messages import (ACTION_ACK, ACTION_BULK_CONFIRM, ACTION_BULK_FIX, AlertCard, alert_parent, listing,
                                parse_button_value, parse_plan_value, plan_value)
from bot.store import Store


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_edit_pacer_allows_one_edit_per_interval():
    clock = Clock()
    pacer = EditPacer(3.0, clock=clock)
    seen = []
    for _ in range(100):  # 10 s of steps every 0.1 s
        seen.append(pacer.due())
        clock.now += 0.1
    assert sum(seen) == 4 and seen[0]  # at 0, 3, 6, 9 s


def test_a_plan_is_confirmed_once_and_not_after_it_expired(tmp_path):
    clock = Clock()
    store = Store(tmp_path / "q.db", clock=clock)
    try:
        for plan_id, ttl in (("fresh", 900.0), ("old", 900.0)):
            store.save_bulk_plan(plan_id, group_key="group:x:1", fix_id="create-customer", by="U1",
                                 expires_at=clock.now + ttl, members=[{"key": "1:x", "version": 2, "fingerprint": "f"}],
                                 needs_person=[{"key": "2:x", "number": "INV-2", "why": "bulk_why_no_fix"}])
        assert store.get_bulk_plan("fresh")["members"] == [{"key": "1:x", "version": 2, "fingerprint": "f"}]
        assert store.confirm_bulk_plan("fresh", "U1") is True
        assert store.confirm_bulk_plan("fresh", "U1") is False  # a second click: nothing new
        assert store.get_bulk_plan("fresh")["confirmed_by"] == "U1"
        clock.now += 901
        assert store.confirm_bulk_plan("old", "U1") is False  # expired
        assert store.get_bulk_plan("old")["confirmed_at"] is None
        assert store.get_bulk_plan("missing") is None
    finally:
        store.close()


def _actions(message) -> list[str]:
    return [el["action_id"] for b in message.blocks if b["type"] == "actions" for el in b["elements"]]


def test_a_storm_parent_offers_fix_all_only_with_an_offer_and_while_open():
    card = AlertCard(key="group:missing-customer:1", rule="missing-customer", state="open", title="t",
                     group_count=30, storm=True, bulk=("create-customer", 28))
    parent = alert_parent(card)
    button = next(el for b in parent.blocks if b["type"] == "actions" for el in b["elements"]
                  if el["action_id"] == ACTION_BULK_FIX)
    assert button["text"]["text"] == "Fix all 28 like this" and "confirm" not in button
    assert parse_button_value(button["value"]) == ("group:missing-customer:1", "create-customer")
    assert _actions(alert_parent(AlertCard(key="g", rule="r", state="open", title="t", storm=True))) == [ACTION_ACK]
    resolved = AlertCard(key="g", rule="r", state="resolved", title="t", storm=True, bulk=("f", 3))
    assert _actions(alert_parent(resolved)) == []
    nl = AlertCard(key="g", rule="r", state="open", title="t", storm=True, bulk=("f", 3), lang="nl")
    assert "Herstel alle 3 zo" in str(alert_parent(nl).blocks)


def test_the_plan_message_escapes_names_and_carries_only_the_plan_id():
    message = listing([("*Head*", ["INV-1 · <!channel> & Co"])], fallback="Head", footer="_f_",
                      confirm=("Confirm: fix 1", "abc123"))
    text = str(message.blocks)
    assert "&lt;!channel&gt; &amp; Co" in text and "<!channel>" not in text
    button = message.blocks[-1]["elements"][0]
    assert button["action_id"] == ACTION_BULK_CONFIRM and parse_plan_value(button["value"]) == "abc123"
    assert plan_value("abc123") == button["value"]
    for bad in (None, "", "{}", '{"p": 3}', '{"p": ""}', "[1]", '{"k": "x"}'):
        with pytest.raises(ValueError):
            parse_plan_value(bad)
