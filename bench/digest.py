"""Issue 12's digest on a busy week: `python -m bench.digest --alerts N [--json OUT]`.

A store (SQLite in a temporary directory) with N failures spread over the 7 days before a
weekly digest's end, built through the store's own API as the scanner and the handlers write
it (bot/store: record_detection, transition, audit), in time order on the store's clock:
every failure detected; about 60% resolved after a while (by one of several people, or by
"system" when it synced); of those, about 15% found again by a later scan (record_detection
reopens it and audits `alert:reopen`) and about half of these resolved again.

Then, each timed on its own (wall clock, this process):
- figures_ms: bot/digest.py build_figures (the store read: alerts and their audit episodes);
- message_ms: bot/slack/digest_message.py digest_message (Block Kit; no permalinks: no Slack);
- chart_ms: bot/digest_chart.py chart_png (matplotlib Agg), drawn twice: chart_first_ms
  includes importing matplotlib, chart_ms is a warm draw; with the PNG's size in bytes and
  its dimensions read back with Pillow.
`peak_rss_mb`: getrusage(RUSAGE_SELF).ru_maxrss of this process (store build included).
Checks (the figures against what the generator did): new, resolved and open-now counts, the
per-day chart counts' total, a valid PNG of 800 x 400, a message within Slack's 50 blocks.
Exit status 0 whenever the run completed (failed checks are results).
"""
from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .__main__ import rss_mb

DAY = 86400.0
END = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc).timestamp()  # a Monday 08:00: the weekly default
PEOPLE = ["U0ALICE001", "U0BRAM0001", "U0CARMEN01", "U0DIRK0001", "U0EVA00001"]
SLACK_MAX_BLOCKS = 50  # a message's blocks (sandbox/slack_blocks.py MESSAGE_MAX_BLOCKS, from Slack's docs)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def plan_events(n: int, seed: int, rules: list[str]) -> tuple[list[tuple], dict]:
    """(time, kind, alert index, rule, who) events in time order, and the counts the digest of the
    week ending at END must show (all events fall inside the week)."""
    rnd = random.Random(seed)
    start = END - 7 * DAY
    events: list[tuple] = []
    expect = {"new": 0, "resolved": 0, "open_now": 0, "reopened": 0}
    for i in range(n):
        born = start + rnd.random() * 6.9 * DAY
        rule = rules[i % len(rules)]
        events.append((born, "detect", i, rule, None))
        expect["new"] += 1
        if rnd.random() >= 0.6:
            expect["open_now"] += 1
            continue
        fixed = born + rnd.uniform(60, min(2 * DAY, END - born - 60))
        who = "system" if rnd.random() < 0.3 else rnd.choice(PEOPLE)
        events.append((fixed, "resolve", i, rule, who))
        expect["resolved"] += 1
        if rnd.random() < 0.15 and END - fixed > 7200:
            back = fixed + rnd.uniform(60, (END - fixed) / 2)
            events.append((back, "reopen", i, rule, None))
            expect["reopened"] += 1
            expect["new"] += 1   # an episode of its own, new on the day it reopened
            if rnd.random() < 0.5:
                events.append((back + rnd.uniform(60, (END - back) - 60), "resolve", i, rule, rnd.choice(PEOPLE)))
                expect["resolved"] += 1
            else:
                expect["open_now"] += 1
    events.sort(key=lambda e: e[0])
    return events, expect


def build_store(store, clock: Clock, events: list[tuple]) -> None:
    names = ["Acme BV", "Smit & Co <b>", "Jansen Logistiek", "García y Asociados", "Nordic Tools AB"]
    for at, kind, i, rule, who in events:
        clock.now = at
        key = store.alert_key(str(100000 + i), rule)
        if kind in ("detect", "reopen"):
            store.record_detection(key=key, rule=rule, invoice_id=str(100000 + i), invoice_number=f"INV-{100000 + i}",
                                   summary="s", evidence={"invoice": {"who": names[i % len(names)]}},
                                   fingerprint="f")
        else:
            # As the handlers resolve: the state change, then its audit entry (the digest reads who).
            store.transition(key, "resolved", resolution="fixed", by=who)
            store.audit(who, "alert:resolve", "ok", target=key, detail={"why": "fixed"})


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, round((time.perf_counter() - t0) * 1000, 1)


