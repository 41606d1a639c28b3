"""`qbsync sandbox` and `qbsync demo`: the sandbox from the command line.

bot/cli.py parses the arguments and imports this module only for these two commands.

At this stage the demo loads a scenario, shows what the sandbox holds, reads both systems
through qbsync's real adapters over HTTP and prints qbsync's diagnosis. Slack alerts and
fixes (issue #4) and the poller (issue #5) are not built yet; the demo says so instead of
pretending.
"""
from __future__ import annotations

import json
import shlex
import signal
import sys
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

from rules import registry

from .app import Sandbox

DEFAULT_SCENARIO = "mixed"


def _out(text: str = "") -> None:
    print(text, flush=True)


def _cut(text: str, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _holdings(sb: Sandbox) -> dict:
    """What each stand-in holds, as plain counts (for the screen and the report)."""
    with sb.portal.lock, sb.qbo.lock:
        invoices = sb.portal.objects("invoices").values()
        syncable = sum(
            1 for r in invoices
            if r["properties"].get("hs_invoice_source") == "HUBSPOT"
            and r["properties"].get("hs_invoice_status") in ("open", "paid")
        )
        prefs = sb.qbo.preferences()
        return {
            "hubspot": {t: len(sb.portal.objects(t)) for t in ("companies", "contacts", "invoices", "line_items")}
            | {"native_open_or_paid": syncable, "language": sb.portal.language},
            "qbo": {e: len(sb.qbo.entities.get(e, {})) for e in ("Customer", "Vendor", "Employee", "Item",
                                                                   "Invoice", "CreditMemo")}
            | {"CustomTxnNumbers": bool(prefs["SalesFormsPrefs"].get("CustomTxnNumbers")),
               "RevenueRecognition": bool(prefs["ProductAndServicesPrefs"].get("RevenueRecognition"))},
            "integration": {"synced": len(sb.integration.synced), "failing": len(sb.integration.failures)},
        }


def _print_holdings(sb: Sandbox, data: dict, h: dict) -> None:
    _out(f"Scenario: {data['name']}")
    if data.get("description"):
        _out(f"  {data['description']}")
    _out()
    hs, q = h["hubspot"], h["qbo"]
    _out(f"HubSpot stand-in      {sb.hubspot_url}")
    _out(f"  {hs['companies']} companies, {hs['contacts']} contacts, {hs['invoices']} invoices "
         f"({hs['native_open_or_paid']} HubSpot-native open or paid), {hs['line_items']} line items")
    _out(f"QuickBooks stand-in   {sb.qbo_api_base}  (company {sb.realm_id})")
    _out(f"  {q['Customer']} customers, {q['Vendor']} vendors, {q['Employee']} employees, {q['Item']} items, "
         f"{q['Invoice']} invoices, {q['CreditMemo']} credit memos")
    _out(f"  Custom transaction numbers: {'on' if q['CustomTxnNumbers'] else 'off'}; "
         f"Revenue Recognition: {'on' if q['RevenueRecognition'] else 'off'}")
    _out()
    failures = sb.integration.failures
    _out(f"Simulated integration: {h['integration']['synced']} invoices pushed to QBO, {len(failures)} failing.")
    if failures:
        _out("  What HubSpot's hidden 'Failing to sync' panel shows (qbsync cannot read this panel;")
        _out("  it has to find these failures from the data):")
        for inv_id, f in sorted(failures.items()):
            number = sb.portal.get("invoices", inv_id)["properties"].get("hs_number")
            _out(f"  {number:<10} {_cut(f.heading, 100)}")
    _out()


def _read_through_adapters(sb: Sandbox, workdir: Path) -> list[dict]:
    """Read both systems as qbsync will: the real adapters over HTTP."""
    from bot.adapters.hubspot import HubSpotAdapter
    from bot.adapters.quickbooks import QuickBooksAdapter
    from bot.store import Store

    env = sb.bot_environment()
    hubspot = HubSpotAdapter(env["HUBSPOT_ACCESS_TOKEN"], host=env["QBSYNC_HUBSPOT_API_BASE"])
    qbo = QuickBooksAdapter(env["QBO_CLIENT_ID"], env["QBO_CLIENT_SECRET"], env["QBO_REALM_ID"],
                            env["QBO_REFRESH_TOKEN"], env["QBO_ENVIRONMENT"], Store(workdir / "demo.db"),
                            api_base=env["QBSYNC_QBO_API_BASE"])
    ids = [rec["id"] for rec in hubspot.search_invoices(modified_since=None)]
    invoices = hubspot.read_invoices(ids)
    findings = _diagnose(sb, hubspot, qbo, invoices)
    in_qbo = {doc.get("DocNumber"): (entity, doc) for entity, doc in
              qbo.documents_by_doc_number([i.number for i in invoices if i.number])}
    rows = []
    for inv in sorted(invoices, key=lambda i: i.number or ""):
        match = in_qbo.get(inv.number)
        rows.append({
            "number": inv.number, "status": inv.status, "native": inv.is_native,
            "contact": inv.contact.email if inv.contact else None,
            "company": inv.company.name if inv.company else None,
            "amount": str(inv.amount_billed), "currency": inv.currency,
            "qbo_document": f"{match[0]} {match[1]['Id']}" if match else None,
            "causes": [{"rule": f.rule, "title": registry.get(f.rule).explain(f, "en").title}
                       for f in findings.get(inv.id, [])],
        })
    return rows


def _diagnose(sb: Sandbox, hubspot, qbo, invoices) -> dict:
    """qbsync's own diagnosis (rules/), from the data alone."""
    from datetime import datetime, timezone

    from rules.diagnose import diagnose
    from rules.view import LiveContactDirectory, LiveQboView

    now = datetime.fromtimestamp(sb.clock.time(), tz=timezone.utc)
    return diagnose(invoices, LiveQboView(qbo), now=now, grace=10, directory=LiveContactDirectory(hubspot))


def _print_rows(rows: list[dict]) -> None:
    _out("Read through qbsync's adapters (hubspot-api-client and python-quickbooks over HTTP):")
    _out(f"  {'invoice':<10} {'status':<7} {'source':<7} {'contact':<30} {'amount':>10}  QBO document with that number")
    for r in rows:
        amount = f"{Decimal(r['amount']):,.2f}"
        _out(f"  {r['number']:<10} {r['status']:<7} {'HubSpot' if r['native'] else 'QBO':<7} "
             f"{_cut(r['contact'] or '(none)', 30):<30} {amount:>10}  {r['qbo_document'] or '-'}")
    _out()
    failing = [r for r in rows if r["causes"]]
    _out(f"qbsync's diagnosis from the data ({len(failing)} invoices failing):")
    for r in failing:
        for cause in r["causes"]:
            _out(f"  {r['number']:<10} {cause['rule']:<34} {_cut(cause['title'], 70)}")
    _out("  (`qbsync explain --invoice NUMBER` explains one in full, with its fixes)")
    _out()


def demo_main(args) -> int:
    scenario = getattr(args, "scenario", None) or DEFAULT_SCENARIO
    with Sandbox() as sb, tempfile.TemporaryDirectory(prefix="qbsync-demo-") as tmp:
        data = sb.load(scenario)
        holdings = _holdings(sb)
        _print_holdings(sb, data, holdings)
        rows = _read_through_adapters(sb, Path(tmp))
        _print_rows(rows)
        calls = sb.log.snapshot()
        total = {svc: sum(v.values()) for svc, v in calls.items()}
        _out("API calls the adapters made: " + ", ".join(f"{svc} {n}" for svc, n in sorted(total.items())))
        _out()
        _out("Not built yet: Slack alerts, buttons and fixes from Slack (issue #4) and the scheduled")
        _out("poller (issue #5). Until then the demo stops here.")
        if getattr(args, "auto_fix", False):
            _out("--auto-fix: there are no fixes to apply yet (issue #4).")
        report_path = getattr(args, "report", None)
        if report_path:
            report = {
                "scenario": data["name"],
                "sandbox": holdings,
                "invoices": rows,
                "alerts": [],  # issue #4
                "api_calls": calls,
                "not_built": ["slack alerts and fixes (#4)", "poller (#5)"],
            }
            Path(report_path).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
            _out(f"Report written to {report_path}")
    return 0


def sandbox_main(args) -> int:
    scenario = getattr(args, "scenario", None) or DEFAULT_SCENARIO
    sb = Sandbox().start(hubspot_port=getattr(args, "hubspot_port", 0) or 0,
                         qbo_port=getattr(args, "qbo_port", 0) or 0)
    try:
        data = sb.load(scenario)
        _print_holdings(sb, data, _holdings(sb))
        env = sb.bot_environment()
        if getattr(args, "print_env", False):
            _out("# Settings that point qbsync at this sandbox (tokens only open the local stand-ins):")
            for key, value in env.items():
                _out(f"export {key}={shlex.quote(value)}")
            _out()
        sb.integration.start(interval_s=5.0)
        _out("Serving on 127.0.0.1; the integration pushes new and due invoices every few seconds. Ctrl-C stops.")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        sb.stop()
    _out("Sandbox stopped.")
    return 0


if __name__ == "__main__":  # pragma: no cover - convenience
    from bot.cli import main

    sys.exit(main(["sandbox", *sys.argv[1:]]))
