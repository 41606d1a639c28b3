"""HTTP mode behind HttpRunner (waitress): signed deliveries work, forged or stale ones are
refused with 401 before any listener runs, and Slack's retry of the same click runs the fix
once. Both runners stop quickly."""
from __future__ import annotations

import copy
import time

import pytest

from bot.slack.messages import ACTION_FIX
from sandbox.slack_http import encode, post_signed

from .conftest import ALICE
from .test_fix_flows import _fix_payload, customers_with


def test_signed_command_and_click_over_http(make_bot):
    bot = make_bot("missing-customer", transport="http")
    bot.scan()
    r = bot.d.slash(ALICE, "/qbsync", "status")
    assert r.transport == "http" and r.status == 200 and r.in_time
    assert "Open alerts: 1" in bot.wait_ephemeral(ALICE, 1)[-1]
    key = "3001:missing-customer"
    c = bot.d.click(ALICE, "C0ALERTS01", bot.alert(key)["ts"], ACTION_FIX + "create-customer")
    assert c.status == 200 and c.in_time
    bot.wait_audit(key, "slack:fix:create-customer", "ok")
    assert "Resolved by" in bot.thread_texts(key)[-1]
    assert len(customers_with(bot.sb, "ann.jansen@northwind.example")) == 1


@pytest.mark.parametrize("how", [{"forge": True}, {"stale_s": 600}], ids=["forged", "stale"])
def test_forged_or_stale_signature_is_refused_and_no_handler_runs(make_bot, how):
    bot = make_bot("missing-customer", transport="http")
    bot.scan()
    key = "3001:missing-customer"
    audit_before = len(bot.store.audit_entries())
    thread_before = bot.thread_texts(key)
    r = bot.d.slash(ALICE, "/qbsync", "scan", **how)
    assert r.status == 401 and not r.acked
    c = bot.d.click(ALICE, "C0ALERTS01", bot.alert(key)["ts"], ACTION_FIX + "create-customer", **how)
    assert c.status == 401 and not c.acked
    time.sleep(0.5)  # a listener that ran would have answered, audited or fixed by now
    assert bot.d.ephemerals(ALICE) == [] and bot.d.responses() == []
    assert len(bot.store.audit_entries()) == audit_before
    assert bot.thread_texts(key) == thread_before and bot.alert(key)["state"] == "open"
    assert customers_with(bot.sb, "ann.jansen@northwind.example") == []


def test_a_retried_http_delivery_runs_the_fix_once(make_bot):
    bot = make_bot("missing-customer", transport="http")
    bot.scan()
    key = "3001:missing-customer"
    body, ctype = encode("interactive", _fix_payload(bot, key, "create-customer"))
    secret = bot.sb.slack.workspace.signing_secret
    first = post_signed(bot.runner.url, body, ctype, secret, timeout=3)
    retry = post_signed(bot.runner.url, copy.copy(body), ctype, secret, timeout=3, retry_num=1)
    assert first.status == 200 and retry.status == 200
    assert retry.body == b""                    # taken already (bot/replay_ledger.py): not dispatched
    bot.d.wait_for(lambda: "Resolved by" in bot.thread_texts(key)[-1], timeout=15)
    time.sleep(0.3)  # a second run would have audited a refusal or answered by now
    assert len(customers_with(bot.sb, "ann.jansen@northwind.example")) == 1
    assert [e["outcome"] for e in bot.store.audit_entries(target=key) if e["action"] == "fix:create-customer"] == ["ok"]


@pytest.mark.parametrize("transport", ["socket", "http"])
def test_runners_stop_quickly(make_bot, transport):
    bot = make_bot("missing-customer", transport=transport)
    assert bot.d.slash(ALICE, "/qbsync", "help").acked
    started = time.monotonic()
    bot.runner.stop()
    assert time.monotonic() - started < 2.0
    if transport == "socket":
        assert not bot.runner.is_connected()
    else:
        refused = post_signed(bot.runner.url, b"x=1", "application/x-www-form-urlencoded", "s", timeout=1)
        assert refused.status is None and refused.error
    bot.runner.stop()  # a second stop (the fixture's) is harmless
