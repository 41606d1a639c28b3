"""The API-call lower bound the benchmark compares qbsync's calls with."""
from __future__ import annotations

from math import ceil

# The APIs' maximum page and batch sizes (bot/adapters/hubspot.py, bot/mirror.py).
HS_SEARCH_PAGE = 200        # CRM search: at most 200 results a page
HS_BATCH_READ = 100         # v3 batch read: at most 100 ids
HS_ASSOC_BATCH = 1000       # v4 association batch read: at most 1,000 ids
QBO_QUERY_PAGE = 1000       # QBO query: MAXRESULTS at most 1,000
QBO_ENTITIES = ("Invoice", "CreditMemo", "Customer", "Vendor", "Employee", "Item")


def lower_bound(inputs: dict, *, qbo: str) -> dict:
    """Fewest HubSpot and QBO calls that can carry the data, at the maximum page/batch sizes.

    `inputs` (bench.world's bound_inputs): C = open/paid invoices to read, and the DISTINCT
    contacts (K), companies (M) and line items (L) associated with them; `inputs["qbo"]`: the
    number of QBO records Q_e per mirrored entity. `qbo`: "full" (first run: load the mirror)
    or "cdc" (a later cycle: one Change Data Capture call).

        HubSpot = ceil(C/200)                      search pages (all changed/open invoices)
                + ceil(C/100)                      invoice batch reads
                + 3 * ceil(C/1000)                 association batch reads (contacts, companies,
                                                   line items), when C > 0
                + ceil(K/100) + ceil(M/100) + ceil(L/100)   batch reads of the associated records
                  (HubSpot = 1 when C = 0: one search page to learn nothing changed)
        QBO     = sum_e max(1, ceil(Q_e/1000)) + 1 (Preferences)    for "full"
                = 1                                                  for "cdc"

    The contacts the rules look up by email (a few per failing invoice, E emails in all) add
    ceil(E/100) batch reads; bench/__main__.py adds them (E is known only after the scan).
    Counted as overhead, not bound: the QBO COUNT queries (progress only), OAuth token
    refreshes and discovery-document reads. The bound uses DISTINCT
    associated records over the whole set; bot/poller.py's docstring counts about one of each
    per invoice (`per_invoice` below), which is what the bot needs when it hydrates in chunks
    and a contact recurs across chunks.
    """
    c = int(inputs["invoices"])
    if c == 0:
        hubspot = 1
        per_invoice = 1
    else:
        assoc = 3 * ceil(c / HS_ASSOC_BATCH)
        head = ceil(c / HS_SEARCH_PAGE) + ceil(c / HS_BATCH_READ) + assoc
        hubspot = head + sum(ceil(int(inputs[k]) / HS_BATCH_READ) for k in ("contacts", "companies", "line_items"))
        links = int(inputs.get("line_item_links") or inputs["line_items"])
        per_invoice = head + 2 * ceil(c / HS_BATCH_READ) + ceil(links / HS_BATCH_READ)
    if qbo == "full":
        q = inputs["qbo"]
        qbo_calls = sum(max(1, ceil(int(q.get(e, 0)) / QBO_QUERY_PAGE)) for e in QBO_ENTITIES) + 1
    else:
        qbo_calls = 1
    return {"hubspot": hubspot, "qbo": qbo_calls, "total": hubspot + qbo_calls,
            "hubspot_per_invoice": per_invoice, "total_per_invoice": per_invoice + qbo_calls}


# Endpoints counted as overhead (not data pages) in the request log.
def is_overhead(service: str, endpoint: str) -> str | None:
    """The kind of overhead a logged endpoint is, or None for a data call."""
    e = endpoint.lower()
    if service == "qbo" and ("oauth" in e or "openid" in e or "well-known" in e or "token" in e):
        return "auth"
    return None
