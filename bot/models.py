"""qbsync's view of HubSpot records: plain frozen dataclasses, free of API-client types.

bot/adapters/hubspot.py builds them from HubSpot's CRM v3 answers; each field says which
HubSpot property (or association) it comes from. Money is Decimal, never float.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

# Native vs synced ("Invoice Source") is decided by bot/invoice_source.py when the adapter
# builds an Invoice, from configuration: HubSpot documents no internal value for
# HubSpot-created invoices.


@dataclass(frozen=True)
class Company:
    """A HubSpot company (object type 0-2)."""

    id: str             # record id (hs_object_id)
    name: str           # property `name` ("" when empty)
    domain: str         # property `domain` ("" when empty)


@dataclass(frozen=True)
class Contact:
    """A HubSpot contact (object type 0-1)."""

    id: str                     # record id (hs_object_id)
    email: str                  # property `email` ("" when empty); the QBO integration matches customers on it
    firstname: str              # property `firstname` ("" when empty)
    lastname: str               # property `lastname` ("" when empty)
    company_id: str | None      # property `associatedcompanyid`: the contact's primary company, if any
    # Name of the contact's own company (its primary company, else its first associated one;
    # "" when it has none). HubSpot's integration names a new QBO customer after it, which can
    # differ from the company on the invoice (rules/facts.py integration_name).
    company_name: str = ""

    @property
    def name(self) -> str:
        """"First Last", or the email when both are empty."""
        full = " ".join(p for p in (self.firstname, self.lastname) if p)
        return full or self.email


@dataclass(frozen=True)
class LineItem:
    """A HubSpot line item (object type 0-8) on an invoice."""

    id: str             # record id
    name: str           # property `name`
    quantity: Decimal   # property `quantity` (0 when empty)
    price: Decimal      # property `price`: unit price (0 when empty)
    amount: Decimal     # property `amount`: HubSpot's line total (quantity x price less discounts)
    sku: str            # property `hs_sku` ("" when empty)
    description: str    # property `description` ("" when empty)


@dataclass(frozen=True)
class Invoice:
    """A HubSpot invoice (object type 0-53) with its associated records."""

    id: str                         # record id
    number: str                     # property `hs_number`, e.g. "INV-1001" ("" when empty)
    status: str                     # property `hs_invoice_status`: draft | open | paid | voided
    currency: str                   # property `hs_currency`, e.g. "USD"
    amount_billed: Decimal          # property `hs_amount_billed` (0 when empty)
    balance_due: Decimal            # property `hs_balance_due` (0 when empty)
    invoice_date: date | None       # property `hs_invoice_date` (UTC date)
    due_date: date | None           # property `hs_due_date` (UTC date)
    source: str                     # the configured source property (default hs_invoice_source), as sent ("" if empty)
    is_native: bool                 # created in HubSpot: `source` names no sync source (bot/invoice_source.py)
    created_at: datetime            # property `hs_createdate` (else the record's createdAt), UTC
    modified_at: datetime           # property `hs_lastmodifieddate` (else updatedAt), UTC
    contacts: tuple[Contact, ...]   # association invoice->contact (type 177), in HubSpot's order
    company: Company | None         # association invoice->company (type 179), the first one
    line_items: tuple[LineItem, ...]  # association invoice->line item (type 409)

    @property
    def contact(self) -> Contact | None:
        """The invoice's contact (an open invoice must have exactly one), or None."""
        return self.contacts[0] if self.contacts else None

