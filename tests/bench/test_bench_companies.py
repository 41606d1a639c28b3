"""`python -m bench --companies C ...` end to end on a few small companies (subprocess: the bench
starts its own sandbox, a database on the test's PostgreSQL server, `qbsync run` and real
`qbsync worker` processes), plus the alert count the lost/duplicated figures rest on. Slack's
pace in the stand-in is raised; the workers still post at 1 s per channel, as in production."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.companies import BenchCompany, channel_alerts, failing_numbers
from sandbox.app import Sandbox
from sandbox.generate import generate
from sandbox.slack_workspace import BOT_USER_ID, Message
from tests import pg

ROOT = Path(__file__).resolve().parents[2]
C, N = 2, 100  # 2 failing invoices each (2%)
RUN_KEYS = {"workers", "round_s", "api_calls", "lower_bound", "max_wait_s", "ack_p99_ms", "rate_limit_exceeded",
            "alerts_lost", "alerts_duplicated"}


def bot_warnings(folder: Path) -> list[str]:
    """The listener's and workers' warnings and errors (their log level is WARNING), to say why
    a scan failed when it does."""
    return [f"{f.name}: {line}" for f in sorted(folder.glob("*.log"))
            for line in f.read_text(errors="replace").splitlines() if line.strip()][:40]


@pytest.mark.timeout(150)
def test_the_companies_bench_scans_every_company_once_and_loses_nothing(tmp_path, request):
    out, logs = tmp_path / "companies.json", tmp_path / "logs"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--companies", str(C), "--invoices-per-company", str(N), "--workers", "1,2",
         "--json", str(out), "--slack-rate", "50", "--database-url", pg.admin_url(request), "--logs", str(logs)],
        cwd=ROOT, capture_output=True, text=True, timeout=140)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "round_s 2 workers / 1" in proc.stdout and "ack p99 ms" in proc.stdout
    d = json.loads(out.read_text())

    assert d["companies"] == C and d["invoices_per_company"] == N
    assert [r["workers"] for r in d["runs"]] == [1, 2]
    for r in d["runs"]:
        assert RUN_KEYS <= set(r), RUN_KEYS - set(r)
        # Every company scanned once, fine, each channel holding exactly its own two alerts.
        assert r["companies_scanned"] == C and r["scans_failed"] == [], \
            (r["per_company"], r["error_answers"], bot_warnings(logs / f"workers-{r['workers']}"))
        assert r["alerts_expected"] == 2 * C and r["alerts_lost"] == 0 and r["alerts_duplicated"] == 0
        assert r["alerts_unexpected"] == 0
        assert all(c["parents"] == c["expected"] == 2 for c in r["per_company"].values())
        # The round: every company waited less than the round took; its end is the last scan's.
        assert 0 <= r["max_wait_s"] < r["round_s"]
        assert r["round_s"] == pytest.approx(max(c["wait_s"] + c["scan_s"] for c in r["per_company"].values()),
                                             abs=0.05)
        # Calls from the sandbox's log: never fewer than the data needs; each company's QBO
        # tokens refreshed once (its own realm), nothing throttled at this size.
        assert r["lower_bound"] == sum(c["lower_bound"] for c in r["per_company"].values()) > 0
        assert r["api_calls"] >= r["lower_bound"]
        assert r["endpoints"]["qbo POST /oauth2/v1/tokens/bearer"] == C
        assert r["rate_limit_exceeded"] == 0
        # The 20 users were answered while the scans ran.
        assert r["ack"]["users"] == 20 and r["ack"]["requests"] >= 20 and r["ack"]["not_200"] == 0
        assert r["ack_p99_ms"] > 0
    assert set(d["targets"]) >= {"api_ratio", "ack_p99_ms", "alerts_lost", "round_s 2 workers / 1"}


def test_lost_duplicated_and_unexpected_alerts_are_counted_per_channel():
    sb = Sandbox()  # not served: only its Slack workspace's records are used
    world = generate(N, seed=3)
    company = sb.add_company(world, validate=False, sync=False)
    expected = failing_numbers(world)
    assert len(expected) == 2
    first, second = sorted(expected)
    bench = BenchCompany(company, "bench-001", expected, {"total": 1})
    ws = sb.slack.workspace

    def post(text: str, thread_ts: str | None = None) -> Message:
        return ws.add_message(Message(company.channel, ws.next_ts(), BOT_USER_ID, text, None, thread_ts=thread_ts))

    parent = post(f"{first} did not reach QuickBooks: Invoice {first}: the name is taken")
    post(f"Why {first} failed ...", thread_ts=parent.ts)
    assert channel_alerts(sb, bench)["lost"] == [second]

    post(f"{first} did not reach QuickBooks: again")          # a second parent for one invoice
    post("INV-999999 did not reach QuickBooks: someone else's")  # not this company's
    group = post("12 invoices failed: missing customer")         # a storm group lists members in its thread
    post(f"{second}, INV-100077", thread_ts=group.ts)
    counts = channel_alerts(sb, bench)
    assert counts["lost"] == [] and counts["duplicated"] == 1 and counts["duplicated_numbers"] == [first]
    assert counts["unexpected"] == ["INV-999999"] and counts["expected"] == 2
