"""qbsync's QBO adapter end to end: python-quickbooks and intuit-oauth against the sandbox over
real HTTP. Nothing of the adapter is patched; only time.sleep is replaced (FakeSleep moves the
sandbox clock instead of blocking) except where a test really waits."""
from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta

import pytest
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError

from bot.adapters.quickbooks import quote
from bot.errors import AuthError, NotFound, RateLimited, StaleObject, Transient, ValidationFailed
from bot.store import Store
from sandbox.qbo import QboCompany
from tests.adapters.conftest_qbo import (REALM, FakeSleep, adapter, discovery_url, fake_sleep,  # noqa: F401
                                         make_adapter, qbo_clock, qbo_company, qbo_log, qbo_server,
                                         qbo_service, sales_line, start_service, store_path)

QUERY_ENDPOINT = "POST /v3/company/{realmId}/query"


# -- reading -------------------------------------------------------------------------------
def test_query_all_pages_past_1000_records(adapter, qbo_company, qbo_log):
    for i in range(2345):
        qbo_company.create("Customer", {"DisplayName": f"Bulk Customer {i:04d}",
                                        "PrimaryEmailAddr": {"Address": f"c{i}@bulk.example"}})
    qbo_log.reset()
    rows = list(adapter.query_all("Customer", where="DisplayName LIKE 'Bulk Customer%'"))
    assert len(rows) == 2345
    assert len({r["Id"] for r in rows}) == 2345
    assert qbo_log.count("qbo", QUERY_ENDPOINT) == 3  # 1000 + 1000 + 345
    ordered = list(adapter.query_all("Customer", where="DisplayName LIKE 'Bulk Customer%'",
                                     order_by="DisplayName DESC", page_size=500))
    assert ordered[0]["DisplayName"] == "Bulk Customer 2344" and ordered[-1]["DisplayName"] == "Bulk Customer 0000"
    assert adapter.count("Customer", "DisplayName LIKE 'Bulk Customer%'") == 2345


def test_query_one_page_and_get(adapter):
    assert [c["Id"] for c in adapter.query("SELECT * FROM Customer")] == ["58"]
    assert adapter.query("SELECT * FROM Customer WHERE DisplayName = 'nobody'") == []
    assert adapter.get("Invoice", "145")["DocNumber"] == "1001"
    with pytest.raises(NotFound) as err:
        adapter.get("Customer", "4242")
    assert err.value.code == "610"


def test_company_info_preferences_and_minorversion(adapter, qbo_service):
    assert adapter.company_info()["CompanyName"] == "Acme Books Inc"
    assert adapter.preferences()["SalesFormsPrefs"]["CustomTxnNumbers"] is True
    assert qbo_service.minorversions and set(qbo_service.minorversions) == {"75"}


def test_lookups_by_email_name_and_doc_number(adapter):
    found = adapter.customers_by_email(["BOB@acme.example", "old@client.example", "nobody@x.example"])
    assert [c["Id"] for c in found["bob@acme.example"]] == ["58"]
    assert found["old@client.example"] == []  # inactive customers don't count for the integration
    assert found["nobody@x.example"] == []
    held = adapter.names_in_use(["Acme BV", "Old Client", "Paper Supplies Ltd", "Eva Employee", "Free Name"])
    assert sorted((e, r["Id"]) for e, r in held) == [("Customer", "58"), ("Customer", "59"), ("Employee", "80"),
                                                     ("Vendor", "70")]
    docs = adapter.documents_by_doc_number(["1001", "CM-7", "9999"])
    assert sorted((e, r["Id"]) for e, r in docs) == [("CreditMemo", "146"), ("Invoice", "145")]


def test_many_emails_are_batched_into_in_queries(adapter, qbo_company, qbo_log):
    emails = [f"person{i}@many.example" for i in range(120)]
    for i, e in enumerate(emails[:60]):
        qbo_company.create("Customer", {"DisplayName": f"Many {i}", "PrimaryEmailAddr": {"Address": e}})
    qbo_log.reset()
    found = adapter.customers_by_email(emails)
    assert sum(1 for e in emails if found[e]) == 60
    assert qbo_log.count("qbo", QUERY_ENDPOINT) == 3  # 120 spellings, 50 per IN list


