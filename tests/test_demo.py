"""`qbsync demo` and `qbsync sandbox` against the shipped scenarios."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from bot.cli import main


def test_demo_plays_the_whole_loop_with_auto_fix(tmp_path, capsys):
    report = tmp_path / "report.json"
    assert main(["demo", "--once", "--auto-fix", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "INV-1002 did not reach QuickBooks" in out and "alice clicks" in out
    data = json.loads(report.read_text())
    alerts = {a["key"]: a for a in data["alerts"]}
    assert set(alerts) == {"3002:duplicate-display-name", "3003:missing-customer", "3005:native-invoice-modified",
                           "3006:duplicate-doc-number", "3007:missing-customer", "3007:duplicate-doc-number"}
    # Every alert was fixed from Slack, HubSpot's integration synced the invoice, the next poll resolved it.
    for key, alert in alerts.items():
        assert alert["state"] == "resolved", (key, alert["thread"][-3:])
        assert alert["channel"] and alert["ts"] and len(alert["thread"]) >= 3
    assert {"3002", "3003", "3005", "3006", "3007"} <= set(data["synced_by_integration"])
    assert data["still_failing_in_hubspot"] == {}
    assert all(c["acked"] and c["ack_ms"] < 3000 for c in data["clicks"])
    assert data["api_calls"]["slack"]["POST /api/chat.postMessage"] >= 12
    assert data["api_calls"]["hubspot"] and data["api_calls"]["qbo"]
    # The recommended fixes created customers and changed no existing customer's email (Northwind
    # Traders keeps accounts@: issue #9).
    before = {c["id"]: c["email"] for c in data["qbo_customers_before"]}
    after = {c["id"]: c["email"] for c in data["qbo_customers_after"]}
    assert {k: after[k] for k in before} == before and len(after) > len(before)
    assert "6 of 6 alerts resolved (6 by a fix, 0 by this poll)" in out


def test_demo_with_a_scenario_file_once(tmp_path, capsys):
    from sandbox.scenario import shipped
    report = tmp_path / "r.json"
    assert main(["demo", "--once", "--scenario", str(shipped()["duplicate-doc-number"]), "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert sorted(a["invoice"] for a in data["alerts"]) == ["INV-1001", "INV-1002"]
    assert all(a["state"] == "open" for a in data["alerts"])  # no --auto-fix: nobody clicked


def test_demo_with_a_broken_scenario_says_what_is_wrong(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "hubspot": {"invoices": [{"id": "1"}]}, "qbo": {}}))
    code = main(["demo", "--once", "--scenario", str(bad)])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "'number' is a required property" in err


def test_sandbox_command_serves_until_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "sandbox", "--print-env", "--scenario", "missing-customer"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Ctrl-C stops" in line:
            break
    env = dict(l.removeprefix("export ").strip().split("=", 1) for l in lines if l.startswith("export "))
    import requests
    url = env["QBSYNC_HUBSPOT_API_BASE"] + "/crm/v3/objects/invoices"
    answer = requests.get(url, headers={"Authorization": f"Bearer {env['HUBSPOT_ACCESS_TOKEN']}"}, timeout=5)
    assert answer.status_code == 200 and len(answer.json()["results"]) == 2
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "Sandbox stopped." in out
