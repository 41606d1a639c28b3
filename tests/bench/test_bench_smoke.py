"""`python -m bench` end to end on a small world (subprocess, real HTTP, the sandbox in its own
process), plus the two pure pieces the figures rest on: the lower bound and the 1-second
window count. Slack's pace is raised (--slack-rate/--post-interval) so the run fits in a
test; the 1 post/s figures are the benchmark's job, not this test's."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.bounds import lower_bound
from bench.world import max_in_window

ROOT = Path(__file__).resolve().parents[2]
N, STORM, PER_USER = 300, 60, 3


def test_bench_runs_and_reports_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--invoices", str(N), "--storm", str(STORM), "--json", str(out),
         "--slack-rate", "50", "--post-interval", "0.02", "--ack-per-user", str(PER_USER),
         "--storm-timeout", "30", "--drain-timeout", "10"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "verdict" in proc.stdout and "ack p99 ms" in proc.stdout
    d = json.loads(out.read_text())

    assert d["invoices"] == N
    fs, s0, s1 = d["first_scan"], d["steady_nochange"], d["steady_1pct"]
    # First scan: every generated failure found (2% of 300), no shared problem, and the bot
    # cannot use fewer calls than the bound, nor (without overhead) many more.
    assert fs["failing"] == 6 and fs["problem"] is None
    assert fs["lower_bound"] > 0 and fs["wall_s"] > 0
    assert fs["ratio"] == round(fs["api_calls"] / fs["lower_bound"], 3)
    assert fs["api_calls"] >= fs["lower_bound"]
    assert 1.0 <= fs["ratio_without_overhead"] <= 1.25
    # Steady state with nothing changed: one HubSpot search page and one QBO CDC call.
    assert s0["api_calls"] <= 2 and s0["hubspot_calls"] == 1 and s0["qbo_calls"] == 1
    assert s0["first_after_backfill"]["api_calls"] >= s0["api_calls"]
    # 1% changed: 3 invoices, at the bound.
    assert s1["changed"] == 3 and s1["lower_bound"] == 9
    assert s1["ratio"] == round(s1["api_calls"] / s1["lower_bound"], 3) and s1["api_calls"] >= s1["lower_bound"]
    assert 0 < d["alert_latency_s"] < 30

    # Acks over signed HTTP: every request answered 200, p99 measured.
    assert d["ack"]["requests"] == 20 * PER_USER and d["ack"]["not_200"] == 0
    assert d["ack_p99_ms"] > 0 and d["ack"]["p50_ms"] <= d["ack_p99_ms"]

    storm = d["storm"]
    assert storm["failures"] == STORM and storm["causes"] == ["missing-customer"]
    assert storm["finished"] and storm["lost"] == 0 and storm["parent_messages"] >= 1

    slack = d["slack"]
    assert slack["posts"] > 0 and slack["max_posts_per_s_per_channel"] >= 1
    assert slack["unhandled_429"] == 0 and slack["raw_429"] >= 0
    assert 0 < d["peak_rss_mb"] < 1000


def test_lower_bound_counts_pages_and_batches_at_the_maximum_sizes():
    # 3 changed invoices, one contact and company each, 2 line items each: 1 search page,
    # 1 invoice batch, 3 association batches, 1 batch each of contacts, companies, lines; 1 CDC.
    small = {"invoices": 3, "contacts": 3, "companies": 3, "line_items": 6, "line_item_links": 6, "qbo": {}}
    assert lower_bound(small, qbo="cdc") == {"hubspot": 8, "qbo": 1, "total": 9, "hubspot_per_invoice": 8,
                                             "total_per_invoice": 9}
    # 50,000 invoices, 25,000 contacts, 5,000 companies, 100,000 line items; QBO full load.
    big = {"invoices": 50_000, "contacts": 25_000, "companies": 5_000, "line_items": 100_000,
           "qbo": {"Invoice": 49_000, "CreditMemo": 250, "Customer": 25_500, "Vendor": 0, "Employee": 0}}
    b = lower_bound(big, qbo="full")
    assert b["hubspot"] == 250 + 500 + 150 + 250 + 50 + 1000
    assert b["qbo"] == 49 + 1 + 26 + 1 + 1 + 1 + 1  # an empty entity (Vendor, Employee, Item) still takes one page to learn so
    assert lower_bound({"invoices": 0, "contacts": 0, "companies": 0, "line_items": 0}, qbo="cdc")["total"] == 2


def test_max_in_window_is_half_open():
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 1.0, 2.0, 3.0]) == 1          # exactly 1 s apart: one per window
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3     # [0.5, 1.5) holds 0.5, 0.99, 1.0
    assert max_in_window([5.0, 0.0, 0.2], 10.0) == 3          # unsorted input
