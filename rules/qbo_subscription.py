"""qbo-subscription: QBO fault 6190 "Invalid Company Status": the QuickBooks Online company's
trial or subscription ended, was cancelled, or has a billing problem, and QBO refuses to add
data. Real text (intuit/QuickBooks-V3-PHP-SDK#211; real-failures.md, `qbo-subscription`):
"Invalid Company Status Subscription period has ended or cancelled or there was a billing
problem : You can't add data to QuickBooks Online Plus because your trial or subscription
period ended, you cancelled your subscription, or there was a billing problem. To update your
subscription, click the gear icon and view your account information."

Every write fails while this holds, so, like qbo-auth, it is one shared alert (bot/scan.py),
not one per invoice. By code first (6190 in any language), then by words. No fix: only the
company's admin can settle the subscription."""
from __future__ import annotations

from .base import Rule
from .catalog import words

# Where the QBO text itself sends people ("click the gear icon and view your account information").
PATH = "Settings ⚙ > Account and settings > Billing & Subscription"


class QboSubscription(Rule):
    id = "qbo-subscription"
    order = 1
    fault_codes = ("6190",)
    patterns = {
        "en": (r"invalid company status", r"subscription period has ended",
               r"you can'?t add data to quickbooks online",
               r"(?:trial|subscription)(?: period)? (?:has )?(?:ended|expired|lapsed|been cancell?ed)"),
    }
    TEXTS = words({
        "en": {"title": "QuickBooks Online refuses new data: the company's subscription has ended",
               "generic": "QuickBooks Online refuses to add data to this company (Invalid Company Status): its trial "
                          "or subscription ended, was cancelled, or there is a billing problem. Until that is settled "
                          "no invoice can sync and qbsync cannot fix anything, so this is one problem, not one per "
                          "invoice.",
               "steps": ["A QuickBooks admin of the company: open " + PATH + " and renew the subscription or settle "
                         "the billing problem.",
                         "Then run `/qbsync scan`: HubSpot's integration retries the failed invoices by itself."]},
    })


RULE = QboSubscription()
