"""The sandbox's QBO query language: parser and evaluator (no HTTP)."""
from __future__ import annotations

import pytest

from sandbox import qbo_query
from sandbox.qbo_query import QueryError, parse, run

PEOPLE = [
    {"Id": "1", "DisplayName": "Acme BV", "Active": True, "PrimaryEmailAddr": {"Address": "ann@acme.example"},
     "Balance": 10, "MetaData": {"LastUpdatedTime": "2026-11-01T10:00:00+00:00"}},
    {"Id": "2", "DisplayName": "O'Brien \\ Søn", "Active": True, "PrimaryEmailAddr": {"Address": "ob@son.example"},
     "Balance": 250.5, "MetaData": {"LastUpdatedTime": "2026-11-03T10:00:00+00:00"}},
    {"Id": "10", "DisplayName": "Zoë's Café", "Active": True, "Balance": 0,
     "MetaData": {"LastUpdatedTime": "2026-11-02T10:00:00+00:00"}},
    {"Id": "3", "DisplayName": "Gone Ltd", "Active": False, "PrimaryEmailAddr": {"Address": "ann@acme.example"},
     "Balance": 5, "MetaData": {"LastUpdatedTime": "2026-10-01T10:00:00+00:00"}},
]
INVOICES = [
    {"Id": "145", "DocNumber": "1001", "CustomerRef": {"value": "58", "name": "Acme BV"}, "TotalAmt": 300},
    {"Id": "146", "DocNumber": "1002", "CustomerRef": {"value": "59"}, "TotalAmt": 20},
]


def ids(rows):
    return [r["Id"] for r in rows]


def names(sql, records=PEOPLE, names_list=True):
    return ids(run(parse(sql), records, names_list=names_list))


def test_select_star_returns_only_active_names_by_default_ordered_by_id():
    assert names("SELECT * FROM Customer") == ["1", "2", "10"]


def test_active_in_true_false_includes_inactive_and_active_false_only_inactive():
    assert names("select * from Customer where Active IN (true, false)") == ["1", "2", "3", "10"]
    assert names("SELECT * FROM Customer WHERE Active = false") == ["3"]


def test_transactions_have_no_active_filter():
    assert names("SELECT * FROM Invoice", INVOICES, names_list=False) == ["145", "146"]


def test_email_compares_against_address_and_case_insensitively():
    assert names("SELECT * FROM Customer WHERE PrimaryEmailAddr = 'ANN@acme.example'") == ["1"]
    assert names("SELECT * FROM Customer WHERE PrimaryEmailAddr = 'ann@acme.example' AND Active IN (true,false)") \
        == ["1", "3"]


def test_reference_compares_against_value():
    assert names("SELECT * FROM Invoice WHERE CustomerRef = '58'", INVOICES, names_list=False) == ["145"]
    assert names("SELECT * FROM Invoice WHERE CustomerRef IN ('58', '59')", INVOICES, names_list=False) \
        == ["145", "146"]


def test_in_list_and_and():
    assert names("SELECT * FROM Customer WHERE DisplayName IN ('Acme BV', 'Gone Ltd', 'nobody')") == ["1"]
    assert names("SELECT * FROM Customer WHERE DisplayName IN ('Acme BV', 'Gone Ltd') AND Balance > '6'") == ["1"]


def test_like_with_percent_wildcards():
    assert names("SELECT * FROM Customer WHERE DisplayName LIKE '%café'") == ["10"]
    assert names("SELECT * FROM Customer WHERE DisplayName LIKE 'acme%'") == ["1"]
    assert names("SELECT * FROM Customer WHERE DisplayName LIKE '%o%'") == ["2", "10"]


def test_backslash_escapes_in_string_literals():
    q = parse(r"SELECT * FROM Customer WHERE DisplayName = 'O\'Brien \\ Søn'")
    assert q.conditions[0].values[0].value == "O'Brien \\ Søn"
    assert ids(run(q, PEOPLE, names_list=True)) == ["2"]
    assert names(r"SELECT * FROM Customer WHERE DisplayName = 'Zoë\'s Café'") == ["10"]


