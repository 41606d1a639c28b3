"""The HubSpot stand-in: its portal model and its HTTP answers (raw HTTP, no client library)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from sandbox.clock import iso_z
from sandbox.hubspot import HubSpotPortal
from tests.sandbox.conftest_hubspot import SCENARIO, TOKEN, make_world, world  # noqa: F401


def _ids(resp) -> list[str]:
    return [r["id"] for r in resp.json()["results"]]


# ---- portal model ---------------------------------------------------------------------------

def test_load_derives_hubspot_properties(world):
    p = world.portal
    assert (p.portal_id, p.language, p.tier) == (24681357, "nl", "starter")
    inv = p.get("invoices", "3001")["properties"]
    assert inv["hs_number"] == "INV-1001"
    assert inv["hs_amount_billed"] == "349.95"          # 2 x 150 + 1 x 49.95
    assert inv["hs_balance_due"] == "349.95"
    assert inv["hs_invoice_source"] == "hubspot"        # scenario "native": the stand-in's guess
    assert inv["hs_invoice_date"] == "2026-11-01T00:00:00.000Z"
    assert inv["hs_object_id"] == "3001"
    paid = p.get("invoices", "3002")["properties"]
    assert paid["hs_balance_due"] == "0" and paid["hs_amount_billed"] == "30"
    assert paid["hs_invoice_source"] == "data_sync"     # scenario "quickbooks": as seen on a real portal
    line = p.get("line_items", "4004")["properties"]
    assert (line["quantity"], line["price"], line["amount"]) == ("1.5", "80", "120")
    assert p.qbo_item_ids == {"4003": "77"}
    contact = p.get("contacts", "1003")["properties"]
    assert contact["company"] == 'Café "Ñandú"' and contact["associatedcompanyid"] == "2002"
    assert contact["lastname"] == "O'Brien \\ Søn"


def test_load_dates_follow_the_clock(world):
    p = world.portal
    now = world.clock.now()
    created = datetime.fromisoformat(p.get("invoices", "3001")["createdAt"].replace("Z", "+00:00"))
    assert abs((now - created) - timedelta(minutes=90)) < timedelta(seconds=5)
    rec = p.get("invoices", "3003")
    assert rec["createdAt"] == "2026-01-15T08:30:00.000Z" == rec["properties"]["hs_createdate"]
    assert rec["updatedAt"] == rec["properties"]["hs_lastmodifieddate"]


def test_associations_are_stored_both_ways(world):
    p = world.portal
    assert p.associated("invoices", "3001", "contacts") == ["1001"]
    assert p.associated("contacts", "1001", "invoices") == ["3001"]
    assert p.associated("0-53", "3001", "0-8") == ["4001", "4002"]
    assert p.associated("line_items", "4002", "invoices") == ["3001"]
    assert p.associated("companies", "2002", "invoices") == ["3002"]
    assert p.associated("invoices", "3004", "contacts") == []
    types = p.association_types("contacts", "1001", "companies")["2001"]
    assert [t.type_id for t in types] == [279, 1]
    assert [t.type_id for t in p.association_types("companies", "2001", "contacts")["1001"]] == [280, 2]
    assert [t.type_id for t in p.association_types("contacts", "1001", "invoices")["3001"]] == [178]


def test_update_associate_unassociate(world):
    p = world.portal
    before = p.get("invoices", "3001")["properties"]["hs_lastmodifieddate"]
    world.clock.advance(5)
    rec = p.update("invoices", "3001", {"hs_invoice_status": "paid", "hs_balance_due": "0"})
    assert rec["properties"]["hs_invoice_status"] == "paid"
    assert rec["properties"]["hs_lastmodifieddate"] > before
    assert rec["updatedAt"] == rec["properties"]["hs_lastmodifieddate"]
    p.associate("invoices", "3001", "contacts", "1002")
    assert p.associated("invoices", "3001", "contacts") == ["1001", "1002"]
    assert p.unassociate("invoices", "3001", "contacts", "1001") is True
    assert p.associated("invoices", "3001", "contacts") == ["1002"]
    assert p.associated("contacts", "1001", "invoices") == []
    created = p.create("contacts", {"email": "new@example.com"})
    assert created["id"].isdigit() and p.get("contacts", created["id"])["properties"]["email"] == "new@example.com"
    with pytest.raises(KeyError):
        p.update("invoices", "999", {"hs_number": "x"})
    with pytest.raises(KeyError):
        p.associate("invoices", "3001", "contacts", "999")


def test_load_rejects_bad_sections(world):
    p = HubSpotPortal(world.clock)
    with pytest.raises(ValueError):
        p.load({"language": "de"})
    with pytest.raises(ValueError):
        p.load({"invoices": [{"id": "1", "line_items": ["404"]}]})


# ---- auth and scopes ---------------------------------------------------------------------------

def test_missing_and_unknown_tokens_get_hubspots_401(world):
    for token in (None, "pat-na1-wrong"):
        r = world.call("GET", "/crm/v3/objects/invoices", token=token)
        assert r.status_code == 401
        body = r.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found.")
        assert body["correlationId"] == r.headers["X-HubSpot-Correlation-Id"]
        assert r.headers["X-HubSpot-Auth-Failure"] == "401 Unauthorized"
        assert "X-HubSpot-RateLimit-Remaining" not in r.headers


def test_missing_scope_is_403_naming_the_scope(make_world):
    w = make_world({TOKEN: ["crm.objects.invoices.read", "e-commerce"]})
    w.portal.load(SCENARIO)
    r = w.call("POST", "/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": "1001"}], "properties": []})
    assert r.status_code == 403
    body = r.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.read"]
    # associations need both objects' read scopes; "e-commerce" covers line items
    assert w.call("POST", "/crm/v4/associations/invoices/line_items/batch/read",
                  json={"inputs": [{"id": "3001"}]}).status_code == 200
    r = w.call("POST", "/crm/v4/associations/invoices/contacts/batch/read", json={"inputs": [{"id": "3001"}]})
    assert r.status_code == 403
    # writing an invoice's association needs the invoices write scope
    r = w.call("PUT", "/crm/v4/objects/invoices/3001/associations/default/line_items/4003")
    assert r.status_code == 403
    assert r.json()["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.invoices.write"]


def test_object_types_by_name_singular_or_id(world):
    for name in ("invoices", "invoice", "0-53", "INVOICES"):
        r = world.call("GET", f"/crm/v3/objects/{name}/3001")
        assert r.status_code == 200 and r.json()["id"] == "3001", name
    r = world.call("GET", "/crm/v3/objects/widgets/1")
    assert r.status_code == 400 and r.json()["message"] == "Unable to infer object type from: widgets"


# ---- objects v3 ------------------------------------------------------------------------------

def test_get_returns_requested_properties_and_nulls(world):
    r = world.call("GET", "/crm/v3/objects/invoices/3003",
                   params={"properties": ["hs_number", "hs_invoice_date", "no_such_property"]})
    props = r.json()["properties"]
    assert props["hs_number"] == "INV-1003"
    assert props["hs_invoice_date"] is None            # known but empty: null, as HubSpot answers
    assert "no_such_property" not in props             # unknown: left out
    assert {"hs_object_id", "hs_createdate", "hs_lastmodifieddate"} <= set(props)
    default = world.call("GET", "/crm/v3/objects/contacts/1001").json()["properties"]
    assert set(default) == {"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}
    by_number = world.call("GET", "/crm/v3/objects/invoices/INV-1002", params={"idProperty": "hs_number"})
    assert by_number.json()["id"] == "3002"
    missing = world.call("GET", "/crm/v3/objects/invoices/999")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_get_with_v3_associations(world):
    r = world.call("GET", "/crm/v3/objects/invoices/3001", params={"associations": "contacts,line_items"})
    assoc = r.json()["associations"]
    assert assoc["contacts"]["results"] == [{"id": "1001", "type": "invoice_to_contact"}]
    assert [x["id"] for x in assoc["line_items"]["results"]] == ["4001", "4002"]


def test_list_pages_by_after_and_caps_limit(make_world):
    w = make_world()
    ids = w.populate(250, links=False)
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 100, **({"after": after} if after else {})}
        body = w.call("GET", "/crm/v3/objects/invoices", params=params).json()
        seen += [r["id"] for r in body["results"]]
        pages += 1
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert pages == 3 and seen == ids
    r = w.call("GET", "/crm/v3/objects/invoices", params={"limit": 101})
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"


def test_batch_read(world):
    r = world.call("POST", "/crm/v3/objects/invoices/batch/read",
                   json={"inputs": [{"id": "3002"}, {"id": "3001"}], "properties": ["hs_number"],
                         "propertiesWithHistory": []})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "COMPLETE" and _ids(r) == ["3002", "3001"]
    r = world.call("POST", "/crm/v3/objects/invoices/batch/read",
                   json={"inputs": [{"id": "3001"}, {"id": "777"}, {"id": "778"}], "properties": []})
    assert r.status_code == 207
    body = r.json()
    assert _ids(r) == ["3001"] and body["numErrors"] == 1
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"]["ids"] == ["777", "778"]
    too_many = world.call("POST", "/crm/v3/objects/invoices/batch/read",
                          json={"inputs": [{"id": str(i)} for i in range(101)], "properties": []})
    assert too_many.status_code == 400 and "100" in too_many.json()["message"]
    dup = world.call("POST", "/crm/v3/objects/invoices/batch/read",
                     json={"inputs": [{"id": "3001"}, {"id": "3001"}], "properties": []})
    assert dup.status_code == 400
    bad = world.call("POST", "/crm/v3/objects/invoices/batch/read", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400


def test_patch_updates_and_validates(world):
    before = world.portal.get("invoices", "3001")["properties"]["hs_lastmodifieddate"]
    world.clock.advance(2)
    r = world.call("PATCH", "/crm/v3/objects/invoices/3001", json={"properties": {"hs_currency": "EUR"}})
    assert r.status_code == 200 and r.json()["properties"]["hs_currency"] == "EUR"
    assert world.portal.get("invoices", "3001")["properties"]["hs_lastmodifieddate"] > before
    r = world.call("PATCH", "/crm/v3/objects/invoices/3001", json={"properties": {"nope": "1"}})
    assert r.status_code == 400 and "PROPERTY_DOESNT_EXIST" in r.json()["message"]
    assert world.call("PATCH", "/crm/v3/objects/invoices/999",
                      json={"properties": {"hs_currency": "EUR"}}).status_code == 404


# ---- search ----------------------------------------------------------------------------------

def _search(w, filters=None, groups=None, **body):
    if groups is None:
        groups = [{"filters": filters}] if filters else []
    return w.call("POST", "/crm/v3/objects/invoices/search", json={"filterGroups": groups, **body})


@pytest.mark.parametrize("flt, expected", [
    ({"propertyName": "hs_invoice_status", "operator": "EQ", "value": "OPEN"}, ["3001"]),
    ({"propertyName": "hs_invoice_status", "operator": "NEQ", "value": "open"}, ["3002", "3003", "3004"]),
    ({"propertyName": "hs_amount_billed", "operator": "LT", "value": "30"}, ["3004"]),
    ({"propertyName": "hs_amount_billed", "operator": "LTE", "value": "30"}, ["3002", "3004"]),
    ({"propertyName": "hs_amount_billed", "operator": "GT", "value": "120"}, ["3001"]),
    ({"propertyName": "hs_amount_billed", "operator": "GTE", "value": "120"}, ["3001", "3003"]),
    ({"propertyName": "hs_amount_billed", "operator": "BETWEEN", "value": "30", "highValue": "120"},
     ["3002", "3003"]),
    ({"propertyName": "hs_invoice_status", "operator": "IN", "values": ["open", "paid"]}, ["3001", "3002"]),
    ({"propertyName": "hs_invoice_status", "operator": "NOT_IN", "values": ["open", "paid"]}, ["3003", "3004"]),
    ({"propertyName": "hs_invoice_date", "operator": "HAS_PROPERTY"}, ["3001", "3002"]),
    ({"propertyName": "hs_invoice_date", "operator": "NOT_HAS_PROPERTY"}, ["3003", "3004"]),
    ({"propertyName": "hs_number", "operator": "CONTAINS_TOKEN", "value": "inv-100*"}, ["3001", "3002", "3003"]),
    ({"propertyName": "hs_invoice_date", "operator": "GTE", "value": "2026-10-15"}, ["3001"]),
    ({"propertyName": "hs_invoice_date", "operator": "LT",
      "value": str(int(datetime(2026, 10, 15, tzinfo=timezone.utc).timestamp() * 1000))}, ["3002"]),
])
def test_search_operators(world, flt, expected):
    r = _search(world, [flt])
    assert r.status_code == 200, r.text
    assert _ids(r) == expected
    assert r.json()["total"] == len(expected)


def test_search_groups_or_and_sorts(world):
    groups = [{"filters": [{"propertyName": "hs_invoice_status", "operator": "EQ", "value": "draft"}]},
              {"filters": [{"propertyName": "hs_currency", "operator": "EQ", "value": "EUR"},
                           {"propertyName": "hs_invoice_status", "operator": "EQ", "value": "paid"}]}]
    assert _ids(_search(world, groups=groups)) == ["3002", "3003"]
    r = _search(world, sorts=[{"propertyName": "hs_amount_billed", "direction": "DESCENDING"}],
                properties=["hs_amount_billed"])
    assert _ids(r) == ["3001", "3003", "3002", "3004"]
    assert set(r.json()["results"][0]["properties"]) == {
        "hs_amount_billed", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"}
    assert _ids(_search(world, sorts=["-hs_createdate"]))[-1] == "3003"
    contacts = world.call("POST", "/crm/v3/objects/contacts/search", json={"filterGroups": [{"filters": [
        {"propertyName": "email", "operator": "EQ", "value": "ZOE.O'BRIEN@nandu.example"}]}]})
    assert _ids(contacts) == ["1003"]
    assert _ids(world.call("POST", "/crm/v3/objects/contacts/search", json={"query": "smit"})) == ["1001", "1002"]


def test_search_limits_answer_400(world):
    f = {"propertyName": "hs_currency", "operator": "EQ", "value": "USD"}
    assert _search(world, groups=[{"filters": [f]}] * 6).status_code == 400
    assert _search(world, groups=[{"filters": [f] * 7}]).status_code == 400
    assert _search(world, groups=[{"filters": [f] * 6}] * 3 + [{"filters": [f]}]).status_code == 400  # 19
    assert _search(world, groups=[{"filters": [f] * 6}] * 3).status_code == 200                      # 18
    assert _search(world, [f], limit=201).status_code == 400
    assert _search(world, [{"propertyName": "x", "operator": "LIKE", "value": "1"}]).status_code == 400
    assert _search(world, [f], sorts=["hs_number", "hs_currency"]).status_code == 400


def test_search_pages_and_stops_at_10000(make_world):
    w = make_world()
    w.populate(10_050, links=False)
    r = _search(w, [], limit=200, after="9800", sorts=["hs_lastmodifieddate"])
    body = r.json()
    assert r.status_code == 200 and body["total"] == 10_050 and len(body["results"]) == 200
    assert body["paging"]["next"]["after"] == "10000"
    past = _search(w, [], limit=200, after="10000")
    assert past.status_code == 400 and past.json()["category"] == "VALIDATION_ERROR"
    last = _search(w, [], limit=100, after="9950")
    assert len(last.json()["results"]) == 50          # never reaches past result 10,000


# ---- rate limits ----------------------------------------------------------------------------

def test_ten_second_rolling_limit(make_world):
    w = make_world({TOKEN: None, "pat-na1-other": None}, limit_per_10s=3)
    w.portal.load(SCENARIO)
    remaining = []
    for _ in range(3):
        r = w.call("GET", "/crm/v3/objects/invoices/3001")
        assert r.status_code == 200
        remaining.append(r.headers["X-HubSpot-RateLimit-Remaining"])
        assert r.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert remaining == ["2", "1", "0"]
    r = w.call("GET", "/crm/v3/objects/invoices/3001")
    assert r.status_code == 429
    body = r.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert "Retry-After" not in r.headers and r.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert w.call("GET", "/crm/v3/objects/invoices/3001", token="pat-na1-other").status_code == 200  # per token
    w.clock.advance(10.01)
    assert w.call("GET", "/crm/v3/objects/invoices/3001").status_code == 200


def test_tier_limits(make_world):
    w = make_world(limit_per_10s=None)
    w.portal.load(SCENARIO)  # tier starter
    assert w.call("GET", "/crm/v3/objects/invoices/3001").headers["X-HubSpot-RateLimit-Max"] == "100"
    w.portal.load({**SCENARIO, "tier": "professional"})
    assert w.call("GET", "/crm/v3/objects/invoices/3001").headers["X-HubSpot-RateLimit-Max"] == "190"


def test_search_limit_per_second_and_no_rate_headers(make_world):
    w = make_world(searches_per_second=5)
    w.portal.load(SCENARIO)
    for _ in range(5):
        r = _search(w, [])
        assert r.status_code == 200
        assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in r.headers)
    r = _search(w, [])
    assert r.status_code == 429 and r.json()["policyName"] == "SECONDLY"
    assert w.call("GET", "/crm/v3/objects/invoices/3001").status_code == 200   # other endpoints unaffected
    w.clock.advance(1.01)
    assert _search(w, []).status_code == 200


# ---- associations v4 --------------------------------------------------------------------------

def test_association_batch_read(world):
    r = world.call("POST", "/crm/v4/associations/invoices/contacts/batch/read",
                   json={"inputs": [{"id": "3001"}, {"id": "3004"}, {"id": "3002"}]})
    assert r.status_code == 207
    body = r.json()
    assert [x["from"]["id"] for x in body["results"]] == ["3001", "3002"]
    assert body["results"][0]["to"] == [{"toObjectId": "1001",
                                         "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 177}]}]
    err = body["errors"][0]
    assert body["numErrors"] == 1 and err["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert err["message"] == "No contact is associated with invoice 3004."
    ok = world.call("POST", "/crm/v4/associations/0-1/0-2/batch/read", json={"inputs": [{"id": "1001"}]})
    assert ok.status_code == 200
    assert ok.json()["results"][0]["to"][0]["associationTypes"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": 279}, {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"}]
    too_many = world.call("POST", "/crm/v4/associations/invoices/contacts/batch/read",
                          json={"inputs": [{"id": str(i)} for i in range(1001)]})
    assert too_many.status_code == 400


def test_association_put_default_list_delete(world):
    r = world.call("PUT", "/crm/v4/objects/invoices/3001/associations/default/contacts/1002")
    assert r.status_code == 200
    assert r.json()["results"][0]["associationSpec"] == {"associationCategory": "HUBSPOT_DEFINED",
                                                          "associationTypeId": 177}
    listing = world.call("GET", "/crm/v4/objects/invoices/3001/associations/contacts").json()
    assert [x["toObjectId"] for x in listing["results"]] == ["1001", "1002"]
    assert world.portal.associated("contacts", "1002", "invoices") == ["3001"]
    r = world.call("DELETE", "/crm/v4/objects/invoices/3001/associations/contacts/1001")
    assert r.status_code == 204 and r.content == b""
    assert world.portal.associated("invoices", "3001", "contacts") == ["1002"]
    bad = world.call("PUT", "/crm/v4/objects/invoices/3001/associations/default/contacts/9999")
    assert bad.status_code == 400


def test_token_info(world):
    r = world.session.post(world.url + "/oauth/v2/private-apps/get/access-token-info", json={"tokenKey": TOKEN})
    assert r.status_code == 200
    body = r.json()
    assert body["hubId"] == 24681357 and "crm.objects.invoices.read" in body["scopes"]
    bad = world.session.post(world.url + "/oauth/v2/private-apps/get/access-token-info", json={"tokenKey": "x"})
    assert bad.status_code == 401


# ---- injected faults ----------------------------------------------------------------------------

def test_injected_faults(world):
    world.service.inject_fault(503, match="/search")
    assert world.call("GET", "/crm/v3/objects/invoices/3001").status_code == 200   # not matched
    assert _search(world, []).status_code == 503
    assert _search(world, []).status_code == 200
    world.service.inject_fault(-1)
    with pytest.raises(requests.ConnectionError):
        world.call("GET", "/crm/v3/objects/invoices/3001")
    assert world.call("GET", "/crm/v3/objects/invoices/3001").status_code == 200


def test_iso_z_matches_record_format(world):
    stamp = world.portal.get("companies", "2001")["createdAt"]
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert iso_z(parsed) == stamp
