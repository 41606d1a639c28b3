"""Issue 12's bulk fix at real pace: `python -m bench.bulk_fix --members N [--json OUT]`.

A storm of N fixable invoices (missing-customer: each a new contact with an email, left out
of contact sync, so only a fix creates its QBO customer) plus --needs-person invoices whose
contacts have no email (the rule offers no fix: a person must add one). The sandbox runs in a
child process (`python -m bench.world`, as `python -m bench` does) with its REAL limits: QBO
10 requests/s and 500/min per realm, HubSpot 190/10 s, Slack about 1 post/s per channel;
chat.update has no limit in the stand-in (the bot paces its edits itself, bot/slack/edit_pacer.py).
This process runs the bot as `qbsync run` builds it (bot.wiring.build from Settings with the
production post pacing, the bolt App from bot.app.create_app served over HTTP by HttpRunner),
so `peak_rss_mb` is the bot's own memory.

One person clicks "Fix all N like this" on the storm group's parent and then Confirm on the
plan they are shown, both through the Slack stand-in's driver (signed HTTP). Figures:
- ack_ms (fix_all, confirm): sending the click to Slack's HTTP answer (the 3-s ack).
- plan_ms: sending the "Fix all" click to the plan (an ephemeral message with buttons)
  reaching the person.
- run_s: sending Confirm to the run's closing audit row (every member through, counts shown).
- qbo_per_member / hubspot_per_member: requests the stand-ins logged during the run, over N.
  qbo_lower_bound_per_member: what one member's fix itself needs, as rules/fixes.py
  create_customer_work does it: one look-up by email (is there a customer already), one
  name look-up in each of Customer, Vendor, Employee (a free display name), one create. The
  rest is the re-check that the invoice now syncs, and OAuth.
- progress: chat.update calls on the run's progress message, and the smallest gap between
  two of them (the stand-in's clock). The final counts are shown whenever the run ends, so
  the last gap may be shorter than the pacer's EDIT_EVERY_S.
- checks: QBO write requests during the run == N (each member fixed once, none retried),
  every fixable member's email held by exactly one QBO customer, every fixable member
  resolved, every member needing a person named in the final progress message.

`--fast` raises the stand-ins' limits and the bot's pacing (the smoke test's setting: checks,
not timings). Exit status 0 whenever the run completed (failed checks are results).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from bot.slack.messages import ACTION_BULK_CONFIRM, ACTION_BULK_FIX

from .__main__ import World, rss_mb

USER = "U0BENCH000"      # bench/world.py add_users names its people so
QBO_FIX_LOWER_BOUND = 5  # see the module docstring: 1 email + 3 name look-ups + 1 create
QBO_WRITE = "POST /v3/company/{realmId}/{entity}"
FAST = {"qbo_per_s": 200, "hubspot_per_10s": 5000, "hubspot_searches_per_s": 500}


def world_command(args) -> list[str]:
    cmd = ["--invoices", str(args.background), "--seed", "7", "--failure-rate", "0",
           "--slack-rate", str(args.slack_rate)]
    if args.fast:
        cmd += ["--qbo-per-second", str(4 * FAST["qbo_per_s"]), "--qbo-per-minute", str(240 * FAST["qbo_per_s"]),
                "--hubspot-limit-per-10s", str(FAST["hubspot_per_10s"]),
                "--hubspot-searches-per-s", str(FAST["hubspot_searches_per_s"])]
    return cmd


def wait_for(predicate, timeout: float, interval: float = 0.1):
    end = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > end:
            return None
        time.sleep(interval)


def run(args) -> dict:
    from bot import wiring
    from bot.alerts import is_group
    from bot.app import HttpRunner, create_app, services_of
    from bot.config import load_settings

    tmp = tempfile.TemporaryDirectory(prefix="qbsync-bench-bulk-")
    workdir = Path(tmp.name)
    started = time.monotonic()
    world = World(args, workdir, world_command(args))
    runner = None
    out: dict = {"members": args.members, "needs_person": args.needs_person, "fast": args.fast}
    try:
        env = world("env")["env"] | {
            "QBSYNC_DB_PATH": str(workdir / "qbsync.db"), "QBSYNC_FIX_ALLOWED": USER,
            "QBSYNC_SLACK_TRANSPORT": "http", "QBSYNC_OPS_PORT": "0", "QBSYNC_LOG_LEVEL": "WARNING"}
        settings = load_settings(env, env_file=None)
        options: dict = {}
        if args.fast:
            q = FAST["qbo_per_s"]
            options = {"hubspot_options": {"requests_per_10s": FAST["hubspot_per_10s"],
                                           "searches_per_second": FAST["hubspot_searches_per_s"]},
                       "qbo_options": {"pace_limits": [(q, 1.0), (60 * q, 60.0)]}}
        parts = wiring.build(settings, post_interval=args.post_interval, **options)
        app = create_app(parts, connection_build={"post_interval": args.post_interval, **options})
        services = services_of(app)
        runner = HttpRunner(app, 0).start()
        world("add_users", count=1)
        world("age", seconds=600)
        services.run_scan(wait=True)  # the quiet world first: the storm is what the next scan finds

        fixable = world("new_failures", count=args.members, age_minutes=30)
        person = world("new_failures", count=args.needs_person, age_minutes=30, no_email=True)
        t0 = time.monotonic()
        services.run_scan(wait=True)
        out["storm_scan_s"] = round(time.monotonic() - t0, 1)
        groups = [a for a in parts.store.list_alerts() if is_group(a)]
        if len(groups) != 1:
            raise RuntimeError(f"expected one storm group, found {len(groups)}")
        group = groups[0]
        members = parts.store.group_members(group["key"])
        out["group_members"] = len(members)

        # 1. "Fix all N like this": the plan is shown, nothing changes yet.
        click = world("click", url=runner.url, user=USER, ts=group["ts"], action_id=ACTION_BULK_FIX,
                      wait_buttons=60)
        plan_text = click.get("text") or ""
        out["ack_ms"] = {"fix_all": click["ack_ms"]}
        out["plan_ms"] = click.get("buttons_ms")
        out["plan_names_count"] = f"Fix all {args.members} like this?" in plan_text
        if not click.get("ts"):
            raise RuntimeError("no plan was shown after the Fix all click")

        # 2. Confirm: every member through, the closing audit row written last.
        world("log_reset")
        t0 = time.monotonic()
        confirm = world("click", url=runner.url, user=USER, ts=click["ts"], action_id=ACTION_BULK_CONFIRM)
        out["ack_ms"]["confirm"] = confirm["ack_ms"]
        done = wait_for(lambda: next((e for e in parts.store.audit_entries(target=group["key"])
                                      if e["action"] == "slack:bulk-fix" and e["outcome"] == "ok"), None),
                        timeout=args.timeout)
        out["run_s"] = round(time.monotonic() - t0, 2) if done else None
        out["finished"] = done is not None
        snap = world("log_snapshot")["snapshot"]
        qbo_calls = sum(snap.get("qbo", {}).values())
        hubspot_calls = sum(snap.get("hubspot", {}).values())
        writes = snap.get("qbo", {}).get(QBO_WRITE, 0)
        n = max(1, args.members)
        out["requests"] = {"qbo": qbo_calls, "hubspot": hubspot_calls, "qbo_writes": writes,
                           "qbo_per_member": round(qbo_calls / n, 2), "hubspot_per_member": round(hubspot_calls / n, 2),
                           "qbo_lower_bound_per_member": QBO_FIX_LOWER_BOUND,
                           "qbo_endpoints": snap.get("qbo", {}), "hubspot_endpoints": snap.get("hubspot", {})}
        out["outcome"] = done["detail"] if done else None

        # 3. Progress: one message, edited in place.
        progress = {"updates": None, "min_gap_s": None}
        plan = parts.store.get_bulk_plan(done["detail"]["plan"]) if done else None
        final_text = ""
        if plan and plan.get("progress_ts"):
            e = world("edits", ts=plan["progress_ts"])
            at = sorted(e["edit_at"])
            gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
            paced = gaps[:-1]  # the last edit (final counts) comes whenever the run ends
            progress = {"updates": e["updates"], "min_gap_s": round(min(gaps), 2) if gaps else None,
                        "min_paced_gap_s": round(min(paced), 2) if paced else None}
            final_text = e["text"]
        out["progress"] = progress

        # 4. Checks.
        held = world("customers_with", emails=fixable["emails"])["counts"]
        states = {m["invoice_number"]: parts.store.get_alert(m["key"])["state"] for m in members}
        out["checks"] = {
            "storm_failed_in_hubspot": fixable["failed"] == args.members and person["failed"] == args.needs_person,
            "qbo_writes_equal_members": writes == args.members,
            "each_customer_created_once": all(v == 1 for v in held.values()),
            "every_fixable_member_resolved": all(states.get(num) == "resolved" for num in fixable["numbers"]),
            "needing_a_person_listed": all(num in final_text for num in person["numbers"])
            and all(states.get(num) == "open" for num in person["numbers"]),
            "plan_named_the_count": out.pop("plan_names_count"),
        }
        out["checks_passed"] = all(out["checks"].values())
    finally:
        if runner is not None:
            try:
                runner.server.task_dispatcher.shutdown(timeout=5)
            except Exception as exc:  # figures are taken; a stop that fails changes none of them
                logging.getLogger(__name__).debug("HTTP runner stop: %r", exc)
        world.close()
        tmp.cleanup()
    out["peak_rss_mb"] = rss_mb()
    out["total_s"] = round(time.monotonic() - started, 1)
    out["settings"] = {"post_interval_s": args.post_interval, "slack_rate_per_s": args.slack_rate,
                       "background_invoices": args.background,
                       "limits": "raised (--fast)" if args.fast else "real: QBO 10/s, 500/min; HubSpot 190/10 s"}
    return out


def table(out: dict) -> str:
    r, p = out.get("requests", {}), out.get("progress", {})
    rows = [
        ("members (fixable + need a person)", f"{out['members']} + {out['needs_person']}"),
        ("ack ms: Fix all / Confirm", f"{out['ack_ms'].get('fix_all')} / {out['ack_ms'].get('confirm')}"),
        ("Fix all click to plan shown, ms", out.get("plan_ms")),
        ("Confirm to run done, s", out.get("run_s")),
        ("QBO requests per member (lower bound)", f"{r.get('qbo_per_member')} ({r.get('qbo_lower_bound_per_member')})"),
        ("HubSpot requests per member", r.get("hubspot_per_member")),
        ("QBO writes", r.get("qbo_writes")),
        ("progress edits / min gap s", f"{p.get('updates')} / {p.get('min_gap_s')}"),
        ("peak RSS MB", out.get("peak_rss_mb")),
        ("total s", out.get("total_s")),
    ]
    rows += [(f"check: {k}", "ok" if v else "FAILED") for k, v in out.get("checks", {}).items()]
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bulk_fix", description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=30, help="fixable invoices in the storm (default 30; over 20 "
                                                            "together with --needs-person, or no storm group forms)")
    ap.add_argument("--needs-person", type=int, default=3, help="storm invoices with no fix offered (default 3)")
    ap.add_argument("--background", type=int, default=50, help="invoices that sync fine around the storm")
    ap.add_argument("--json", metavar="OUT", help="write the figures as JSON here")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds the run may take after Confirm")
    ap.add_argument("--post-interval", type=float, default=1.0, help="the bot's seconds between posts per channel")
    ap.add_argument("--slack-rate", type=float, default=1.0, help="the Slack stand-in's posts/s per channel")
    ap.add_argument("--fast", action="store_true", help="raised API limits (tests: checks, not timings)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    out = run(args)
    print(table(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # the bolt App's pools and the poster's threads need not be waited for


if __name__ == "__main__":
    raise SystemExit(main())
