"""HubSpotAdapter reads through hubspot-api-client against the HubSpot stand-in over HTTP:
paging, the 10,000-result search cap, hydration and its request count, text round-trips."""
from __future__ import annotations

import math
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bot.errors import NotFound
from bot.models import Invoice
from tests.adapters.conftest_hubspot import make_adapter, make_world, world  # noqa: F401

SEARCH = "POST /crm/v3/objects/{objectType}/search"
LIST = "GET /crm/v3/objects/{objectType}"
BATCH = "POST /crm/v3/objects/{objectType}/batch/read"
ASSOC = "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read"


def test_search_pages_past_200(make_world, make_adapter):
    w = make_world()
    ids = w.populate(650, links=False, statuses=("open", "paid", "draft", "voided", "open"))
    adapter, _ = make_adapter(w)
    found = list(adapter.search_invoices(modified_since=None))
    expected = [i for n, i in enumerate(ids) if ("open", "paid", "draft", "voided", "open")[n % 5] in ("open", "paid")]
    assert [r["id"] for r in found] == expected          # ascending hs_lastmodifieddate = creation order here
    assert len(found) == 390
    assert w.log.count("hubspot", SEARCH) == math.ceil(390 / 200)
    assert found[0]["properties"]["hs_invoice_source"] == "HUBSPOT"
    every = list(adapter.search_invoices(modified_since=None, statuses=None))
    assert len(every) == 650 and w.log.count("hubspot", SEARCH) == 2 + math.ceil(650 / 200)


def test_search_window_bounds(make_world, make_adapter):
    w = make_world()
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    ids = w.populate(50, links=False, base=base, step_ms=1000)
    adapter, _ = make_adapter(w)
    got = [r["id"] for r in adapter.search_invoices(modified_since=base + timedelta(seconds=10),
                                                    modified_until=base + timedelta(seconds=19))]
    assert got == ids[10:20]                              # both ends inclusive


def test_list_invoice_ids_pages_past_100(make_world, make_adapter):
    w = make_world()
    ids = w.populate(250, links=False)
    adapter, _ = make_adapter(w)
    assert list(adapter.list_invoice_ids()) == ids
    assert w.log.count("hubspot", LIST) == 3


def test_search_cap_of_10000_is_passed_by_moving_the_window(make_world, make_adapter):
    w = make_world()
    # 10,450 invoices, three per millisecond, so restarts land inside groups sharing a timestamp
    ids = w.populate(10_450, links=False, per_timestamp=3)
    adapter, _ = make_adapter(w)
    started = time.monotonic()
    found = [r["id"] for r in adapter.search_invoices(modified_since=None)]
    elapsed = time.monotonic() - started
    assert len(found) == len(set(found)) == 10_450
    assert set(found) == set(ids)
    assert w.log.count_status("hubspot", 400) == 0        # never asked past result 10,000
    searches = w.log.count("hubspot", SEARCH)
    assert 53 <= searches <= 55                           # 50 pages, then one restarted query
    assert elapsed < 20, elapsed


def test_read_invoices_hydrates_with_batch_formula(make_world, make_adapter):
    w = make_world()
    ids = w.populate(250)
    adapter, _ = make_adapter(w)
    w.log.reset()
    invoices = adapter.read_invoices(list(reversed(ids)) + ["999999"])
    n = 250
    assert w.log.count("hubspot") == math.ceil(n / 100) * 4 + math.ceil(n / 1000) * 3 == 15
    assert w.log.count("hubspot", BATCH) == 12 and w.log.count("hubspot", ASSOC) == 3
    assert [i.id for i in invoices] == list(reversed(ids))   # input order; unknown id left out
    inv = invoices[-1]
    assert isinstance(inv, Invoice) and inv.id == ids[0]
    assert inv.contact.email == "c0@example.com" and inv.contact.company_id == inv.company.id
    assert inv.company.name == "Company 0"
    assert [li.name for li in inv.line_items] == ["Item 0"]
    assert inv.line_items[0].amount == Decimal("10")


def test_read_invoices_from_scenario(world, make_adapter):
    adapter, _ = make_adapter(world)
    by_id = {i.id: i for i in adapter.read_invoices(["3001", "3002", "3003", "3004"])}
    a = by_id["3001"]
    assert (a.number, a.status, a.currency) == ("INV-1001", "open", "USD")
    assert a.amount_billed == Decimal("349.95") == a.balance_due
    assert (a.invoice_date, a.due_date) == (date(2026, 11, 1), date(2026, 12, 1))
    assert a.is_native and a.source == "hubspot"
    assert [li.id for li in a.line_items] == ["4001", "4002"]
    assert a.line_items[1].price == Decimal("49.95") and a.line_items[1].description == "Train Ámsterdam"
    assert a.line_items[0].sku == "CONS" and a.line_items[0].quantity == Decimal("2")
    assert abs(a.created_at - (world.clock.now() - timedelta(minutes=90))) < timedelta(seconds=5)
    b = by_id["3002"]
    assert not b.is_native and b.source == "data_sync" and b.balance_due == Decimal("0") and b.company.id == "2002"
    c = by_id["3003"]
    assert c.invoice_date is None and c.company is None and c.contact.company_id is None
    assert c.created_at == datetime(2026, 1, 15, 8, 30, tzinfo=timezone.utc)
    d = by_id["3004"]
    assert d.contacts == () and d.contact is None and d.line_items == ()


