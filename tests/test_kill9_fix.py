"""`kill -9` while a fix runs: the alert left in "fixing" is settled by a restarted bot.

The real bot runs in a child process (bot.wiring + bolt over Socket Mode) against the sandbox
this test serves over HTTP. An allowed person clicks the missing-customer alert's
"create-customer" fix; the sandbox's QBO holds that Customer write (a gate around the QBO
stand-in's create) so the SIGKILL lands inside the fix, with the alert in "fixing" and its
fix run unfinished:

- write landed: QBO committed the Customer, the bot died waiting for the answer;
- write lost:   the bot died before the write reached QBO (nothing committed).

Then new bot processes start on the same database. With the default fix timeout (600 s) a
scan leaves the alert alone (the fix might still be running elsewhere); with a short
QBSYNC_FIX_TIMEOUT the next scan re-checks and settles it: resolved when the write landed,
open again when it did not, and the thread says which. The QBO stand-in sees exactly one
Customer write in all: recovery never applies the fix again.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bot.slack.messages import ACTION_FIX
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL

ROOT = Path(__file__).resolve().parents[1]
ALICE = "U0ALICE001"
KEY = "3001:missing-customer"
EMAIL = "ann.jansen@northwind.example"  # the contact's email: the customer the fix creates has it

CHILD = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, os.environ["QBSYNC_ROOT"])
    from bot import wiring
    from bot.app import SocketModeRunner, create_app
    from bot.config import load_settings
    parts = wiring.build(load_settings(json.loads(os.environ["QBSYNC_CHILD_ENV"]), env_file=None),
                         post_interval=0)
    if sys.argv[1] == "serve":  # scan, then answer clicks until killed
        app = create_app(parts)
        SocketModeRunner(app, parts.settings.slack_app_token).start()
        parts.scanner.scan()
        print("ready", flush=True)
        time.sleep(120)
    else:  # "scan": one scan, as the scheduler of a restarted bot runs first
        parts.scanner.scan()
        print("done", flush=True)
""")


class CustomerWriteGate:
    """Holds the QBO stand-in's Customer creates until released. land_first: commit the write,
    then hold the answer; else hold, then drop the write (it never reached QBO)."""

    def __init__(self, company, *, land_first: bool):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.writes = 0
        real = company.create

        def create(entity, body, requestid=None, **kw):
            if entity != "Customer":
                return real(entity, body, requestid, **kw)
            self.writes += 1
            result = real(entity, body, requestid, **kw) if land_first else None
            self.entered.set()
            self.release.wait(30)
            if result is None:
                raise ConnectionAbortedError("the bot died before this write reached QBO")
            return result

        company.create = create


def _start(script: Path, mode: str, env: dict, log: Path) -> subprocess.Popen:
    child_env = dict(os.environ, QBSYNC_ROOT=str(ROOT), QBSYNC_CHILD_ENV=json.dumps(env))
    return subprocess.Popen([sys.executable, str(script), mode], env=child_env, stdout=subprocess.PIPE,
                            stderr=log.open("wb"))


def _wait_line(proc: subprocess.Popen, want: str, log: Path, timeout: float = 30.0) -> None:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().decode().strip() if ready else ""
    assert line == want, f"child said {line!r}; its log:\n{log.read_text()[-3000:]}"


def _scan_in_new_process(script: Path, env: dict, log: Path) -> None:
    proc = _start(script, "scan", env, log)
    _wait_line(proc, "done", log)
    assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]


def _customers_with_email(sb) -> int:
    return sum(1 for c in sb.qbo.entities["Customer"].values()
               if (c.get("PrimaryEmailAddr") or {}).get("Address", "").lower() == EMAIL)


@pytest.fixture
def sb():
    # Three bot processes start here within a second of each other; each paces QBO at 9/s, but
    # pacing is per process (shared pacing across processes is issue #13), so QBO's 10/s
    # window would throttle the restart for 60 s. Throttling is not what this test is about.
    sandbox = Sandbox(slack_post_rate_per_s=100, slack_post_burst=100, qbo_per_second=100).start()
    yield sandbox
    sandbox.stop()


@pytest.mark.parametrize("write_landed", [True, False], ids=["write-landed", "write-lost"])
def test_kill9_inside_a_fix_is_settled_by_the_next_bot(sb, tmp_path, write_landed):
    sb.load("missing-customer")
    script = tmp_path / "bot_child.py"
    script.write_text(CHILD)
    env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "bot.db"), "QBSYNC_FIX_ALLOWED": ALICE}
    assert _customers_with_email(sb) == 0
    gate = CustomerWriteGate(sb.qbo, land_first=write_landed)

    # 1. The bot scans, posts the alert; Alice clicks the fix; the kill lands inside it.
    proc = _start(script, "serve", env, tmp_path / "serve.log")
    try:
        _wait_line(proc, "ready", tmp_path / "serve.log")
        assert sb.slack.socket.wait_connected(5)
        sb.slack.driver.use_socket()
        store = Store(env["QBSYNC_DB_PATH"])
        alert = store.get_alert(KEY)
        assert alert["state"] == "open" and alert["ts"]
        r = sb.slack.driver.click(ALICE, ALERT_CHANNEL, alert["ts"], ACTION_FIX + "create-customer")
        assert r.acked and r.in_time
        assert gate.entered.wait(20), (tmp_path / "serve.log").read_text()[-3000:]
        assert store.get_alert(KEY)["state"] == "fixing"
        assert [run["key"] for run in store.fix_runs(unfinished=True)] == [KEY]
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        gate.release.set()
    assert _customers_with_email(sb) == (1 if write_landed else 0)
    thread_before = [m.visible_text() for m in sb.slack.driver.thread(ALERT_CHANNEL, alert["ts"])]

    # 2. A restart with the default timeout (600 s) leaves a fix this young alone: it may
    #    still be running in another process.
    _scan_in_new_process(script, env, tmp_path / "scan-default.log")
    assert store.get_alert(KEY)["state"] == "fixing"
    assert [m.visible_text() for m in sb.slack.driver.thread(ALERT_CHANNEL, alert["ts"])] == thread_before

    # 3. A restart whose timeout has passed settles it by a re-check.
    started = store.fix_runs(unfinished=True)[0]["started_at"]
    time.sleep(max(0.0, started + 1.05 - time.time()))
    _scan_in_new_process(script, env | {"QBSYNC_FIX_TIMEOUT": "1"}, tmp_path / "scan-settle.log")
    settled = store.get_alert(KEY)
    thread = [m.visible_text() for m in sb.slack.driver.thread(ALERT_CHANNEL, alert["ts"])]
    assert len(thread) == len(thread_before) + 1
    assert "fix was interrupted" in thread[-1]
    if write_landed:
        assert settled["state"] == "resolved" and "cause is gone" in thread[-1]
    else:
        assert settled["state"] == "open" and "still holds" in thread[-1]
    assert store.fix_runs(unfinished=True) == []
    assert [e["detail"]["cause"] for e in store.audit_entries(target=KEY) if e["action"] == "fix-recovery"] == \
        ["gone" if write_landed else "still"]
    # No fix applied twice: one Customer write reached QBO in all, and the customer exists
    # once (write landed) or not at all (write lost; the alert is open for a new click).
    assert gate.writes == 1
    assert _customers_with_email(sb) == (1 if write_landed else 0)
    store.close()
