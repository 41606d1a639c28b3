"""Which properties a QBO query may name, per entity. QBO answers any other with fault 4001
"Invalid query" / "QueryValidationError: Property NoSuchField not found for Entity Invoice"
(/work/shared/knowledge/apis.md, "Query errors"); the sandbox does the same, so a typo in
qbsync's own queries fails in tests as it would against QuickBooks.

The lists are the entities' top-level properties as python-quickbooks models them
(quickbooks/objects/{invoice,creditmemo,customer,vendor,employee,item}.py, which follow
Intuit's API reference), plus those every entity carries. They may be incomplete, so the
check errs on the side of accepting: a property any stored record of that entity carries
(a scenario may give more fields) is known too, and so is any entity not listed here.
"""
from __future__ import annotations

from typing import Iterable

COMMON = {"Id", "SyncToken", "MetaData", "domain", "sparse"}
METADATA = {"CreateTime", "LastUpdatedTime", "LastModifiedByRef"}
_TXN = {"CustomerRef", "DocNumber", "TxnDate", "Line", "TxnTaxDetail", "TotalAmt", "Balance", "CurrencyRef",
        "ExchangeRate", "BillAddr", "ShipAddr", "BillEmail", "CustomerMemo", "PrivateNote", "SalesTermRef",
        "DepartmentRef", "ClassRef", "CustomField", "PrintStatus", "EmailStatus", "ApplyTaxAfterDiscount",
        "GlobalTaxCalculation", "LinkedTxn", "TxnSource", "ProjectRef", "HomeTotalAmt"}
_NAME = {"DisplayName", "Active", "GivenName", "MiddleName", "FamilyName", "Suffix", "Title", "CompanyName",
         "PrimaryEmailAddr", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax", "WebAddr", "PrintOnCheckName",
         "BillAddr", "Balance", "CurrencyRef"}
PROPERTIES: dict[str, set[str]] = {
    "Invoice": _TXN | {"DueDate", "ShipDate", "ShipMethodRef", "TrackingNum", "Deposit", "AllowIPNPayment",
                       "AllowOnlineACHPayment", "AllowOnlineCreditCardPayment", "BillEmailCc", "BillEmailBcc",
                       "DeliveryInfo", "EInvoiceStatus", "FreeFormAddress", "HomeBalance", "InvoiceLink",
                       "RecurDataRef", "TaxExemptionRef"},
    "CreditMemo": _TXN | {"RemainingCredit"},
    "Customer": _NAME | {"ShipAddr", "Notes", "Job", "BillWithParent", "ParentRef", "Level", "FullyQualifiedName",
                         "Taxable", "DefaultTaxCodeRef", "BalanceWithJobs", "OpenBalanceDate", "PaymentMethodRef",
                         "PreferredDeliveryMethod", "PrimaryTaxIdentifier", "ResaleNum", "SalesTermRef",
                         "ARAccountRef", "IsProject"},
    "Vendor": _NAME | {"AcctNum", "Vendor1099", "TaxIdentifier", "TaxReportingBasis", "TermRef", "APAccountRef",
                       "BillRate"},
    "Employee": _NAME | {"EmailAddress", "PrimaryAddr", "EmployeeNumber", "SSN", "BillableTime", "BillRate",
                         "CostRate", "BirthDate", "Gender", "HiredDate", "ReleasedDate", "Organization"},
    "Item": {"Name", "Active", "Description", "Type", "FullyQualifiedName", "ParentRef", "SubItem", "Level", "Sku",
             "UnitPrice", "PurchaseCost", "PurchaseDesc", "IncomeAccountRef", "ExpenseAccountRef",
             "AssetAccountRef", "TrackQtyOnHand", "QtyOnHand", "InvStartDate", "Taxable", "SalesTaxIncluded",
             "PurchaseTaxIncluded", "SalesTaxCodeRef", "PurchaseTaxCodeRef", "ItemCategoryType", "ServiceType",
             "AbatementRate", "ReverseChargeRate"},
}
_LOWER = {e: {p.lower() for p in props | COMMON} for e, props in PROPERTIES.items()}
_METADATA_LOWER = {p.lower() for p in METADATA}


def unknown_property(entity: str, names: Iterable[str], records: Iterable[dict]) -> str | None:
    """The first of `names` (as written, dotted or not) that `entity` does not have, or None."""
    listed = _LOWER.get(entity)
    if listed is None:
        return None
    carried: set[str] | None = None
    for name in names:
        head, _, rest = name.partition(".")
        if head.lower() == "metadata" and rest:
            if rest.split(".")[0].lower() not in _METADATA_LOWER:
                return name
            continue
        if head.lower() in listed:
            continue
        if carried is None:  # the slow path, only for a name the list does not have
            carried = {k.lower() for r in records for k in r}
        if head.lower() not in carried:
            return name
    return None
