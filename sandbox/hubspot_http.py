"""HubSpot's CRM API over HTTP, as far as qbsync uses it, served from a `HubSpotPortal`.

Endpoints (object types in paths may be names, singular names or ids like "0-53"):
  GET    /crm/v3/objects/{type}                       list, limit <= 100, `after` paging
  GET    /crm/v3/objects/{type}/{id}                  one record (`idProperty`, `associations`)
  PATCH  /crm/v3/objects/{type}/{id}                  update properties
  POST   /crm/v3/objects/{type}/batch/read            <= 100 inputs; 207 lists ids not found;
                                                      `idProperty` (e.g. contacts by `email`,
                                                      matched lower-cased as HubSpot keeps emails)
  POST   /crm/v3/objects/{type}/search                see hubspot_search.py
  POST   /crm/v4/associations/{from}/{to}/batch/read  <= 1,000 inputs; 207 for ids with none
  GET    /crm/v4/objects/{type}/{id}/associations/{toType}
  PUT    /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}
  DELETE /crm/v4/objects/{type}/{id}/associations/{toType}/{toId}
  POST   /oauth/v2/private-apps/get/access-token-info  token -> hub id and scopes
hubspot-api-client calls invoices at /crm/v3/objects/invoices (hubspot.crm.commerce.invoices).

Behaviour copied from the real service, with where it comes from:
- Portals: every token belongs to one portal (account): a private app's token is generated
  in, and reads, one HubSpot account ("Private apps allow you to use HubSpot's APIs to access
  specific data from your HubSpot account", https://developers.hubspot.com/docs/api/private-apps).
  So one service serves many portals, as api.hubapi.com does: each request is answered from
  its token's portal (`add_token(token, portal)`); tokens given to the constructor belong to
  its `portal`. Rate-limit windows are per token; the tier is the token's portal's.
- Auth: any bearer token the service was given: legacy private-app tokens (`pat-...`) and
  service keys (HubSpot documents no shape for them; the sandbox's has no `pat-` prefix).
  Service keys carry scopes like private apps (developers.hubspot.com/docs/apps/
  developer-platform/build-apps/authentication/account-service-keys).
  Missing/unknown: 401 with header X-HubSpot-Auth-Failure and
  body {"status","message":"Authentication credentials not found. This API supports OAuth 2.0
  authentication ...","correlationId","category":"INVALID_AUTHENTICATION"} (bodies quoted in
  HubSpot/hubspot-api-python#211 and hubspot-api-nodejs#432).
- Missing scope: 403 category MISSING_SCOPES, message "This app hasn't been granted all
  required scopes to make this call. ...", errors[0].context.requiredGranularScopes
  (hubspot-api-nodejs#50, #268; newer answers name granular scopes).
- Rate limits per token (hubspot_limits.py): 429 body {"status":"error","message":"You have
  reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId",
  "policyName":"TEN_SECONDLY_ROLLING"} (HubSpot's usage-guidelines example). HubSpot documents
  no Retry-After header on these; none is sent. We add "category":"RATE_LIMITS" because the
  official spec's Error schema requires a category. Search: 5/s per token; its 429 says
  "You have reached your secondly limit." with policyName "SECONDLY" (the wording HubSpot used
  for per-second limits; the search-specific wording is not documented).
- Headers X-HubSpot-RateLimit-Max / -Remaining / -Interval-Milliseconds (and the deprecated
  -Secondly / -Secondly-Remaining) on every authenticated non-search answer; search answers
  carry none (HubSpot community, "Rate limit headers will now appear for OAuth authenticated
  calls": search endpoints only return X-HubSpot-Correlation-Id). No daily headers (we do not
  model the daily limit).
- v4 association batch read: ids without associations come back as 207 errors with category
  OBJECT_NOT_FOUND, subCategory "crm.associations.NO_ASSOCIATIONS_FOUND", message "No contact
  is associated with invoice 3001." (as quoted in public client code); at most 1,000 inputs
  (HubSpot changelog "Batch Read Limit for HubSpot Associations API", Feb 2025).
- v3 batch read: ids that do not exist come back as a 207 error "Could not get some INVOICE
  objects, they may be deleted or not exist. Check that ids are valid." (remembered wording).
Answers are shaped to validate against HubSpot's OpenAPI specs in /work/shared/specs/hubspot
(tests/sandbox/test_hubspot_openapi.py), apart from two places where the real service and
its spec disagree and we follow the service: requested-but-empty properties are null, and
StandardError.subCategory is a string.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from sandbox.hubspot_limits import RollingWindow
from sandbox.hubspot_schema import (
    OBJECT_TYPES, ObjectType, association_types, fmt_datetime, resolve_type,
)
from sandbox.hubspot_search import SearchError, parse_request, run as run_search
from sandbox.server import Request, Response, Route, Service, json_response

if TYPE_CHECKING:  # pragma: no cover
    from sandbox.hubspot import HubSpotPortal

TIER_LIMITS = {"starter": 100, "professional": 190}
LIST_MAX = 100
BATCH_MAX = 100
ASSOC_BATCH_MAX = 1000
ASSOC_PAGE = 500
AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
SCOPES_MESSAGE = ("This app hasn't been granted all required scopes to make this call. Read more about "
                  "required scopes here: https://developers.hubspot.com/scopes.")


@dataclass
class Fault:
    """An injected failure: answer `status` (or drop the connection when -1) after `delay_s`."""
    status: int
    times: int = 1
    match: str | None = None          # substring of the route pattern, e.g. "/search"
    delay_s: float = 0.0
    body: dict | None = None
    headers: dict = field(default_factory=dict)


@dataclass
class _Ctx:
    cid: str
    token: str
    types: dict[str, ObjectType]
    portal: "HubSpotPortal"     # the token's portal: every answer comes from it


class HubSpotService(Service):
    name = "hubspot"

    def __init__(self, portal: "HubSpotPortal", tokens: Mapping[str, Iterable[str] | None],
                 tier: str | int | None = None, *, clock=None, limit_per_10s: int | None = None,
                 interval_ms: int = 10_000, searches_per_second: int = 5,
                 app_id: int = 3141592, user_id: int = 2718281):
        """tokens: access token -> the scopes it was granted (None: every scope this stand-in
        checks). tier: "starter" (100 requests / 10 s), "professional" (190 / 10 s), an
        explicit number per interval, or None for the portal's tier (from the scenario);
        `limit_per_10s` overrides it. clock: defaults to the portal's."""
        self.portal = portal  # the first portal: tokens not added with add_token belong to it
        self.clock = clock or portal.clock
        self.tokens = {str(k): frozenset(all_scopes() if v is None else v) for k, v in tokens.items()}
        self._portals: dict[str, "HubSpotPortal"] = {}  # token -> its portal (absent: `portal`)
        # OAuth access tokens expire (sandbox/hubspot_oauth.py): token -> clock time it stops working.
        self._expires_at: dict[str, float] = {}
        # Routes another stand-in serves on this host (the OAuth endpoints of sandbox/hubspot_oauth.py).
        self.extra_routes: list[Route] = []
        self.tier = limit_per_10s if limit_per_10s is not None else tier
        self.interval_ms = int(interval_ms)
        self.searches_per_second = int(searches_per_second)
        self.app_id = app_id
        self.user_id = user_id
        self._windows: dict[str, RollingWindow] = {}
        self._search_windows: dict[str, RollingWindow] = {}
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        # Set to [] to record (token, clock time, search) for every authenticated request as it
        # reaches the limits check, refused ones too (tests of shared pacing measure windows).
        self.arrivals: list[tuple[str, float, bool]] | None = None

    # ---- configuration -------------------------------------------------------------------

    @property
    def request_limit(self) -> int:
        """The first portal's limit per interval (see `limit_for`)."""
        return self.limit_for(self.portal)

    def limit_for(self, portal: "HubSpotPortal") -> int:
        """Requests per interval for a token of `portal`: the service's override, else its tier's."""
        tier = self.tier if self.tier is not None else portal.tier
        if isinstance(tier, int):
            return tier
        return TIER_LIMITS[tier]

    def add_token(self, token: str, portal: "HubSpotPortal", scopes: Iterable[str] | None = None) -> None:
        """Accept `token` for `portal` only, with `scopes` (None: every scope checked)."""
        with self._lock:
            self.tokens[str(token)] = frozenset(all_scopes() if scopes is None else scopes)
            self._portals[str(token)] = portal

    def expire_token_at(self, token: str, when: float) -> None:
        """From clock time `when` on, `token` is refused as expired (an OAuth access token)."""
        with self._lock:
            self._expires_at[str(token)] = when

    def _auth_failure(self, token: str | None, cid: str) -> Response | None:
        """401 for a missing, unknown or expired token; None when it may go on. An expired OAuth
        token's answer is HubSpot's: category EXPIRED_AUTHENTICATION, "The OAuth token used to
        make this call expired N second(s) ago." (as quoted from real answers in
        https://github.com/airbytehq/airbyte/issues/74726 and
        https://github.com/ToolJet/ToolJet/issues/17192)."""
        if not token or token not in self.tokens:
            return self._error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION", cid,
                               headers={"X-HubSpot-Auth-Failure": "401 Unauthorized"})
        expires_at = self._expires_at.get(token)
        now = self.clock.time()
        if expires_at is not None and expires_at <= now:
            return self._error(401, f"The OAuth token used to make this call expired {int(now - expires_at)} "
                                    "second(s) ago.", "EXPIRED_AUTHENTICATION", cid,
                               headers={"X-HubSpot-Auth-Failure": "401 Unauthorized"})
        return None

    def tenant_of(self, request: Request) -> str | None:
        """The portal id of the request's token (a token answers for its one portal only)."""
        token = request.bearer_token()
        if not token or token not in self.tokens:
            return None
        return str(self.portal_of(token).portal_id)

    def portal_of(self, token: str) -> "HubSpotPortal":
        """The portal a known token belongs to."""
        return self._portals.get(token, self.portal)

    @property
    def portals(self) -> list["HubSpotPortal"]:
        """Every portal served, the first one first."""
        out = [self.portal]
        for p in self._portals.values():
            if not any(p is q for q in out):
                out.append(p)
        return out

    def inject_fault(self, status: int, *, times: int = 1, match: str | None = None,
                     delay_s: float = 0.0, body: dict | None = None, headers: dict | None = None) -> None:
        """Make the next `times` matching requests fail with `status` (-1: drop the connection)."""
        with self._lock:
            self._faults.append(Fault(status, times, match, delay_s, body, dict(headers or {})))

    def reset_limits(self) -> None:
        with self._lock:
            self._windows.clear()
            self._search_windows.clear()

    def _window(self, token: str) -> RollingWindow:
        limit = self.limit_for(self.portal_of(token))
        with self._lock:
            w = self._windows.get(token)
            if w is None or w.limit != limit:
                w = self._windows[token] = RollingWindow(limit, self.interval_ms / 1000.0, self.clock)
            return w

    def _search_window(self, token: str) -> RollingWindow:
        with self._lock:
            w = self._search_windows.get(token)
            if w is None or w.limit != self.searches_per_second:
                w = self._search_windows[token] = RollingWindow(
                    self.searches_per_second, 1.0, self.clock)
            return w

    # ---- plumbing ------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        g = self._guard
        return [
            Route("POST", "/oauth/v2/private-apps/get/access-token-info", self._token_info),
            Route("GET", "/account-info/v3/details", self._account_details),
            Route("GET", "/crm/v3/objects/{objectType}", g(self._list, "read")),
            Route("POST", "/crm/v3/objects/{objectType}/batch/read", g(self._batch_read, "read")),
            Route("POST", "/crm/v3/objects/{objectType}/search", g(self._search, "read", search=True)),
            Route("GET", "/crm/v3/objects/{objectType}/{objectId}", g(self._get, "read")),
            Route("PATCH", "/crm/v3/objects/{objectType}/{objectId}", g(self._patch, "write")),
            Route("POST", "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
                  g(self._assoc_batch_read, "assoc_read")),
            Route("GET", "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}",
                  g(self._assoc_list, "assoc_read")),
            Route("PUT", "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/"
                         "{toObjectType}/{toObjectId}", g(self._assoc_put_default, "assoc_write")),
            Route("DELETE", "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}",
                  g(self._assoc_delete, "assoc_write")),
        ] + list(self.extra_routes)

    def not_found(self, request: Request) -> Response:
        cid = str(uuid.uuid4())
        return self._error(404, f"Unable to route {request.method} {request.path}", "OBJECT_NOT_FOUND", cid)

    def before_request(self, request: Request, route: Route) -> Response | None:
        fault = None
        with self._lock:
            for f in self._faults:
                if f.match is None or f.match in route.pattern:
                    fault = f
                    f.times -= 1
                    if f.times <= 0:
                        self._faults.remove(f)
                    break
        if fault is None:
            return None
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.status == -1:
            return Response(status=-1)
        if fault.status == 0:  # delay only, then answer normally
            return None
        cid = str(uuid.uuid4())
        body = fault.body or {"status": "error", "message": "internal error", "correlationId": cid,
                              "category": "INTERNAL_ERROR"}
        return json_response(fault.status, body, {"X-HubSpot-Correlation-Id": cid, **fault.headers})

    def _error(self, status: int, message: str, category: str, cid: str, *, headers: dict | None = None,
               **extra) -> Response:
        body = {"status": "error", "message": message, "correlationId": cid, "category": category}
        body.update({k: v for k, v in extra.items() if v is not None})
        return json_response(status, body, {"X-HubSpot-Correlation-Id": cid, **(headers or {})})

    def _guard(self, handler: Callable[[Request, _Ctx], Response], access: str, *, search: bool = False):
        """Auth, rate limits, object types and scopes, in HubSpot's order, around a handler."""

        def wrapped(request: Request) -> Response:
            cid = str(uuid.uuid4())
            token = request.bearer_token()
            refused = self._auth_failure(token, cid)
            if refused is not None or token is None:
                return refused or Response(401)
            window = self._window(token)
            if self.arrivals is not None:
                self.arrivals.append((token, self.clock.time(), search))
            if search:
                ok, _ = self._search_window(token).try_hit()
                if not ok:
                    return self._error(429, "You have reached your secondly limit.", "RATE_LIMITS", cid,
                                       errorType="RATE_LIMIT", policyName="SECONDLY")
            ok, remaining = window.try_hit()
            limit_headers = {} if search else self._limit_headers(window.limit, remaining)
            if not ok:
                return self._error(429, "You have reached your ten_secondly_rolling limit.", "RATE_LIMITS", cid,
                                   headers=limit_headers, errorType="RATE_LIMIT",
                                   policyName="TEN_SECONDLY_ROLLING")
            types: dict[str, ObjectType] = {}
            for key in ("objectType", "fromObjectType", "toObjectType"):
                if key in request.path_params:
                    t = resolve_type(request.path_params[key])
                    if t is None:
                        return self._error(400, f"Unable to infer object type from: {request.path_params[key]}",
                                           "VALIDATION_ERROR", cid, headers=limit_headers)
                    types[key] = t
            missing = self._missing_scopes(token, access, types)
            if missing:
                return self._error(
                    403, SCOPES_MESSAGE, "MISSING_SCOPES", cid, headers=limit_headers,
                    errors=[{"message": "One or more of the following scopes are required.",
                             "context": {"requiredGranularScopes": missing}}],
                    links={"scopes": "https://developers.hubspot.com/scopes"})
            response = handler(request, _Ctx(cid, token, types, self.portal_of(token)))
            response.headers.setdefault("X-HubSpot-Correlation-Id", cid)
            for k, v in limit_headers.items():
                response.headers.setdefault(k, v)
            return response

        return wrapped

    def _limit_headers(self, limit: int, remaining: int) -> dict[str, str]:
        per_second = max(1, limit * 1000 // max(1, self.interval_ms))
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Secondly": str(per_second),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(min(per_second, remaining)),
        }

    def _missing_scopes(self, token: str, access: str, types: dict[str, ObjectType]) -> list[str]:
        granted = self.tokens[token]
        if access == "read":
            needed = [types["objectType"].read_scope]
        elif access == "write":
            needed = [types["objectType"].write_scope]
        else:
            src = types.get("fromObjectType") or types["objectType"]
            dst = types["toObjectType"]
            if access == "assoc_read":
                needed = [src.read_scope, dst.read_scope]
            else:  # writing an association changes the from-record
                needed = [src.write_scope, dst.read_scope]
        # The line-items spec also accepts the older "e-commerce" scope.
        return [s for s in dict.fromkeys(needed)
                if s not in granted and not (s.startswith("crm.objects.line_items.") and "e-commerce" in granted)]

    # ---- serialization -------------------------------------------------------------------

    def _props(self, portal: "HubSpotPortal", otype: ObjectType, rec: dict, requested: list[str] | None) -> dict:
        names = list(otype.default_properties) if not requested else list(requested) + list(otype.always_properties)
        known = portal.property_names(otype.name)
        values = rec["properties"]
        out: dict[str, str | None] = {}
        for name in dict.fromkeys(names):
            if name in values:
                out[name] = values[name]
            elif name in known:
                out[name] = None  # HubSpot answers null for a known property without a value
        return out

    def _object(self, portal: "HubSpotPortal", otype: ObjectType, rec: dict, requested: list[str] | None) -> dict:
        return {"id": rec["id"], "properties": self._props(portal, otype, rec, requested),
                "createdAt": rec["createdAt"], "updatedAt": rec["updatedAt"], "archived": rec["archived"]}

    @staticmethod
    def _multi(request: Request, name: str) -> list[str] | None:
        """A repeated and/or comma-separated query parameter (HubSpot accepts both)."""
        values = request.query.get(name)
        if not values:
            return None
        out = [p.strip() for v in values for p in v.split(",") if p.strip()]
        return out or None

    def _now(self) -> str:
        return fmt_datetime(self.clock.now())

    def _json_body(self, request: Request, ctx: _Ctx):
        try:
            return request.json(), None
        except (ValueError, UnicodeDecodeError) as exc:
            return None, self._error(400, f"Invalid input JSON: {exc}", "VALIDATION_ERROR", ctx.cid)

    # ---- CRM objects v3 ------------------------------------------------------------------

    def _list(self, request: Request, ctx: _Ctx) -> Response:
        otype = ctx.types["objectType"]
        try:
            limit = int(request.arg("limit", "10"))
        except ValueError:
            return self._error(400, f"Invalid limit: {request.arg('limit')!r}", "VALIDATION_ERROR", ctx.cid)
        if not 1 <= limit <= LIST_MAX:
            return self._error(400, f"limit must be between 1 and {LIST_MAX}, got {limit}", "VALIDATION_ERROR",
                               ctx.cid)
        after = request.arg("after")
        if after not in (None, "") and not after.isdigit():
            return self._error(400, f"Invalid after: {after!r}", "VALIDATION_ERROR", ctx.cid)
        properties = self._multi(request, "properties")
        assoc_types = self._assoc_param(request)
        if assoc_types is None:
            return self._error(400, "Unable to infer object type from the associations parameter",
                               "VALIDATION_ERROR", ctx.cid)
        archived = (request.arg("archived", "false") or "").lower() == "true"
        with ctx.portal.lock:
            records = ctx.portal._live(otype.name)
            ids = [] if archived else sorted(records, key=int)
            start = 0
            if after:
                start = next((i for i, x in enumerate(ids) if int(x) >= int(after)), len(ids))
            page_ids = ids[start:start + limit]
            results = []
            for oid in page_ids:
                obj = self._object(ctx.portal, otype, records[oid], properties)
                if assoc_types:
                    obj["associations"] = self._v3_associations(ctx.portal, otype, oid, assoc_types)
                results.append(obj)
            body: dict = {"results": results}
            if start + limit < len(ids):
                nxt = ids[start + limit]
                host = request.header("host") or "api.hubapi.com"
                body["paging"] = {"next": {"after": nxt,
                                           "link": f"http://{host}{request.path}?after={nxt}"}}
        return json_response(200, body)

    def _assoc_param(self, request: Request) -> list[ObjectType] | None:
        names = self._multi(request, "associations") or []
        out = []
        for n in names:
            t = resolve_type(n)
            if t is None:
                return None
            out.append(t)
        return out

    def _v3_associations(self, portal: "HubSpotPortal", otype: ObjectType, oid: str,
                         to_types: list[ObjectType]) -> dict:
        out = {}
        for to in to_types:
            pairs = portal.association_types(otype.name, oid, to.name)
            if not pairs:
                continue
            labeled = any(t.label for t in association_types(otype.name, to.name))
            results = []
            for to_id, types in pairs.items():
                for t in types:
                    name = f"{otype.singular}_to_{to.singular}"
                    if labeled and not t.label:
                        name += "_unlabeled"
                    results.append({"id": to_id, "type": name})
            out[to.name] = {"results": results}
        return out

    def _find(self, portal: "HubSpotPortal", otype: ObjectType, key: str, id_property: str | None) -> dict | None:
        records = portal._live(otype.name)
        if not id_property or id_property == "hs_object_id":
            return records.get(key)
        if id_property == "email":  # HubSpot keeps emails lower-cased and matches them so
            key = key.strip().lower()
            for rec in records.values():
                if str(rec["properties"].get("email") or "").strip().lower() == key:
                    return rec
            return None
        for rec in records.values():
            if rec["properties"].get(id_property) == key:
                return rec
        return None

    def _get(self, request: Request, ctx: _Ctx) -> Response:
        otype = ctx.types["objectType"]
        properties = self._multi(request, "properties")
        assoc_types = self._assoc_param(request)
        if assoc_types is None:
            return self._error(400, "Unable to infer object type from the associations parameter",
                               "VALIDATION_ERROR", ctx.cid)
        with ctx.portal.lock:
            rec = self._find(ctx.portal, otype, request.path_params["objectId"], request.arg("idProperty"))
            if rec is None:
                return self._error(404, "resource not found", "OBJECT_NOT_FOUND", ctx.cid)
            obj = self._object(ctx.portal, otype, rec, properties)
            if assoc_types:
                obj["associations"] = self._v3_associations(ctx.portal, otype, rec["id"], assoc_types)
        return json_response(200, obj)

    def _patch(self, request: Request, ctx: _Ctx) -> Response:
        otype = ctx.types["objectType"]
        body, err = self._json_body(request, ctx)
        if err:
            return err
        props = (body or {}).get("properties")
        if not isinstance(props, dict):
            return self._error(400, "properties must be an object", "VALIDATION_ERROR", ctx.cid)
        with ctx.portal.lock:
            rec = self._find(ctx.portal, otype, request.path_params["objectId"], request.arg("idProperty"))
            if rec is None:
                return self._error(404, "resource not found", "OBJECT_NOT_FOUND", ctx.cid)
            known = ctx.portal.property_names(otype.name)
            problems = []
            for name in props:
                if name not in known:
                    problems.append({"isValid": False, "message": f'Property "{name}" does not exist',
                                     "error": "PROPERTY_DOESNT_EXIST", "name": name})
                elif name in otype.always_properties:
                    problems.append({"isValid": False, "message": f'"{name}" is a read only property; '
                                     "its value cannot be set.", "error": "READ_ONLY_VALUE", "name": name})
            if problems:
                return self._error(400, "Property values were not valid: " + json.dumps(problems),
                                   "VALIDATION_ERROR", ctx.cid)
            updated = ctx.portal.update(otype.name, rec["id"], {k: v for k, v in props.items()})
        return json_response(200, self._object(ctx.portal, otype, updated, list(props)))

    def _batch_read(self, request: Request, ctx: _Ctx) -> Response:
        otype = ctx.types["objectType"]
        started = self._now()
        body, err = self._json_body(request, ctx)
        if err:
            return err
        inputs = (body or {}).get("inputs")
        if not isinstance(inputs, list):
            return self._error(400, "inputs must be a list", "VALIDATION_ERROR", ctx.cid)
        if len(inputs) > BATCH_MAX:
            return self._error(
                400, f"The maximum number of inputs supported in a batch request is {BATCH_MAX}. "
                     f"Please reduce the number of items and try again", "VALIDATION_ERROR", ctx.cid,
                context={"maxInputs": [str(BATCH_MAX)], "inputs": [str(len(inputs))]})
        ids = [str((i or {}).get("id", "")) for i in inputs]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            return self._error(400, f"Duplicate IDs found in batch input: {dupes}. IDs must be unique",
                               "VALIDATION_ERROR", ctx.cid)
        properties = body.get("properties") or None
        results, missing = [], []
        with ctx.portal.lock:
            for oid in ids:
                rec = self._find(ctx.portal, otype, oid, body.get("idProperty"))
                if rec is None:
                    missing.append(oid)
                else:
                    results.append(self._object(ctx.portal, otype, rec, properties))
        payload: dict = {"status": "COMPLETE", "results": results, "startedAt": started,
                         "completedAt": self._now()}
        if not missing:
            return json_response(200, payload)
        payload["numErrors"] = 1
        payload["errors"] = [{
            "status": "error", "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {otype.singular.upper()} objects, they may be deleted or not exist. "
                       f"Check that ids are valid.",
            "context": {"ids": missing}, "errors": [], "links": {},
        }]
        return json_response(207, payload)

    def _search(self, request: Request, ctx: _Ctx) -> Response:
        otype = ctx.types["objectType"]
        body, err = self._json_body(request, ctx)
        if err:
            return err
        try:
            req = parse_request(body)
        except SearchError as exc:
            return self._error(400, str(exc), "VALIDATION_ERROR", ctx.cid)
        with ctx.portal.lock:
            total, page, next_offset = run_search(otype, ctx.portal._live(otype.name).values(), req)
            results = [self._object(ctx.portal, otype, rec, req.properties) for rec in page]
        payload: dict = {"total": total, "results": results}
        if next_offset is not None:
            payload["paging"] = {"next": {"after": str(next_offset)}}
        return json_response(200, payload)

    # ---- associations v4 -----------------------------------------------------------------

    @staticmethod
    def _assoc_entry(to_id: str, types) -> dict:
        specs = []
        for t in types:
            spec = {"category": t.category, "typeId": t.type_id}
            if t.label:
                spec["label"] = t.label
            specs.append(spec)
        return {"toObjectId": to_id, "associationTypes": specs}

    def _assoc_batch_read(self, request: Request, ctx: _Ctx) -> Response:
        src, dst = ctx.types["fromObjectType"], ctx.types["toObjectType"]
        started = self._now()
        body, err = self._json_body(request, ctx)
        if err:
            return err
        inputs = (body or {}).get("inputs")
        if not isinstance(inputs, list):
            return self._error(400, "inputs must be a list", "VALIDATION_ERROR", ctx.cid)
        if len(inputs) > ASSOC_BATCH_MAX:
            return self._error(400, f"Batch read requests may not exceed {ASSOC_BATCH_MAX} inputs; "
                                    f"got {len(inputs)}.", "VALIDATION_ERROR", ctx.cid)
        results, errors = [], []
        with ctx.portal.lock:
            for item in inputs:
                fid = str((item or {}).get("id", ""))
                after = (item or {}).get("after")
                try:
                    offset = int(after) if after not in (None, "") else 0
                except ValueError:
                    return self._error(400, f"Invalid after: {after!r}", "VALIDATION_ERROR", ctx.cid)
                pairs = list(ctx.portal.association_types(src.name, fid, dst.name).items())
                if not pairs:
                    errors.append({
                        "status": "error", "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "message": f"No {dst.singular} is associated with {src.singular} {fid}.",
                        "context": {"fromObjectId": [fid], "fromObjectType": [src.singular],
                                    "toObjectType": [dst.singular]},
                        "errors": [], "links": {},
                    })
                    continue
                chunk = pairs[offset:offset + ASSOC_PAGE]
                entry: dict = {"from": {"id": fid}, "to": [self._assoc_entry(t, ty) for t, ty in chunk]}
                if offset + ASSOC_PAGE < len(pairs):
                    entry["paging"] = {"next": {"after": str(offset + ASSOC_PAGE)}}
                results.append(entry)
        payload: dict = {"status": "COMPLETE", "results": results, "startedAt": started,
                         "completedAt": self._now()}
        if not errors:
            return json_response(200, payload)
        payload["numErrors"] = len(errors)
        payload["errors"] = errors
        return json_response(207, payload)

    def _assoc_list(self, request: Request, ctx: _Ctx) -> Response:
        src, dst = ctx.types["objectType"], ctx.types["toObjectType"]
        try:
            limit = int(request.arg("limit", str(ASSOC_PAGE)))
            after = request.arg("after")
            offset = int(after) if after else 0
        except ValueError:
            return self._error(400, "Invalid limit or after", "VALIDATION_ERROR", ctx.cid)
        if not 1 <= limit <= ASSOC_PAGE:
            return self._error(400, f"limit must be between 1 and {ASSOC_PAGE}", "VALIDATION_ERROR", ctx.cid)
        with ctx.portal.lock:
            pairs = list(ctx.portal.association_types(src.name, request.path_params["objectId"], dst.name).items())
        body: dict = {"results": [self._assoc_entry(t, ty) for t, ty in pairs[offset:offset + limit]]}
        if offset + limit < len(pairs):
            body["paging"] = {"next": {"after": str(offset + limit)}}
        return json_response(200, body)

    def _assoc_put_default(self, request: Request, ctx: _Ctx) -> Response:
        src, dst = ctx.types["fromObjectType"], ctx.types["toObjectType"]
        fid, tid = request.path_params["fromObjectId"], request.path_params["toObjectId"]
        started = self._now()
        if not association_types(src.name, dst.name):
            return self._error(400, f"No default association type from {src.singular} to {dst.singular}",
                               "VALIDATION_ERROR", ctx.cid)
        with ctx.portal.lock:
            for otype, oid in ((src, fid), (dst, tid)):
                if oid not in ctx.portal._live(otype.name):
                    return self._error(400, f"{otype.singular} {oid} does not exist or is not valid",
                                       "VALIDATION_ERROR", ctx.cid,
                                       context={"objectId": [oid], "objectType": [otype.singular]})
            ctx.portal.associate(src.name, fid, dst.name, tid)
        default = association_types(src.name, dst.name)[0]
        payload = {
            "status": "COMPLETE",
            "results": [{"from": {"id": fid}, "to": {"id": tid},
                         "associationSpec": {"associationCategory": default.category,
                                             "associationTypeId": default.type_id}}],
            "startedAt": started, "completedAt": self._now(),
        }
        return json_response(200, payload)

    def _assoc_delete(self, request: Request, ctx: _Ctx) -> Response:
        src, dst = ctx.types["objectType"], ctx.types["toObjectType"]
        with ctx.portal.lock:
            ctx.portal.unassociate(src.name, request.path_params["objectId"], dst.name,
                                    request.path_params["toObjectId"])
        return Response(204, b"", {})

    # ---- account details -------------------------------------------------------------------

    def _account_details(self, request: Request) -> Response:
        """GET /account-info/v3/details: the portal id and the domain of HubSpot's app for it
        (https://developers.hubspot.com/docs/api-reference/latest/account/account-information/guide.md;
        fields as in that guide's example). qbsync reads it to link records."""
        cid = str(uuid.uuid4())
        token = request.bearer_token()
        refused = self._auth_failure(token, cid)
        if refused is not None or token is None:
            return refused or Response(401)
        return json_response(200, {"portalId": self.portal_of(token).portal_id, "accountType": "STANDARD",
                                   "timeZone": "US/Eastern", "companyCurrency": "USD", "additionalCurrencies": [],
                                   "utcOffset": "-05:00", "utcOffsetMilliseconds": -18000000,
                                   "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"},
                             {"X-HubSpot-Correlation-Id": cid})

    # ---- private-app token info ----------------------------------------------------------

    def _token_info(self, request: Request) -> Response:
        """POST /oauth/v2/private-apps/get/access-token-info {"tokenKey": token}.

        Documented at the end of HubSpot's private-apps guide (see HubSpot/hubspot-api-php#171);
        hubspot-api-client has no method for it. The answer's field names (userId, hubId, appId,
        scopes) are as remembered from that guide, not checked against a live account.
        It is confirmed for private-app tokens only, so here it knows only those (`pat-...`);
        what HubSpot answers for a service key is not documented: this stand-in answers as for
        an unknown token, and qbsync must not depend on it."""
        cid = str(uuid.uuid4())
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError) as exc:
            return self._error(400, f"Invalid input JSON: {exc}", "VALIDATION_ERROR", cid)
        token = str((body or {}).get("tokenKey") or "")
        if token not in self.tokens or not is_private_app_token(token):
            return self._error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION", cid,
                               headers={"X-HubSpot-Auth-Failure": "401 Unauthorized"})
        return json_response(200, {"userId": self.user_id, "hubId": self.portal_of(token).portal_id,
                                   "appId": self.app_id, "scopes": sorted(self.tokens[token])},
                             {"X-HubSpot-Correlation-Id": cid})


def is_private_app_token(token: str) -> bool:
    """Legacy private-app tokens look like pat-<region>-<uuid> (HubSpot's private-apps guide)."""
    return token.startswith("pat-")


def all_scopes(write: bool = True) -> list[str]:
    """Every read (and write) scope the stand-in checks: handy for a token that may do everything."""
    out = []
    for t in OBJECT_TYPES.values():
        out.append(t.read_scope)
        if write:
            out.append(t.write_scope)
    return out
