"""`qbsync demo --auto-fix` on fix-safety scenarios the rules were not written against
(tests/scenarios_fix_safety/*.json, issue #9 part 4): alice clicks each alert's recommended
fix; afterwards HubSpot's integration has nothing failing, no QBO customer that had an email
has another one, and no two active customers share an email."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from sandbox.app import Sandbox

SCENARIOS = sorted((Path(__file__).parent / "scenarios_fix_safety").glob("*.json"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_demo_recommended_fixes_harm_no_other_record(tmp_path, capsys, path):
    scenario = json.loads(path.read_text(encoding="utf-8"))
    # The scenario says which failures HubSpot's integration has at the start: check it does.
    sb = Sandbox()  # the models only: no servers needed to run the integration once
    sb.load(scenario)
    assert {i: [f.cause] for i, f in sb.integration.failures.items()} == scenario["expect"]

    report = tmp_path / "report.json"
    assert main(["demo", "--scenario", str(path), "--once", "--auto-fix", "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    # One report entry per invoice parent; each cause keeps its own key and state (issue #12).
    alerts = {c["key"]: c["state"] for a in data["alerts"] for c in a["causes"]}
    assert alerts == {f"{i}:{rule}": "resolved" for i, rules in scenario["expect"].items() for rule in rules}
    assert data["still_failing_in_hubspot"] == {}
    before = {c["id"]: c["email"] for c in data["qbo_customers_before"]}
    after = {c["id"]: c["email"] for c in data["qbo_customers_after"]}
    assert {k: after[k] for k in before if before[k]} == {k: e for k, e in before.items() if e}
    active = [c["email"].lower() for c in data["qbo_customers_after"] if c["active"] and c["email"]]
    assert len(active) == len(set(active)), data["qbo_customers_after"]
