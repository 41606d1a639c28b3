"""QBO fault 5010 has two meanings: a stale SyncToken, and "Account Period Closed" (a write
dated inside closed books; python-quickbooks#208). The adapter (python-quickbooks against the
sandbox over HTTP) raises BooksClosed for the second, never StaleObject; text
classification keeps them apart the same way."""
from __future__ import annotations

import json

import pytest

from bot.errors import BooksClosed, StaleObject, ValidationFailed
from rules.classify import classify
from rules.fixes import error_words
from tests.adapters.conftest_qbo import (adapter, discovery_url, fake_sleep, make_adapter,  # noqa: F401
                                         qbo_clock, qbo_company, qbo_log, qbo_server, qbo_service,
                                         sales_line, start_service, store_path)

CLOSED = "2026-01-31"


def _invoice(txn_date: str) -> dict:
    return {"CustomerRef": {"value": "58"}, "TxnDate": txn_date, "Line": [sales_line(100.0)]}


def test_writes_inside_closed_books_raise_books_closed_not_stale(adapter, qbo_company):
    qbo_company.set_preference("AccountingInfoPrefs.BookCloseDate", CLOSED)
    with pytest.raises(BooksClosed) as err:
        adapter.create("Invoice", _invoice("2026-01-15"), request_id="bc-1")
    exc = err.value
    assert not isinstance(exc, StaleObject) and isinstance(exc, ValidationFailed)
    assert (exc.code, exc.message) == ("5010", "Account Period Closed")
    assert "account period has closed" in exc.detail
    words = error_words(exc, "en")
    assert "Account Period Closed" in words and "at the same moment" not in words

    # After the closing date the same write goes through; a stale SyncToken is still stale.
    created = adapter.create("Invoice", _invoice("2026-02-02"), request_id="bc-2")
    with pytest.raises(StaleObject) as stale:
        adapter.update("Invoice", {"Id": created["Id"], "SyncToken": "7", "PrivateNote": "x"},
                       request_id="bc-3", sparse=True)
    assert stale.value.code == "5010" and not isinstance(stale.value, BooksClosed)

    # Moving an open invoice into the closed period, or deleting a closed one, is refused too.
    with pytest.raises(BooksClosed):
        adapter.update("Invoice", {"Id": created["Id"], "SyncToken": created["SyncToken"], "TxnDate": CLOSED},
                       request_id="bc-4", sparse=True)
    old = qbo_company.entities["Invoice"]["145"]
    old["TxnDate"] = "2025-12-01"
    with pytest.raises(BooksClosed):
        adapter.update("Invoice", {"Id": "145", "SyncToken": old["SyncToken"], "PrivateNote": "y"},
                       request_id="bc-5", sparse=True)
    assert qbo_company.entities["Invoice"]["145"].get("PrivateNote") is None


def test_classification_tells_closed_books_from_stale_objects(adapter, qbo_company):
    qbo_company.set_preference("AccountingInfoPrefs.BookCloseDate", CLOSED)
    with pytest.raises(BooksClosed) as closed:
        adapter.create("Invoice", _invoice("2026-01-10"), request_id="bc-6")
    inv = qbo_company.entities["Invoice"]["145"]
    with pytest.raises(StaleObject) as stale:
        adapter.update("Invoice", {"Id": "145", "SyncToken": "9", "PrivateNote": "z"}, request_id="bc-7", sparse=True)

    for raw, kind in ((closed.value.raw, "books-closed"), (stale.value.raw, "stale-object")):
        assert json.loads(raw)["Fault"]["Error"][0]["code"] == "5010"  # the body QBO sent
        c = classify(raw)
        assert (c.code, c.extracted["fault"]) == ("5010", kind)
    # python-quickbooks' own rendering of the fault (issue #208) and plain words.
    text = json.dumps({"error_code": "5010", "detail": "The account period has closed. {1}",
                       "message": "Account Period Closed"})
    assert classify(text).extracted["fault"] == "books-closed"
    assert classify("QB Exception 5010: Stale Object Error : You and Sandbox User were working on this at the "
                    "same time.").extracted["fault"] == "stale-object"
    assert inv["SyncToken"] == "0"
