"""The nl and es gettext catalogs (rules/locale, managed with Babel) hold every English word
of the source: extracted with Babel's own API and babel.cfg, as `pybabel extract` does."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from io import BytesIO, StringIO

from bot import i18n_harvest
from rules import catalog
from rules.registry import get

ROOT = Path(__file__).resolve().parents[1]
LANGS = catalog.TRANSLATED
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


Key = tuple  # (msgctxt or None, msgid); a plural entry's msgid is (singular, plural)


def source_messages() -> dict[Key, str]:
    """(msgctxt, msgid) -> where (file:line) of every English word, extracted with babel.cfg's mapping."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[Key, str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(ROOT, method_map, options_map):
        found.setdefault((context, message), f"{filename}:{lineno}")
    return found


def file_messages(path) -> dict[Key, str]:
    return {(context, message): f"{path}:{lineno}" for lineno, message, _c, context in
            extract_from_file("rules.catalog.extract", str(path))}


def named(msgid: str, context) -> str:
    return f"msgid {msgid!r}" + (f" (msgctxt {context!r})" if context else "")


def read_catalog(lang: str):
    with catalog.po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=catalog.DOMAIN)


def placeholders(texts) -> set[str]:
    return {p for text in texts for p in PLACEHOLDER.findall(text)}


def plural_problems(msgid: tuple, entry, po, lang: str, name: str, where: str) -> list[str]:
    """A plural entry must be one in the catalog too, with every form its Plural-Forms asks
    for, and the English placeholders (a form may leave the count out, e.g. "una causa")."""
    if not isinstance(entry.string, (tuple, list)):
        return [f"{lang}: {name} ({where}) is a plural entry, the catalog has a plain msgstr"]
    forms = list(entry.string)
    empty = [i for i in range(po.num_plurals) if i >= len(forms) or not forms[i]]
    if empty:
        return [f"{lang}: {name} ({where}) misses plural form(s) msgstr{empty} (Plural-Forms: {po.plural_forms})"]
    if entry.fuzzy:
        return [f"{lang}: {name} ({where}) is fuzzy: check the translation, then drop the flag"]
    if placeholders(msgid) != placeholders(forms):
        return [f"{lang}: {name} ({where}) has placeholders {sorted(placeholders(msgid))}, the translation "
                f"{sorted(placeholders(forms))}"]
    return []


def problems(messages: dict[Key, str], lang: str) -> list[str]:
    """What is wrong with `lang`'s catalog for `messages`, one line each, naming the msgid,
    the language and where the English is."""
    po = read_catalog(lang) if catalog.po_path(lang).exists() else None
    out = []
    for (context, msgid), where in messages.items():
        entry = po.get(msgid, context=context) if po is not None else None
        name = named(msgid, context)
        if entry is not None and isinstance(msgid, tuple):
            out += plural_problems(msgid, entry, po, lang, name, where)
        elif entry is None:
            out.append(f"{lang}: {name} ({where}) is missing from {catalog.po_path(lang)}")
        elif not entry.string:
            out.append(f"{lang}: {name} ({where}) has an empty translation")
        elif entry.fuzzy:
            out.append(f"{lang}: {name} ({where}) is fuzzy: check the translation, then drop the flag")
        elif set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(entry.string)):
            # the same names (a translation may use one twice or once where the English does not)
            out.append(f"{lang}: {name} ({where}) has placeholders {sorted(set(PLACEHOLDER.findall(msgid)))}, "
                       f"the translation {sorted(set(PLACEHOLDER.findall(entry.string)))}")
    return out


def test_the_source_has_the_words_of_every_table():
    messages = source_messages()
    assert len(messages) > 300  # every words() table of bot/, handlers/ and rules/
    plurals = {msgid for _, msgid in messages if isinstance(msgid, tuple)}
    ids = {msgid for _, msgid in messages} - plurals
    # count texts are gettext plural messages (msgid + msgid_plural)
    assert ("{count} cause, to fix in this order:", "{count} causes, to fix in this order:") in plurals
    assert ("{count} invoice is not reaching QuickBooks", "{count} invoices are not reaching QuickBooks") in plurals
    assert ("digest: failures", ("{count} resolved", "{count} resolved")) in messages  # a plural's own msgctxt
    assert not any(m.endswith("(s)") or "invoice(s)" in m for m in ids)  # no "invoice(s)" style left
    assert "{number} did not reach QuickBooks" in ids          # bot/slack/texts.py
    assert "No automatic fix: moving the closing date is an accountant's decision." in ids  # a rule
    assert any(m.startswith("Ask your accountant whether to move the closing date") for m in ids)  # steps
    assert "" not in ids and not any(m.startswith("{") and m.endswith("}") and m.count("{") == 1
                                     for m in ids)  # no pure placeholders to translate
    # the same English word, translated apart where it reads differently (gettext msgctxt)
    assert (None, "tax") in messages and ("tax-code-required: unnamed tax", "tax") in messages
    assert catalog.catalog("nl")[(None, "tax")] == "btw"
    assert catalog.catalog("nl")[("tax-code-required: unnamed tax", "tax")] == "belasting"