def test_quote_escapes_backslash_and_quote():
    assert quote("O'Brien \\ Søn") == "'O\\'Brien \\\\ Søn'"
    assert quote("plain") == "'plain'"
    assert quote("\\'") == "'\\\\\\''"


def test_names_with_quotes_backslashes_and_accents_round_trip(adapter):
    people = [("O'Brien \\ Søn", "obrien@søn.example"), ("Zoë's Café", "Zoe@Cafe.example")]
    created = {}
    for i, (name, email) in enumerate(people):
        c = adapter.create("Customer", {"DisplayName": name, "PrimaryEmailAddr": {"Address": email}},
                           request_id=f"names-{i}")
        assert c["DisplayName"] == name
        created[name] = c["Id"]
    for name, email in people:
        rows = adapter.query(f"SELECT * FROM Customer WHERE DisplayName = {quote(name)}")
        assert [(r["Id"], r["DisplayName"]) for r in rows] == [(created[name], name)]
        by_email = adapter.customers_by_email([email])
        assert [r["DisplayName"] for r in by_email[email.lower()]] == [name]
        assert adapter.get("Customer", created[name])["DisplayName"] == name
    held = adapter.names_in_use([n for n, _ in people])
    assert sorted(r["DisplayName"] for _, r in held) == sorted(n for n, _ in people)


def test_cdc(adapter, qbo_company, qbo_clock):
    qbo_clock.advance(2)  # the adapter sends whole seconds: keep the scenario's records out
    since = qbo_clock.now()
    qbo_clock.advance(2)
    adapter.create("Customer", {"DisplayName": "Changed Soon"}, request_id="cdc-1")
    qbo_company.delete("CreditMemo", {"Id": "146", "SyncToken": "0"})
    changes = adapter.cdc(["Customer", "Invoice", "CreditMemo"], since)
    assert [c["DisplayName"] for c in changes["Customer"]] == ["Changed Soon"]
    assert changes["Invoice"] == []
    assert [(c["Id"], c["status"]) for c in changes["CreditMemo"]] == [("146", "Deleted")]
    with pytest.raises(ValidationFailed):
        adapter.cdc(["Customer"], qbo_clock.now() - timedelta(days=31))


# -- writing -------------------------------------------------------------------------------
def test_faults_arrive_as_validation_failed_with_code_and_detail(adapter, qbo_company):
    with pytest.raises(ValidationFailed) as err:
        adapter.create("Customer", {"DisplayName": "acme bv"}, request_id="f-1")
    assert (err.value.code, err.value.status) == ("6240", 400)
    assert err.value.message == "Duplicate Name Exists Error"
    assert err.value.detail == "The name supplied already exists. : Id=58"

    body = {"CustomerRef": {"value": "58"}, "DocNumber": "1001", "Line": [sales_line(10.0)]}
    with pytest.raises(ValidationFailed) as err:
        adapter.create("Invoice", body, request_id="f-2")
    assert err.value.code == "6140"
    assert "DocNumber=1001 is assigned to TxnType=Invoice with TxnId=145" in err.value.detail

    qbo_company.set_preference("ProductAndServicesPrefs.RevenueRecognitionEnabled", True)
    with pytest.raises(ValidationFailed) as err:
        adapter.create("Invoice", {**body, "DocNumber": "2001"}, request_id="f-3")
    assert err.value.code == "6000"
    assert err.value.detail == "Business Validation Error: Enter a service date for the revenue recognition line item."

    with pytest.raises(ValidationFailed) as err:
        adapter.create("Invoice", {**body, "DocNumber": "X" * 22}, request_id="f-4")
    assert (err.value.code, err.value.element) == ("2050", "DocNumber")
    assert not isinstance(err.value, StaleObject)


def test_same_request_id_creates_one_record(adapter, qbo_company):
    body = {"DisplayName": "Exactly Once", "PrimaryEmailAddr": {"Address": "once@x.example"}}
    first = adapter.create("Customer", body, request_id="req-once")
    second = adapter.create("Customer", body, request_id="req-once")
    assert first["Id"] == second["Id"]
    assert [c["Id"] for c in qbo_company.entities["Customer"].values() if c["DisplayName"] == "Exactly Once"] \
        == [first["Id"]]
    with pytest.raises(ValueError):
        adapter.create("Customer", {"DisplayName": "No Id"}, request_id="")