def test_text_with_quotes_backslashes_and_accents_round_trips(world, make_adapter):
    adapter, _ = make_adapter(world)
    inv = adapter.get_invoice("3002")
    assert inv.contact.firstname == "Zoë"
    assert inv.contact.lastname == "O'Brien \\ Søn"
    assert inv.contact.name == "Zoë O'Brien \\ Søn"
    assert inv.company.name == 'Café "Ñandú"'
    found = adapter.contacts_by_emails(["Zoe.O'Brien@nandu.example"])
    assert [c.id for c in found["zoe.o'brien@nandu.example"]] == ["1003"]
    weird = adapter.find_invoice_by_number('INV-"7" \\ Ñ')
    assert weird is not None and weird.id == "3004"
    # and back: a value written through the portal reads back unchanged
    world.portal.update("companies", "2002", {"name": "Ünïcode \"quoted\" \\ 'single' — ok"})
    assert adapter.get_invoice("3002").company.name == "Ünïcode \"quoted\" \\ 'single' — ok"


def test_find_invoice_by_number_and_get_invoice(world, make_adapter):
    adapter, _ = make_adapter(world)
    inv = adapter.find_invoice_by_number("INV-1001")
    assert inv.id == "3001" and inv.contact.id == "1001"
    assert adapter.find_invoice_by_number("inv-1001").id == "3001"      # HubSpot matches case-insensitively
    assert adapter.find_invoice_by_number("INV-404") is None
    assert adapter.get_invoice("3001") == inv
    with pytest.raises(NotFound) as exc:
        adapter.get_invoice("999")
    assert exc.value.status == 404


def test_contacts_by_emails_batch_reads_by_the_email_property(world, make_adapter):
    adapter, _ = make_adapter(world)
    world.log.reset()
    found = adapter.contacts_by_emails(["ANN@acme.example", "nobody@example.com", " ann@acme.example "])
    assert {e: [c.id for c in cs] for e, cs in found.items()} == {"ann@acme.example": ["1001"],
                                                                 "nobody@example.com": []}
    assert world.log.count("hubspot") == 1  # one batch read, no search
    many = [f"nobody{i}@example.com" for i in range(150)] + ["ann@acme.example"]
    world.log.reset()
    found = adapter.contacts_by_emails(many)
    assert world.log.count("hubspot") == 2 and [c.id for c in found["ann@acme.example"]] == ["1001"]
    assert sum(1 for cs in found.values() if cs) == 1


def test_check_reports_hub_and_scopes(make_world, make_adapter):
    """Legacy private-app tokens: HubSpot's token-info endpoint lists the scopes."""
    w = make_world({"pat-na1-full": None, "pat-na1-partial": ["crm.objects.invoices.read", "e-commerce"]})
    adapter, _ = make_adapter(w, "pat-na1-full")
    info = adapter.check()
    assert info["ok"] and info["hub_id"] == 24681357 and info["missing_scopes"] == []
    assert "crm.objects.invoices.write" in info["scopes"] and info["scope_source"] == "token-info"
    partial, _ = make_adapter(w, "pat-na1-partial")
    info = partial.check()
    assert info["missing_scopes"] == ["crm.objects.invoices.write", "crm.objects.contacts.read",
                                      "crm.objects.companies.read"]


SERVICE_KEY = "CiRzZXJ2aWNlLWtleS10ZXN0EgZuYTEtc2sYwMDe_Zb9Lw-Q2xHY7aBn"  # no pat- prefix


def test_check_probes_the_scopes_of_a_service_key(make_world, make_adapter):
    """A token the token-info endpoint does not know (service key): one read per object type,
    and the missing scopes are the ones HubSpot's 403 answers name."""
    w = make_world({SERVICE_KEY: None, SERVICE_KEY + "-limited": ["crm.objects.invoices.read", "e-commerce"]})
    adapter, _ = make_adapter(w, SERVICE_KEY)
    w.log.reset()
    info = adapter.check()
    assert info["scope_source"] == "probe" and info["scopes"] is None and info["hub_id"] is None
    assert info["missing_scopes"] == [] and info["unverified_scopes"] == ["crm.objects.invoices.write"]
    # token info (refused: not a private-app token), invoices, then contacts, companies, line items
    assert w.log.count("hubspot") == 5 and w.log.count_status("hubspot", 401) == 1

    limited, _ = make_adapter(w, SERVICE_KEY + "-limited")
    info = limited.check()
    # contacts and companies refused with 403 naming the scope; line items pass through e-commerce
    assert info["missing_scopes"] == ["crm.objects.contacts.read", "crm.objects.companies.read"]
