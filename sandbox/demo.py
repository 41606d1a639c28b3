"""`qbsync demo`: the whole loop against the sandbox, shown in the terminal as it happens.

The sandbox serves HubSpot, QBO and Slack stand-ins with a scenario loaded (the simulated
integration has already failed some invoices, as HubSpot's would). The real bot (the same
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

FIXER = "U0ALICE001"  # alice, the stand-in's default allowed user
WATCHER = "U0BRAM0001"


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
                _out(f"      … ({len(lines) - 12} more lines)")
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
    """alice clicks each open alert's recommended (first) fix and confirms it."""
    clicks = []
    for alert in parts.store.open_alerts():
        if not alert["ts"]:
            continue
        card = parts.alerts.card(alert)
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


def _report(sb: Sandbox, parts, data: dict, clicks: list[dict], customers_before: list[dict]) -> dict:
    alerts = []
    for a in parts.store.list_alerts():
        thread = [m.visible_text() for m in sb.slack.workspace.thread(a["channel"], a["ts"])] if a["ts"] else []
        alerts.append({"key": a["key"], "rule": a["rule"], "invoice": a["invoice_number"],
                       "state": a["state"], "channel": a["channel"], "ts": a["ts"], "thread": thread})
    return {
        "scenario": data["name"],
        "alerts": alerts,
        "clicks": clicks,
        "synced_by_integration": sorted(sb.integration.synced),
        "still_failing_in_hubspot": {k: f.cause for k, f in sorted(sb.integration.failures.items())},
        "qbo_customers_before": customers_before,
        "qbo_customers_after": _customers(sb),
        "api_calls": sb.log.snapshot(),
    }


def run(args, default_scenario: str = "mixed") -> int:
    from bot import wiring
    from bot.app import SocketModeRunner, create_app
    from bot.config import load_settings

    scenario = getattr(args, "scenario", None) or default_scenario
    once, auto_fix = bool(getattr(args, "once", False)), bool(getattr(args, "auto_fix", False))
    with Sandbox(slack_post_rate_per_s=5, slack_post_burst=10) as sb, \
            tempfile.TemporaryDirectory(prefix="qbsync-demo-") as tmp:
        data = sb.load(scenario)
        _out(f"qbsync demo: scenario “{data['name']}”")
        if data.get("description"):
            _out(f"  {data['description']}")
        _out(f"  Stand-ins on 127.0.0.1: HubSpot {sb.hubspot_url}, QuickBooks {sb.qbo_url}, Slack {sb.slack_url}")
        _out(f"  HubSpot's integration has pushed {len(sb.integration.synced)} invoices and failed "
             f"{len(sb.integration.failures)}; it shows those only in its own settings panel.")
        env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(Path(tmp) / "qbsync.db"),
                                      "QBSYNC_FIX_ALLOWED": FIXER, "QBSYNC_POLL_INTERVAL": "30"}
        parts = wiring.build(load_settings(env, env_file=None), post_interval=0.2)
        runner = SocketModeRunner(create_app(parts), env["SLACK_APP_TOKEN"]).start()
        printer = TranscriptPrinter(sb).start()
        clicks: list[dict] = []
        customers_before = _customers(sb)
        try:
            _step("qbsync polls HubSpot and QuickBooks")
            result = parts.scanner.scan()
            printer.flush()
            _out(f"  → {result.invoices} invoices read, {len(result.failing)} failing, "
                 f"{len(result.created)} alerts posted")
            if auto_fix:
                clicks = _auto_fix(sb, parts, printer)
                printer.flush()
                _step("HubSpot's integration retries the failed invoices")
                report = sb.integration.run_once(force=True)
                _out(f"  → synced now: {len(report.synced)}, still failing: {len(report.failed)}")
                _step("qbsync polls again")
                result = parts.scanner.scan()
                printer.flush()
                alerts = [a for a in parts.store.list_alerts() if a["invoice_id"]]
                done = [a for a in alerts if a["state"] == "resolved"]
                fixed = {c["alert"] for c in clicks if c["state_after"] == "resolved"}
                _out(f"  → {len(done)} of {len(alerts)} alerts resolved ({len(fixed)} by a fix, "
                     f"{len(result.resolved)} by this poll), {len(report.synced)} invoices synced after the "
                     f"fixes, {len(result.failing)} invoices still failing")
            if not once:
                _step("qbsync keeps polling every 15 s and HubSpot's integration retries every 5 s; Ctrl-C stops")
                sb.integration.start(interval_s=5.0)
                while True:
                    time.sleep(15)
                    parts.scanner.scan()
        except KeyboardInterrupt:
            _out("\nstopped")
        finally:
            printer.stop()
            runner.stop()
            report_path = getattr(args, "report", None)
            if report_path:
                Path(report_path).write_text(json.dumps(_report(sb, parts, data, clicks, customers_before), indent=2,
                                                        ensure_ascii=False), encoding="utf-8")
                _out(f"\nReport written to {report_path}")
    return 0
