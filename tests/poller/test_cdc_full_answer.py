"""A full CDC answer (1,000 objects) loses nothing: QBO groups a CDC answer by entity, puts
deleted objects after active ones and cuts at 1,000, so such an answer drops deletions and
later entities' changes. The sandbox cuts the same way; the mirror, through the real QBO
adapter over HTTP, still ends up with every change and every deletion."""
from __future__ import annotations

from datetime import datetime, timezone

from bot.mirror import DOC_ENTITIES, LIST_ENTITIES, MirrorQboView
from sandbox.qbo import CDC_MAX_OBJECTS

from .conftest import build

CDC = "GET /v3/company/{realmId}/cdc"
QUERY = "POST /v3/company/{realmId}/query"


def _invoice(customer_id: str, n: int) -> dict:
    return {"CustomerRef": {"value": customer_id}, "DocNumber": f"BULK-{n:05d}",
            "Line": [{"Amount": 10.0 + n, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}


def _loaded(sb, tmp_path, extra_invoices: int):
    """The mixed world plus `extra_invoices` QBO invoices, fully mirrored."""
    sb.load("mixed")
    customer = next(iter(sb.qbo.entities["Customer"]))
    extra = [sb.qbo.create("Invoice", _invoice(customer, n))["Id"] for n in range(extra_invoices)]
    parts = build(sb, tmp_path / "cdc.db")
    mirror = parts.scanner.poller.mirror
    assert mirror.sync().full_load
    sb.clock.advance(5)
    return parts, mirror, customer, extra


def _mirrored_ids(store, entity: str) -> set[str]:
    return {r["id"] for r in store.query_rows("SELECT id FROM qbo_docs WHERE entity = ?", (entity,))}


def test_sandbox_cuts_a_full_answer_as_qbo_does(sandbox, tmp_path):
    sb = sandbox
    parts, mirror, customer, extra = _loaded(sb, tmp_path, 20)
    since = datetime.fromtimestamp(sb.clock.time(), tz=timezone.utc)
    sb.clock.advance(1)
    for doc_id in extra[:20]:
        doc = sb.qbo.entities["Invoice"][doc_id]
        sb.qbo.delete("Invoice", {"Id": doc_id, "SyncToken": doc["SyncToken"]})  # the oldest changes
    sb.clock.advance(1)
    for n in range(CDC_MAX_OBJECTS + 10):
        sb.qbo.create("Invoice", _invoice(customer, 1000 + n))
    sb.qbo.update("Customer", {"Id": customer, "SyncToken": sb.qbo.entities["Customer"][customer]["SyncToken"],
                               "sparse": True, "Notes": "changed"})
    answer = mirror.qbo.cdc(["Invoice", "CreditMemo", "Customer"], since)
    assert len(answer["Invoice"]) == CDC_MAX_OBJECTS
    # Active ones first, oldest change first; the 20 deletions (made before them) are cut off,
    # and so is the Customer change that came after the Invoice group.
    assert not [r for r in answer["Invoice"] if r.get("status") == "Deleted"]
    assert answer["Invoice"][0]["DocNumber"] == "BULK-01000"
    assert answer["Customer"] == [] and answer["CreditMemo"] == []
    alone = mirror.qbo.cdc(["Customer"], since)
    assert [c["Id"] for c in alone["Customer"]] == [customer]


def test_full_answer_with_over_1000_changes_and_deletions_of_one_entity_loses_none(sandbox, tmp_path):
    sb = sandbox
    parts, mirror, customer, extra = _loaded(sb, tmp_path, 60)
    store = parts.store
    assert set(extra) <= _mirrored_ids(store, "Invoice")
    for doc_id in extra[:60:2]:  # 30 deletions of one entity type, spread over the ids
        sb.qbo.delete("Invoice", {"Id": doc_id, "SyncToken": sb.qbo.entities["Invoice"][doc_id]["SyncToken"]})
    for doc_id in extra[1:60:2]:  # and 30 updates
        doc = sb.qbo.entities["Invoice"][doc_id]
        sb.qbo.update("Invoice", {"Id": doc_id, "SyncToken": doc["SyncToken"], "sparse": True,
                                  "DocNumber": f"RENUMBERED-{doc_id}"})
    created = [sb.qbo.create("Invoice", _invoice(customer, 2000 + n))["Id"] for n in range(1100)]
    memo = next(iter(sb.qbo.entities["CreditMemo"].values()))
    sb.qbo.update("CreditMemo", {"Id": memo["Id"], "SyncToken": memo["SyncToken"], "sparse": True,
                                 "DocNumber": "CM-CHANGED"})
    sb.qbo.update("Customer", {"Id": customer, "SyncToken": sb.qbo.entities["Customer"][customer]["SyncToken"],
                               "sparse": True, "DisplayName": "Renamed After Bulk"})
    sb.clock.advance(1)
    sb.log.reset()

    changes = mirror.sync()

    assert sb.log.count("qbo", CDC) == 1 + len(DOC_ENTITIES) + len(LIST_ENTITIES)  # the full answer, then each entity alone
    assert not changes.full_load and changes.objects >= 1100 + 30 + 30 + 2
    mirrored = _mirrored_ids(store, "Invoice")
    assert set(created) <= mirrored
    assert not mirrored & set(extra[:60:2])  # every deletion arrived
    assert mirrored == set(sb.qbo.entities["Invoice"])  # and nothing else is off
    view = MirrorQboView(store)
    assert view.document("Invoice", extra[1])["DocNumber"] == f"RENUMBERED-{extra[1]}"
    assert view.document("CreditMemo", memo["Id"])["DocNumber"] == "CM-CHANGED"
    assert view.names_in_use(["Renamed After Bulk"])["renamed after bulk"][0][1]["Id"] == customer

    # The next cycle re-reads the overlap (a full answer again): re-applying changes nothing.
    sb.clock.advance(5)
    mirror.sync()
    assert _mirrored_ids(store, "Invoice") == set(sb.qbo.entities["Invoice"])


def test_full_answer_whose_entities_fit_alone_needs_no_queries(sandbox, tmp_path):
    sb = sandbox
    parts, mirror, customer, extra = _loaded(sb, tmp_path, 40)
    for doc_id in extra:  # 40 deletions that the combined answer cuts off
        sb.qbo.delete("Invoice", {"Id": doc_id, "SyncToken": sb.qbo.entities["Invoice"][doc_id]["SyncToken"]})
    for n in range(700):
        sb.qbo.create("Invoice", _invoice(customer, 5000 + n))
    for n in range(400):
        sb.qbo.create("Customer", {"DisplayName": f"Bulk Customer {n}"})
    sb.clock.advance(1)
    sb.log.reset()
    mirror.sync()
    assert sb.log.count("qbo", QUERY) == 0  # each entity's own CDC answer was complete
    assert _mirrored_ids(parts.store, "Invoice") == set(sb.qbo.entities["Invoice"])
    names = {r["id"] for r in parts.store.query_rows("SELECT id FROM qbo_names WHERE entity = 'Customer'")}
    assert names == set(sb.qbo.entities["Customer"])


def test_a_mirror_from_before_items_were_mirrored_reads_them_once(tmp_path):
    # Issue 11: Items joined the mirror; a store loaded earlier has none, and CDC would only
    # bring the ones that change. The next sync reads them once.
    from bot.mirror import ITEMS_LOADED, QboMirror
    from sandbox.app import Sandbox
    from tests.poller.conftest import build

    with Sandbox() as sb:
        sb.load("invalid-reference")
        parts = build(sb, tmp_path / "old.db")
        parts.scanner.scan()
        store = parts.store
        store.conn.execute("DELETE FROM qbo_names WHERE entity = 'Item'")
        store.set_cursor(ITEMS_LOADED, "")
        assert MirrorQboView(store).items_by_name(["Training"], include_inactive=True) == {}
        QboMirror(store, parts.qbo).sync()
        assert MirrorQboView(store).items_by_name(["Training"], include_inactive=True)["training"]["Active"] is False
        sb.log.reset()
        QboMirror(store, parts.qbo).sync()
        assert sb.log.count("qbo") == 1  # once only: then CDC alone
