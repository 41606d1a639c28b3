"""Fixtures and builders for the HubSpot stand-in (imported explicitly by the HubSpot test
modules; tests/conftest.py belongs to the lead)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from sandbox.clock import Clock
from sandbox.hubspot import HubSpotPortal, HubSpotService
from sandbox.server import RequestLog, ServiceServer

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"

SCENARIO = {
    "portal_id": 24681357,
    "language": "nl",
    "tier": "starter",
    "companies": [
        {"id": "2001", "name": "Acme BV", "domain": "acme.example"},
        {"id": "2002", "name": "Café \"Ñandú\"", "domain": "nandu.example"},
    ],
    "contacts": [
        {"id": "1001", "email": "ann@acme.example", "firstname": "Ann", "lastname": "Smit", "company": "2001"},
        {"id": "1002", "email": "bob@acme.example", "firstname": "Bob", "lastname": "Smit", "company": "2001"},
        {"id": "1003", "email": "zoe.o'brien@nandu.example", "firstname": "Zoë",
         "lastname": "O'Brien \\ Søn", "company": "2002"},
        {"id": "1004", "email": "solo@example.com", "firstname": "Solo", "lastname": "Person"},
    ],
    "line_items": [
        {"id": "4001", "name": "Consulting", "quantity": 2, "price": 150.0, "sku": "CONS"},
        {"id": "4002", "name": "Travel", "quantity": 1, "price": 49.95, "description": "Train Ámsterdam"},
        {"id": "4003", "name": "Licence", "quantity": 3, "price": 10, "qbo_item_id": "77"},
        {"id": "4004", "name": "Support", "quantity": 1.5, "price": 80},
    ],
    "invoices": [
        {"id": "3001", "number": "INV-1001", "status": "open", "currency": "USD", "invoice_date": "2026-11-01",
         "due_date": "2026-12-01", "source": "native", "contact": "1001", "company": "2001",
         "line_items": ["4001", "4002"], "age_minutes": 90},
        {"id": "3002", "number": "INV-1002", "status": "paid", "currency": "EUR", "invoice_date": "2026-10-01",
         "due_date": "2026-10-31", "source": "quickbooks", "contact": ["1003"], "company": "2002",
         "line_items": ["4003"], "age_minutes": 30},
        {"id": "3003", "number": "INV-1003", "status": "draft", "currency": "USD", "source": "native",
         "contact": "1004", "line_items": ["4004"], "created_at": "2026-01-15T08:30:00Z"},
        {"id": "3004", "number": "INV-\"7\" \\ Ñ", "status": "voided", "currency": "USD", "source": "native",
         "contact": [], "line_items": []},
    ],
}


class ClockSleep:
    """A `sleep` for the adapter that moves the sandbox clock instead of waiting, and remembers
    how long it was asked to wait."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)


class HubSpotWorld:
    """A portal, its HTTP service on 127.0.0.1 and a request log."""

    def __init__(self, tokens: dict | None = None, **service_kw):
        self.clock = Clock()
        self.portal = HubSpotPortal(self.clock)
        self.log = RequestLog()
        self.service = HubSpotService(self.portal, tokens if tokens is not None else {TOKEN: None}, **service_kw)
        self.server = ServiceServer(self.service, self.log).start()
        self.url = self.server.url
        self.session = requests.Session()

    def stop(self) -> None:
        self.session.close()
        self.server.stop()

    def call(self, method: str, path: str, *, token: str | None = TOKEN, json=None, params=None,
             headers: dict | None = None) -> requests.Response:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.url + path, json=json, params=params, headers=hdrs, timeout=10)

    def populate(self, n: int, *, first_id: int = 300_000, links: bool = True, base: datetime | None = None,
                 step_ms: int = 1, per_timestamp: int = 1, statuses=("open",), source: str = "HUBSPOT") -> list[str]:
        """n invoices (ids first_id...), each with its own contact, company and line item when
        `links`. Invoice i was last modified at base + (i // per_timestamp) * step_ms, so
        `per_timestamp` invoices share each timestamp. Statuses cycle through `statuses`."""
        base = base or datetime(2026, 1, 1, tzinfo=timezone.utc)
        ids = []
        with self.portal.lock:
            for i in range(n):
                stamp = base + timedelta(milliseconds=(i // per_timestamp) * step_ms)
                iid = str(first_id + i)
                self.portal.create("invoices", {
                    "hs_number": f"BULK-{i}", "hs_invoice_status": statuses[i % len(statuses)],
                    "hs_currency": "USD", "hs_amount_billed": "10", "hs_balance_due": "10",
                    "hs_invoice_source": source,
                }, object_id=iid, created_at=stamp, modified_at=stamp)
                if links:
                    cid, coid, lid = str(first_id + 1_000_000 + i), str(first_id + 2_000_000 + i), \
                        str(first_id + 3_000_000 + i)
                    self.portal.create("companies", {"name": f"Company {i}"}, object_id=coid, created_at=stamp)
                    self.portal.create("contacts", {"email": f"c{i}@example.com", "firstname": f"F{i}",
                                                    "lastname": "L", "associatedcompanyid": coid,
                                                    "company": f"Company {i}"}, object_id=cid, created_at=stamp)
                    self.portal.create("line_items", {"name": f"Item {i}", "quantity": "1", "price": "10",
                                                      "amount": "10"}, object_id=lid, created_at=stamp)
                    self.portal.associate("contacts", cid, "companies", coid)
                    self.portal.associate("invoices", iid, "contacts", cid)
                    self.portal.associate("invoices", iid, "companies", coid)
                    self.portal.associate("invoices", iid, "line_items", lid)
                ids.append(iid)
        return ids


@pytest.fixture
def make_world():
    """Factory: make_world(tokens=..., **HubSpotService kwargs). High limits unless given."""
    worlds: list[HubSpotWorld] = []

    def make(tokens: dict | None = None, **kw) -> HubSpotWorld:
        kw.setdefault("limit_per_10s", 100_000)
        kw.setdefault("searches_per_second", 100_000)
        w = HubSpotWorld(tokens, **kw)
        worlds.append(w)
        return w

    yield make
    for w in worlds:
        w.stop()


@pytest.fixture
def world(make_world) -> HubSpotWorld:
    """A world loaded with SCENARIO and high limits."""
    w = make_world()
    w.portal.load(SCENARIO)
    return w
