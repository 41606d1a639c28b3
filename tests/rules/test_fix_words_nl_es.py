"""What a fix says to a Dutch or Spanish reader, for every fix the shipped scenarios offer:
the result of applying it and of applying it again (its change is then already made), in
the reader's language with no English sentence of the catalog, no English amount and no ISO
date (tests/nl_es_reading.py). Through the real adapters against the sandbox."""
from __future__ import annotations

import pytest

from rules.registry import get
from tests.e2e.test_no_data_dumps import _shipped
from tests.nl_es_reading import problems


@pytest.mark.parametrize("lang", ["nl", "es"])
@pytest.mark.parametrize("name", _shipped())
def test_every_fix_says_what_it_did_and_that_it_was_done_in_the_readers_words(world, name, lang):
    w = world(name, qbo_per_s=40)  # many fixes: a company with raised limits
    said: list[str] = []
    for invoice_id, findings in sorted(w.diagnose().items()):
        for finding in findings:
            fixes = get(finding.rule).fixes(finding, lang)
            if not fixes:
                continue
            fix = fixes[0]  # the recommended one (the demo's --auto-fix clicks it)
            said += [fix.label, fix.confirm]
            for _ in range(2):  # the second time its change is already made
                result = fix.apply(w.ctx(lang))
                said.append(result.message)
    if not said:
        pytest.skip(f"{name}: no fix offered")
    found = problems(said, lang)
    assert not found, "\n".join(found[:20])


def test_a_fix_that_finds_its_change_made_says_so_in_one_sentence_of_the_readers_language(world):
    # native-invoice-modified, applied twice: the second says the QBO invoice already matches.
    w = world("native-invoice-modified")
    finding = next(f for f in w.findings("3001") if f.rule == "native-invoice-modified")
    [fix] = get("native-invoice-modified").fixes(finding, "nl")
    assert fix.apply(w.ctx("nl")).changed
    again = {lang: fix.apply(w.ctx(lang)) for lang in ("en", "nl", "es")}
    assert again["en"].message == "Nothing to do: QBO invoice INV-1001 already matches HubSpot."
    assert again["nl"].message == "Niets te doen: QBO-factuur INV-1001 komt al overeen met HubSpot."
    assert again["es"].message == "Nada que hacer: la factura de QBO INV-1001 ya coincide con HubSpot."
    assert all(r.ok and r.changed == {} for r in again.values())
