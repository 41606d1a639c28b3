"""`qbsync sandbox` and `qbsync demo`: the sandbox from the command line.

bot/cli.py parses the arguments and imports this module only for these two commands.

The demo itself lives in sandbox/demo.py.
"""
from __future__ import annotations

import shlex
import signal
import sys
import threading

from .app import Sandbox
from .hubspot import pushed_by_integration

DEFAULT_SCENARIO = "mixed"


def _out(text: str = "") -> None:
    print(text, flush=True)


def _cut(text: str, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _revenue_recognition(sb: Sandbox, prefs: dict) -> str:
    """on / off as Preferences report it, or that they do not report it."""
    reported = prefs["ProductAndServicesPrefs"].get("RevenueRecognitionEnabled")
    if reported is None:
        return f"not reported by Preferences (QBO {'demands' if sb.qbo.service_dates_required() else 'skips'} " \
               "service dates)"
    return "on" if reported else "off"


def _holdings(sb: Sandbox) -> dict:
    """What each stand-in holds, as plain counts (for the screen and the report)."""
    with sb.portal.lock, sb.qbo.lock:
        invoices = sb.portal.objects("invoices").values()
        syncable = sum(
            1 for r in invoices
            if pushed_by_integration(r["properties"])
            and r["properties"].get("hs_invoice_status") in ("open", "paid")
        )
        prefs = sb.qbo.preferences()
        return {
            "hubspot": {t: len(sb.portal.objects(t)) for t in ("companies", "contacts", "invoices", "line_items")}
            | {"native_open_or_paid": syncable, "language": sb.portal.language},
            "qbo": {e: len(sb.qbo.entities.get(e, {})) for e in ("Customer", "Vendor", "Employee", "Item",
                                                                   "Invoice", "CreditMemo")}
            | {"CustomTxnNumbers": bool(prefs["SalesFormsPrefs"].get("CustomTxnNumbers")),
               "RevenueRecognition": _revenue_recognition(sb, prefs)},
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
         f"Revenue Recognition: {q['RevenueRecognition']}")
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


def demo_main(args) -> int:
    from .demo import run

    return run(args, DEFAULT_SCENARIO)


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