def test_comparisons_numeric_and_datetime():
    assert names("SELECT * FROM Customer WHERE Balance >= '10'") == ["1", "2"]
    assert names("SELECT * FROM Customer WHERE Balance < 10") == ["10"]
    assert names("SELECT * FROM Customer WHERE MetaData.LastUpdatedTime > '2026-11-01T12:00:00Z'") == ["2", "10"]
    assert names("SELECT * FROM Customer WHERE metadata.lastupdatedtime <= '2026-11-02'") == ["1"]
    assert names("SELECT * FROM Customer WHERE Id > '2'") == ["10"]  # numeric, not "10" < "2"


def test_orderby_asc_desc_and_keywords_case_insensitive():
    assert names("select * from Customer orderby DisplayName desc") == ["10", "2", "1"]
    assert names("SELECT * FROM Customer ORDERBY MetaData.LastUpdatedTime") == ["1", "10", "2"]
    assert names("SeLeCt * FrOm Customer OrderBy Balance ASC") == ["10", "1", "2"]


def test_startposition_is_one_based_and_maxresults_pages():
    records = [{"Id": str(i), "Active": True} for i in range(1, 26)]
    assert names("SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 10", records)[0] == "1"
    assert names("SELECT * FROM Customer STARTPOSITION 21 MAXRESULTS 10", records) == \
        ["21", "22", "23", "24", "25"]
    assert names("SELECT * FROM Customer MAXRESULTS 3", records) == ["1", "2", "3"]


def test_maxresults_defaults_to_100_and_refuses_more_than_1000():
    records = [{"Id": str(i), "Active": True} for i in range(1, 151)]
    assert len(names("SELECT * FROM Customer", records)) == 100
    assert len(names("SELECT * FROM Customer MAXRESULTS 1000", records)) == 150
    with pytest.raises(QueryError) as err:
        parse("SELECT * FROM Customer MAXRESULTS 1001")
    assert err.value.code == "4001"
    assert "Max allowed value is 1000" in err.value.detail


def test_count_ignores_paging():
    assert run(parse("SELECT COUNT(*) FROM Customer MAXRESULTS 1"), PEOPLE, names_list=True) == 3


def test_projection_keeps_only_named_fields():
    rows = run(parse("SELECT Id, DisplayName FROM Customer WHERE Id = '1'"), PEOPLE, names_list=True)
    assert rows == [{"Id": "1", "DisplayName": "Acme BV", "sparse": True}]


@pytest.mark.parametrize("sql", [
    "SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'",
    "SELECT * FROM Customer JOIN Invoice",
    "SELECT * FROM Customer WHERE DisplayName != 'a'",
    "SELECT * FROM Customer WHERE DisplayName <> 'a'",
    "SELECT * FROM Customer GROUP BY DisplayName",
    "SELECT * FROM Customer WHERE DisplayName = 'unterminated",
    "SELECT * FROM Customer WHERE",
    "SELECT FROM Customer",
    "DELETE FROM Customer",
    "",
])
def test_unsupported_syntax_is_a_4000_parser_error(sql):
    with pytest.raises(QueryError) as err:
        parse(sql)
    assert err.value.code == "4000"
    assert err.value.message == "Error parsing query"
    assert err.value.detail.startswith("QueryParserError:")


def test_or_error_names_the_position():
    with pytest.raises(QueryError) as err:
        parse("SELECT * FROM Customer WHERE Id = '1' OR Id = '2'")
    assert '"OR' in err.value.detail and "column 39" in err.value.detail


def test_resolve_prefers_value_then_address():
    assert qbo_query.resolve({"CustomerRef": {"value": "7", "name": "x"}}, "customerref") == "7"
    assert qbo_query.resolve({"PrimaryEmailAddr": {"Address": "a@b"}}, "PrimaryEmailAddr") == "a@b"
    assert qbo_query.resolve({"A": {"B": 1}}, "a.b") == 1
    assert qbo_query.resolve({}, "Missing.Path") is None
