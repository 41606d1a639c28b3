"""books-closed: the invoice is dated on or before QBO's closing date, so QBO refuses it.

Texts: "Account Period Closed" with fault 5010 (python-quickbooks#208), "The account period has
closed and the account books cannot be updated through the QBO Services API. Please use the
QBO website to make these changes." (vendor help pages; /work/shared/knowledge/real-failures.md,
`books-closed`). 5010 is also a stale SyncToken, so the code alone decides nothing: the words
do (bot.errors.qbo_5010_kind, also used by the adapter to raise BooksClosed).

Data: Preferences.AccountingInfoPrefs.BookCloseDate (reported from minorversion 21,
quickbooks-ruby#442; apis.md) on or after the HubSpot invoice date, while the invoice is not
in QBO. No fix is offered: moving the closing date (or the invoice date) is an accountant's
decision. The texts name the date and where it is set in QBO. `refuse_if_closed` is the same
test for qbsync's own writes (revert, renumber): they would fail the same way, so they stop
first with words a person can act on.
"""
from __future__ import annotations

from datetime import date

from bot.errors import BooksClosed

from .base import Finding, Rule
from .locale_format import day as local_day
from .text import lang_of, render
from .catalog import words

PREF = ("AccountingInfoPrefs", "BookCloseDate")

# Intuit's help "Close your books in QuickBooks Online" (quickbooks.intuit.com/learn-support/
# en-us/customer-company-settings/close-your-books-to-lock-past-transactions/00/186384):
# Settings > Account and settings > Advanced > Accounting > Edit > Close the books.
PATH = words({
    "en": "Settings ⚙ > Account and settings > Advanced > Accounting > Edit ✎ > Close the books",
})
REFUSED = words({
    "en": "qbsync changed nothing: QuickBooks' books are closed up to {close} and {what} is dated {txn_date}, "
          "so QuickBooks would refuse the change. An accountant can move the closing date under {path}.",
})
# The `what` of REFUSED, a QBO transaction a fix would write, in the words of the sentence
# around it (it was English inside the nl/es sentence).
DOCUMENT = words({
    "en": {"Invoice": "QBO invoice {number}", "CreditMemo": "QBO credit memo {number}"},
})


def document(entity: str, number: str, lang: str = "en") -> str:
    """A QBO invoice or credit memo named for REFUSED's {what} in `lang`."""
    table = DOCUMENT[lang_of(lang)]
    return render(table.get(entity) or table["Invoice"], {"number": number})


def close_date(preferences: dict) -> str:
    """The closing date as YYYY-MM-DD, or "" when the books are not closed (or not reported)."""
    node = (preferences or {}).get(PREF[0]) or {}
    value = node.get(PREF[1]) if isinstance(node, dict) else None
    return str(value)[:10] if value else ""


def is_closed(preferences: dict, txn_date: str | date | None) -> bool:
    close = close_date(preferences)
    day = txn_date.isoformat() if isinstance(txn_date, date) else str(txn_date or "")[:10]
    return bool(close and day and day <= close)


def refuse_if_closed(qbo, txn_date, what: str, lang: str = "en") -> None:
    """Raise BooksClosed (nothing written) when `txn_date` lies in QBO's closed period."""
    prefs = qbo.preferences()
    if is_closed(prefs, txn_date):
        lang = lang_of(lang)
        day = txn_date.isoformat() if isinstance(txn_date, date) else str(txn_date)[:10]
        raise BooksClosed("qbo", render(REFUSED[lang], {"close": local_day(close_date(prefs), lang), "what": what,
                                                        "txn_date": local_day(day, lang), "path": PATH[lang]}),
                          code="5010")


class BooksClosedRule(Rule):
    id = "books-closed"
    order = 15
    fault_codes = ("5010",)  # with the closed-period words only: 5010 is also a stale object
    DATE_VALUES = ("close", "invoice_date")
    patterns = {
        "en": (r"account(?:ing)? period (?:has |is |was )?(?:been )?closed",
               r"account books cannot be updated through the qbo services api",
               r"\bbooks (?:are|have been|were) closed",
               r"(?:on or before|before|prior to) the (?:books? )?closing date"),
    }
    GENERIC_TITLES = words({"en": "QuickBooks' books are closed for the invoice's date"})
    TEXTS = words({
        "en": {
            "title": "Invoice {number}: QuickBooks' books are closed up to {close}",
            "text": "HubSpot could not sync invoice {number} (dated {invoice_date}): the books in QuickBooks Online "
                    "are closed up to {close}, and QuickBooks accepts nothing dated in a closed period. Whether to "
                    "reopen the period (move the closing date) or date the invoice after {close} is an "
                    "accountant's decision, so qbsync offers no automatic fix. The closing date is set under "
                    + PATH["en"] + ". To change the invoice date instead, edit the invoice in HubSpot.",
            "generic": "QuickBooks Online refused the invoice because its date lies in a period whose books are "
                       "closed. Nothing dated on or before the closing date can be added or changed.",
            "steps": ["Ask your accountant whether to move the closing date (" + PATH["en"] + ") or to date the "
                      "invoice after it in HubSpot.",
                      "`qbsync explain --invoice NUMBER` names the closing date and the invoice date."],
            "not_offered": "No automatic fix: moving the closing date is an accountant's decision.",
        },
    })

    def check(self, facts):
        inv = facts.invoice
        if facts.counterpart is not None or inv.invoice_date is None:
            return None
        if not is_closed(facts.preferences, inv.invoice_date):
            return None
        close = close_date(facts.preferences)
        summary = {"close": close, "invoice_date": inv.invoice_date.isoformat()}
        evidence = {"book_close_date": close, "invoice_date": inv.invoice_date.isoformat(),
                    "preference": ".".join(PREF)}
        return Finding(self.id, inv.id, inv.number, summary, evidence)

    def not_offered(self, finding, lang="en"):
        return [self.texts(lang)["not_offered"]]


RULE = BooksClosedRule()
