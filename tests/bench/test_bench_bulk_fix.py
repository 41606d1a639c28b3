"""`python -m bench.bulk_fix` end to end on a small storm (subprocess; the sandbox in its own
process; real HTTP; one "Fix all" click and one Confirm through the Slack stand-in). The
limits are raised (--fast, --slack-rate, --post-interval) so it fits in a test: this asserts
the checks the benchmark reports, not its timings (those are the benchmark's job)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXABLE, NEEDS_PERSON = 21, 2   # over bot/alerts.py STORM_THRESHOLD (20) together: one storm group


def test_bulk_fix_bench_fixes_each_member_once_and_lists_the_rest(tmp_path):
    out = tmp_path / "bulk.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bulk_fix", "--members", str(FIXABLE), "--needs-person", str(NEEDS_PERSON),
         "--background", "20", "--fast", "--slack-rate", "50", "--post-interval", "0.02", "--timeout", "60",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "check: qbo_writes_equal_members" in proc.stdout
    d = json.loads(out.read_text())

    assert d["group_members"] == FIXABLE + NEEDS_PERSON
    assert d["finished"] and d["checks"] == {
        "storm_failed_in_hubspot": True, "qbo_writes_equal_members": True, "each_customer_created_once": True,
        "every_fixable_member_resolved": True, "needing_a_person_listed": True, "plan_named_the_count": True}
    assert d["checks_passed"] is True
    assert d["outcome"]["fixed"] == FIXABLE and d["outcome"]["failed"] == 0
    assert d["outcome"]["needs_person"] == NEEDS_PERSON
    r = d["requests"]
    assert r["qbo_writes"] == FIXABLE
    # Every member's fix reads before it writes: at least the fix's own look-ups per member.
    assert r["qbo_per_member"] >= r["qbo_lower_bound_per_member"] == 5
    assert r["qbo_per_member"] == round(r["qbo"] / FIXABLE, 2)
    # Both clicks were answered (the 3-s ack), the plan was shown, progress was edited.
    assert d["ack_ms"]["fix_all"] > 0 and d["ack_ms"]["confirm"] > 0
    assert d["plan_ms"] >= d["ack_ms"]["fix_all"]
    assert d["progress"]["updates"] >= 1
    assert d["run_s"] > 0 and 0 < d["peak_rss_mb"] < 1000
