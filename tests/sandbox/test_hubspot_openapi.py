"""The HubSpot stand-in's raw HTTP answers validate against HubSpot's official OpenAPI specs
(/work/shared/specs/hubspot/*.json), operation by operation, with openapi-core.

Besides pointing `servers` at the sandbox, reading `"content": {}` (HubSpot's way to write "no
body") as no content, and checking `*/*` error bodies as JSON, two errata are applied to the specs, because there the real service and its spec disagree and
the stand-in follows the service (each has a test below showing the unpatched spec rejects it):
- a requested property that has no value comes back as null (the spec says string);
- a batch error's subCategory is a string such as "crm.associations.NO_ASSOCIATIONS_FOUND"
  (the spec says object).
Everything else (status codes, required fields, formats, error bodies on 4xx) is checked as
the spec has it.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.sandbox.conftest_hubspot import SCENARIO, TOKEN, make_world, world  # noqa: F401

SPECS = Path("/work/shared/specs/hubspot")
SPEC_FILES = {
    "/crm/v3/objects/invoices": "invoices.v3.json",
    "/crm/v3/objects/contacts": "contacts.v3.json",
    "/crm/v3/objects/companies": "companies.v3.json",
    "/crm/v3/objects/line_items": "line_items.v3.json",
    "/crm/v4/": "associations.v4.json",
}

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason="HubSpot specs not available")


def _load(name: str, url: str, errata: bool) -> OpenAPI:
    spec = json.loads((SPECS / name).read_text())
    spec["servers"] = [{"url": url}]  # where the API lives
    # HubSpot writes "no body" (204) as `"content": {}`; openapi-core then demands a body. Drop the
    # empty map so it means what the spec author meant.
    for ops in spec["paths"].values():
        for op in ops.values():
            for resp in (op.get("responses") or {}).values() if isinstance(op, dict) else ():
                if isinstance(resp, dict) and resp.get("content") == {}:
                    del resp["content"]
    # Error answers are declared as `*/*` with the Error schema; openapi-core leaves `*/*` bodies
    # as raw bytes, so give the same schema an application/json entry to have JSON errors checked.
    for resp in spec["components"].get("responses", {}).values():
        content = resp.get("content", {})
        if "*/*" in content:
            content.setdefault("application/json", copy.deepcopy(content["*/*"]))
    if errata:
        schemas = spec["components"]["schemas"]
        for schema in schemas.values():
            props = schema.get("properties", {})
            if "properties" in props and props["properties"].get("additionalProperties") == {
                    "type": "string", "example": None}:
                props["properties"]["additionalProperties"] = {"type": "string", "nullable": True}
        if "StandardError" in schemas:
            schemas["StandardError"]["properties"]["subCategory"] = {"type": "string"}
    return OpenAPI.from_dict(spec)


@pytest.fixture
def specs(world):
    cache: dict[tuple[str, bool], OpenAPI] = {}

    def get(path: str, errata: bool = True) -> OpenAPI:
        name = next(f for prefix, f in SPEC_FILES.items() if path.startswith(prefix))
        key = (name, errata)
        if key not in cache:
            cache[key] = _load(name, world.url, errata)
        return cache[key]

    return get


def _check(specs, resp, errata: bool = True) -> None:
    path = resp.request.path_url.split("?")[0]
    specs(path, errata).validate_response(RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp))


CASES = [
    # (name, method, path, json body, query params, expected status)
    ("list", "GET", "/crm/v3/objects/invoices", None, {"limit": 2, "properties": "hs_number,hs_invoice_status"}, 200),
    ("list with associations", "GET", "/crm/v3/objects/contacts", None, {"associations": "companies"}, 200),
    ("get", "GET", "/crm/v3/objects/invoices/3001", None,
     {"properties": "hs_number,hs_amount_billed", "associations": "contacts"}, 200),
    ("get line item", "GET", "/crm/v3/objects/line_items/4001", None, None, 200),
    ("get company", "GET", "/crm/v3/objects/companies/2002", None, None, 200),
    ("batch read", "POST", "/crm/v3/objects/invoices/batch/read",
     {"inputs": [{"id": "3001"}, {"id": "3002"}], "properties": ["hs_number"], "propertiesWithHistory": []}, None, 200),
    ("batch read with missing ids", "POST", "/crm/v3/objects/contacts/batch/read",
     {"inputs": [{"id": "1001"}, {"id": "999"}], "properties": ["email"], "propertiesWithHistory": []}, None, 207),
    ("search", "POST", "/crm/v3/objects/invoices/search",
     {"filterGroups": [{"filters": [{"propertyName": "hs_invoice_status", "operator": "IN", "values": ["open", "paid"]}]}],
      "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
      "properties": ["hs_number", "hs_amount_billed"], "limit": 1}, None, 200),
    ("associations batch read", "POST", "/crm/v4/associations/invoices/line_items/batch/read",
     {"inputs": [{"id": "3001"}]}, None, 200),
    ("associations batch read 207", "POST", "/crm/v4/associations/invoices/contacts/batch/read",
     {"inputs": [{"id": "3001"}, {"id": "3004"}]}, None, 207),
    ("associations list", "GET", "/crm/v4/objects/contacts/1001/associations/companies", None, None, 200),
    ("associations put default", "PUT", "/crm/v4/objects/invoices/3001/associations/default/contacts/1002",
     None, None, 200),
    ("associations delete", "DELETE", "/crm/v4/objects/invoices/3001/associations/contacts/1001", None, None, 204),
    ("patch", "PATCH", "/crm/v3/objects/invoices/3001", {"properties": {"hs_currency": "EUR"}}, None, 200),
    ("404", "GET", "/crm/v3/objects/invoices/999", None, None, 404),
    ("400 search past 10,000", "POST", "/crm/v3/objects/invoices/search",
     {"filterGroups": [], "after": "10000", "limit": 10}, None, 400),
    ("400 batch too big", "POST", "/crm/v3/objects/invoices/batch/read",
     {"inputs": [{"id": str(i)} for i in range(101)], "properties": [], "propertiesWithHistory": []}, None, 400),
]


@pytest.mark.parametrize("name, method, path, body, params, status", CASES, ids=[c[0] for c in CASES])
def test_answers_validate_against_hubspot_spec(world, specs, name, method, path, body, params, status):
    resp = world.call(method, path, json=body, params=params)
    assert resp.status_code == status, resp.text
    _check(specs, resp)


def test_401_validates(world, specs):
    resp = world.call("GET", "/crm/v3/objects/invoices/3001", token="pat-na1-nope")
    assert resp.status_code == 401
    _check(specs, resp)


def test_403_validates(make_world):
    w = make_world({TOKEN: ["crm.objects.invoices.read"]})
    w.portal.load(SCENARIO)
    resp = w.call("GET", "/crm/v3/objects/contacts/1001")
    assert resp.status_code == 403
    _load("contacts.v3.json", w.url, True).validate_response(
        RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp))


def test_429s_validate(make_world):
    w = make_world(limit_per_10s=1, searches_per_second=1)
    w.portal.load(SCENARIO)
    spec = _load("invoices.v3.json", w.url, True)
    search = {"filterGroups": [], "limit": 1}
    assert w.call("POST", "/crm/v3/objects/invoices/search", json=search).status_code == 200
    for resp in (w.call("POST", "/crm/v3/objects/invoices/search", json=search),   # search limit
                 w.call("GET", "/crm/v3/objects/invoices/3001")):                # ten-second limit
        assert resp.status_code == 429
        spec.validate_response(RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp))


# ---- the validation really checks something, and the errata are needed ----------------------

def test_a_malformed_answer_fails_validation(world, specs):
    resp = world.call("GET", "/crm/v3/objects/invoices/3001")
    broken = copy.copy(resp)
    body = resp.json()
    del body["createdAt"]
    broken._content = json.dumps(body).encode()
    with pytest.raises(Exception):
        _check(specs, broken)


def test_erratum_null_properties(world, specs):
    resp = world.call("GET", "/crm/v3/objects/invoices/3003", params={"properties": "hs_invoice_date"})
    assert resp.json()["properties"]["hs_invoice_date"] is None
    _check(specs, resp)
    with pytest.raises(Exception):
        _check(specs, resp, errata=False)


def test_erratum_string_subcategory(world, specs):
    resp = world.call("POST", "/crm/v4/associations/invoices/contacts/batch/read", json={"inputs": [{"id": "3004"}]})
    assert resp.status_code == 207
    _check(specs, resp)
    with pytest.raises(Exception):
        _check(specs, resp, errata=False)
