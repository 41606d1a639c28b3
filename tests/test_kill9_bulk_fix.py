"""`kill -9` in the middle of a bulk fix ("Fix all N like this", handlers/bulk.py): the run's
progress message does not stay at "X of N" for ever.

The real bot runs in a child process (bot.wiring + bolt over Socket Mode) against the sandbox
this test serves over HTTP. Alice plans and confirms a fix all of a 21-invoice storm; the
sandbox's QBO holds the 4th Customer write (a gate around the QBO stand-in's create) and the
SIGKILL lands there: 3 members fixed, the 4th inside its fix, 17 not reached. On SQLite
nothing runs a dead run again. A new bot process starts on the same database; Alice presses
"Fix all" again. The old progress message is then edited to say the run stopped at 3 of 21
and where the rest went, the stop is audited once, and the new plan holds the 17 not reached
(the one left in "fixing" is listed for a person: the next scan re-checks it).
"""
from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

from bot.alerts import is_group
from bot.slack.messages import ACTION_BULK_CONFIRM, ACTION_BULK_FIX
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL
from tests.e2e.test_bulk_fix import storm_world
from tests.qbo_gates import CustomerWriteGate
from tests.test_kill9_fix import _start, _wait_line

ALICE = "U0ALICE001"
MEMBERS = 21   # a storm is more than 20 new alerts in one pass (bot/alerts.py)
KILL_AT = 4    # the Customer write the kill lands in: 3 members are through

# As tests/test_kill9_fix.py's child, with the API pacing raised to the sandbox's raised limits
# (the storm takes about 1.3 s a member at the published ones).
CHILD = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, os.environ["QBSYNC_ROOT"])
    from bot import wiring
    from bot.app import SocketModeRunner, create_app
    from bot.config import load_settings
    fast = {"hubspot_options": {"requests_per_10s": 5000, "searches_per_second": 500},
            "qbo_options": {"pace_limits": [(200, 1.0), (12000, 60.0)]}, "post_interval": 0}
    parts = wiring.build(load_settings(json.loads(os.environ["QBSYNC_CHILD_ENV"]), env_file=None), **fast)
    app = create_app(parts, connection_build=fast)
    SocketModeRunner(app, parts.settings.slack_app_token).start()
    parts.scanner.scan()
    print("ready", flush=True)
    time.sleep(120)
""")


@pytest.fixture
def sb():
    sandbox = Sandbox(hubspot_limit_per_10s=5000, hubspot_searches_per_s=500, qbo_per_second=800,
                      qbo_per_minute=48000, slack_post_rate_per_s=100, slack_post_burst=100).start()
    yield sandbox
    sandbox.stop()


def _serve(script: Path, env: dict, log: Path):
    proc = _start(script, "serve", env, log)
    _wait_line(proc, "ready", log)
    return proc


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def _ephemeral_with_buttons(d, user: str, after: int):
    return d.wait_for(lambda: next((e for e in d.ephemerals(user)[after:]
                                    if any(b["type"] == "actions" for b in (e.blocks or []))), None), timeout=15)


def test_a_bulk_fix_killed_mid_run_says_where_it_stopped(sb, tmp_path):
    sb.load(storm_world(fixable=MEMBERS, no_email=0))
    script = tmp_path / "bot_child.py"
    script.write_text(CHILD)
    env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "bot.db"), "QBSYNC_FIX_ALLOWED": ALICE}
    d = sb.slack.driver
    gate = CustomerWriteGate(sb.qbo, KILL_AT, drop=True)

    # 1. The bot posts the storm; Alice plans and confirms the fix all; the kill lands in the 4th fix.
    proc = _serve(script, env, tmp_path / "serve-1.log")
    store = Store(env["QBSYNC_DB_PATH"])
    try:
        assert sb.slack.socket.wait_connected(5)
        d.use_socket()
        [group] = [a for a in store.list_alerts() if is_group(a)]
        d.click(ALICE, ALERT_CHANNEL, group["ts"], ACTION_BULK_FIX)
        shown = _ephemeral_with_buttons(d, ALICE, 0)
        d.click(ALICE, ALERT_CHANNEL, shown.ts, ACTION_BULK_CONFIRM)
        assert gate.entered.wait(20), (tmp_path / "serve-1.log").read_text()[-3000:]
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        _stop(proc)
        gate.release.set()
    [dead] = store.query_rows("SELECT * FROM bulk_plans WHERE confirmed_at IS NOT NULL")
    assert (dead["done"], dead["fixed"], dead["stopped_at"]) == (KILL_AT - 1, KILL_AT - 1, None)
    progress = d.message(ALERT_CHANNEL, dead["progress_ts"])
    assert f"of {MEMBERS} done…" in progress.visible_text()  # what it would say for ever
    states = sorted(m["state"] for m in store.group_members(group["key"]))
    assert states == ["fixing"] + ["open"] * (MEMBERS - KILL_AT) + ["resolved"] * (KILL_AT - 1)

    # 2. A new bot process; Alice presses Fix all again: the old message now says where it stopped.
    proc = _serve(script, env, tmp_path / "serve-2.log")
    try:
        assert sb.slack.socket.wait_connected(5)
        seen = len(d.ephemerals(ALICE))
        d.click(ALICE, ALERT_CHANNEL, group["ts"], ACTION_BULK_FIX)
        again = _ephemeral_with_buttons(d, ALICE, seen)
    finally:
        _stop(proc)
    text = d.message(ALERT_CHANNEL, dead["progress_ts"]).visible_text()
    assert f"stopped at {KILL_AT - 1} of {MEMBERS} ({KILL_AT - 1} fixed)" in text, text
    assert "did not reach are open in this group again" in text and "of 21 done…" not in text
    stopped = [e for e in store.audit_entries(target=group["key"]) if e["action"] == "bulk-fix:stopped"]
    assert [e["detail"] for e in stopped] == [{"plan": dead["id"], "done": KILL_AT - 1, "fixed": KILL_AT - 1,
                                               "total": MEMBERS}]
    assert store.get_bulk_plan(dead["id"])["stopped_at"] is not None
    # The new plan: the members the dead run did not reach; the one it was inside needs a person.
    plan_text = "\n".join(b["text"]["text"] for b in again.blocks if b["type"] == "section")
    assert f"Fix all {MEMBERS - KILL_AT} like this?" in plan_text, plan_text
    assert f"INV-{5000 + KILL_AT - 1}: a fix is already running" in plan_text, plan_text
    # One fix per member so far: the write the kill interrupted never reached QBO.
    assert sum(1 for c in sb.qbo.entities["Customer"].values()
               if (c.get("PrimaryEmailAddr") or {}).get("Address", "").endswith("@storm.example")) == KILL_AT - 1
    store.close()
