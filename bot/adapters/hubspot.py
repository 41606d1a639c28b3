"""qbsync's door to HubSpot's CRM, over the official `hubspot-api-client` (12.x).

Everything HubSpot-specific stops here: callers get `bot.models` dataclasses (or, for the
search scan, plain dicts of id + properties) and `bot.errors` exceptions, never client types.

How the client is used, and why (read from the package source under
site-packages/hubspot, version 12.0.0):
- `HubSpot(access_token=..., host=..., retry=...)`: every generated API's Configuration gets
  `host` (so the sandbox can stand in for api.hubapi.com) and `retries` (handed to urllib3's
  PoolManager). Each `client.crm...` property builds a new ApiClient and connection pool, so
  the APIs are built once and kept.
- We pass `Retry(total=0)` and retry ourselves: urllib3's Retry does not retry POST, and search
  and batch reads are POSTs; when its retries run out a raw urllib3 `MaxRetryError` escapes
  instead of an ApiException. Our loop treats every attempt alike and maps every failure.
- Calls use `_preload_content=False`: we read the raw JSON ourselves (no model objects, and
  10,000-invoice scans stay fast), and request bodies are plain dicts (the client serializes
  dicts as they are).
- Each generated package has its own ApiException class; all of them are caught.

Pacing (issue #5): every HTTP request, retries included, first waits for two process-wide
pacers (bot/adapters/pacing.py, keyed by API host + a hash of the token, because HubSpot counts
per token): `requests_per_10s` (default 100, Free/Starter; 190 for Professional/Enterprise) on
a rolling window of 10 s plus a small margin for the time a request takes to arrive, and search
requests (paths ending in /search) at most `searches_per_second` (default 4; HubSpot allows 5).
The pacers sit in front of each generated client's urllib3 pool, so no request can bypass
them. A 429 that comes anyway is still waited out and retried (see `_request`).

Errors: 401 and 403 -> AuthError (a 403 names the missing scopes), 404 -> NotFound, 429 ->
RateLimited (waited out and retried here), other 4xx -> ValidationFailed, 5xx, timeouts and
connection failures -> Transient (retried with exponential backoff and jitter). The token never
appears in a message or a log line.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Iterator, Sequence
from urllib.parse import urlsplit

import urllib3
from hubspot import HubSpot
from urllib3.util.retry import Retry

from bot.errors import (
    ApiError, AuthError, ConfigError, NotFound, RateLimited, Transient, ValidationFailed,
)
from bot.invoice_source import DEFAULT_SYNC_SOURCES, SourceRule, SourceSplit, split as split_sources
from bot.models import Company, Contact, Invoice, LineItem

from .pacing import PacerFactory, Waits, shared_pacer

log = logging.getLogger(__name__)

SERVICE = "hubspot"
PAGE_LIST = 100           # GET /crm/v3/objects/{type}: at most 100 per page
PAGE_SEARCH = 200         # search: at most 200 per page
SEARCH_CAP = 10_000       # search: at most 10,000 results per query
BATCH_READ = 100          # v3 batch read: at most 100 inputs
ASSOC_BATCH_READ = 1000   # v4 association batch read: at most 1,000 inputs
REQUESTS_PER_10S = 100   # Free/Starter; Professional/Enterprise: 190
SEARCHES_PER_SECOND = 4   # HubSpot allows 5 searches per second per token; stay one under
# A request is counted when HubSpot receives it, a little after we send it: pacing over a
# slightly longer window keeps two requests sent exactly 10 s apart from landing inside one.
WINDOW_MARGIN_S = 0.25
MAX_RATE_WAIT = 60.0      # a 429 asking for a longer wait (daily limit) is raised, not waited out

# Policy windows when a 429 has no Retry-After (HubSpot sends none): the rolling 10-second
# window and the search endpoints' one-second limit.
POLICY_WINDOWS = {"TEN_SECONDLY_ROLLING": 10.0, "SECONDLY": 1.0}

REQUIRED_SCOPES = (
    "crm.objects.invoices.read", "crm.objects.invoices.write", "crm.objects.contacts.read",
    "crm.objects.companies.read", "crm.objects.line_items.read",
)

# How `check` proves the read scopes when HubSpot does not list the token's scopes: one cheap
# read (a page of one record) per object type. Invoices are read anyway.
SCOPE_PROBES = (("contacts", "crm.objects.contacts.read"), ("companies", "crm.objects.companies.read"),
                ("line_items", "crm.objects.line_items.read"))
# Scopes no read can prove; a Fix reports them if they are missing.
UNPROBED_SCOPES = ("crm.objects.invoices.write",)

CONTACT_PROPERTIES = ["email", "firstname", "lastname", "associatedcompanyid"]
COMPANY_PROPERTIES = ["name", "domain"]
LINE_ITEM_PROPERTIES = ["name", "quantity", "price", "amount", "hs_sku", "description"]


def pace_limits(requests_per_10s: int = REQUESTS_PER_10S, searches_per_second: int = SEARCHES_PER_SECOND):
    """(limits for every request, limits for searches) in bot.adapters.pacing.Pacer's form."""
    return [(requests_per_10s, 10.0 + WINDOW_MARGIN_S)], [(searches_per_second, 1.0 + WINDOW_MARGIN_S / 5)]


