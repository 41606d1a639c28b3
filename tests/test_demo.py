"""`qbsync demo` and `qbsync sandbox` against the shipped scenarios."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from bot.cli import main


def test_demo_reads_both_systems_through_the_adapters(tmp_path, capsys):
    report = tmp_path / "report.json"
    assert main(["demo", "--once", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "Scenario: mixed" in out and "Not built yet" in out
    data = json.loads(report.read_text())
    by_number = {r["number"]: r for r in data["invoices"]}
    # Healthy invoices were pushed by the simulated integration and are found in QBO by number...
    assert by_number["INV-1001"]["qbo_document"].startswith("Invoice ")
    # ...failed ones are not, and a number QBO already used shows the document that holds it.
    assert by_number["INV-1002"]["qbo_document"] is None
    assert by_number["INV-1006"]["qbo_document"] == "CreditMemo 201"
    assert by_number["INV-1004"]["company"] == 'Café "Ñandú" & Co'
    assert data["sandbox"]["integration"] == {"synced": 5, "failing": 5}
    assert data["api_calls"]["hubspot"] and data["api_calls"]["qbo"]


def test_demo_with_a_scenario_file(tmp_path, capsys):
    from sandbox.scenario import shipped
    assert main(["demo", "--scenario", str(shipped()["duplicate-doc-number"])]) == 0
    out = capsys.readouterr().out
    assert "Scenario: duplicate-doc-number" in out and "CreditMemo 201" in out


def test_demo_with_a_broken_scenario_says_what_is_wrong(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "hubspot": {"invoices": [{"id": "1"}]}, "qbo": {}}))
    code = main(["demo", "--scenario", str(bad)])
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