def test_dropped_answer_is_retried_with_the_same_request_id(adapter, qbo_service, qbo_company, fake_sleep):
    adapter.preferences()  # connect first so only the create meets the injected fault
    qbo_service.inject("drop")  # QBO commits, the answer never arrives
    created = adapter.create("Customer", {"DisplayName": "Committed Once"}, request_id="req-drop")
    assert created["DisplayName"] == "Committed Once"
    assert len([c for c in qbo_company.entities["Customer"].values() if c["DisplayName"] == "Committed Once"]) == 1
    assert len(fake_sleep.waits) == 1  # one backoff, then the retry got the first answer


def test_5xx_is_retried_with_backoff_then_raised_as_transient(adapter, qbo_service, fake_sleep):
    adapter.preferences()
    qbo_service.inject("503")
    assert adapter.company_info()["CompanyName"] == "Acme Books Inc"
    assert len(fake_sleep.waits) == 1 and 0 < fake_sleep.waits[0] <= 0.05
    qbo_service.inject("503", count=4)
    with pytest.raises(Transient) as err:
        adapter.company_info()
    assert err.value.status == 503
    assert len(fake_sleep.waits) == 1 + 3  # max_attempts=4: three waits between four tries


def test_stale_sync_token_is_stale_object(adapter):
    inv = adapter.get("Invoice", "145")
    updated = adapter.update("Invoice", {"Id": "145", "SyncToken": inv["SyncToken"], "PrivateNote": "first"},
                             request_id="u-1", sparse=True)
    assert updated["SyncToken"] == "1" and updated["PrivateNote"] == "first"
    with pytest.raises(StaleObject) as err:
        adapter.update("Invoice", {"Id": "145", "SyncToken": inv["SyncToken"], "PrivateNote": "second"},
                       request_id="u-2", sparse=True)
    assert err.value.code == "5010" and isinstance(err.value, ValidationFailed)
    full = adapter.update("Invoice", {**updated, "Line": [sales_line(75.0)]}, request_id="u-3")
    assert full["TotalAmt"] == 75 and full["SyncToken"] == "2"


def test_update_preferences(adapter):
    prefs = adapter.preferences()
    out = adapter.update_preferences({"SyncToken": prefs["SyncToken"], "sparse": True,
                                      "SalesFormsPrefs": {"CustomTxnNumbers": False}}, request_id="p-1")
    assert out["SalesFormsPrefs"]["CustomTxnNumbers"] is False
    with pytest.raises(ValidationFailed) as err:
        adapter.update_preferences({"SyncToken": out["SyncToken"], "sparse": True,
                                    "ProductAndServicesPrefs": {"RevenueRecognitionEnabled": True}}, request_id="p-2")
    assert err.value.code == "2010" and err.value.element == "ProductAndServicesPrefs.RevenueRecognitionEnabled"


# -- throttling ----------------------------------------------------------------------------
def test_429_is_answered_by_waiting_then_retrying(make_adapter, start_service, qbo_clock):
    service, log, server = start_service(per_minute_limit=3)
    sleeps = FakeSleep(qbo_clock)
    a = make_adapter(service=service, server=server, sleep=sleeps)
    results = [a.company_info()["CompanyName"] for _ in range(4)]  # the 4th meets the limit
    assert results == ["Acme Books Inc"] * 4
    assert log.count_status("qbo", 429) == 1
    assert sleeps.waits == [60.0]  # Intuit's documented wait; no Retry-After from QBO


def test_429_with_really_waiting_a_short_configured_time(make_adapter, start_service):
    service, log, server = start_service(per_second_limit=2)
    a = make_adapter(service=service, server=server, sleep=time.sleep, throttle_wait=1.05)
    started = time.monotonic()
    for _ in range(3):
        assert a.preferences()["Id"] == "1"
    assert log.count_status("qbo", 429) >= 1
    assert time.monotonic() - started >= 1.0


