"""`qbsync run` as a real process against the sandbox: it scans at start, posts the alerts,
answers /qbsync, and stops cleanly on SIGTERM."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from sandbox.app import Sandbox


def test_run_scans_alerts_answers_and_stops_on_sigterm(tmp_path):
    with Sandbox(slack_post_rate_per_s=50, slack_post_burst=50) as sb:
        sb.load("duplicate-doc-number")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QBSYNC_", "SLACK_", "QBO_", "HUBSPOT_"))}
        env.update(sb.bot_environment())
        env.update({"QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"), "QBSYNC_FIX_ALLOWED": "U0ALICE001",
                    "QBSYNC_POLL_INTERVAL": "30"})
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            driver = sb.slack.driver
            parents = lambda: [m for m in driver.transcript() if not m.thread_ts or m.thread_ts == m.ts]
            deadline = time.time() + 40
            while time.time() < deadline and len(parents()) < 2 and proc.poll() is None:
                time.sleep(0.1)
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert sorted(m.text.split(" ")[0] for m in parents()) == ["INV-1001", "INV-1002"]
            delivery = driver.slash("U0ALICE001", "/qbsync", "status")
            assert delivery.acked and delivery.in_time
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
        assert proc.returncode == 0, err[-2000:]
        for secret in (env["SLACK_BOT_TOKEN"], env["QBO_CLIENT_SECRET"], env["HUBSPOT_ACCESS_TOKEN"]):
            assert secret not in out + err
        # What the next start reads (bot/jobstore.py): when the last scan finished; no pickled job.
        with sqlite3.connect(tmp_path / "qbsync.db") as db:
            [(finished,)] = db.execute("SELECT value FROM poll_cursors WHERE name = 'scan.last_finished_at'")
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert time.time() - 60 < float(finished) <= time.time() and "scheduler_jobs" not in tables