@pytest.mark.parametrize("lang", LANGS)
def test_every_english_word_is_translated(lang):
    found = problems(source_messages(), lang)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("lang", LANGS)
def test_the_catalog_header_is_usable_and_compiles(lang):
    po = read_catalog(lang)
    assert not po.fuzzy and str(po.locale) == lang  # a fuzzy header makes pybabel compile skip the file
    buf = BytesIO()
    write_mo(buf, po)
    buf.seek(0)
    mo = read_mo(buf)
    as_read = {(m.context, tuple(m.id) if isinstance(m.id, list) else m.id):
               tuple(m.string) if isinstance(m.string, list) else m.string for m in mo if m.id}
    assert as_read == catalog.catalog(lang)  # what qbsync reads, plural entries included
    assert po.num_plurals == 2 and po.plural_expr == "(n != 1)"  # nl and es: one, other


def test_a_rule_s_steps_are_translated_one_by_one():
    rule = get("books-closed")
    en = rule.steps("en")
    for lang in LANGS:
        steps = rule.steps(lang)
        assert len(steps) == len(en) and steps == [catalog.catalog(lang)[(None, s)] for s in en]
        assert all(s != e for s, e in zip(steps, en, strict=True))
    assert rule.steps("nl")[0].startswith("Vraag je boekhouder")
    assert rule.steps("es")[0].startswith("Pregunta a tu contable")


def test_an_english_word_without_translations_fails_naming_it(tmp_path):
    source = tmp_path / "new_words.py"
    source.write_text('from rules.catalog import words\n\nTEXTS = words({"en": {\n'
                      '    "greeting": "Good morning, {name}: three invoices wait for you",\n'
                      '    "steps": ["Open the thread", "{count}"],\n}})\n', encoding="utf-8")
    extracted = file_messages(source)
    assert set(extracted) == {(None, "Good morning, {name}: three invoices wait for you"), (None, "Open the thread")}
    for lang in LANGS:
        found = problems(extracted, lang)
        assert found == [f"{lang}: msgid 'Good morning, {{name}}: three invoices wait for you' ({source}:3) is "
                         f"missing from {catalog.po_path(lang)}",
                         f"{lang}: msgid 'Open the thread' ({source}:3) is missing from {catalog.po_path(lang)}"]


def test_a_changed_placeholder_or_a_fuzzy_entry_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "LOCALE_DIR", tmp_path)
    po = tmp_path / "nl" / "LC_MESSAGES" / "qbsync.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "Snoozed until {until}"\nmsgstr "Gesnoozed tot {tot}"\n\n'
                  '#, fuzzy\nmsgid "Open"\nmsgstr "Open"\n', encoding="utf-8")
    found = problems({(None, "Snoozed until {until}"): "x.py:1", (None, "Open"): "x.py:2"}, "nl")
    assert found == ["nl: msgid 'Snoozed until {until}' (x.py:1) has placeholders ['{until}'], the translation "
                     "['{tot}']",
                     "nl: msgid 'Open' (x.py:2) is fuzzy: check the translation, then drop the flag"]


def test_harvest_moves_inline_words_into_the_catalogs(tmp_path, monkeypatch):
    # A table written the old way (en/nl/es inline), as other branches still add them.
    monkeypatch.setattr(catalog, "LOCALE_DIR", tmp_path / "locale")
    catalog.catalog.cache_clear()
    source = tmp_path / "branch_words.py"
    source.write_text('from rules.catalog import words\n\nOLD = {\n'
                      '    "en": {"bulk": "Fix {count} invoices", "steps": ["Pick one", "Press Apply"]},\n'
                      '    "nl": {"bulk": "{count} facturen herstellen",\n'
                      '           "steps": ["Kies er een", "Druk op Toepassen"]},\n'
                      '    "es": {"bulk": "Corregir {count} facturas", "steps": ["Elige una", "Pulsa Aplicar"]},\n}\n'
                      'MIXED = words({"en": {"digest": "Daily digest"}, "nl": {"digest": "Dagelijks overzicht"}})\n',
                      encoding="utf-8")
    report = []

    class Out:
        def write(self, text):
            report.append(text)

    try:
        problems_found = i18n_harvest.harvest([str(source)], out=Out())
        text = "".join(report)
        assert problems_found == 0 and "nl: 4 translation(s) written" in text, text
        nl, es = catalog.catalog("nl"), catalog.catalog("es")
        assert nl == {(None, "Fix {count} invoices"): "{count} facturen herstellen", (None, "Pick one"): "Kies er een",
                      (None, "Press Apply"): "Druk op Toepassen", (None, "Daily digest"): "Dagelijks overzicht"}
        assert es == {(None, "Fix {count} invoices"): "Corregir {count} facturas", (None, "Pick one"): "Elige una",
                      (None, "Press Apply"): "Pulsa Aplicar"}
        extracted = file_messages(source)
        assert problems(extracted, "nl") == []  # the words() table is covered now
        # es has no inline "digest": the catalog check names it, nothing is guessed
        assert [p.split(" (")[0] for p in problems(extracted, "es")] == ["es: msgid 'Daily digest'"]
    finally:
        catalog.catalog.cache_clear()