def _chunks(items: Sequence, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def _api_exception_types() -> tuple[type[Exception], ...]:
    """Every generated package defines its own ApiException; collect the ones we call."""
    from hubspot.crm.associations.v4 import exceptions as assoc_ex
    from hubspot.crm.commerce.invoices import exceptions as inv_ex
    from hubspot.crm.companies import exceptions as comp_ex
    from hubspot.crm.contacts import exceptions as cont_ex
    from hubspot.crm.line_items import exceptions as li_ex
    return tuple({m.ApiException for m in (assoc_ex, inv_ex, comp_ex, cont_ex, li_ex)})


class HubSpotAdapter:
    """Reads invoices (with contacts, company, line items) and fixes an invoice's contact."""

    def __init__(self, access_token: str | None, host: str | None = None, *, timeout: float = 30,
                 max_attempts: int = 5, sleep: Callable[[float], None] = time.sleep,
                 source_property: str = "hs_invoice_source", sync_sources: Iterable[str] = DEFAULT_SYNC_SOURCES,
                 rng: random.Random | None = None,
                 requests_per_10s: int = REQUESTS_PER_10S, searches_per_second: int = SEARCHES_PER_SECOND,
                 pacer: Waits | None = None, search_pacer: Waits | None = None,
                 pacers: PacerFactory | None = None):
        """pacer / search_pacer: explicit pacers (tests with a fake clock); by default the
        process-wide ones for this host and token, made by `pacers` (key, limits) -> pacer
        (bot/wiring.py gives the PostgreSQL-counted ones of bot/adapters/shared_pacing.py when
        the store is PostgreSQL, so every worker counts the same token's requests)."""
        if not access_token:
            raise ConfigError(["HubSpot access token is empty"])
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._token = access_token
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - backoff jitter, not a secret
        self.source_property = source_property
        self.source_rule = SourceRule(tuple(sync_sources))
        kwargs = {"access_token": access_token, "retry": Retry(total=0, redirect=0, raise_on_status=False)}
        if host:
            kwargs["host"] = host.rstrip("/")
        client = HubSpot(**kwargs)
        self._client = client
        crm = client.crm
        invoices = crm.commerce.invoices
        self._invoices_basic = invoices.basic_api
        self._invoices_batch = invoices.batch_api
        self._invoices_search = invoices.search_api
        self._contacts_search = crm.contacts.search_api
        self._batch = {
            "invoices": self._invoices_batch,
            "contacts": crm.contacts.batch_api,
            "companies": crm.companies.batch_api,
            "line_items": crm.line_items.batch_api,
        }
        self._assoc_batch = crm.associations.v4.batch_api
        self._assoc_basic = crm.associations.v4.basic_api
        self._api_errors = _api_exception_types()
        host_url = self._invoices_basic.api_client.configuration.host
        key = f"{host_url}:{hashlib.sha256(access_token.encode('utf-8')).hexdigest()[:16]}"
        general, searches = pace_limits(requests_per_10s, searches_per_second)
        make = pacers or shared_pacer
        self.pacer = pacer or make(f"hubspot:{key}", general)
        self.search_pacer = search_pacer or make(f"hubspot-search:{key}", searches)
        # Called after every HTTP request with its status (None: no answer); metrics hook it.
        self.on_response: Callable[[int | None], None] | None = None
        for api in [self._invoices_basic, self._invoices_batch, self._invoices_search, self._contacts_search,
                    *self._batch.values(), self._assoc_batch, self._assoc_basic]:
            self._pace(api)
        self._probe_apis: dict[str, Any] = {}  # built on first use (doctor only)

    def _pace(self, api):
        """Put the pacers in front of a generated API's connection pool (once per pool)."""
        rest = api.api_client.rest_client
        if not isinstance(rest.pool_manager, _PacedPool):
            rest.pool_manager = _PacedPool(rest.pool_manager, self)
        return api

    def _before_http(self, url: str) -> None:
        if urlsplit(url).path.rstrip("/").endswith("/search"):
            self.search_pacer.wait()
        self.pacer.wait()  # searches count toward the 10-second window too

    def _after_http(self, status: int | None) -> None:
        hook = self.on_response
        if hook is not None:
            try:
                hook(status)
            except Exception:  # a metrics problem must not fail a request
                log.exception("HubSpot response hook failed")

    def __repr__(self) -> str:  # never show the token
        return f"HubSpotAdapter(host={self._invoices_basic.api_client.configuration.host!r})"

    @property
    def invoice_properties(self) -> list[str]:
        return list(dict.fromkeys([
            "hs_number", "hs_invoice_status", "hs_currency", "hs_amount_billed", "hs_balance_due",
            "hs_invoice_date", "hs_due_date", "hs_createdate", "hs_lastmodifieddate", self.source_property,
        ]))

    # ---- public API ----------------------------------------------------------------------

    def check(self) -> dict:
        """Prove the token works and can read invoices; report the portal and the token's scopes.

        Returns {"ok": True, "hub_id", "app_id", "scopes", "missing_scopes", "scope_source",
        "unverified_scopes"}. Raises AuthError for a bad token or a missing invoices scope.

        Scopes, by kind of token:
        - HubSpot's private-app token-info endpoint (POST /oauth/v2/private-apps/get/access-token-info,
          not wrapped by hubspot-api-client) lists them; it is confirmed for legacy private-app
          tokens only (../shared/knowledge/apis.md). scope_source "token-info".
        - Any other token (service keys, project-based apps): one cheap read per object qbsync
          reads (SCOPE_PROBES); a 403 names the missing scopes in its body
          (errors[].context.requiredGranularScopes, see `_required_scopes`). scope_source
          "probe"; hub_id/app_id/scopes are None, and write scopes cannot be proven by a read
          (unverified_scopes)."""
        info: dict = {"ok": True, "hub_id": None, "app_id": None, "scopes": None, "missing_scopes": None,
                      "scope_source": None, "unverified_scopes": []}
        try:
            data = self._request("read token info", self._token_info)
        except (AuthError, NotFound, ValidationFailed) as exc:
            # Not a private-app token (or the endpoint is gone): the reads below decide.
            log.info("HubSpot token info unavailable: %s", exc)
            data = None
        if isinstance(data, dict) and isinstance(data.get("scopes"), list):
            scopes = sorted(str(x) for x in data["scopes"])
            info.update(hub_id=data.get("hubId"), app_id=data.get("appId"), scopes=scopes, scope_source="token-info",
                        missing_scopes=[s for s in REQUIRED_SCOPES if s not in scopes and not (
                            s.startswith("crm.objects.line_items.") and "e-commerce" in scopes)])
        self._request("list invoices", self._invoices_basic.get_page, limit=1, properties=["hs_object_id"],
                      archived=False)
        if info["scope_source"] is None:
            info.update(scope_source="probe", missing_scopes=self._probe_scopes(),
                        unverified_scopes=list(UNPROBED_SCOPES))
        return info

    def _probe_scopes(self) -> list[str]:
        """Missing read scopes, found by reading one record of each type. Each entry is what
        HubSpot's 403 names (alternatives joined with " or "), else the scope the read needs."""
        missing: list[str] = []
        for object_type, scope in SCOPE_PROBES:
            api = self._probe_apis.get(object_type)
            if api is None:
                api = self._probe_apis[object_type] = self._pace(getattr(self._client.crm, object_type).basic_api)
            try:
                self._request(f"list {object_type}", api.get_page, limit=1, properties=["hs_object_id"],
                              archived=False)
            except AuthError as exc:
                if exc.status != 403:
                    raise
                named = _scope_groups(_json_object(exc.raw))
                missing.extend(g for g in (named or [scope]) if g not in missing)
        return missing

    def source_split(self, since: datetime, *, limit: int = 2000) -> tuple[SourceSplit, bool]:
        """How invoices changed since `since` (any status) split by source value, and whether
        `limit` cut the count short. Reads the search pages only, no associations."""
        values, capped = [], False
        for n, rec in enumerate(self.search_invoices(modified_since=since, statuses=None)):
            if n >= limit:
                capped = True
                break
            values.append((rec.get("properties") or {}).get(self.source_property))
        return split_sources(values, self.source_rule), capped

    def search_invoices(self, *, modified_since: datetime | None, modified_until: datetime | None = None,
                        statuses: Iterable[str] | None = ("open", "paid")) -> Iterator[dict]:
        """Invoices modified in [modified_since, modified_until] (either end open when None) whose
        status is one of `statuses` (all statuses when empty/None), oldest change first, as
        {"id", "properties"} dicts.

        HubSpot's search stops at 10,000 results per query (a page past that answers 400). The
        scan sorts by hs_lastmodifieddate ascending, 200 per page, and before it would page past
        10,000 it starts a new query whose window begins at the last hs_lastmodifieddate seen
        (GTE, so records sharing that timestamp are not lost) and drops ids it has already
        yielded. Only 10,000 or more invoices sharing one millisecond could stop it; that raises
        ValidationFailed instead of looping. An invoice modified again during the scan is
        yielded once, with the values seen first.
        """
        since_ms = _epoch_ms(modified_since) if modified_since else None
        until_ms = _epoch_ms(modified_until) if modified_until else None
        statuses = [s for s in (statuses or ()) if s]
        seen: set[str] = set()
        while True:
            filters = []
            if statuses:
                filters.append({"propertyName": "hs_invoice_status", "operator": "IN", "values": statuses})
            if since_ms is not None:
                filters.append({"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since_ms)})
            if until_ms is not None:
                filters.append({"propertyName": "hs_lastmodifieddate", "operator": "LTE", "value": str(until_ms)})
            body = {
                "filterGroups": [{"filters": filters}] if filters else [],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                "properties": self.invoice_properties,
                "limit": PAGE_SEARCH,
            }
            fetched, last_ms, restart_at = 0, None, None
            while True:
                data = self._request("search invoices", self._invoices_search.do_search,
                                     public_object_search_request=body)
                results = data.get("results") or []
                for rec in results:
                    ms = _epoch_ms_from_text(rec.get("properties", {}).get("hs_lastmodifieddate"))
                    if ms is not None:
                        last_ms = ms
                    rid = str(rec["id"])
                    if rid in seen:
                        continue
                    seen.add(rid)
                    yield {"id": rid, "properties": dict(rec.get("properties") or {})}
                fetched += len(results)
                after = ((data.get("paging") or {}).get("next") or {}).get("after")
                if not after or not results:
                    return
                if fetched + PAGE_SEARCH > SEARCH_CAP:
                    restart_at = last_ms
                    break
                body = {**body, "after": after}
            if restart_at is None or (since_ms is not None and restart_at <= since_ms):
                raise ValidationFailed(
                    SERVICE, f"more than {SEARCH_CAP} invoices share hs_lastmodifieddate {restart_at}; "
                             "the search window cannot move past them",
                    words="search_stuck", values={"count": SEARCH_CAP})
            log.info("HubSpot invoice search reached %d results; continuing from %s", fetched, restart_at)
            since_ms = restart_at

    def list_invoice_ids(self) -> Iterator[str]:
        """Every (non-archived) invoice id, 100 per request."""
        after = None
        while True:
            kwargs = {"limit": PAGE_LIST, "properties": ["hs_object_id"], "archived": False}
            if after:
                kwargs["after"] = after
            data = self._request("list invoices", self._invoices_basic.get_page, **kwargs)
            for rec in data.get("results") or []:
                yield str(rec["id"])
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def read_invoices(self, ids: Sequence[str], *, memo: dict | None = None) -> list[Invoice]:
        """Invoices with their contacts, company and line items, in the order of `ids`.

        Ids HubSpot does not know are left out. Cost for N invoices (about one contact,
        company and line item each): ceil(N/100) batch reads of invoices, 3 x ceil(N/1000)
        association batch reads, and ceil(K/100) batch reads per associated type (K ids).
        `memo` (a dict the caller keeps across calls, e.g. for one poll cycle): contacts and
        companies read before are not read again (a customer's invoices land in different
        chunks of a big read)."""
        wanted = list(dict.fromkeys(str(i) for i in ids))
        records = self._batch_read("invoices", wanted, self.invoice_properties)
        return self._hydrate([records[i] for i in wanted if i in records], memo=memo)

    def get_invoice(self, invoice_id: str) -> Invoice:
        """One invoice, hydrated like read_invoices. NotFound if HubSpot has no such invoice."""
        rec = self._request(f"read invoice {invoice_id}", self._invoices_basic.get_by_id,
                            str(invoice_id), properties=self.invoice_properties, archived=False)
        return self._hydrate([rec])[0]

    def find_invoice_by_number(self, number: str) -> Invoice | None:
        """The invoice whose hs_number is `number` (an exact match preferred over a
        case-insensitive one), or None."""
        body = {
            "filterGroups": [{"filters": [{"propertyName": "hs_number", "operator": "EQ", "value": number}]}],
            "properties": self.invoice_properties,
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
            "limit": 10,
        }
        data = self._request("search invoice by number", self._invoices_search.do_search,
                             public_object_search_request=body)
        results = data.get("results") or []
        exact = [r for r in results if (r.get("properties") or {}).get("hs_number") == number]
        loose = [r for r in results
                 if str((r.get("properties") or {}).get("hs_number") or "").casefold() == number.casefold()]
        pick = (exact or loose or [None])[0]
        return self._hydrate([pick])[0] if pick else None

    def set_invoice_contact(self, invoice_id: str, contact_id: str) -> None:
        """Make `contact_id` the invoice's only contact: add the new association first, then
        remove the others, so the invoice is never left without a contact."""
        invoice_id, contact_id = str(invoice_id), str(contact_id)
        current = self._associated_ids("invoices", invoice_id, "contacts")
        if current == [contact_id]:
            return
        if contact_id not in current:
            self._request(f"associate invoice {invoice_id} with contact {contact_id}",
                          self._assoc_basic.create_default, "invoices", invoice_id, "contacts", contact_id)
        for other in current:
            if other != contact_id:
                self._request(f"remove contact {other} from invoice {invoice_id}",
                              self._assoc_basic.archive, "invoices", invoice_id, "contacts", other)

    # ---- hydration -----------------------------------------------------------------------

    def _hydrate(self, records: list[dict], *, memo: dict | None = None) -> list[Invoice]:
        ids = [str(r["id"]) for r in records]
        if not ids:
            return []
        memo = {} if memo is None else memo
        contact_links = self._associations("invoices", "contacts", ids)
        company_links = self._associations("invoices", "companies", ids)
        line_links = self._associations("invoices", "line_items", ids)
        contacts = self._read_remembered("contacts", _flatten(contact_links), CONTACT_PROPERTIES, _contact, memo)
        companies = self._read_remembered("companies", _flatten(company_links), COMPANY_PROPERTIES, _company, memo)
        contacts = self._with_company_names(contacts, companies, memo)
        lines = {k: _line_item(v) for k, v in self._batch_read(
            "line_items", _flatten(line_links), LINE_ITEM_PROPERTIES).items()}
        out = []
        for rec in records:
            rid = str(rec["id"])
            company_ids = [c for c in company_links.get(rid, []) if c in companies]
            out.append(_invoice(
                rec, self.source_property, self.source_rule,
                contacts=tuple(contacts[c] for c in contact_links.get(rid, []) if c in contacts),
                company=companies[company_ids[0]] if company_ids else None,
                line_items=tuple(lines[x] for x in line_links.get(rid, []) if x in lines),
            ))
        return out

    def _with_company_names(self, contacts: dict[str, Contact], companies: dict[str, Company],
                            memo: dict) -> dict[str, Contact]:
        """The contacts with `company_name` filled in: the name of the contact's own company.

        HubSpot's integration names a customer it creates after the contact's company, not the
        invoice's (the article: a company's first contact gets the company name as Display
        Name), and the two can differ. `associatedcompanyid` is the contact's primary company,
        kept by HubSpot from the contact->company associations (read-only since 2019:
        developers.hubspot.com/changelog/2019-01-24-update-the-associatedcompanyid-contact-property-will-become-read-only-on-april-26th).
        A contact without it: its contact->company associations (v4, type 279) are read, so a
        portal where the property is not set still names the right company. Costs nothing
        extra when every contact's company is an invoice's company; otherwise one company
        batch read, and one association batch read for contacts without the property."""
        if not contacts:
            return contacts
        bare = sorted(cid for cid, c in contacts.items() if not c.company_id)
        links = self._associations("contacts", "companies", bare) if bare else {}
        own = {cid: c.company_id or next(iter(links.get(cid, [])), None) for cid, c in contacts.items()}
        wanted = sorted({x for x in own.values() if x} - set(companies))
        known = dict(companies)
        if wanted:
            known.update(self._read_remembered("companies", wanted, COMPANY_PROPERTIES, _company, memo))
        out = {}
        for cid, c in contacts.items():
            company_id = own[cid]
            company = known.get(company_id) if company_id else None
            out[cid] = replace(c, company_id=c.company_id or (company.id if company else None),
                               company_name=company.name.strip() if company else "")
        return out

    def _read_remembered(self, object_type: str, ids: list[str], properties: list[str], make, memo: dict) -> dict:
        known = memo.setdefault(object_type, {})
        missing = [i for i in ids if i not in known]
        for k, v in self._batch_read(object_type, missing, properties).items():
            known[k] = make(v)
        return {i: known[i] for i in ids if i in known}

    def contacts_by_emails(self, emails) -> dict[str, list[Contact]]:
        """lower-cased email -> the contacts with that (primary) email, for many emails: batch
        reads of 100 by `idProperty: email` (email is a unique property of HubSpot contacts)
        instead of one search each; searches are limited to a few a second, batch reads are
        not. Emails nobody has map to []."""
        wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
        out: dict[str, list[Contact]] = {e: [] for e in wanted}
        for rec in self._batch_read("contacts", wanted, CONTACT_PROPERTIES, id_property="email").values():
            contact = _contact(rec)
            key = contact.email.strip().lower()
            if key in out and all(c.id != contact.id for c in out[key]):
                out[key].append(contact)
        return out

    def _batch_read(self, object_type: str, ids: list[str], properties: list[str], *,
                    id_property: str | None = None) -> dict[str, dict]:
        api = self._batch[object_type]
        out: dict[str, dict] = {}
        for chunk in _chunks(ids, BATCH_READ):
            body = {"inputs": [{"id": i} for i in chunk], "properties": properties, "propertiesWithHistory": []}
            if id_property:
                body["idProperty"] = id_property
            data = self._request(f"batch read {object_type}", api.read,
                                 batch_read_input_simple_public_object_id=body, archived=False)
            for rec in data.get("results") or []:
                out[str(rec["id"])] = rec
        return out

    def _associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        """from id -> associated ids (v4 batch read, following per-record paging)."""
        links: dict[str, list[str]] = {}
        pending = [{"id": i} for i in ids]
        while pending:
            follow = []
            for chunk in _chunks(pending, ASSOC_BATCH_READ):
                data = self._request(f"read {from_type}->{to_type} associations", self._assoc_batch.get_page,
                                     from_type, to_type,
                                     batch_input_public_fetch_associations_batch_request={"inputs": chunk})
                for res in data.get("results") or []:
                    fid = str((res.get("from") or {}).get("id"))
                    bucket = links.setdefault(fid, [])
                    for to in res.get("to") or []:
                        tid = str(to.get("toObjectId"))
                        if tid not in bucket:
                            bucket.append(tid)
                    after = ((res.get("paging") or {}).get("next") or {}).get("after")
                    if after:
                        follow.append({"id": fid, "after": after})
                for err in data.get("errors") or []:
                    if err.get("category") != "OBJECT_NOT_FOUND":  # "no associations" is not a failure
                        log.warning("HubSpot %s->%s association read error: %s", from_type, to_type,
                                    err.get("message"))
            pending = follow
        return links

    def _associated_ids(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        out: list[str] = []
        after = None
        while True:
            kwargs = {"limit": 500}
            if after:
                kwargs["after"] = after
            data = self._request(f"list {from_type} {from_id} {to_type}", self._assoc_basic.get_page,
                                 from_type, from_id, to_type, **kwargs)
            out.extend(str(r.get("toObjectId")) for r in data.get("results") or [])
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return list(dict.fromkeys(out))

    def account_details(self) -> dict:
        """{"portal_id", "ui_domain"} of the connected account, for links to its records:
        GET /account-info/v3/details answers portalId and uiDomain
        (https://developers.hubspot.com/docs/api-reference/latest/account/account-information/guide.md).
        Not wrapped by hubspot-api-client, so called through its ApiClient like token info."""
        data = self._request("read account details", self._account_details)
        data = data if isinstance(data, dict) else {}
        return {"portal_id": data.get("portalId"), "ui_domain": data.get("uiDomain")}

    def _account_details(self, **kwargs):
        api_client = self._invoices_basic.api_client
        return api_client.call_api("/account-info/v3/details", "GET", header_params={"Accept": "application/json"},
                                   auth_settings=["oauth2"], response_types_map={}, **kwargs)

    def _token_info(self, **kwargs):
        api_client = self._invoices_basic.api_client
        return api_client.call_api(
            "/oauth/v2/private-apps/get/access-token-info", "POST",
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body={"tokenKey": self._token}, auth_settings=["oauth2"], response_types_map={},
            **kwargs,
        )

    # ---- requests, retries, errors -------------------------------------------------------

    def _request(self, what: str, fn: Callable, *args, **kwargs) -> dict:
        """Call one client method; retry 429s (after the wait HubSpot asks for) and transient
        failures (exponential backoff with jitter) up to max_attempts; map errors."""
        kwargs.update(_preload_content=False, _request_timeout=self._timeout)
        attempt = 0
        while True:
            attempt += 1
            try:
                return _decode(fn(*args, **kwargs))
            except self._api_errors as exc:
                err = self._map_api_exception(what, exc)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                err = Transient(SERVICE, f"{what}: {type(exc).__name__}: {_scrub(str(exc), self._token)}",
                                quoted=type(exc).__name__)
            except json.JSONDecodeError as exc:
                err = Transient(SERVICE, f"{what}: the answer was not JSON ({exc})", quoted=type(exc).__name__)
            if attempt >= self._max_attempts:
                raise err
            if isinstance(err, RateLimited):
                if err.retry_after > MAX_RATE_WAIT:
                    raise err
                delay = err.retry_after
            elif isinstance(err, Transient):
                delay = self._backoff(attempt)
            else:
                raise err
            log.warning("HubSpot %s failed (%s); retrying in %.1fs (attempt %d of %d)",
                        what, err, delay, attempt + 1, self._max_attempts)
            self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        base = min(30.0, 0.5 * (2 ** (attempt - 1)))
        return base * (0.5 + self._rng.random() / 2)

    def _map_api_exception(self, what: str, exc) -> ApiError:
        status = int(getattr(exc, "status", 0) or 0)
        raw = getattr(exc, "body", None) or ""
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        raw = _scrub(raw, self._token)
        headers = getattr(exc, "headers", None) or {}
        body = _json_object(raw)
        message = str(body.get("message") or getattr(exc, "reason", "") or f"HTTP {status}")
        category = body.get("category") or None
        text = f"{what}: {message}"
        # `what` (our name for the call) is English: the reader is shown HubSpot's `message` only
        kw: dict[str, Any] = {"status": status or None, "code": category, "raw": raw, "quoted": message}
        if status == 401:
            return AuthError(SERVICE, text, **kw)
        if status == 403:
            scopes = _required_scopes(body)
            if scopes:
                text = f"{what}: the HubSpot token lacks the scope(s) {', '.join(scopes)} ({message})"
                kw.update(words="hubspot_scopes", values={"scopes": ", ".join(scopes)})
            return AuthError(SERVICE, text, detail=", ".join(scopes), **kw)
        if status == 404:
            return NotFound(SERVICE, text, **kw)
        if status == 429:
            return RateLimited(SERVICE, text, retry_after=_retry_after(headers, body), **kw)
        if status == 0 or status >= 500:
            return Transient(SERVICE, text, **kw)
        return ValidationFailed(SERVICE, text, **kw)


# ---- helpers ---------------------------------------------------------------------------

class _PacedPool:
    """Stands in for a generated client's urllib3 PoolManager (rest_client.pool_manager, the
    one object every request of hubspot-api-client 12.x goes through): waits for the
    adapter's pacers, sends, reports the status. Everything else is the real pool's."""

    def __init__(self, pool, adapter: "HubSpotAdapter"):
        self._pool = pool
        self._adapter = adapter

    def request(self, method, url, *args, **kwargs):
        self._adapter._before_http(url)
        try:
            response = self._pool.request(method, url, *args, **kwargs)
        except Exception:
            self._adapter._after_http(None)
            raise
        self._adapter._after_http(getattr(response, "status", None))
        return response

    def __getattr__(self, name):
        return getattr(self._pool, name)


def _decode(resp) -> dict:
    """JSON body of a raw urllib3 response ({} when empty, e.g. 204)."""
    try:
        data = resp.data
    finally:
        release = getattr(resp, "release_conn", None)
        if release:
            release()
    if not data:
        return {}
    return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "[token]") if token and token in text else text


def _required_scopes(body: dict) -> list[str]:
    found: list[str] = []
    for err in body.get("errors") or []:
        ctx = (err or {}).get("context") or {}
        for key in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
            found.extend(str(s) for s in ctx.get(key) or [])
    ctx = body.get("context") or {}
    for key in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
        found.extend(str(s) for s in ctx.get(key) or [])
    return list(dict.fromkeys(found))


def _scope_groups(body: dict) -> list[str]:
    """The missing scopes a 403 names, as HubSpot words them. Its bodies (quoted from HubSpot
    Community threads, e.g. eshopman-com.pages.dev/insights/hubspot-development/
    hubspot-api-missing-scopes-error-demystifying-403-forbidden-for-e-commerce-integrations;
    hubspot-api-nodejs#50, #268) carry errors[].context.requiredGranularScopes under the
    message "One or more of the following scopes are required." (any one will do: joined
    with " or ") or "All of the following scopes are required." (each one listed)."""
    groups: list[str] = []
    for err in body.get("errors") or []:
        err = err if isinstance(err, dict) else {}
        names = _required_scopes({"context": err.get("context") or {}})
        if len(names) > 1 and str(err.get("message") or "").lower().startswith("one or more"):
            groups.append(" or ".join(names))
        else:
            groups.extend(names)
    groups.extend(_required_scopes({"context": body.get("context") or {}}))
    return list(dict.fromkeys(groups))


def _json_object(raw: str) -> dict:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(headers, body: dict) -> float:
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    policy = str(body.get("policyName") or "").upper()
    if policy == "DAILY":  # resets at midnight in the portal's time zone: not worth waiting for here
        return 3600.0
    return POLICY_WINDOWS.get(policy, 10.0)


def _flatten(links: dict[str, list[str]]) -> list[str]:
    return list(dict.fromkeys(x for ids in links.values() for x in ids))


def _epoch_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000))


def _parse_dt(value) -> datetime | None:
    if value in (None, ""):
        return None
    s = str(value).strip()
    if s.isdigit():
        return datetime.fromtimestamp(int(s) / 1000, tz=timezone.utc)
    try:
        if len(s) == 10:
            return datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _epoch_ms_from_text(value) -> int | None:
    dt = _parse_dt(value)
    return _epoch_ms(dt) if dt else None


def _parse_date(value) -> date | None:
    dt = _parse_dt(value)
    return dt.astimezone(timezone.utc).date() if dt else None


def _dec(value) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal("0")


def _text(props: dict, name: str) -> str:
    v = props.get(name)
    return "" if v is None else str(v)


def _contact(rec: dict) -> Contact:
    p = rec.get("properties") or {}
    return Contact(id=str(rec["id"]), email=_text(p, "email"), firstname=_text(p, "firstname"),
                   lastname=_text(p, "lastname"), company_id=_text(p, "associatedcompanyid") or None)


def _company(rec: dict) -> Company:
    p = rec.get("properties") or {}
    return Company(id=str(rec["id"]), name=_text(p, "name"), domain=_text(p, "domain"))


def _line_item(rec: dict) -> LineItem:
    p = rec.get("properties") or {}
    return LineItem(id=str(rec["id"]), name=_text(p, "name"), quantity=_dec(p.get("quantity")),
                    price=_dec(p.get("price")), amount=_dec(p.get("amount")), sku=_text(p, "hs_sku"),
                    description=_text(p, "description"))


def _invoice(rec: dict, source_property: str, rule: SourceRule, *, contacts, company, line_items) -> Invoice:
    p = rec.get("properties") or {}
    epoch = datetime.fromtimestamp(0, tz=timezone.utc)
    created = _parse_dt(p.get("hs_createdate")) or _parse_dt(rec.get("createdAt")) or epoch
    modified = _parse_dt(p.get("hs_lastmodifieddate")) or _parse_dt(rec.get("updatedAt")) or created
    return Invoice(
        id=str(rec["id"]), number=_text(p, "hs_number"), status=_text(p, "hs_invoice_status"),
        currency=_text(p, "hs_currency"), amount_billed=_dec(p.get("hs_amount_billed")),
        balance_due=_dec(p.get("hs_balance_due")), invoice_date=_parse_date(p.get("hs_invoice_date")),
        due_date=_parse_date(p.get("hs_due_date")), source=_text(p, source_property).strip(),
        is_native=rule.is_native(p.get(source_property)),
        created_at=created, modified_at=modified, contacts=tuple(contacts), company=company,
        line_items=tuple(line_items),
    )
