"""Issue 12: a fix qbsync refuses before it writes because QuickBooks changed after the alert
(the customer's email moved, multicurrency turned off, every free number taken) says so to a
Dutch or Spanish reader in their language, and writes nothing. Through the Slack stand-in with
the real bot; the helpers are tests/e2e/test_refusals_nl_es.py's (split off to keep each file
fast)."""
from __future__ import annotations

import copy

import pytest

from rules.refusals import REFUSALS

from .conftest import scenario
from .test_refusals_nl_es import READER, click_fix, fixer_bot, thread_read, unreadable


# ---- qbsync's other refusals before it writes: the records changed after the alert -----------
def _email_moved(sb) -> dict:
    # The inactive Orbit Labs customer got another email in QuickBooks meanwhile.
    current = sb.qbo.entities["Customer"]["80"]
    sb.qbo.update("Customer", {"Id": "80", "SyncToken": current["SyncToken"], "sparse": True,
                               "PrimaryEmailAddr": {"Address": "ap@orbit.example"}})
    return {"name": "Orbit Labs", "have": "ap@orbit.example"}


def _multicurrency_off(sb) -> dict:
    sb.qbo.set_preference("CurrencyPrefs.MultiCurrencyEnabled", False)
    return {}


def _numbers_taken(sb) -> dict:
    # Every number the renumber fix would choose (INV-1001-1 ... INV-1001-30) is in use now.
    memo = sb.qbo.entities["CreditMemo"]["201"]
    for n in range(1, 31):
        sb.qbo.create("CreditMemo", {"DocNumber": f"INV-1001-{n}", "TxnDate": memo["TxnDate"],
                                     "CustomerRef": memo["CustomerRef"], "Line": memo["Line"]})
    return {"first": "INV-1001-1", "last": "INV-1001-30"}


CHANGED_MEANWHILE = [
    ("fix-safety-inactive-holder", "3001:duplicate-display-name", "reactivate-customer", _email_moved,
     "email_moved"),
    ("currency-mismatch", "3001:currency-mismatch", "create-customer-in-currency", _multicurrency_off,
     "multicurrency_off"),
    ("duplicate-doc-number", "3001:duplicate-doc-number", "renumber-conflicting-document", _numbers_taken,
     "numbers_taken"),
]


@pytest.mark.parametrize("lang", ["nl", "es"])
@pytest.mark.parametrize("name,key,fix_id,change,refusal", CHANGED_MEANWHILE,
                         ids=[c[-1] for c in CHANGED_MEANWHILE])
def test_a_fix_refused_because_quickbooks_changed_meanwhile_says_so_in_the_readers_language(
        make_bot, name, key, fix_id, change, refusal, lang):
    bot = fixer_bot(make_bot, scenario(name), lang)
    bot.scan()
    values = change(bot.sb)
    before = copy.deepcopy(bot.sb.qbo.entities)
    reply = click_fix(bot, READER[lang], key, fix_id)
    assert REFUSALS[lang][refusal].format(**values) in reply, reply
    assert bot.sb.qbo.entities == before  # nothing was written
    assert bot.alert(key)["state"] == "open"
    found = unreadable(thread_read(bot, key), lang)
    assert not found, "\n".join(found)