def test_words_tables_are_constants_so_extraction_sees_them_all():
    # A words() table built inside a function registers only once the function runs, so
    # `pybabel extract` (and the test above) would miss its words depending on what ran first.
    import ast

    inside = []
    for package in ("bot", "handlers", "rules"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for fn in ast.walk(tree):
                if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    inside += [f"{path.relative_to(ROOT)}:{n.lineno}" for n in ast.walk(fn)
                               if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "words"]
    assert inside == []


def test_a_plural_entry_missing_a_form_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "LOCALE_DIR", tmp_path)
    po = tmp_path / "es" / "LC_MESSAGES" / "qbsync.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n'
                  '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
                  'msgid "{count} cause"\nmsgid_plural "{count} causes"\nmsgstr[0] "{count} causa"\nmsgstr[1] ""\n\n'
                  'msgid "{count} day"\nmsgid_plural "{count} days"\nmsgstr[0] "{count} día"\n\n'
                  'msgid "{count} hour"\nmsgstr "{count} horas"\n\n'
                  'msgid "{count} line"\nmsgid_plural "{count} lines"\nmsgstr[0] "una línea"\nmsgstr[1] "líneas"\n\n'
                  'msgid "{count} alert"\nmsgid_plural "{count} alerts"\nmsgstr[0] "una alerta"\n'
                  'msgstr[1] "{count} alertas"\n', encoding="utf-8")
    found = problems({(None, ("{count} cause", "{count} causes")): "x.py:1",
                      (None, ("{count} day", "{count} days")): "x.py:2",
                      (None, ("{count} hour", "{count} hours")): "x.py:3",
                      (None, ("{count} line", "{count} lines")): "x.py:4",
                      (None, ("{count} alert", "{count} alerts")): "x.py:5"}, "es")
    plural_forms = "nplurals=2; plural=(n != 1);"
    assert found == [
        f"es: msgid ('{{count}} cause', '{{count}} causes') (x.py:1) misses plural form(s) msgstr[1] "
        f"(Plural-Forms: {plural_forms})",
        f"es: msgid ('{{count}} day', '{{count}} days') (x.py:2) misses plural form(s) msgstr[1] "
        f"(Plural-Forms: {plural_forms})",
        "es: msgid ('{count} hour', '{count} hours') (x.py:3) is a plural entry, the catalog has a plain msgstr",
        "es: msgid ('{count} line', '{count} lines') (x.py:4) has placeholders ['{count}'], the translation []",
    ]  # "una alerta" / "{count} alertas": a form may leave the count out
    catalog.catalog.cache_clear()
    try:  # what qbsync reads: an entry with a missing form is not used (English instead of half a translation)
        assert catalog.catalog("es") == {(None, ("{count} line", "{count} lines")): ("una línea", "líneas"),
                                         (None, ("{count} alert", "{count} alerts")): ("una alerta", "{count} alertas"),
                                         (None, "{count} hour"): "{count} horas"}
    finally:
        catalog.catalog.cache_clear()


def test_plural_entries_are_extracted_as_gettext_plurals_and_harvested(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "LOCALE_DIR", tmp_path / "locale")
    catalog.catalog.cache_clear()
    source = tmp_path / "plural_words.py"
    source.write_text('from rules.catalog import plural, words\n\nTEXTS = words({\n'
                      '    "en": {"left": plural("{count} invoice left", "{count} invoices left"),\n'
                      '           "done": plural("{count} done", "{count} done", context="bulk")},\n'
                      '    "nl": {"left": ("{count} factuur over", "{count} facturen over"),\n'
                      '           "done": ("{count} klaar", "{count} klaar")},\n})\n', encoding="utf-8")
    assert file_messages(source) == {(None, ("{count} invoice left", "{count} invoices left")): f"{source}:3",
                                     ("bulk", ("{count} done", "{count} done")): f"{source}:3"}
    try:
        report = StringIO()
        assert i18n_harvest.harvest([str(source)], out=report) == 0, report.getvalue()
        assert "nl: 2 translation(s) written" in report.getvalue()
        nl = catalog.catalog("nl")
        assert nl == {(None, ("{count} invoice left", "{count} invoices left")): ("{count} factuur over",
                                                                                 "{count} facturen over"),
                      ("bulk", ("{count} done", "{count} done")): ("{count} klaar", "{count} klaar")}
        po = read_catalog("nl")
        assert po.num_plurals == 2 and po.get(("{count} done", "{count} done"), context="bulk").string == \
            ("{count} klaar", "{count} klaar")
        assert problems(file_messages(source), "nl") == []
        # the table read again: its nl entries come from the catalog now, forms picked by count
        module = __import__("sys").modules[catalog.load(source)]
        assert [module.TEXTS["nl"]["left"].format(count=n) for n in (0, 1, 2)] == \
            ["0 facturen over", "1 factuur over", "2 facturen over"]
        assert [module.TEXTS["es"]["left"].format(count=n) for n in (0, 1, 2)] == \
            ["0 invoices left", "1 invoice left", "2 invoices left"]  # no es catalog: English
    finally:
        catalog.catalog.cache_clear()
