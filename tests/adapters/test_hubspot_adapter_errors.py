"""HubSpotAdapter against the stand-in when things go wrong: 401, 403, 429 (waited out),
5xx / dropped connections / timeouts (retried with backoff), and the one write it does."""
from __future__ import annotations

import logging

import pytest

from bot.adapters.hubspot import HubSpotAdapter
from bot.errors import AuthError, ConfigError, RateLimited, Transient, ValidationFailed
from tests.adapters.conftest_hubspot import (  # noqa: F401
    SCENARIO, TOKEN, make_adapter, make_world, world,
)


def test_bad_token_is_auth_error_and_never_shown(world, make_adapter, caplog):
    secret = "pat-na1-0000-bad-token-that-must-not-leak"
    adapter, sleep = make_adapter(world, secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as exc:
        adapter.read_invoices(["3001"])
    assert exc.value.status == 401 and exc.value.code == "INVALID_AUTHENTICATION"
    assert "Authentication credentials not found" in str(exc.value)
    with pytest.raises(AuthError):
        adapter.check()
    assert sleep.calls == []                                 # not retried
    assert secret not in repr(adapter)
    for text in [str(exc.value), exc.value.raw, *(r.getMessage() for r in caplog.records)]:
        assert secret not in text
    with pytest.raises(ConfigError):
        HubSpotAdapter("", world.url)


def test_missing_scope_is_auth_error_naming_it(make_world, make_adapter):
    w = make_world({TOKEN: ["crm.objects.invoices.read", "crm.objects.companies.read",
                            "crm.objects.line_items.read"]})
    w.portal.load(SCENARIO)
    adapter, _ = make_adapter(w)
    with pytest.raises(AuthError) as exc:
        adapter.read_invoices(["3001"])
    assert exc.value.status == 403 and exc.value.code == "MISSING_SCOPES"
    assert "crm.objects.contacts.read" in str(exc.value)
    assert exc.value.detail == "crm.objects.contacts.read"
    no_invoices = make_world({TOKEN: ["crm.objects.contacts.read"]})
    adapter, _ = make_adapter(no_invoices)
    with pytest.raises(AuthError) as exc:
        adapter.check()
    assert "crm.objects.invoices.read" in str(exc.value)


def test_429_is_waited_out_and_retried(make_world, make_adapter):
    w = make_world(limit_per_10s=4)
    w.portal.load(SCENARIO)
    adapter, sleep = make_adapter(w)
    invoices = adapter.read_invoices(["3001", "3002"])      # 7 requests against a limit of 4
    assert [i.id for i in invoices] == ["3001", "3002"]
    assert w.log.count_status("hubspot", 429) == 1
    assert sleep.calls == [10.0]                            # TEN_SECONDLY_ROLLING window, no Retry-After


def test_search_limit_waits_one_second(make_world, make_adapter):
    w = make_world(searches_per_second=2)
    w.populate(650, links=False)
    adapter, sleep = make_adapter(w)
    assert len(list(adapter.search_invoices(modified_since=None))) == 650
    assert w.log.count_status("hubspot", 429) >= 1
    assert set(sleep.calls) == {1.0}


def test_retry_after_header_is_honoured_and_attempts_are_capped(world, make_adapter):
    adapter, sleep = make_adapter(world, max_attempts=3)
    body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "correlationId": "0c6f1c1e-1111-4b4b-9c9c-000000000000",
            "policyName": "TEN_SECONDLY_ROLLING", "category": "RATE_LIMITS"}
    world.service.inject_fault(429, body=body, headers={"Retry-After": "3"})
    assert adapter.get_invoice("3001").id == "3001"
    assert sleep.calls == [3.0]
    world.service.inject_fault(429, times=3, body=body)
    with pytest.raises(RateLimited) as exc:
        adapter.get_invoice("3001")
    assert exc.value.retry_after == 10.0 and exc.value.status == 429
    assert sleep.calls == [3.0, 10.0, 10.0]


def test_5xx_and_dropped_connections_are_retried_with_backoff(world, make_adapter):
    adapter, sleep = make_adapter(world, max_attempts=4)
    world.service.inject_fault(503, times=2, match="/search")
    world.service.inject_fault(-1, times=1, match="/batch/read")
    inv = adapter.find_invoice_by_number("INV-1001")        # search (POST) and batch reads (POST)
    assert inv.id == "3001"
    assert len(sleep.calls) == 3
    assert 0.25 <= sleep.calls[0] <= 0.5 and 0.5 <= sleep.calls[1] <= 1.0   # exponential, jittered
    world.service.inject_fault(502, times=4)
    with pytest.raises(Transient) as exc:
        adapter.get_invoice("3001")
    assert exc.value.status == 502


def test_timeouts_are_transient_and_retried(world, make_adapter):
    adapter, sleep = make_adapter(world, timeout=0.3, max_attempts=2)
    world.service.inject_fault(0, delay_s=1.0, match="{objectType}/{objectId}")   # slow once, then normal
    assert adapter.get_invoice("3001").id == "3001"
    assert len(sleep.calls) == 1
    world.service.inject_fault(0, times=2, delay_s=1.0, match="{objectType}/{objectId}")
    with pytest.raises(Transient) as exc:
        adapter.get_invoice("3001")
    assert "Timeout" in str(exc.value)


def test_connection_refused_is_transient():
    waits: list[float] = []
    adapter = HubSpotAdapter(TOKEN, "http://127.0.0.1:9", sleep=waits.append, max_attempts=2, timeout=2)
    with pytest.raises(Transient) as exc:
        list(adapter.list_invoice_ids())
    assert len(waits) == 1 and TOKEN not in str(exc.value)


def test_set_invoice_contact_replaces_the_association(world, make_adapter):
    adapter, _ = make_adapter(world)
    world.portal.associate("invoices", "3001", "contacts", "1004")   # two contacts now
    adapter.set_invoice_contact("3001", "1002")
    assert world.portal.associated("invoices", "3001", "contacts") == ["1002"]
    assert world.portal.associated("contacts", "1001", "invoices") == []
    assert world.portal.associated("contacts", "1002", "invoices") == ["3001"]
    assert adapter.get_invoice("3001").contact.email == "bob@acme.example"
    # already the only contact: nothing is written
    world.log.reset()
    adapter.set_invoice_contact("3001", "1002")
    assert world.log.snapshot()["hubspot"] == {"GET /crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}": 1}
    # keeping one of several: only the others are removed
    world.portal.associate("invoices", "3001", "contacts", "1001")
    adapter.set_invoice_contact("3001", "1001")
    assert world.portal.associated("invoices", "3001", "contacts") == ["1001"]
    # an invoice without a contact gets one
    adapter.set_invoice_contact("3004", "1003")
    assert world.portal.associated("invoices", "3004", "contacts") == ["1003"]


def test_set_invoice_contact_to_unknown_contact_changes_nothing(world, make_adapter):
    adapter, _ = make_adapter(world)
    with pytest.raises(ValidationFailed) as exc:
        adapter.set_invoice_contact("3001", "999")
    assert exc.value.status == 400
    assert world.portal.associated("invoices", "3001", "contacts") == ["1001"]
