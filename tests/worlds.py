"""Scenario variants more than one test folder builds on."""
from __future__ import annotations

import copy

from sandbox import scenario as scenarios


def missing_customer_with_a_matching_contact() -> dict:
    """The missing-customer scenario where Ann also exists in HubSpot under the address QBO
    knows her by (contact 1009 / QBO customer 77), so the switch-contact fix is offered."""
    data = copy.deepcopy(scenarios.read("missing-customer"))
    data["hubspot"]["contacts"].append({"id": "1009", "email": "ann@northwind.example", "firstname": "Ann",
                                        "lastname": "Jansen"})
    data["hubspot"]["invoices"][0].pop("company")
    data["hubspot"]["contacts"][0].pop("company")
    data["qbo"]["customers"].append({"Id": "77", "DisplayName": "A. Jansen", "GivenName": "Ann",
                                     "FamilyName": "Jansen", "PrimaryEmailAddr": {"Address": "ann@northwind.example"}})
    return data
