"""An unknown property in a query is refused as QBO refuses it: fault 4001 "QueryValidationError:
Property NoSuchField not found for Entity Invoice" (apis.md), seen through python-quickbooks
and qbsync's adapter against the sandbox over HTTP."""
from __future__ import annotations

import pytest

from bot.errors import ValidationFailed
from tests.adapters.conftest_qbo import (adapter, discovery_url, fake_sleep, make_adapter,  # noqa: F401
                                         qbo_clock, qbo_company, qbo_log, qbo_server, qbo_service,
                                         start_service, store_path)


@pytest.mark.parametrize("sql, name", [
    ("SELECT * FROM Invoice WHERE NoSuchField = '1'", "NoSuchField"),
    ("SELECT * FROM Invoice WHERE DocNumber = '1001' AND NoSuchField IN ('1', '2')", "NoSuchField"),
    ("SELECT * FROM Invoice ORDERBY NoSuchField", "NoSuchField"),
    ("SELECT COUNT(*) FROM Invoice WHERE MetaData.NoSuchTime > '2026-01-01'", "MetaData.NoSuchTime"),
])
def test_unknown_property_is_4001(adapter, sql, name):
    with pytest.raises(ValidationFailed) as err:
        adapter.query(sql)
    assert err.value.code == "4001" and err.value.status == 400
    assert err.value.detail == f"QueryValidationError: Property {name} not found for Entity Invoice"


def test_known_properties_pass_even_when_no_record_has_them(adapter, qbo_company):
    # DueDate is an Invoice property although no stored invoice carries one; names are
    # case-insensitive; a field a stored record carries counts as known.
    assert adapter.query("SELECT * FROM Invoice WHERE DueDate > '2020-01-01'") == []
    assert [r["Id"] for r in adapter.query("select * from invoice where docnumber = '1001' "
                                           "orderby metadata.lastupdatedtime")] == ["145"]
    qbo_company.entities["Customer"]["58"]["X_Custom"] = "yes"
    assert [r["Id"] for r in adapter.query("SELECT * FROM Customer WHERE X_Custom = 'yes'")] == ["58"]
    assert adapter.count("Customer", "Active IN (true, false) AND PrimaryEmailAddr LIKE '%@acme.example'") == 1
