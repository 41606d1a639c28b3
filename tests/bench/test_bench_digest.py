"""`python -m bench.digest` on a small week (subprocess): the figures match what the generator
did through the store's API, and the chart is a real PNG. Not its timings."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from bench.digest import END, plan_events
from bot.digest_chart import PNG_MAGIC

ROOT = Path(__file__).resolve().parents[2]


def test_digest_bench_reports_the_week_and_a_valid_png(tmp_path):
    out, png = tmp_path / "digest.json", tmp_path / "chart.png"
    proc = subprocess.run([sys.executable, "-m", "bench.digest", "--alerts", "150", "--lang", "nl",
                           "--json", str(out), "--png", str(png)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    d = json.loads(out.read_text())
    assert d["checks_passed"] is True and all(d["checks"].values()), d["checks"]
    g, f = d["generated"], d["figures"]
    assert g["reopened"] > 0 and g["resolved"] > g["reopened"] and g["open_now"] > 0  # every kind of event
    assert (f["new"], f["resolved"], f["open_now"]) == (g["new"], g["resolved"], g["open_now"])
    assert f["new"] == 150 + g["reopened"] and len(f["days_new"]) == 7 and sum(f["days_new"]) == f["new"]
    assert f["resolvers"] >= 2  # several people (and "system")

    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) == d["chart"]["bytes"]
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        assert img.format == "PNG" and img.size == (800, 400) == (d["chart"]["width"], d["chart"]["height"])


def test_plan_events_keeps_every_event_in_the_week_and_in_order():
    events, expect = plan_events(400, 3, ["missing-customer", "duplicate-doc-number"])
    times = [e[0] for e in events]
    assert times == sorted(times) and END - 7 * 86400 <= times[0] and times[-1] < END
    kinds = [e[1] for e in events]
    assert kinds.count("detect") == 400 and kinds.count("reopen") == expect["reopened"]
    assert kinds.count("resolve") == expect["resolved"]
    # Each alert: detected before anything else happens to it; resolved only while open.
    state: dict[int, str] = {}
    for _, kind, i, _, _ in events:
        before = state.get(i)
        assert (kind == "detect") == (before is None)
        assert kind != "resolve" or before in ("detect", "reopen")
        assert kind != "reopen" or before == "resolve"
        state[i] = kind
    assert sum(1 for s in state.values() if s != "resolve") == expect["open_now"]
