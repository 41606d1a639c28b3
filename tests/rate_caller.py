"""One of the processes of tests/test_shared_rate_limits.py: `python -m tests.rate_caller DIR
NAME SERVICE CALLS`. Builds the adapters as `qbsync worker` does (bot/wiring.py, settings from
the environment, the store on PostgreSQL), then runs two rounds of CALLS API calls, each round
on a signal from the test (files in DIR, so all processes start a round together):

SERVICE "qbo": company_info() per call, LIMITS the adapter's pace limits (JSON); "hubspot":
list_invoice_ids() per call, LIMITS the requests per 10 s.

- round "shared": the adapter as wiring builds it, paced through PostgreSQL;
- round "local": the same service through an adapter with process-local pacers only (the
  control: what N processes did before shared pacing).

A 429 is not retried (max_attempts=1) but counted, so the test sees every refused call.
Writes DIR/NAME.<round>.json: {"ok": n, "rate_limited": n, "other": n}.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from bot import wiring
from bot.config import load_settings
from bot.errors import RateLimited
from bot.store import Store


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no {path.name} within {timeout} s")
        time.sleep(0.005)


def adapters(settings, store, service: str):
    """(shared-paced adapter, locally paced adapter) for `service`."""
    if service == "qbo":
        fast = {"max_attempts": 1, "pace_limits": json.loads(sys.argv[5])}
        return (wiring.qbo_adapter(settings, store, **fast),
                wiring.qbo_adapter(settings, store, pacers=None, **fast))
    fast = {"max_attempts": 1, "requests_per_10s": int(sys.argv[5])}
    return wiring.hubspot_adapter(settings, **fast), wiring.hubspot_adapter(settings, pacers=None, **fast)


def call(adapter, service: str) -> None:
    if service == "qbo":
        adapter.company_info()
    else:
        list(adapter.list_invoice_ids())  # one request: the world has fewer than a page of invoices


def main() -> None:
    folder, name, service, calls = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    settings = load_settings(env_file=None)
    store = Store(settings.store_target)
    shared, local = adapters(settings, store, service)
    (folder / f"{name}.ready").write_text("")
    for round_name, adapter in (("shared", shared), ("local", local)):
        wait_for(folder / f"go.{round_name}")
        counts = {"ok": 0, "rate_limited": 0, "other": 0}
        for _ in range(calls):
            try:
                call(adapter, service)
                counts["ok"] += 1
            except RateLimited:
                counts["rate_limited"] += 1
            except Exception as exc:  # reported to the test, which fails on any
                counts["other"] += 1
                print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        # Written whole, then renamed: the test polls for the file and must never read half of it.
        partial = folder / f"{name}.{round_name}.partial"
        partial.write_text(json.dumps(counts))
        os.replace(partial, folder / f"{name}.{round_name}.json")
    store.close()


if __name__ == "__main__":
    main()
