"""`qbsync demo`: the whole loop against the sandbox, shown in the terminal as it happens.

The sandbox serves HubSpot, QBO and Slack stand-ins with a scenario loaded (the simulated
integration has already failed some invoices, as HubSpot's would). Without --scenario the
demo plays two companies in a row (DEMO_ACTS): the mixed month (four documented failures,
one invoice with two causes) and a company with Revenue Recognition on (the fifth), so all
five documented failures are shown. The real bot (the same
wiring as `qbsync run`, Socket Mode to the Slack stand-in) polls, posts one threaded alert
per failure, and answers buttons. With --auto-fix an allowed user (alice) clicks each
alert's recommended fix and confirms; HubSpot's integration then retries and qbsync's next
poll resolves the alert. The channel is printed live: new messages, thread replies, edits.
"""
from __future__ import annotations

import json
import re
import tempfile
import threading
import time
from pathlib import Path

from rules.catalog import plural

from .app import Sandbox
from .slack_workspace import ALERT_CHANNEL

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")
_LINK = re.compile(r"<https://[^|>]*\|([^>]*)>")  # a record link: its label in the terminal
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_EMOJI_MAP = {"white_check_mark": "✅", "heavy_check_mark": "✔", "wrench": "🔧", "red_circle": "🔴",
              "large_orange_circle": "🟠", "hourglass_flowing_sand": "⏳", "zzz": "💤", "warning": "⚠",
              "x": "❌", "repeat": "🔁", "pencil2": "✏", "arrows_counterclockwise": "🔄",
              "information_source": "ℹ", "no_entry": "⛔"}

DEMO_ACTS = ("mixed", "revenue-recognition-service-date")
FIXER = "U0ALICE001"  # alice, the stand-in's default allowed user
WATCHER = "U0BRAM0001"


def _n(count: int, one: str, other: str) -> str:
    """"1 invoice" / "2 invoices": the terminal is English, with the words' own plural rule
    (rules.catalog.plural, the form picked as for a Slack text)."""
    return plural("{count} " + one, "{count} " + other).format(count=count)


def _out(text: str = "") -> None:
    print(text, flush=True)


def _step(text: str) -> None:
    _out(f"\n▶ {text}")