def test_retry_after_header_is_honoured_when_present(make_adapter, start_service, qbo_clock):
    service, log, server = start_service(per_minute_limit=1, retry_after=5)
    sleeps = FakeSleep(qbo_clock)
    a = make_adapter(service=service, server=server, sleep=sleeps)
    a.preferences()
    qbo_clock.advance(56)  # the window holds the first request for 4 s more
    a.preferences()
    assert sleeps.waits == [5.0]
    assert log.count_status("qbo", 429) == 1


def test_rate_limited_after_max_attempts(make_adapter, start_service):
    service, log, server = start_service(per_minute_limit=1)
    waits = []
    a = make_adapter(service=service, server=server, sleep=waits.append, max_attempts=3)  # time stands still
    a.preferences()
    with pytest.raises(RateLimited) as err:
        a.preferences()
    assert err.value.retry_after == 60.0 and err.value.code == "3001"
    assert waits == [60.0, 60.0]
    assert log.count_status("qbo", 429) == 3


# -- authentication ------------------------------------------------------------------------
def test_401_refreshes_and_the_rotated_refresh_token_survives_a_restart(
        make_adapter, qbo_service, qbo_server, qbo_clock, qbo_log, store_path):
    seed = qbo_service.issue_refresh_token()
    store1 = Store(store_path)
    a1 = make_adapter(store=store1, refresh_token=seed)
    assert a1.get("Customer", "58")["Id"] == "58"
    t1 = store1.load_qbo_tokens(REALM)
    assert t1["refresh_token"] != seed and t1["seed_hash"] == hashlib.sha256(seed.encode()).hexdigest()

    qbo_clock.advance(3601)  # QBO now says the access token expired; the adapter's clock does not know
    qbo_log.reset()
    assert a1.get("Customer", "58")["Id"] == "58"
    assert qbo_log.count_status("qbo", 401) == 1
    t2 = store1.load_qbo_tokens(REALM)
    assert t2["refresh_token"] not in (seed, t1["refresh_token"])
    store1.close()

    # restart: new Store on the same file, new adapter configured with the same (old) seed
    store2 = Store(store_path)
    try:
        a2 = make_adapter(store=store2, refresh_token=seed)
        qbo_clock.advance(3601)  # make the new process refresh too
        assert a2.get("Customer", "58")["Id"] == "58"
        t3 = store2.load_qbo_tokens(REALM)
        assert t3["refresh_token"] not in (seed, t1["refresh_token"], t2["refresh_token"])
        assert t3["seed_hash"] == t1["seed_hash"]
        assert 100 < a2.refresh_token_days_left() <= 101
    finally:
        store2.close()

    # the sandbox refuses every retired refresh token
    client = AuthClient(qbo_service.client_id, qbo_service.client_secret, "http://localhost:9/cb",
                        discovery_url(qbo_server))
    for old in (seed, t1["refresh_token"], t2["refresh_token"]):
        with pytest.raises(AuthClientError) as err:
            client.refresh(refresh_token=old)
        assert err.value.status_code == 400 and json.loads(err.value.content) == {"error": "invalid_grant"}


def test_disconnected_app_raises_auth_error_telling_what_to_do(adapter, qbo_service, qbo_clock):
    adapter.preferences()
    qbo_service.revoke_all_tokens()
    with pytest.raises(AuthError) as err:
        adapter.preferences()
    assert "qbsync connect quickbooks" in err.value.message
    assert err.value.code == "invalid_grant"


def test_second_401_after_refresh_is_auth_error(adapter, qbo_service, qbo_log):
    adapter.preferences()
    # every access token the sandbox hands out from now on is dead on arrival
    qbo_service.registry.issue_access_token = lambda *a, **k: "dead-token"  # sandbox-side fault, not the adapter
    qbo_service.expire_access_tokens()
    qbo_log.reset()
    with pytest.raises(AuthError) as err:
        adapter.preferences()
    assert err.value.status == 401
    assert qbo_log.count_status("qbo", 401) == 2


def test_wrong_realm_is_auth_error(make_adapter, qbo_service, qbo_clock):
    other = QboCompany(qbo_clock, "1111222233334444")
    qbo_service.add_company(other)
    a = make_adapter(realm_id="1111222233334444")  # token belongs to REALM
    with pytest.raises(AuthError) as err:
        a.preferences()
    assert err.value.status == 403 and err.value.code == "3100"
