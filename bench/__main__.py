"""qbsync's benchmark: `python -m bench --invoices N [--json OUT]`.

A world of N invoices (sandbox.generate, 2% failing) runs in a child process
(`python -m bench.world`) with the stand-ins' real rate limits: HubSpot 5 searches/s and
190 requests/10 s (the generated portal is Professional; the bot paces itself to 100/10 s
and 4 searches/s, the Free/Starter limits), QBO 500/min and 10/s, Slack ~1 post/s per
channel with a burst of 4.
This process runs the bot exactly as `qbsync run` builds it (bot.wiring.build from
Settings, the bolt App from bot.app.create_app, scans through Services.run_scan, default
post pacing of 1 s per channel), so `peak_rss_mb` is the bot's own memory
(getrusage(RUSAGE_SELF).ru_maxrss of this process; the world is not in it).

Phases, in order, and what each figure means:
- first_scan: the first scan on an empty database (QBO mirror full load, every open/paid
  invoice read from HubSpot, diagnosis, the alerts posted). `api_calls`: HubSpot + QBO
  requests the stand-ins logged (OAuth/discovery included, Slack not); `lower_bound`:
  bench/bounds.py's formula; `wall_s`: the whole scan including posting its alerts at
  Slack's pace; `until_first_alert_s`: scan start to the first alert in Slack.
- steady_nochange: a scan with nothing changed anywhere (QBO's change log is first aged 10
  minutes, as a world that has been around: its records are not inside the CDC overlap).
  Two such scans run; `api_calls` is the second (settled), `first_after_backfill` the first,
  which may add a contact batch read the backfill's diagnosis did not need (which contacts
  the rules look up depends a little on which invoices are diagnosed together).
- steady_1pct: 1% of the open/paid invoices get a new due date in HubSpot, then one scan;
  `lower_bound` is the same formula over just those invoices with one QBO CDC call.
- alert_latency_s: a new invoice fails in HubSpot (created 30 minutes ago, so past the
  default 10-minute grace period; the integration has just failed it). A scan starts at
  once. Latency = from the integration's failure to the alert's parent message accepted by
  Slack (the stand-in's own timestamp). Worst of 3 probes. In production add up to one
  poll interval (QBSYNC_POLL_INTERVAL, default 300 s) for the scan to come round, and an
  invoice younger than the grace period is not alerted before it leaves it.
- ack (HTTP mode): bolt's App served by bot.app.HttpRunner (waitress); 20 users at once
  (the Slack stand-in's driver in the world process) send Slack-signed requests: slash
  commands (`/qbsync status`, `list`, `help`) and button clicks (acknowledge, else snooze,
  else re-check) on real alert messages, while the bot scans back to back in the
  background. A sample is the time from sending the request to the HTTP answer (the ack);
  `ack_p99_ms` is the 99th percentile. Afterwards the bench waits (up to --drain-timeout)
  until the bot has posted the thread replies those clicks cause.
- storm: K (default 2,000) invoices fail at once (each a new contact outside contact
  sync, of a new company: missing-customer). Scans run until no recorded alert is left
  unposted (at most 3), within --storm-timeout seconds. `parent_messages`: top-level
  messages the bot posted in the alert channel since the storm began; `lost`: storm
  failures whose invoice number appears nowhere in the channel (parent or thread) when the
  storm phase ends; if the time budget ran out first, those not announced yet count as lost
  and `storm.finished` is false.
- slack: over the whole run, from the stand-in's records. `posts`: chat.postMessage calls
  the stand-in accepted from the bot; `max_posts_per_s_per_channel`: most posts in any
  window [t, t+1) in one channel; `raw_429`: 429s the stand-in answered; `unhandled_429`:
  calls whose FINAL answer (after slack_sdk's retries) was a 429, i.e. the bot gave up.

Exit status 0 whenever the run completed (missed targets are results), non-zero on a crash.

Issue 12's heavy paths have benchmarks of their own: `python -m bench.bulk_fix` ("Fix all N
like this" at real pace, bench/bulk_fix.py) and `python -m bench.digest` (bench/digest.py).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .bounds import lower_bound
from .figures import calls, percentile

ACK_USERS = 20
QBO_COUNT_QUERIES = 5   # bot/mirror.py: one COUNT per mirrored entity on a full load
TARGETS = {  # name: (figure path, comparison, target, only when)
    "steady no-change API calls": ("steady_nochange.api_calls", "<=", 2),
    "first scan calls / lower bound": ("first_scan.ratio", "<=", 1.25),
    "1%-change calls / lower bound": ("steady_1pct.ratio", "<=", 1.25),
    "Slack posts/s per channel (max)": ("slack.max_posts_per_s_per_channel", "<=", 1),
    "unhandled Slack 429s": ("slack.unhandled_429", "<=", 0),
    "storm parent messages": ("storm.parent_messages", "<=", 40),
    "storm failures lost": ("storm.lost", "<=", 0),
    "peak RSS MB (target at 50,000)": ("peak_rss_mb", "<=", 250),
    "ack p99 ms": ("ack_p99_ms", "<=", 100),
}


class World:
    """The child process and its line protocol."""

    def __init__(self, args, workdir: Path, world_args: list[str] | None = None):
        """`world_args`: bench.world's arguments (default: this benchmark's, from `args`)."""
        if world_args is None:
            world_args = ["--invoices", str(args.invoices), "--seed", str(args.seed),
                          "--failure-rate", str(args.failure_rate), "--slack-rate", str(args.slack_rate)]
        cmd = [sys.executable, "-m", "bench.world", *world_args]
        self.stderr_path = workdir / "world.stderr"
        self._err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
                                     text=True, encoding="utf-8", bufsize=1)
        self.ready = self._read()
        self._lock = threading.Lock()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the world process ended (exit {self.proc.poll()}); see {self.stderr_path}")
        return json.loads(line)

    def __call__(self, cmd: str, **kw) -> dict:
        with self._lock:
            self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
            self.proc.stdin.flush()
            answer = self._read()
        if not answer.get("ok"):
            raise RuntimeError(f"world command {cmd} failed: {answer.get('error')}")
        return answer

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self("quit")
                self.proc.wait(timeout=15)
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._err.close()


def unposted_ok(alert: dict) -> bool:
    """In Slack: its own parent, or listed in a storm group's thread (bot/alerts.py)."""
    return bool(alert["ts"] or (alert.get("group_key") and alert.get("listed"))
                or str(alert["key"]).startswith("group:"))


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.TemporaryDirectory(prefix="qbsync-bench-")
        self.workdir = Path(self.tmp.name)
        self.out: dict = {"invoices": args.invoices, "phases_rss_mb": {}}
        self.final_statuses = {}
        self.world: World | None = None
        self.storm_thread: threading.Thread | None = None

    # -- set-up ---------------------------------------------------------------------------
    def start(self) -> None:
        from bot import wiring
        from bot.app import create_app, services_of
        from bot.config import load_settings

        t0 = time.monotonic()
        self.world = World(self.args, self.workdir)
        self.out["world_load_s"] = round(time.monotonic() - t0, 1)
        env = self.world("env")["env"]
        users = [f"U0BENCH{i:03d}" for i in range(ACK_USERS)]
        env |= {"QBSYNC_DB_PATH": str(self.workdir / "qbsync.db"), "QBSYNC_FIX_ALLOWED": ",".join(users),
                "QBSYNC_SLACK_TRANSPORT": "http", "QBSYNC_OPS_PORT": "0", "QBSYNC_LOG_LEVEL": "WARNING"}
        settings = load_settings(env, env_file=None)
        self.settings = settings
        self.parts = wiring.build(settings, post_interval=self.args.post_interval)
        # Watch the FINAL status of every Slack Web API call the poster makes (after
        # slack_sdk's own retries): a final 429 is a post the bot gave up on.
        self.slack_final: dict[str, int] = {}
        lock = threading.Lock()

        def on_call(status):
            with lock:
                self.slack_final[str(status)] = self.slack_final.get(str(status), 0) + 1
        self.parts.poster.on_call = on_call
        self.app = create_app(self.parts)
        self.services = services_of(self.app)
        self.world("age", seconds=600)

    def scan(self):
        return self.services.run_scan(wait=True)

    def contact_lookups(self) -> int:
        """E-mails the bot has looked HubSpot contacts up by (batch reads of 100 by the email
        property, remembered in hs_contact_lookups). The data needs them, so the bound counts
        ceil(E/100) batch reads for them (the log cannot tell these reads from the others)."""
        return int(self.parts.store.query_rows("SELECT COUNT(*) AS n FROM hs_contact_lookups")[0]["n"])

    def measured_scan(self) -> tuple[object, dict, float, float]:
        looked = self.contact_lookups()
        self.world("log_reset")
        started = time.time()
        t0 = time.monotonic()
        result = self.scan()
        wall = time.monotonic() - t0
        c = calls(self.world("log_snapshot")["snapshot"])
        c["contact_emails"] = self.contact_lookups() - looked
        return result, c, wall, started

    @staticmethod
    def with_contact_reads(bound: dict, emails: int) -> dict:
        """The bound plus the batch reads the contact look-ups by email need at 100 a read."""
        extra = -(-emails // 100)
        return dict(bound, contacts_by_email=extra, hubspot=bound["hubspot"] + extra, total=bound["total"] + extra)

    # -- phases ---------------------------------------------------------------------------
    def first_scan(self) -> None:
        result, c, wall, started = self.measured_scan()
        bound = self.with_contact_reads(lower_bound(self.world("bound_inputs"), qbo="full"), c["contact_emails"])
        stats = self.world("slack_stats", since=started)["channels"].get(self.settings.alert_channel, {})
        self.out["first_scan"] = {
            "api_calls": c["total"], "hubspot_calls": c["hubspot"], "qbo_calls": c["qbo"],
            "lower_bound": bound["total"], "lower_bound_detail": bound,
            "ratio": round(c["total"] / bound["total"], 3),
            # What the bound leaves out: QBO COUNT queries (one per mirrored entity,
            # bot/mirror.py _load_entity: the log cannot tell them from pages), OAuth and
            # discovery reads.
            "ratio_without_overhead": round((c["total"] - c["overhead"] - QBO_COUNT_QUERIES) / bound["total"], 3),
            "overhead_auth_calls": c["overhead"], "qbo_count_queries": QBO_COUNT_QUERIES,
            "contact_emails_looked_up": c["contact_emails"],
            "wall_s": round(wall, 2),
            "until_first_alert_s": round(stats["first_at"] - started, 2) if stats else None,
            "alerts_posted": stats.get("parents", 0), "failing": len(result.failing), "problem": result.problem,
            "endpoints": c["endpoints"],
        }
        self.out["phases_rss_mb"]["first_scan"] = rss_mb()

    def steady_nochange(self) -> None:
        # Two cycles with nothing changed. The first after the backfill may still look up a
        # few contacts by email that the backfill's diagnosis (other invoices in its chunks)
        # did not need; the figure is the second, a settled steady cycle. Both are reported.
        first, c0, wall0, _ = self.measured_scan()
        result, c, wall, _ = self.measured_scan()
        self.out["steady_nochange"] = {"api_calls": c["total"], "hubspot_calls": c["hubspot"], "qbo_calls": c["qbo"],
                                       "wall_s": round(wall, 2), "problem": result.problem,
                                       "endpoints": c["endpoints"],
                                       "first_after_backfill": {"api_calls": c0["total"], "wall_s": round(wall0, 2),
                                                                "endpoints": c0["endpoints"]}}
        self.out["phases_rss_mb"]["steady_nochange"] = rss_mb()

    def steady_1pct(self) -> None:
        ids = self.world("change_pct", pct=1.0)["ids"]
        result, c, wall, _ = self.measured_scan()
        bound = self.with_contact_reads(lower_bound(self.world("bound_inputs", ids=ids), qbo="cdc"),
                                        c["contact_emails"])
        self.out["steady_1pct"] = {
            "changed": len(ids), "api_calls": c["total"], "hubspot_calls": c["hubspot"], "qbo_calls": c["qbo"],
            "lower_bound": bound["total"], "lower_bound_detail": bound,
            "ratio": round(c["total"] / bound["total"], 3), "contact_emails_looked_up": c["contact_emails"],
            "wall_s": round(wall, 2), "problem": result.problem, "endpoints": c["endpoints"]}
        self.out["phases_rss_mb"]["steady_1pct"] = rss_mb()

    def alert_latency(self, probes: int = 3) -> None:
        samples = []
        for _ in range(probes):
            made = self.world("new_failures", count=1, age_minutes=30)
            self.scan()
            at = self.world("first_post_with", number=made["numbers"][0])["at"]
            samples.append(None if at is None else round(at - made["failed_at"], 3))
        got = [s for s in samples if s is not None]
        self.out["alert_latency_s"] = max(got) if len(got) == len(samples) else None
        self.out["alert_latency_probes_s"] = samples

    def ack(self) -> None:
        from bot.app import HttpRunner

        users = self.world("add_users", count=ACK_USERS)["users"]
        parents = self.world("alerts_ts", action_id="qbsync:ack")["ts"]
        runner = HttpRunner(self.app, 0).start()
        posts_before = self._alert_posts()
        stop = threading.Event()
        scans = [0]

        def background():  # the bot keeps scanning while people click
            while not stop.is_set():
                self.scan()
                scans[0] += 1
                stop.wait(0.2)
        bg = threading.Thread(target=background, name="bench-scans", daemon=True)
        bg.start()
        try:
            samples = self.world("ack_load", url=runner.url, users=users, per_user=self.args.ack_per_user,
                                 ts=parents)["samples"]
        finally:
            stop.set()
            bg.join(timeout=600)
        ms = [s["ms"] for s in samples if s["ms"] is not None]
        bad = [s for s in samples if s["status"] != 200]
        by_kind = {}
        for s in samples:
            by_kind.setdefault(f"{s['kind']}:{s['what']}", []).append(s["ms"] or 0)
        self.out["ack_p99_ms"] = round(percentile(ms, 99), 1) if ms else None
        self.out["ack"] = {
            "users": len(users), "requests": len(samples), "not_200": len(bad),
            "errors": sorted({s.get("error") or str(s["status"]) for s in bad})[:5],
            "p50_ms": round(percentile(ms, 50), 1) if ms else None, "p99_ms": self.out["ack_p99_ms"],
            "max_ms": round(max(ms), 1) if ms else None, "background_scans": scans[0],
            "by_kind_p99_ms": {k: round(percentile(v, 99), 1) for k, v in sorted(by_kind.items())},
        }
        # The clicks' thread replies are posted at Slack's pace after the acks: let them out
        # before the storm, so storm figures are the storm's.
        t0 = time.monotonic()
        last, still = self._alert_posts(), 0
        while time.monotonic() - t0 < self.args.drain_timeout and still < 3:
            time.sleep(1.0)
            now = self._alert_posts()
            still = still + 1 if now == last else 0
            last = now
        self.out["ack"]["posts_caused"] = last - posts_before
        self.out["ack"]["drain_s"] = round(time.monotonic() - t0, 1)
        runner.server.task_dispatcher.shutdown(timeout=5)  # stop serving; the App stays (shared Services)
        self.out["phases_rss_mb"]["ack"] = rss_mb()

    def _alert_posts(self) -> int:
        ch = self.world("slack_stats")["channels"].get(self.settings.alert_channel, {})
        return ch.get("posts", 0)

    def storm(self) -> None:
        k = self.args.storm
        made = self.world("new_failures", count=k, age_minutes=30)
        started = time.time()
        done = threading.Event()
        cycles = [0]

        def run():
            try:
                for _ in range(3):
                    self.scan()
                    cycles[0] += 1
                    unposted = [a for a in self.parts.store.list_alerts(states=("open", "acknowledged"))
                                if not unposted_ok(a)]
                    if not unposted:
                        break
            finally:
                done.set()
        self.storm_thread = threading.Thread(target=run, name="bench-storm", daemon=True)
        t0 = time.monotonic()
        self.storm_thread.start()
        done.wait(self.args.storm_timeout)
        elapsed = time.monotonic() - t0
        stats = self.world("slack_stats", since=started)["channels"].get(self.settings.alert_channel, {})
        found = self.world("find_numbers", numbers=made["numbers"])
        self.out["storm"] = {
            "failures": made["failed"], "created": k, "causes": made["causes"],
            "parent_messages": stats.get("parents", 0), "posts": stats.get("posts", 0),
            "lost": len(found["missing"]), "finished": done.is_set(), "cycles": cycles[0],
            "wall_s": round(elapsed, 1), "timeout_s": self.args.storm_timeout,
        }
        self.out["phases_rss_mb"]["storm"] = rss_mb()

    def slack(self) -> None:
        s = self.world("slack_stats")
        chans = s["channels"]
        self.out["slack"] = {
            "posts": sum(c["posts"] for c in chans.values()),
            "max_posts_per_s_per_channel": max((c["max_posts_in_1s"] for c in chans.values()), default=0),
            "max_posts_per_10s_per_channel": max((c["max_posts_in_10s"] for c in chans.values()), default=0),
            "min_gap_s": min((c["min_gap_s"] for c in chans.values() if c["min_gap_s"] is not None), default=None),
            "unhandled_429": self.slack_final.get("429", 0),
            "raw_429": s["rate_limited"],
            "final_statuses": dict(self.slack_final),
            "per_channel": {ch: {k: v for k, v in c.items() if k not in ("first_at", "last_at")}
                            for ch, c in chans.items()},
        }

    # -- all ------------------------------------------------------------------------------
    def run(self) -> dict:
        a = self.args
        t0 = time.monotonic()
        self.start()
        step = [("first scan", self.first_scan), ("steady, no change", self.steady_nochange),
                ("steady, 1% changed", self.steady_1pct), ("alert latency", self.alert_latency)]
        if not a.skip_ack:
            step.append(("ack load (HTTP mode)", self.ack))
        if not a.skip_storm:
            step.append((f"storm of {a.storm}", self.storm))
        step.append(("Slack figures", self.slack))
        for name, fn in step:
            p0 = time.monotonic()
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            fn()
            print(f"[bench] {name}: {time.monotonic() - p0:.1f} s", file=sys.stderr, flush=True)
        self.out.setdefault("ack_p99_ms", None)
        self.out.setdefault("storm", {"failures": None, "parent_messages": None, "lost": None, "skipped": True})
        self.out["peak_rss_mb"] = rss_mb()
        self.out["total_wall_s"] = round(time.monotonic() - t0, 1)
        self.out["settings"] = {"post_interval_s": a.post_interval, "slack_rate_per_s": a.slack_rate,
                                "grace_minutes": self.settings.grace_minutes, "seed": a.seed,
                                "failure_rate": a.failure_rate}
        return self.out

    def close(self) -> None:
        if self.world is not None:
            self.world.close()
        # main() leaves with os._exit, which skips TemporaryDirectory's own clean-up.
        self.tmp.cleanup()


def get(d: dict, path: str):
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def table(out: dict) -> str:
    rows = [("figure", "value", "target", "verdict")]
    fs, s1 = out.get("first_scan", {}), out.get("steady_1pct", {})
    info = [
        ("invoices", out["invoices"]),
        ("first scan API calls (bound)", f"{fs.get('api_calls')} ({fs.get('lower_bound')})"),
        ("first scan wall s (to 1st alert)", f"{fs.get('wall_s')} ({fs.get('until_first_alert_s')})"),
        ("1%-change API calls (bound)", f"{s1.get('api_calls')} ({s1.get('lower_bound')})"),
        ("alert latency s", out.get("alert_latency_s")),
        ("Slack posts / raw 429s", f"{get(out, 'slack.posts')} / {get(out, 'slack.raw_429')}"),
        ("ack p50 ms", get(out, "ack.p50_ms")),
        ("storm failures / finished", f"{get(out, 'storm.failures')} / {get(out, 'storm.finished')}"),
    ]
    for name, value in info:
        rows.append((name, str(value), "", ""))
    for name, (path, op, target) in TARGETS.items():
        value = get(out, path)
        if value is None:
            verdict = "not measured"
        elif value <= target:
            verdict = "met"
        else:
            verdict = f"NOT met (+{value - target:.3g}" + (f", x{value / target:.2f})" if target else ")")
        rows.append((name, str(value), f"{op} {target}", verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: worker counts separated by commas, e.g. 1,2") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least one worker count, each 1 or more")
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description="qbsync benchmark (see bench/__main__.py)")
    ap.add_argument("--invoices", type=int, help="invoices in the generated world (the single-company benchmark)")
    ap.add_argument("--json", metavar="OUT", help="write the figures as JSON here")
    ap.add_argument("--storm", type=int, default=2000, help="failures appearing at once (default 2000)")
    ap.add_argument("--storm-timeout", type=float, default=300.0, help="seconds the storm phase may take")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--failure-rate", type=float, default=0.02)
    ap.add_argument("--skip-storm", action="store_true")
    ap.add_argument("--skip-ack", action="store_true")
    ap.add_argument("--ack-per-user", type=int, default=10, help="deliveries per user in the ack load")
    ap.add_argument("--drain-timeout", type=float, default=180.0,
                    help="seconds to wait for the posts the ack load caused")
    ap.add_argument("--post-interval", type=float, default=1.0,
                    help="the bot's seconds between posts per channel (default 1.0, as production)")
    ap.add_argument("--slack-rate", type=float, default=1.0,
                    help="the Slack stand-in's posts per second per channel (default 1, as Slack)")
    many = ap.add_argument_group("many companies (bench/companies.py)")
    many.add_argument("--companies", type=int, help="companies in one sandbox: the multi-company benchmark")
    many.add_argument("--invoices-per-company", type=int, default=1000)
    many.add_argument("--workers", type=_counts, default=[1, 2], help="worker counts to run, e.g. 1,2 (default)")
    many.add_argument("--database-url", help="a PostgreSQL server where this user may CREATE DATABASE "
                                             "(default: a throwaway cluster of the bench's own)")
    many.add_argument("--ack-interval", type=float, default=1.0,
                      help="seconds between one simulated user's deliveries (about; 20 users)")
    many.add_argument("--ack-clicks", action=argparse.BooleanOptionalAction, default=True,
                      help="the ack load clicks Acknowledge on alerts (--no-ack-clicks: commands only)")
    many.add_argument("--logs", metavar="DIR", help="keep the listener's and workers' output here")
    many.add_argument("--round-timeout", type=float, default=1800.0, help="seconds a round may take")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.companies:
        from .companies import main as companies_main

        return companies_main(args)
    if args.invoices is None:
        ap.error("--invoices N (one company) or --companies C (many) is required")
    bench = Bench(args)
    try:
        out = bench.run()
    finally:
        bench.close()
    print(table(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    sys.stdout.flush()
    sys.stderr.flush()
    # A storm that outran its time budget leaves a scan posting in a daemon thread; the
    # figures are written, so leave without waiting for it (or for the bolt App's pools).
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
