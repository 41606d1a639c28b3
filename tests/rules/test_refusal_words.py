"""qbsync's own refusal and error sentences (rules/refusals.py) as rules/fixes.py error_words
puts them before a Slack reader: in their language, with what the service said quoted as it
came; the English `message` stays for logs and the terminal (bot/cli.py prints str(exc))."""
from __future__ import annotations

import pytest

from bot.errors import (AuthError, BooksClosed, CompanyUnavailable, ConfigError, NotFound, RateLimited,
                        StaleObject, Transient, ValidationFailed)
from rules.fixes import error_words, free_display_name
from rules.refusals import REFUSALS
from tests.e2e.test_refusals_nl_es import unreadable
from tests.nl_es_reading import PLACEHOLDER


@pytest.mark.parametrize("lang", ["nl", "es"])
def test_every_refusal_has_its_own_sentence_in_nl_and_es_with_the_same_placeholders(lang):
    assert set(REFUSALS[lang]) == set(REFUSALS["en"])
    for key, english in REFUSALS["en"].items():
        theirs = REFUSALS[lang][key]
        assert theirs != english, key
        assert set(PLACEHOLDER.findall(theirs)) == set(PLACEHOLDER.findall(english)), key


# (the error, what the service said in it, quoted verbatim; "" when qbsync wrote all of it)
QBO_DETAIL = "Business Validation Error: Enter a service date for the revenue recognition line item."
CASES = [
    (ValidationFailed("qbo", "the contact has no email; qbsync never writes a blank email", words="no_email"), ""),
    (ValidationFailed("hubspot", "more than 10000 invoices share hs_lastmodifieddate 1; the search window cannot "
                      "move past them", words="search_stuck", values={"count": 10000}), ""),
    (AuthError("qbo", "No QuickBooks refresh token is configured or stored.", words="qbo_no_refresh_token"), ""),
    (AuthError("qbo", "read invoice: QuickBooks rejected the access token (AuthenticationFailed).", status=401,
               code="3200", words="qbo_token_rejected"), "code 3200"),
    (AuthError("hubspot", "connection 'acme': renew the HubSpot access token was refused (was the app ...)",
               status=400, code="BAD_REFRESH_TOKEN", words="hubspot_refresh_refused", values={"connection": "acme"},
               quoted=""), "code BAD_REFRESH_TOKEN"),
    (ValidationFailed("qbo", "A business validation error has occurred while processing your request",
                      detail=QBO_DETAIL, code="6000", status=400),
     f"A business validation error has occurred while processing your request; {QBO_DETAIL}; code 6000"),
    (Transient("qbo", "read invoice: ConnectTimeout talking to QuickBooks", quoted="ConnectTimeout"), "ConnectTimeout"),
    (Transient("hubspot", "read invoice: the answer was not JSON (Expecting value: line 1 column 1 (char 0))",
               quoted="JSONDecodeError"), "JSONDecodeError"),
    (RateLimited("qbo", "create customer: QuickBooks throttled us (ThrottleExceeded)", retry_after=60, code="3001",
                 status=429, quoted="ThrottleExceeded"), ""),
    (NotFound("hubspot", "read invoice 3001: resource not found", status=404, quoted="resource not found"), ""),
    (StaleObject("qbo", "Stale Object Error", code="5010", status=400), ""),
    (CompanyUnavailable("qbo", "Invalid Company Status", code="6190", status=400), "Invalid Company Status; code 6190"),
    # qbsync's own side failed (no service named): "the service" is in the reader's words too
    (RuntimeError("database is locked"), "database is locked"),
    (Transient("qbo", "Another qbsync process has been refreshing the QuickBooks token for 60 s; trying again "
               "later.", words="qbo_refresh_busy", values={"seconds": "60"}), ""),
    (ConfigError(["connection 'acme': its HubSpot credential cannot be read (removed, or sealed with another "
                  "QBSYNC_SECRET_KEY); connect it again"]), ""),
]


@pytest.mark.parametrize("lang", ["nl", "es"])
@pytest.mark.parametrize("exc,quoted", CASES, ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)])
def test_an_error_reads_in_the_readers_language_with_the_services_words_as_they_came(exc, quoted, lang):
    text = error_words(exc, lang)
    assert quoted in text, text
    found = unreadable([text], lang, quoted=quoted)
    assert not found, "\n".join(found)
    if getattr(exc, "words", ""):
        assert REFUSALS[lang][exc.words].format(**exc.values) in text, text


def test_the_terminal_keeps_the_english_message():
    exc = ValidationFailed("qbo", "multicurrency is off in QuickBooks now; qbsync never turns it on",
                           words="multicurrency_off")
    assert str(exc) == "qbo: multicurrency is off in QuickBooks now; qbsync never turns it on"
    assert error_words(exc, "en") == REFUSALS["en"]["multicurrency_off"]


def test_a_closed_period_refusal_keeps_its_own_words():
    # rules/books_closed.py raises BooksClosed already rendered in the reader's language
    exc = BooksClosed("qbo", "De boeken zijn afgesloten tot en met 31 oktober 2026.", code="5010")
    assert error_words(exc, "nl") == "De boeken zijn afgesloten tot en met 31 oktober 2026."


@pytest.mark.parametrize("lang", ["nl", "es"])
def test_every_name_taken_is_refused_in_the_readers_language(world, lang):
    # Through the real QBO adapter: "Acme Corp" and "Acme Corp 2" ... "Acme Corp 19" all exist.
    w = world("missing-customer")
    for name in ["Acme Corp"] + [f"Acme Corp {n}" for n in range(2, 20)]:
        w.sb.qbo.create("Customer", {"DisplayName": name})
    with pytest.raises(ValidationFailed) as caught:
        free_display_name(w.qbo, ["Acme Corp"])
    assert "every name from 'Acme Corp' to 'Acme Corp 19' is taken" in str(caught.value)  # the terminal's
    text = error_words(caught.value, lang)
    assert text == REFUSALS[lang]["names_taken"].format(first="Acme Corp", last="Acme Corp 19")
    assert not unreadable([text], lang)
