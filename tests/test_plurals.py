"""Count texts in en, nl and es: the form for 0, 1 and 2 comes from the plural entry's forms
(English in the source, nl/es msgstr[n] in the .po files) and the catalog's Plural-Forms."""
from __future__ import annotations

import pytest

from bot.slack.digest_message import duration_words
from bot.slack.texts import t
from handlers.texts import TEXTS as ANSWERS
from bot.i18n import pick
from bot.sync_risks import Risk
from rules import catalog
from rules.catalog import Plural, plural, plural_rule, words

CASES = {  # key of bot/slack/texts.py -> {lang: (for 0, for 1, for 2)}
    "causes_count": {
        "en": ("0 causes, to fix in this order:", "1 cause, to fix in this order:", "2 causes, to fix in this order:"),
        "nl": ("0 oorzaken, op te lossen in deze volgorde:", "1 oorzaak, op te lossen in deze volgorde:",
               "2 oorzaken, op te lossen in deze volgorde:"),
        "es": ("0 causas, a corregir en este orden:", "1 causa, a corregir en este orden:",
               "2 causas, a corregir en este orden:")},
    "headline_group": {
        "en": ("0 invoices are not reaching QuickBooks", "1 invoice is not reaching QuickBooks",
               "2 invoices are not reaching QuickBooks"),
        "nl": ("0 facturen komen niet in QuickBooks aan", "1 factuur komt niet in QuickBooks aan",
               "2 facturen komen niet in QuickBooks aan"),
        "es": ("0 facturas no llegan a QuickBooks", "1 factura no llega a QuickBooks",
               "2 facturas no llegan a QuickBooks")},
    "storm_still": {
        "en": ("0 still fail", "1 still fails", "2 still fail"),
        "nl": ("0 mislukken nog", "1 mislukt nog", "2 mislukken nog"),
        "es": ("0 siguen fallando", "1 sigue fallando", "2 siguen fallando")},
    "digest_open_now": {  # English and Dutch do not change; Spanish agrees with "fallos"
        "en": ("0 open now", "1 open now", "2 open now"),
        "nl": ("0 nu open", "1 nu open", "2 nu open"),
        "es": ("0 abiertos ahora", "1 abierto ahora", "2 abiertos ahora")},
    "bulk_needs": {
        "en": ("0 need a person", "1 needs a person", "2 need a person"),
        "nl": ("0 hebben een mens nodig", "1 heeft een mens nodig", "2 hebben een mens nodig"),
        "es": ("0 necesitan a una persona", "1 necesita a una persona", "2 necesitan a una persona")},
}


@pytest.mark.parametrize("key", sorted(CASES))
@pytest.mark.parametrize("lang", ["en", "nl", "es"])
def test_zero_one_two_in_each_language(key, lang):
    assert tuple(t(lang, key, count=n) for n in (0, 1, 2)) == CASES[key][lang]


@pytest.mark.parametrize("lang, expected", [
    ("en", ("*History of INV-1* (0 entries, newest last)", "*History of INV-1* (1 entry, newest last)",
            "*History of INV-1* (2 entries, newest last)")),
    ("nl", ("*Geschiedenis van INV-1* (0 regels, nieuwste onderaan)",
            "*Geschiedenis van INV-1* (1 regel, nieuwste onderaan)",
            "*Geschiedenis van INV-1* (2 regels, nieuwste onderaan)")),
    ("es", ("*Historial de INV-1* (0 entradas, la más reciente al final)",
            "*Historial de INV-1* (1 entrada, la más reciente al final)",
            "*Historial de INV-1* (2 entradas, la más reciente al final)")),
])
def test_an_answer_with_a_second_placeholder(lang, expected):
    assert tuple(pick(ANSWERS, lang, "history_head", number="INV-1", count=n) for n in (0, 1, 2)) == expected


def test_a_count_named_otherwise_and_a_count_given_as_text():
    # the reminder counts hours, passed as text ("24", or "0.5" for a half hour: not a whole number)
    assert t("en", "th_reminder", hours="1", who="") == \
        ":bell: Still failing and nobody has acknowledged it for 1 hour."
    assert t("es", "th_reminder", hours="24", who="") == \
        ":bell: Sigue fallando y nadie lo ha reconocido en 24 horas."
    assert t("es", "th_reminder", hours="0.5", who="").endswith("en 0.5 horas.")
    assert [duration_words(s, "nl") for s in (60, 3600 + 120, 86400 * 2 + 3600)] == \
        ["1 minuut", "1 uur 2 minuten", "2 dagen 1 uur"]
    assert duration_words(86400 + 60, "es") == "1 día 1 minuto"