class TranscriptPrinter:
    """Prints the alert channel as it changes: new parents, thread replies, and edits of a
    parent (its state line), from the Slack stand-in's record of what was posted."""

    def __init__(self, sb: Sandbox, channel: str = ALERT_CHANNEL, interval: float = 0.05):
        self.ws = sb.slack.workspace
        self.channel = channel
        self.interval = interval
        self._seen: dict[str, int] = {}  # ts -> edits printed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> "TranscriptPrinter":
        self._thread = threading.Thread(target=self._loop, name="demo-transcript", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        with self._lock, self.ws.lock:
            messages = list(self.ws.messages.get(self.channel, []))
            parents = {m.ts: m for m in messages if not m.is_reply}
            for m in messages:
                if m.ts not in self._seen:
                    self._seen[m.ts] = len(m.edits)
                    self._print(m, parents)
                elif len(m.edits) > self._seen[m.ts]:
                    self._seen[m.ts] = len(m.edits)
                    self._print_edit(m)

    def _lines(self, m) -> list[str]:
        """What a person reads, without the buttons, with mrkdwn turned into terminal text."""
        texts = []
        for block in m.blocks or []:
            if block.get("type") == "section":
                if block.get("text"):
                    texts.append(block["text"]["text"])
                # fields: "*Label*\nvalue" shown as "Label: value" (value lines indented)
                texts += [f["text"].replace("\n", ": ", 1).replace("\n", "\n    ") for f in block.get("fields", [])]
            elif block.get("type") == "context":
                texts += [e.get("text", "") for e in block.get("elements", [])]
        raw = "\n".join(texts) if texts else m.text
        return [line for line in self._terminal(raw).splitlines() if line.strip()]

    def _terminal(self, mrkdwn: str) -> str:
        def mention(match):
            u = self.ws.users.get(match.group(1))
            return f"@{u.name}" if u else "@" + match.group(1)

        text = _LINK.sub(lambda m: m.group(1), _MENTION.sub(mention, mrkdwn))
        text = _DATE.sub(lambda m: m.group(1), text)
        text = _EMOJI.sub(lambda m: _EMOJI_MAP.get(m.group(1), ""), text)
        text = text.replace("*", "").replace("```", "")
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    def _print(self, m, parents) -> None:
        lines = self._lines(m)
        if not lines:
            return
        if m.is_reply:
            parent = parents.get(m.thread_ts)
            about = parent.text.split(" ")[0] if parent else "thread"
            _out(f"    ↳ [{about}] {lines[0]}")
            for line in lines[1:12]:
                _out(f"      {line}")
            if len(lines) > 12:
                _out(f"      … ({_n(len(lines) - 12, 'more line', 'more lines')})")
        else:
            _out(f"  #alerts  qbsync: {lines[0]}")
            for line in lines[1:]:
                _out(f"           {line}")

    def _print_edit(self, m) -> None:
        lines = self._lines(m)
        state = lines[-1] if lines else ""  # the context block: the alert's state line
        buttons = [b for b in (m.blocks or []) if b.get("type") == "actions"]
        about = m.text.split(" ")[0]
        _out(f"  ✎ [{about}] parent edited: {state}" + ("" if buttons else "  (buttons removed)"))


def _wait(predicate, timeout: float = 60.0, interval: float = 0.05) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def _auto_fix(sb: Sandbox, parts, printer: TranscriptPrinter) -> list[dict]:
    """alice clicks each open cause's recommended (first) fix and confirms it, invoice by
    invoice, each invoice's causes in fix order (the order its parent lists them)."""
    from bot.alerts import rule_order

    clicks = []
    causes = sorted(parts.store.open_alerts(), key=lambda a: (a["invoice_id"] or "", rule_order(a["rule"]), a["id"]))
    for alert in causes:
        alert = parts.store.get_alert(alert["key"])
        if not alert["ts"] or alert["state"] == "resolved":
            continue
        card = parts.alerts.cause_card(alert)
        if not card.fixes:
            _step(f"{alert['invoice_number'] or alert['key']}: no automatic fix ({alert['rule']}); "
                  "the thread says what to do")
            continue
        fix = card.fixes[0]
        _step(f"alice clicks “{fix.label}” on {alert['invoice_number']} and confirms")
        before = len(sb.slack.workspace.thread(alert["channel"], alert["ts"]))
        delivery = sb.slack.driver.click(FIXER, alert["channel"], alert["ts"], f"qbsync:fix:{fix.fix_id}")
        # The fix runs after the ack: wait until the alert leaves "fixing" and the thread has its outcome.
        _wait(lambda: parts.store.get_alert(alert["key"])["state"] != "fixing"
              and len(sb.slack.workspace.thread(alert["channel"], alert["ts"])) > before + 1, timeout=60)
        time.sleep(0.3)  # let the last thread reply of this fix land before the next click
        printer.flush()
        after = parts.store.get_alert(alert["key"])
        clicks.append({"alert": alert["key"], "fix": fix.fix_id, "acked": delivery.acked,
                       "ack_ms": round(delivery.elapsed_s * 1000, 1), "state_after": after["state"]})
    return clicks


def _customers(sb: Sandbox) -> list[dict]:
    """QBO's customers as the report shows them: a reader can check which changed."""
    return [{"id": c["Id"], "name": c.get("DisplayName", ""), "active": c.get("Active", True),
             "email": (c.get("PrimaryEmailAddr") or {}).get("Address", "")}
            for c in sorted(sb.qbo.entities.get("Customer", {}).values(), key=lambda c: int(c["Id"]))]


def _alerts_report(sb: Sandbox, parts, scenario: str) -> list[dict]:
    """One entry per parent message (an invoice, or a grouped alert): `rules` every cause in
    fix order, `rule` the first, each cause with its own state, and the thread as read."""
    from bot.alerts import parent_key, rule_order

    by_parent: dict[str, list[dict]] = {}
    for a in parts.store.list_alerts():
        by_parent.setdefault(parent_key(a), []).append(a)
    out = []
    for key, causes in by_parent.items():
        causes.sort(key=lambda a: (rule_order(a["rule"]), a["id"]))
        head = causes[0]
        ts = next((a["ts"] for a in causes if a["ts"]), None)
        thread = [m.visible_text() for m in sb.slack.workspace.thread(head["channel"], ts)] if ts else []
        states = {a["state"] for a in causes}
        out.append({"scenario": scenario, "key": key, "invoice": head["invoice_number"],
                    "rules": [a["rule"] for a in causes], "rule": head["rule"],
                    "causes": [{"key": a["key"], "rule": a["rule"], "state": a["state"]} for a in causes],
                    "state": "resolved" if states == {"resolved"} else "open",
                    "channel": head["channel"], "ts": ts, "thread": thread})
    return out


def _act(scenario: str, auto_fix: bool, once: bool, tmp: str, *, single: bool) -> dict:
    """One company: load `scenario`, run the real bot against it, optionally fix everything
    from Slack, and say what happened. Returns this act's part of the report."""
    from bot import wiring
    from bot.app import SocketModeRunner, create_app
    from bot.config import load_settings

    with Sandbox(slack_post_rate_per_s=5, slack_post_burst=10) as sb:
        data = sb.load(scenario)
        _out(f"qbsync demo: scenario “{data['name']}”" if single else f"\n━━ Company “{data['name']}”")
        if data.get("description"):
            _out(f"  {data['description']}")
        _out(f"  Stand-ins on 127.0.0.1: HubSpot {sb.hubspot_url}, QuickBooks {sb.qbo_url}, Slack {sb.slack_url}")
        _out(f"  HubSpot's integration has pushed {_n(len(sb.integration.synced), 'invoice', 'invoices')} and "
             f"failed {len(sb.integration.failures)}; it shows those only in its own settings panel.")
        env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(Path(tmp) / f"{data['name']}.db"),
                                      "QBSYNC_FIX_ALLOWED": FIXER, "QBSYNC_POLL_INTERVAL": "30"}
        parts = wiring.build(load_settings(env, env_file=None), post_interval=0.2)
        runner = SocketModeRunner(create_app(parts), env["SLACK_APP_TOKEN"]).start()
        printer = TranscriptPrinter(sb).start()
        clicks: list[dict] = []
        customers_before = _customers(sb)
        counts = {"failing": 0, "causes": 0, "resolved": 0, "by_fix": 0, "by_poll": 0, "synced": 0, "still": 0}
        try:
            _step("qbsync polls HubSpot and QuickBooks")
            result = parts.scanner.scan()
            printer.flush()
            causes = [a for a in parts.store.list_alerts() if a["invoice_id"]]
            counts.update(failing=len(result.failing), causes=len(causes))
            _out(f"  → {_n(result.invoices, 'invoice', 'invoices')} read, {len(result.failing)} failing with "
                 f"{_n(len(causes), 'cause', 'causes')}, {_n(len(result.failing), 'alert', 'alerts')} posted "
                 f"(one per invoice)")
            if auto_fix:
                clicks = _auto_fix(sb, parts, printer)
                printer.flush()
                _step("HubSpot's integration retries the failed invoices")
                report = sb.integration.run_once(force=True)
                _out(f"  → synced now: {len(report.synced)}, still failing: {len(report.failed)}")
                _step("qbsync polls again")
                result = parts.scanner.scan()
                printer.flush()
                causes = [a for a in parts.store.list_alerts() if a["invoice_id"]]
                done = [a for a in causes if a["state"] == "resolved"]
                fixed = {c["alert"] for c in clicks if c["state_after"] == "resolved"}
                counts.update(causes=len(causes), resolved=len(done), by_fix=len(fixed), by_poll=len(result.resolved),
                              synced=len(report.synced), still=len(result.failing))
                _out(f"  → {len(done)} of {_n(len(causes), 'cause', 'causes')} resolved ({len(fixed)} by a fix, "
                     f"{len(result.resolved)} by this poll), {_n(len(report.synced), 'invoice', 'invoices')} synced "
                     f"after the fixes, {_n(len(result.failing), 'invoice', 'invoices')} still failing")
            if not once:
                _step("qbsync keeps polling every 15 s and HubSpot's integration retries every 5 s; Ctrl-C stops")
                sb.integration.start(interval_s=5.0)
                while True:
                    time.sleep(15)
                    parts.scanner.scan()
        finally:
            printer.stop()
            runner.stop()
            part = {"scenario": data["name"], "alerts": _alerts_report(sb, parts, data["name"]), "clicks": clicks,
                    "counts": counts,
                    "synced_by_integration": sorted(sb.integration.synced),
                    "still_failing_in_hubspot": {k: f.cause for k, f in sorted(sb.integration.failures.items())},
                    "qbo_customers_before": customers_before, "qbo_customers_after": _customers(sb),
                    "api_calls": sb.log.snapshot()}
    return part


