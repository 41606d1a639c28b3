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
from io import BytesIO

from bot import i18n_harvest
from rules import catalog
from rules.registry import get

ROOT = Path(__file__).resolve().parents[1]
LANGS = catalog.TRANSLATED
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


Key = tuple  # (msgctxt or None, msgid)


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


def problems(messages: dict[Key, str], lang: str) -> list[str]:
    """What is wrong with `lang`'s catalog for `messages`, one line each, naming the msgid,
    the language and where the English is."""
    po = read_catalog(lang) if catalog.po_path(lang).exists() else None
    out = []
    for (context, msgid), where in messages.items():
        entry = po.get(msgid, context=context) if po is not None else None
        name = named(msgid, context)
        if entry is None:
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
    ids = {msgid for _, msgid in messages}
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
    assert {(m.context, m.id): m.string for m in mo if m.id} == catalog.catalog(lang)  # what qbsync reads


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