def test_a_rule_text_rendered_with_format_map_picks_the_form():
    risk = Risk("books-closed", {"close": "2026-01-31", "count": 1, "examples": "INV-9"})
    assert "and 1 open HubSpot invoice is dated on or before it (e.g. INV-9): QuickBooks refuses it." in risk.text()
    assert "y 1 factura abierta de HubSpot tiene esa fecha" in risk.text("es")
    assert "en 2 open HubSpot-facturen hebben een datum" in \
        Risk("books-closed", {"close": "2026-01-31", "count": 2, "examples": "INV-9"}).text("nl")


def test_the_form_follows_the_catalog_s_plural_forms_header(tmp_path, monkeypatch):
    # A catalog with three forms (a made-up rule: 1 -> 0, 2 -> 1, else 2) is followed as written:
    # the index comes from the header, not from a rule built into qbsync.
    monkeypatch.setattr(catalog, "LOCALE_DIR", tmp_path)
    po = tmp_path / "nl" / "LC_MESSAGES" / "qbsync.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n'
                  '"Plural-Forms: nplurals=3; plural=(n == 1 ? 0 : n == 2 ? 1 : 2);\\n"\n\n'
                  'msgid "{count} cause"\nmsgid_plural "{count} causes"\n'
                  'msgstr[0] "{count} one"\nmsgstr[1] "{count} two"\nmsgstr[2] "{count} many"\n', encoding="utf-8")
    catalog.catalog.cache_clear()
    try:
        entry = catalog.translate(plural("{count} cause", "{count} causes"), "nl")
        assert isinstance(entry, Plural) and entry.forms == ("{count} one", "{count} two", "{count} many")
        assert [entry.format(count=n) for n in (0, 1, 2, 3)] == ["0 many", "1 one", "2 two", "3 many"]
        assert [plural_rule("nl")(n) for n in (1, 2, 5)] == [0, 1, 2]
    finally:
        monkeypatch.undo()
        catalog.catalog.cache_clear()
    assert [plural_rule("nl")(n) for n in (1, 2, 5)] == [0, 1, 1]  # the real catalog again: (n != 1)


def test_the_real_catalogs_use_two_forms():
    for lang in ("en", "nl", "es"):
        assert [plural_rule(lang)(n) for n in (0, 1, 2, 1_000_000)] == [1, 0, 1, 1]


def test_a_words_table_with_a_plural_keeps_str_and_plain_tables_working():
    table = words({"en": {"n": plural("{count} line", "{count} lines"), "plain": "Open"}})
    assert isinstance(table["nl"]["n"], str) and table["nl"]["n"].format(count=1) == "1 line"  # no catalog entry
    assert table["en"]["n"] == "{count} lines"  # as a str: its last form
    assert table["es"]["plain"] == catalog.catalog("es")[(None, "Open")] != "Open"


@pytest.mark.parametrize("lang", ["nl", "es"])
def test_every_plural_entry_picks_what_gettext_picks(lang):
    # The same catalog compiled to .mo and read by babel.support.Translations (Python's gettext
    # runtime): for every plural entry and 0, 1, 2, 21 its ngettext/npgettext gives our form.
    from io import BytesIO

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with catalog.po_path(lang).open("rb") as f:
        po = read_po(f, locale=lang, domain=catalog.DOMAIN)
    buf = BytesIO()
    write_mo(buf, po)
    buf.seek(0)
    runtime = Translations(fp=buf, domain=catalog.DOMAIN)
    entries = [(ctx, msgid) for ctx, msgid in catalog.catalog(lang) if isinstance(msgid, tuple)]
    assert len(entries) > 30
    for ctx, (one, other) in entries:
        ours = catalog.translate(plural(one, other, context=ctx), lang)
        for n in (0, 1, 2, 21):
            theirs = runtime.npgettext(ctx, one, other, n) if ctx else runtime.ngettext(one, other, n)
            assert ours.form(n) == theirs, (ctx, one, n)
