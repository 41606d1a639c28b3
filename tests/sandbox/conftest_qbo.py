"""Fixtures for the QuickBooks Online stand-in (imported by the QBO test modules; the shared
conftest.py files belong to others)."""
from __future__ import annotations

import copy

import pytest

from sandbox.clock import Clock
from sandbox.qbo import QboCompany, QboService
from sandbox.server import RequestLog, ServiceServer

REALM = "9341453189012345"

BASE_SECTION = {
    "realm_id": REALM,
    "company_name": "Acme Books Inc",
    "preferences": {"custom_txn_numbers": True, "revenue_recognition": False},
    "customers": [
        {"Id": "58", "DisplayName": "Acme BV", "PrimaryEmailAddr": {"Address": "bob@acme.example"}},
        {"Id": "59", "DisplayName": "Old Client", "Active": False,
         "PrimaryEmailAddr": {"Address": "old@client.example"}},
    ],
    "vendors": [{"Id": "70", "DisplayName": "Paper Supplies Ltd"}],
    "employees": [{"Id": "80", "DisplayName": "Eva Employee", "GivenName": "Eva", "FamilyName": "Employee"}],
    "items": [{"Id": "1", "Name": "Services", "Type": "Service"},
              {"Id": "2", "Name": "Retired", "Type": "Service", "Active": False}],
    "invoices": [{
        "Id": "145", "DocNumber": "1001", "CustomerRef": {"value": "58"},
        "Line": [{"Amount": 300.0, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 2, "UnitPrice": 150}}],
    }],
    "credit_memos": [{
        "Id": "146", "DocNumber": "CM-7", "CustomerRef": {"value": "58"},
        "Line": [{"Amount": 50.0, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}],
    }],
}


def sales_line(amount: float, item: str = "1", **detail) -> dict:
    return {"Amount": amount, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item}, **detail}}


@pytest.fixture
def qbo_clock() -> Clock:
    return Clock()


@pytest.fixture
def qbo_company(qbo_clock) -> QboCompany:
    company = QboCompany(qbo_clock, REALM)
    company.load(copy.deepcopy(BASE_SECTION))
    return company


@pytest.fixture
def qbo_log() -> RequestLog:
    return RequestLog()


@pytest.fixture
def qbo_service(qbo_company, qbo_clock) -> QboService:
    return QboService(qbo_company, clock=qbo_clock)


@pytest.fixture
def qbo_server(qbo_service, qbo_log):
    server = ServiceServer(qbo_service, qbo_log).start()
    yield server
    server.stop()