def run(args) -> dict:
    from PIL import Image

    from bot.digest import build_figures
    from bot.digest_chart import PNG_MAGIC, chart_png
    from bot.digest_schedule import Period
    from bot.slack.digest_message import digest_message
    from bot.store import Store
    from rules import registry

    rules = registry.ids()
    events, expect = plan_events(args.alerts, args.seed, rules)
    out: dict = {"alerts": args.alerts, "lang": args.lang, "events": len(events), "generated": expect}
    with tempfile.TemporaryDirectory(prefix="qbsync-bench-digest-") as tmp:
        clock = Clock(END - 8 * DAY)
        store = Store(Path(tmp) / "qbsync.db", clock=clock)
        try:
            _, build_ms = timed(lambda: build_store(store, clock, events))
            out["store_build_s"] = round(build_ms / 1000, 1)
            out["rss_after_store_mb"] = rss_mb()
            clock.now = END + 60
            period = Period(END - 7 * DAY, END)
            fig, out["figures_ms"] = timed(lambda: build_figures(store, period, args.lang, now=clock.now))
            msg, out["message_ms"] = timed(lambda: digest_message(fig, "weekly", args.lang, links={}))
            # The first draw imports matplotlib (once per process); the second is what each
            # later digest costs.
            _, out["chart_first_ms"] = timed(lambda: chart_png(fig.days, args.lang))
            png, out["chart_ms"] = timed(lambda: chart_png(fig.days, args.lang))
        finally:
            store.close()
    with Image.open(io.BytesIO(png)) as img:
        img.load()
        size, fmt = img.size, img.format
    text = "\n".join(b["text"]["text"] for b in msg.blocks if isinstance(b.get("text"), dict))
    out["figures"] = {
        "new": fig.new, "resolved": fig.resolved, "open_now": fig.open_now, "causes": len(fig.causes),
        "resolvers": len(fig.resolvers), "oldest_shown": len(fig.oldest),
        "median_fix_h": round(fig.median_fix_s / 3600, 2) if fig.median_fix_s is not None else None,
        "worst_fix_h": round(fig.worst_fix_s / 3600, 2) if fig.worst_fix_s is not None else None,
        "days_new": [d.new for d in fig.days], "days_open": [d.open for d in fig.days],
    }
    out["message"] = {"blocks": len(msg.blocks), "chars": len(text)}
    out["chart"] = {"bytes": len(png), "width": size[0], "height": size[1], "format": fmt}
    out["checks"] = {
        "counts_match_generator": (fig.new, fig.resolved, fig.open_now) == (expect["new"], expect["resolved"],
                                                                            expect["open_now"]),
        "chart_days_add_up": sum(d.new for d in fig.days) == expect["new"],
        "png_valid": png[:8] == PNG_MAGIC and fmt == "PNG" and size == (800, 400),
        "message_within_block_limit": 0 < len(msg.blocks) <= SLACK_MAX_BLOCKS,
        "no_python_values_in_text": not any(w in text for w in ("None", "True", "False", "{'", "['")),
    }
    out["checks_passed"] = all(out["checks"].values())
    out["peak_rss_mb"] = rss_mb()
    if args.png:
        Path(args.png).write_bytes(png)
    return out


def table(out: dict) -> str:
    f, c = out["figures"], out["chart"]
    rows = [
        ("alerts (store events)", f"{out['alerts']} ({out['events']})"),
        ("store built through its API, s", out["store_build_s"]),
        ("figures: new / resolved / open now", f"{f['new']} / {f['resolved']} / {f['open_now']}"),
        ("causes / resolvers / oldest shown", f"{f['causes']} / {f['resolvers']} / {f['oldest_shown']}"),
        ("time to resolve median / worst, h", f"{f['median_fix_h']} / {f['worst_fix_h']}"),
        ("new per day", ", ".join(map(str, f["days_new"]))),
        ("build_figures ms", out["figures_ms"]),
        ("digest_message ms (blocks)", f"{out['message_ms']} ({out['message']['blocks']})"),
        ("chart_png ms (first, with matplotlib's import)", f"{out['chart_ms']} ({out['chart_first_ms']})"),
        ("chart PNG bytes, pixels", f"{c['bytes']}, {c['width']} x {c['height']}"),
        ("peak RSS MB (after store build)", f"{out['peak_rss_mb']} ({out['rss_after_store_mb']})"),
    ]
    rows += [(f"check: {k}", "ok" if v else "FAILED") for k, v in out["checks"].items()]
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.digest", description=__doc__.split("\n\n")[0])
    ap.add_argument("--alerts", type=int, default=2000, help="failures over the week (default 2,000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--lang", default="en", choices=("en", "nl", "es"))
    ap.add_argument("--json", metavar="OUT", help="write the figures as JSON here")
    ap.add_argument("--png", metavar="OUT", help="write the chart here")
    args = ap.parse_args(argv)
    out = run(args)
    print(table(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
