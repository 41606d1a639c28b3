"""`kill -9` at any point loses no alert and duplicates none.

A scan runs in a child process (the real bot built by bot.wiring, against the sandbox this
test serves over HTTP) and is killed with SIGKILL after its k-th Slack post, for several k;
then one more child runs to completion. Each failing invoice must end with exactly one open
alert, posted once (parents are recognised by the block_id that names the alert), or, in a
storm, named in its group's thread.

The narrowest gap (Slack accepted the parent, the process died before saving its ts) is
also forced deterministically in-process: the restarted bot finds the parent in the
channel's history instead of posting it again.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.alerts import is_group, parent_key
from bot.slack.messages import parent_block_id
from bot.store import Store
from sandbox.app import Sandbox
from sandbox.generate import generate
from tests.poller.conftest import build, parents

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, os.environ["QBSYNC_ROOT"])
    from bot import wiring
    from bot.config import load_settings
    env = json.loads(os.environ["QBSYNC_CHILD_ENV"])
    opts = json.loads(os.environ["QBSYNC_CHILD_HUBSPOT"])
    parts = wiring.build(load_settings(env, env_file=None), post_interval=0.03, hubspot_options=opts)
    parts.scanner.scan()
    print("done", flush=True)
""")


def _posts(sb) -> int:
    return sum(1 for method, _ in list(sb.slack.service.calls) if method == "chat.postMessage")


def _run_child(sb, env: dict, script: Path, *, kill_after_posts: int | None) -> int | None:
    hs = sb.hubspot_service
    child_env = dict(os.environ, QBSYNC_ROOT=str(ROOT), QBSYNC_CHILD_ENV=json.dumps(env),
                     QBSYNC_CHILD_HUBSPOT=json.dumps({"searches_per_second": hs.searches_per_second,
                                                      "requests_per_10s": hs.request_limit}))
    start = _posts(sb)
    proc = subprocess.Popen([sys.executable, str(script)], env=child_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    if kill_after_posts is None:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-3000:]
        return 0
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if _posts(sb) - start >= kill_after_posts:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.0005)
    proc.communicate(timeout=30)
    return proc.returncode


def _world(tmp_path, failure_rate: float):
    sb = Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000, hubspot_searches_per_s=1000,
                 hubspot_limit_per_10s=100000).start()
    data = generate(500, failure_rate=failure_rate, seed=5)
    sb.load(data, validate=False)
    env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "bot.db"), "QBSYNC_FIX_ALLOWED": "U0ALLOWED1"}
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return sb, env, script


def _reference(sb, tmp_path) -> set[str]:
    """The alerts an uninterrupted bot ends with (its own database; its messages are left
    out of the counts below by their ts)."""
    ref = build(sb, tmp_path / "ref.db")
    ref.scanner.scan()
    return {a["key"] for a in ref.store.open_alerts() if not is_group(a)}


def _messages_after(sb, ts: float):
    return [m for m in sb.slack.driver.transcript() if float(m.ts) > ts]


@pytest.mark.timeout(300)
def test_kill_9_during_posting_loses_and_duplicates_nothing(tmp_path):
    sb, env, script = _world(tmp_path, failure_rate=0.03)  # ~15 failures: a parent each
    try:
        want = _reference(sb, tmp_path)
        assert 5 <= len(want) <= 20
        since = max(float(m.ts) for m in sb.slack.driver.transcript())
        killed = 0
        for k in (1, 2, 3, 5, 8, 13, 21):
            if _run_child(sb, env, script, kill_after_posts=k) == -signal.SIGKILL:
                killed += 1
        assert killed >= 4  # the scan was really cut short, several times
        _run_child(sb, env, script, kill_after_posts=None)

        store = Store(env["QBSYNC_DB_PATH"])
        got = {a["key"]: a for a in store.open_alerts() if not is_group(a)}
        assert set(got) == want
        ids = Counter((m.blocks or [{}])[0].get("block_id") for m in _messages_after(sb, since))
        for key, alert in got.items():
            assert ids[parent_block_id(parent_key(alert))] == 1, key  # posted exactly once
            assert alert["ts"] and sb.slack.driver.message(alert["channel"], alert["ts"]) is not None
    finally:
        sb.stop()


@pytest.mark.timeout(300)
def test_kill_9_during_a_storm_loses_no_invoice_and_repeats_no_parent(tmp_path):
    sb, env, script = _world(tmp_path, failure_rate=0.2)  # ~100 failures: grouped per rule
    try:
        want = _reference(sb, tmp_path)
        since = max(float(m.ts) for m in sb.slack.driver.transcript())
        for k in (1, 2, 4, 7):
            _run_child(sb, env, script, kill_after_posts=k)
        _run_child(sb, env, script, kill_after_posts=None)

        store = Store(env["QBSYNC_DB_PATH"])
        got = {a["key"]: a for a in store.open_alerts() if not is_group(a)}
        assert set(got) == want
        groups = [a for a in store.open_alerts() if is_group(a)]
        assert len(groups) == len({a["rule"] for a in got.values()})
        mine = _messages_after(sb, since)
        ids = Counter((m.blocks or [{}])[0].get("block_id") for m in mine)
        assert all(ids[parent_block_id(g["key"])] == 1 for g in groups)
        assert len(mine) == len(groups)  # no parent but the groups'
        threads = {g["key"]: "\n".join(m.text + str(m.blocks) for m in sb.slack.driver.thread(g["channel"], g["ts"]))
                   for g in groups}
        for alert in got.values():
            assert alert["listed"] == 1 and alert["invoice_number"] in threads[alert["group_key"]]
    finally:
        sb.stop()


class PostThenDie:
    """The real poster, except that the first parent post dies right after Slack took it: the
    moment between the post and saving its ts."""

    def __init__(self, real):
        self.real, self.died = real, False

    def __getattr__(self, name):
        return getattr(self.real, name)

    def post(self, channel, message, *, thread_ts=None):
        ts = self.real.post(channel, message, thread_ts=thread_ts)
        if thread_ts is None and not self.died:
            self.died = True
            raise SystemExit("killed after the post, before its ts was saved")
        return ts


def test_a_parent_slack_took_before_a_crash_is_found_not_posted_again(tmp_path):
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000) as sb:
        sb.load("mixed")
        parts = build(sb, tmp_path / "gap.db")
        parts.alerts.poster = PostThenDie(parts.poster)
        with pytest.raises(SystemExit):
            parts.scanner.scan()
        assert len(parents(sb)) == 1
        lost = [a for a in parts.store.open_alerts() if a["post_started_at"] and not a["ts"]]
        assert len(lost) == 1

        restarted = build(sb, tmp_path / "gap.db", store=Store(tmp_path / "gap.db"))
        restarted.scanner.scan()
        assert len(parents(sb)) == 5  # the mixed world's five failing invoices, none twice
        again = restarted.store.get_alert(lost[0]["key"])
        first = parents(sb)[0]
        assert again["ts"] == first.ts and again["post_started_at"] is None
        assert first.blocks[0]["block_id"] == parent_block_id(parent_key(again))
        history = [m for m, _ in sb.slack.service.calls if m == "conversations.history"]
        assert len(history) == 1  # looked once, for the one alert whose post had begun