def _summary(acts: list[dict], auto_fix: bool) -> str:
    """The demo's last line: what happened, counted over every company."""
    total = {k: sum(a["counts"][k] for a in acts) for k in acts[0]["counts"]}
    rules = sorted({r for a in acts for alert in a["alerts"] for r in alert["rules"]})
    line = (f"Demo done: {_n(len(acts), 'company', 'companies')}, "
            f"{_n(total['failing'], 'failing invoice', 'failing invoices')} with "
            f"{_n(total['causes'], 'cause', 'causes')} ({_n(len(rules), 'kind', 'kinds')}: {', '.join(rules)})")
    if auto_fix:
        line += (f"; {total['resolved']} of {_n(total['causes'], 'cause', 'causes')} resolved ({total['by_fix']} by a "
                 f"fix, {total['by_poll']} by the last poll), {_n(total['synced'], 'invoice', 'invoices')} synced, "
                 f"{total['still']} still failing")
    return line


def run(args, default_scenario: str = "mixed") -> int:
    given = getattr(args, "scenario", None)
    scenarios = [given] if given else list(DEMO_ACTS)
    once, auto_fix = bool(getattr(args, "once", False)), bool(getattr(args, "auto_fix", False))
    acts: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="qbsync-demo-") as tmp:
        try:
            for i, scenario in enumerate(scenarios):
                # Only the last company keeps running without --once: the others are played through.
                acts.append(_act(scenario, auto_fix, once or i < len(scenarios) - 1, tmp, single=len(scenarios) == 1))
            _out("\n" + _summary(acts, auto_fix))
        except KeyboardInterrupt:
            _out("\nstopped")
        finally:
            report_path = getattr(args, "report", None)
            if report_path and acts:
                merged = {"scenarios": [a["scenario"] for a in acts],
                          "scenario": acts[0]["scenario"] if len(acts) == 1 else "+".join(a["scenario"] for a in acts),
                          "alerts": [x for a in acts for x in a["alerts"]],
                          "clicks": [x for a in acts for x in a["clicks"]],
                          "acts": [{k: v for k, v in a.items() if k not in ("alerts", "clicks")} for a in acts]}
                if len(acts) == 1:
                    # One company (--scenario): its details at the top level too, as before #12.
                    merged.update({k: v for k, v in acts[0].items() if k not in merged})
                Path(report_path).write_text(json.dumps(merged, indent=2, ensure_ascii=False), encoding="utf-8")
                _out(f"\nReport written to {report_path}")
    return 0
