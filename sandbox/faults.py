"""Random fault injection for the sandbox's stand-ins (HubSpot, QBO, Slack).

One `FaultPlan` decides, request by request, whether to answer with a fault instead of the
real answer, and which one:

  "429"   the service's own rate-limit answer (HubSpot: its rate-limit JSON, policy SECONDLY on
          search and TEN_SECONDLY_ROLLING elsewhere, no Retry-After; QBO: fault 3001
          ThrottleExceeded, Retry-After only when the QBO stand-in is set to send one; Slack:
          {"ok": false, "error": "ratelimited"} with Retry-After in whole seconds);
  "5xx"   a server error as each answers it (HubSpot: 500 with its error JSON or a 503 page from
          the edge; QBO: 503 page; Slack: 500 or 503 with no body);
  "slow"  the answer comes `slow_s` seconds late (then the request is served normally);
  "drop"  the connection is closed without an answer, before the request is processed (so
          a retry is always safe; QboService.inject("drop") covers "processed, then lost").

The plan sits on a ServiceServer (`server.faults = plan`); sandbox/server.py asks it before
the service's own before_request, so the per-service injectors (HubSpotService.inject_fault,
QboService.inject, SlackService.fail_next) keep working beside it. `Sandbox.faults(...)` sets
one plan on all three servers; `services` says which of them it touches, and `rate`,
`services` and `kinds` may be changed while the servers run.

Intuit's OAuth endpoints (token, discovery document, revoke) are on the QBO server and get
faults too when `oauth` is True (the default): an outage there is real, and the bot's token
manager turns a 5xx, a timeout or a dropped connection into Transient, which the QBO adapter
retries like any other. A "429" there is not injected (we know of no documented rate-limit
answer from Intuit's token endpoint, and inventing one would test nothing real); the request
is served normally. Likewise Slack's response_url hooks get no "429". Decisions come from one
random generator per service (seeded from `seed`), so one service's traffic does not shift
another's faults.
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from typing import Iterable

from .server import Request, Response, Route, Service, json_response

KINDS = ("429", "5xx", "slow", "drop")
SERVICES = ("hubspot", "qbo", "slack")


class FaultPlan:
    def __init__(self, rate: float = 0.2, kinds: Iterable[str] = KINDS, seed: int | None = None,
                 slow_s: float = 0.5, *, services: Iterable[str] | None = None, oauth: bool = True,
                 slack_retry_after: int = 1):
        self._lock = threading.Lock()
        self.seed = seed
        self.slow_s = float(slow_s)
        self.oauth = oauth
        self.slack_retry_after = int(slack_retry_after)
        self._rngs: dict[str, random.Random] = {}
        self.injected: Counter[tuple[str, str]] = Counter()  # (service, kind) -> faults given
        self.configure(rate=rate, kinds=kinds, services=services)

    def configure(self, *, rate: float | None = None, kinds: Iterable[str] | None = None,
                  services: Iterable[str] | None | str = "keep") -> "FaultPlan":
        """Change the plan while the servers run (services=None: every service)."""
        with self._lock:
            if rate is not None:
                if not 0.0 <= float(rate) <= 1.0:
                    raise ValueError("rate must be between 0 and 1")
                self.rate = float(rate)
            if kinds is not None:
                kinds = tuple(kinds)
                unknown = [k for k in kinds if k not in KINDS]
                if unknown or not kinds:
                    raise ValueError(f"fault kinds must be some of {KINDS}, got {kinds}")
                self.kinds = kinds
            if services != "keep":
                chosen = None if services is None else frozenset(services)
                if chosen is not None and not chosen <= set(SERVICES):
                    raise ValueError(f"services must be some of {SERVICES}")
                self.services = chosen
        return self

    def count(self, service: str | None = None, kind: str | None = None) -> int:
        with self._lock:
            return sum(n for (s, k), n in self.injected.items()
                       if (service is None or s == service) and (kind is None or k == kind))

    # -- called by sandbox/server.py for every routed request ------------------------------
    def apply(self, service: Service, request: Request, route: Route) -> Response | None:
        """A fault answer, or None to let the request through (after a delay for "slow")."""
        kind = self._draw(service.name)
        if kind is None:
            return None
        answer = _ANSWERS.get(service.name, _generic)(self, service, request, route, kind)
        if answer is _SKIP:
            return None
        with self._lock:
            self.injected[(service.name, kind)] += 1
        if kind == "slow":
            time.sleep(self.slow_s)
            return None
        if kind == "drop":
            return Response(status=-1)
        return answer

    def _draw(self, name: str) -> str | None:
        with self._lock:
            if self.rate <= 0 or (self.services is not None and name not in self.services):
                return None
            rng = self._rngs.get(name)
            if rng is None:
                rng = self._rngs[name] = random.Random(f"{self.seed}:{name}") if self.seed is not None \
                    else random.Random()
            if rng.random() >= self.rate:
                return None
            return rng.choice(self.kinds)

    def _rng(self, name: str) -> random.Random:
        with self._lock:
            return self._rngs[name]


_SKIP = Response(status=0)  # marker: this kind does not apply to this endpoint
_PASS = Response(status=0)  # marker for slow/drop: the plan itself acts


def _html(status: int, title: str) -> Response:
    return Response(status, f"<html><head><title>{status} {title}</title></head><body>{title}</body></html>"
                    .encode("utf-8"), {"Content-Type": "text/html"})


def _hubspot(plan: FaultPlan, service, request: Request, route: Route, kind: str) -> Response:
    if kind in ("slow", "drop"):
        return _PASS
    cid = str(uuid.uuid4())
    if kind == "429":
        if route.pattern.startswith("/oauth/"):
            return _SKIP
        # Same words, headers and fields as HubSpotService._guard's own limit answers.
        if route.pattern.endswith("/search"):
            return service._error(429, "You have reached your secondly limit.", "RATE_LIMITS", cid,
                                  errorType="RATE_LIMIT", policyName="SECONDLY")
        limit = service.request_limit
        return service._error(429, "You have reached your ten_secondly_rolling limit.", "RATE_LIMITS", cid,
                              headers=service._limit_headers(limit, 0), errorType="RATE_LIMIT",
                              policyName="TEN_SECONDLY_ROLLING")
    if plan._rng("hubspot").random() < 0.5:
        return json_response(500, {"status": "error", "message": "internal error", "correlationId": cid,
                                   "category": "INTERNAL_ERROR"}, {"X-HubSpot-Correlation-Id": cid})
    return _html(503, "Service Temporarily Unavailable")


def _qbo(plan: FaultPlan, service, request: Request, route: Route, kind: str) -> Response:
    from .qbo import QboFault
    from .qbo_oauth import is_oauth_path

    oauth = is_oauth_path(request.path)
    if oauth and not plan.oauth:
        return _SKIP
    if kind in ("slow", "drop"):
        return _PASS
    if kind == "429":
        if oauth:
            return _SKIP
        # As QboService._throttle answers: fault 3001, no "element", Retry-After only if set.
        fault = QboFault("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                         "The request limit was reached.  Try again later", fault_type="SERVICE",
                         http_status=429)
        body = fault.to_body(service.clock.now())
        del body["Fault"]["Error"][0]["element"]
        headers = {"Retry-After": str(service.retry_after)} if service.retry_after is not None else {}
        return service._json(429, body, headers)
    return _html(503, "Service Unavailable")  # as QboService.inject("503")


def _slack(plan: FaultPlan, service, request: Request, route: Route, kind: str) -> Response:
    if kind in ("slow", "drop"):
        return _PASS
    api = route.pattern.startswith("/api/")
    if kind == "429":
        if not api:
            return _SKIP
        return json_response(429, {"ok": False, "error": "ratelimited"},
                             {"Retry-After": str(plan.slack_retry_after)})
    return Response(500 if plan._rng("slack").random() < 0.5 else 503, b"", {})


def _generic(plan: FaultPlan, service, request: Request, route: Route, kind: str) -> Response:
    if kind in ("slow", "drop"):
        return _PASS
    if kind == "429":
        return _SKIP
    return _html(503, "Service Unavailable")


_ANSWERS = {"hubspot": _hubspot, "qbo": _qbo, "slack": _slack}
