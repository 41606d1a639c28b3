"""The sandbox's FaultPlan: each stand-in's own 429 and 5xx answers, slow answers, dropped
connections; per service, switchable while running, seeded; the older per-service injectors
keep working beside it."""
from __future__ import annotations

import time

import pytest
import requests

from sandbox.app import HUBSPOT_TOKEN, Sandbox
from sandbox.faults import FaultPlan
from sandbox.slack_workspace import BOT_TOKEN


@pytest.fixture(scope="module")
def sb():
    with Sandbox() as box:
        box.load("mixed")
        yield box


@pytest.fixture(autouse=True)
def no_faults_after(sb):
    yield
    sb.faults(rate=0)
    sb.qbo_service.retry_after = None


def hubspot(sb, method="GET", path="/crm/v3/objects/invoices", **kw):
    return requests.request(method, sb.hubspot_url + path, headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"},
                            timeout=10, **kw)


def qbo(sb, path=None):
    path = path or f"/v3/company/{sb.realm_id}/query?query=select%20*%20from%20Customer"
    return requests.get(sb.qbo_url + path, headers={"Accept": "application/json"}, timeout=10)


def slack(sb, method="auth.test"):
    return requests.post(f"{sb.slack_api_base}{method}", headers={"Authorization": f"Bearer {BOT_TOKEN}"},
                         timeout=10)


def test_429_answers_are_each_services_own(sb):
    plan = sb.faults(rate=1.0, kinds=("429",), seed=1)
    r = hubspot(sb, "POST", "/crm/v3/objects/invoices/search", json={"limit": 1})
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.json()["policyName"] == "SECONDLY" and r.json()["errorType"] == "RATE_LIMIT"
    r = hubspot(sb)
    body = r.json()
    assert r.status_code == 429 and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit." and body["category"] == "RATE_LIMITS"
    assert r.headers["X-HubSpot-RateLimit-Remaining"] == "0" and "Retry-After" not in r.headers

    r = qbo(sb)
    error = r.json()["Fault"]["Error"][0]
    assert r.status_code == 429 and error["code"] == "3001" and "ThrottleExceeded" in error["Message"]
    assert "Retry-After" not in r.headers and "intuit_tid" in r.headers
    sb.qbo_service.retry_after = 2                       # the stand-in's switch for a Retry-After header
    assert qbo(sb).headers["Retry-After"] == "2"

    r = slack(sb)
    assert r.status_code == 429 and r.json() == {"ok": False, "error": "ratelimited"}
    assert r.headers["Retry-After"] == "1"
    assert plan.count(kind="429") == 5 and plan.count("slack") == 1


def test_5xx_slow_and_drop(sb):
    sb.faults(rate=1.0, kinds=("5xx",), seed=2)
    assert {hubspot(sb).status_code for _ in range(8)} <= {500, 503}
    r = qbo(sb)
    assert r.status_code == 503 and "text/html" in r.headers["Content-Type"]
    assert {slack(sb).status_code for _ in range(6)} <= {500, 503}

    sb.faults(rate=1.0, kinds=("slow",), slow_s=0.3)
    started = time.monotonic()
    assert hubspot(sb).status_code == 200                # late, then the normal answer
    assert time.monotonic() - started >= 0.3

    plan = sb.faults(rate=1.0, kinds=("drop",))
    before = sb.log.count_status("slack", -1)
    for call in (lambda: hubspot(sb), lambda: qbo(sb), lambda: slack(sb)):
        with pytest.raises(requests.ConnectionError):
            call()
    assert sb.log.count_status("slack", -1) == before + 1 and plan.count(kind="drop") == 3


def test_per_service_and_switchable_at_run_time(sb):
    plan = sb.faults(rate=1.0, kinds=("5xx",), services=("qbo",))
    assert hubspot(sb).status_code == 200 and slack(sb).status_code == 200
    assert qbo(sb).status_code == 503
    plan.configure(services=("hubspot",))
    assert qbo(sb).status_code != 503 and hubspot(sb).status_code in (500, 503)
    plan.configure(rate=0)
    assert hubspot(sb).status_code == 200
    # The per-service injectors still work with a plan installed.
    sb.hubspot_service.inject_fault(502)
    assert hubspot(sb).status_code == 502 and hubspot(sb).status_code == 200
    sb.slack.service.fail_next("auth.test", status=429, retry_after=3)
    assert slack(sb).headers["Retry-After"] == "3"


def test_oauth_endpoints_get_outages_but_no_invented_429(sb):
    token_path = "/oauth2/v1/tokens/bearer"
    from sandbox.qbo_oauth import TOKEN_PATH
    assert TOKEN_PATH == token_path
    plan = sb.faults(rate=1.0, kinds=("429",), services=("qbo",))
    r = requests.post(sb.qbo_url + token_path, data={"grant_type": "refresh_token", "refresh_token": "x"},
                      timeout=10)
    assert r.status_code != 429 and plan.count() == 0      # served normally (here: invalid_grant)
    plan.configure(kinds=("5xx",))
    assert requests.get(sb.qbo_discovery_url, timeout=10).status_code == 503
    sb.faults(rate=1.0, kinds=("5xx",), services=("qbo",), oauth=False)
    assert requests.get(sb.qbo_discovery_url, timeout=10).status_code == 200


def test_decisions_are_seeded_and_independent_per_service():
    draws = lambda plan, name, n=200: [plan._draw(name) for _ in range(n)]  # noqa: E731
    a = draws(FaultPlan(0.2, seed=5), "qbo")
    assert a == draws(FaultPlan(0.2, seed=5), "qbo") and a != draws(FaultPlan(0.2, seed=6), "qbo")
    busy = FaultPlan(0.2, seed=5)
    draws(busy, "hubspot", 77)                               # other traffic in between
    assert draws(busy, "qbo") == a
    hits = [k for k in a if k]
    assert 20 <= len(hits) <= 60 and set(hits) == {"429", "5xx", "slow", "drop"}
    with pytest.raises(ValueError):
        FaultPlan(kinds=("teapot",))
    with pytest.raises(ValueError):
        FaultPlan(rate=1.5)
