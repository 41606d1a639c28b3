"""The QBO stand-in over real HTTP: auth, throttling, OAuth endpoints, and the API routes."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError

from sandbox.qbo import AUTH_FAILED_BODY, QboCompany, QboService
from sandbox.server import RequestLog, ServiceServer
from tests.sandbox.conftest_qbo import (REALM, qbo_clock, qbo_company, qbo_log, qbo_server,  # noqa: F401
                                        qbo_service, sales_line)

EXPECTED_401 = {"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                     "code": "3200"}], "type": "AUTHENTICATION"}}


@pytest.fixture
def token(qbo_service):
    return qbo_service.registry.issue_access_token(qbo_service.client_id, REALM)


def api(server, path, token, method="GET", **kw):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", **kw.pop("headers", {})}
    params = {"minorversion": "75", **kw.pop("params", {})}
    return requests.request(method, f"{server.url}/v3/company/{REALM}{path}", headers=headers, params=params,
                            timeout=10, **kw)


def basic(service, secret=None):
    raw = f"{service.client_id}:{secret or service.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


# -- auth ------------------------------------------------------------------------------------
def test_missing_unknown_and_expired_tokens_get_the_lower_case_401(qbo_server, qbo_clock, token):
    assert AUTH_FAILED_BODY == EXPECTED_401
    for bad in (None, "not-a-token"):
        r = requests.get(f"{qbo_server.url}/v3/company/{REALM}/preferences",
                         headers={"Authorization": f"Bearer {bad}"} if bad else {}, timeout=10)
        assert r.status_code == 401 and r.json() == EXPECTED_401
    assert api(qbo_server, "/preferences", token).status_code == 200
    qbo_clock.advance(3601)
    r = api(qbo_server, "/preferences", token)
    assert r.status_code == 401 and r.json() == EXPECTED_401


def test_token_for_another_company_is_403(qbo_service, qbo_server, qbo_clock):
    other = QboCompany(qbo_clock, "1111222233334444")
    qbo_service.add_company(other)
    token = qbo_service.registry.issue_access_token(qbo_service.client_id, "1111222233334444")
    r = api(qbo_server, "/preferences", token)  # URL names REALM
    assert r.status_code == 403
    assert r.json()["fault"]["error"][0]["code"] == "3100"
    r = requests.get(f"{qbo_server.url}/v3/company/1111222233334444/preferences",
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200


# -- throttling ------------------------------------------------------------------------------
def _throttled_server(company, clock, **limits):
    service = QboService(company, clock=clock, **limits)
    log = RequestLog()
    return service, log, ServiceServer(service, log).start()


def test_per_minute_limit_answers_429_with_qbo_throttle_fault(qbo_company, qbo_clock):
    service, log, server = _throttled_server(qbo_company, qbo_clock, per_minute_limit=3, per_second_limit=100)
    try:
        token = service.registry.issue_access_token(service.client_id, REALM)
        statuses = [api(server, "/preferences", token).status_code for _ in range(3)]
        r = api(server, "/preferences", token)
        assert statuses == [200, 200, 200] and r.status_code == 429
        body = r.json()
        assert body["Fault"]["type"] == "SERVICE"
        assert body["Fault"]["Error"][0]["code"] == "3001"
        assert "ThrottleExceeded" in body["Fault"]["Error"][0]["Message"]
        assert "Retry-After" not in r.headers  # QBO is not known to send one
        qbo_clock.advance(61)  # the window slides
        assert api(server, "/preferences", token).status_code == 200
        assert log.count_status("qbo", 429) == 1
    finally:
        server.stop()


def test_per_second_limit_and_optional_retry_after(qbo_company, qbo_clock):
    service, _, server = _throttled_server(qbo_company, qbo_clock, per_second_limit=2, retry_after=7)
    try:
        token = service.registry.issue_access_token(service.client_id, REALM)
        codes = [api(server, "/preferences", token).status_code for _ in range(3)]
        assert codes[:2] == [200, 200] and codes[2] == 429
        r = api(server, "/preferences", token)
        assert r.headers["Retry-After"] == "7"
        qbo_clock.advance(1.5)
        assert api(server, "/preferences", token).status_code == 200
    finally:
        server.stop()


def test_throttle_fault_reaches_python_quickbooks_as_validation_exception(qbo_company, qbo_clock):
    from quickbooks import QuickBooks
    from quickbooks.exceptions import ValidationException

    service, _, server = _throttled_server(qbo_company, qbo_clock, per_minute_limit=1)
    try:
        session = requests.Session()
        session.access_token = service.registry.issue_access_token(service.client_id, REALM)
        qb = QuickBooks(company_id=REALM, minorversion=75)
        qb.session, qb.api_url_v3 = session, f"{server.url}/v3"
        qb.query("SELECT * FROM Customer")
        with pytest.raises(ValidationException) as err:
            qb.query("SELECT * FROM Customer")
        assert err.value.error_code == 3001
    finally:
        server.stop()


# -- OAuth -----------------------------------------------------------------------------------
def test_discovery_document_points_at_the_sandbox(qbo_server):
    for path in ("/.well-known/openid_sandbox_configuration", "/.well-known/openid_configuration/"):
        doc = requests.get(qbo_server.url + path, timeout=10).json()
        for key in ("authorization_endpoint", "token_endpoint", "revocation_endpoint", "issuer", "jwks_uri",
                    "userinfo_endpoint"):
            assert doc[key].startswith(qbo_server.url), key


def test_authorize_code_flow_through_intuit_oauth(qbo_server, qbo_service):
    from intuitlib.enums import Scopes

    client = AuthClient(qbo_service.client_id, qbo_service.client_secret, "http://localhost:9/callback",
                        f"{qbo_server.url}/.well-known/openid_sandbox_configuration")
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token="st-123")
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://localhost:9/callback"
    q = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert q["state"] == "st-123" and q["realmId"] == REALM
    client.get_bearer_token(q["code"], realm_id=q["realmId"])
    assert client.expires_in == 3600 and client.x_refresh_token_expires_in == 8726400
    assert api(qbo_server, "/preferences", client.access_token).status_code == 200
    with pytest.raises(AuthClientError) as err:  # a code works once
        client.get_bearer_token(q["code"])
    assert err.value.status_code == 400 and json.loads(err.value.content) == {"error": "invalid_grant"}


def test_refresh_rotates_and_old_refresh_token_is_refused(qbo_server, qbo_service):
    first = qbo_service.issue_refresh_token()
    client = AuthClient(qbo_service.client_id, qbo_service.client_secret, "http://localhost:9/cb",
                        f"{qbo_server.url}/.well-known/openid_sandbox_configuration")
    client.refresh(refresh_token=first)
    second = client.refresh_token
    assert second != first and client.access_token
    assert api(qbo_server, "/preferences", client.access_token).status_code == 200
    with pytest.raises(AuthClientError) as err:
        client.refresh(refresh_token=first)
    assert err.value.status_code == 400 and json.loads(err.value.content) == {"error": "invalid_grant"}
    client.refresh(refresh_token=second)  # the new one works


def test_wrong_client_secret_is_invalid_client(qbo_server, qbo_service):
    r = requests.post(qbo_server.url + "/oauth2/v1/tokens/bearer", headers=basic(qbo_service, "wrong"),
                      data={"grant_type": "refresh_token", "refresh_token": qbo_service.issue_refresh_token()},
                      timeout=10)
    assert r.status_code == 401 and r.json() == {"error": "invalid_client"}
    r = requests.post(qbo_server.url + "/oauth2/v1/tokens/bearer", headers=basic(qbo_service),
                      data={"grant_type": "password"}, timeout=10)
    assert r.status_code == 400 and r.json() == {"error": "unsupported_grant_type"}


def test_revoke_ends_the_connection(qbo_server, qbo_service):
    refresh = qbo_service.issue_refresh_token()
    r = requests.post(qbo_server.url + "/oauth2/v1/tokens/bearer", headers=basic(qbo_service),
                      data={"grant_type": "refresh_token", "refresh_token": refresh}, timeout=10).json()
    assert api(qbo_server, "/preferences", r["access_token"]).status_code == 200
    out = requests.post(qbo_server.url + "/v2/oauth2/tokens/revoke", headers=basic(qbo_service),
                        json={"token": r["refresh_token"]}, timeout=10)
    assert out.status_code == 200
    assert api(qbo_server, "/preferences", r["access_token"]).status_code == 401
    assert not qbo_service.registry.refresh_token_valid(r["refresh_token"])


def test_refresh_token_expires_by_the_clock(qbo_server, qbo_service, qbo_clock):
    refresh = qbo_service.issue_refresh_token()
    qbo_clock.advance(8726400 + 1)
    r = requests.post(qbo_server.url + "/oauth2/v1/tokens/bearer", headers=basic(qbo_service),
                      data={"grant_type": "refresh_token", "refresh_token": refresh}, timeout=10)
    assert r.status_code == 400 and r.json() == {"error": "invalid_grant"}


# -- API routes ------------------------------------------------------------------------------
def test_query_by_get_and_by_post_text(qbo_server, qbo_service, token):
    r = api(qbo_server, "/query", token, params={"query": "SELECT * FROM Customer WHERE DisplayName = 'Acme BV'"})
    assert r.status_code == 200 and r.json()["QueryResponse"]["Customer"][0]["Id"] == "58"
    assert r.headers.get("intuit_tid")
    r = api(qbo_server, "/query", token, method="POST", headers={"Content-Type": "application/text"},
            data="SELECT COUNT(*) FROM Invoice".encode())
    assert r.json()["QueryResponse"] == {"totalCount": 1}
    r = api(qbo_server, "/query", token, method="POST", headers={"Content-Type": "application/text"},
            data=b"SELECT * FROM Customer WHERE Id = '1' OR Id = '2'")
    assert r.status_code == 400 and r.json()["Fault"]["Error"][0]["code"] == "4000"
    assert "75" in qbo_service.minorversions


def test_create_read_update_delete_routes(qbo_server, token):
    body = {"CustomerRef": {"value": "58"}, "DocNumber": "H-1", "Line": [sales_line(42.0)]}
    r = api(qbo_server, "/invoice", token, method="POST", json=body, params={"requestid": "c-1"})
    assert r.status_code == 200
    inv = r.json()["Invoice"]
    again = api(qbo_server, "/invoice", token, method="POST", json=body, params={"requestid": "c-1"}).json()
    assert again["Invoice"]["Id"] == inv["Id"]  # same requestid: applied once
    assert api(qbo_server, f"/invoice/{inv['Id']}", token).json()["Invoice"]["TotalAmt"] == 42
    upd = api(qbo_server, "/invoice", token, method="POST",
              json={"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "hi"}).json()["Invoice"]
    assert upd["SyncToken"] == "1" and upd["PrivateNote"] == "hi"
    stale = api(qbo_server, "/invoice", token, method="POST", json={"Id": inv["Id"], "SyncToken": "0",
                                                                    "sparse": True})
    assert stale.status_code == 400 and stale.json()["Fault"]["Error"][0]["code"] == "5010"
    gone = api(qbo_server, "/invoice", token, method="POST", params={"operation": "delete"},
               json={"Id": inv["Id"], "SyncToken": "1"}).json()
    assert gone["Invoice"]["status"] == "Deleted"
    missing = api(qbo_server, f"/invoice/{inv['Id']}", token)
    assert missing.status_code == 400 and missing.json()["Fault"]["Error"][0]["code"] == "610"
    dup = api(qbo_server, "/invoice", token, method="POST", params={"include": "allowduplicatedocnum"},
              json={**body, "DocNumber": "1001"})
    assert dup.status_code == 200


def test_companyinfo_preferences_and_cdc_routes(qbo_server, qbo_clock, token):
    info = api(qbo_server, f"/companyinfo/{REALM}", token).json()["CompanyInfo"]
    assert info["CompanyName"] == "Acme Books Inc"
    prefs = api(qbo_server, "/preferences", token).json()["Preferences"]
    r = api(qbo_server, "/preferences", token, method="POST",
            json={"SyncToken": prefs["SyncToken"], "ProductAndServicesPrefs": {"RevenueRecognitionEnabled": True}})
    assert r.status_code == 400 and r.json()["Fault"]["Error"][0]["code"] == "2010"
    r = api(qbo_server, "/preferences", token, method="POST",
            json={"SyncToken": prefs["SyncToken"], "SalesFormsPrefs": {"CustomTxnNumbers": False}})
    assert r.json()["Preferences"]["SalesFormsPrefs"]["CustomTxnNumbers"] is False
    since = (qbo_clock.now()).isoformat()
    qbo_clock.advance(1)
    api(qbo_server, "/customer", token, method="POST", json={"DisplayName": "Fresh"})
    cdc = api(qbo_server, "/cdc", token, params={"entities": "Customer,Invoice", "changedSince": since}).json()
    blocks = cdc["CDCResponse"][0]["QueryResponse"]
    assert [c["DisplayName"] for c in blocks[0]["Customer"]] == ["Fresh"] and blocks[1] == {}
    old = api(qbo_server, "/cdc", token, params={"entities": "Customer", "changedSince": "2020-01-01"})
    assert old.status_code == 400


def test_batch_route(qbo_server, token):
    items = [{"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch One"}},
             {"bId": "2", "operation": "create", "Customer": {"DisplayName": "Acme BV"}},
             {"bId": "3", "Query": "SELECT * FROM Customer WHERE DisplayName = 'Batch One'"}]
    out = api(qbo_server, "/batch", token, method="POST", json={"BatchItemRequest": items}).json()
    answers = {a["bId"]: a for a in out["BatchItemResponse"]}
    assert answers["1"]["Customer"]["DisplayName"] == "Batch One"
    assert answers["2"]["Fault"]["Error"][0]["code"] == "6240"
    assert answers["3"]["QueryResponse"]["Customer"][0]["DisplayName"] == "Batch One"
    too_many = [{"bId": str(i), "Query": "SELECT * FROM Item"} for i in range(31)]
    assert api(qbo_server, "/batch", token, method="POST", json={"BatchItemRequest": too_many}).status_code == 400
