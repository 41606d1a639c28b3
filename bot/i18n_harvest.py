"""Maintainer tool: move nl/es words still written inline in Python tables into the catalogs.

    python -m bot.i18n_harvest bot/slack/texts.py handlers/texts.py ...

For every table in the files that still has "nl"/"es" entries next to "en" (a plain dict
{"en": ..., "nl": ..., "es": ...}, or a words(...) table given inline entries), each English
string is paired with its nl and es counterpart (dicts by key, lists by position) and written
to rules/locale/{nl,es}/LC_MESSAGES/qbsync.po (msgid = the English text). Then delete those
nl/es entries from the source, wrap the table in rules.catalog.words({"en": ...}), and run
`pybabel extract` / `update` (README, Development) and tests/test_catalogs.py.

A plural entry (rules.catalog.plural) is given inline as the tuple of its forms,
`"nl": {"causes": ("{count} oorzaak", "{count} oorzaken")}`, and written as msgstr[0], msgstr[1].

An English text that already has a different translation in the catalog is reported and
kept (--overwrite replaces it): the same English words are translated once, everywhere.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Iterator

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from rules import catalog as words_catalog
from rules.catalog import TRANSLATED, Plural, Words, is_word, po_path


def pairs(en: Any, other: Any, where: str) -> Iterator[tuple[Any, Any, str]]:
    """(English, translation or None, where) for every string of `en`; a plural entry as
    ((singular, plural), (form, form, ...) or None, where)."""
    if isinstance(en, Plural):
        forms = tuple(other) if isinstance(other, (tuple, list)) and other and all(other) else None
        yield en.msgid, forms, where
    elif isinstance(en, str):
        if is_word(en):
            yield en, other if isinstance(other, str) and other else None, where
    elif isinstance(en, dict):
        for k, v in en.items():
            yield from pairs(v, other.get(k) if isinstance(other, dict) else None, f"{where}[{k!r}]")
    elif isinstance(en, list):
        same = isinstance(other, list) and len(other) == len(en)
        for i, v in enumerate(en):
            yield from pairs(v, other[i] if same else None, f"{where}[{i}]")


def tables(module: Any) -> Iterator[tuple[str, dict, str | None]]:
    """(name, table, msgctxt) of every module-level or class-level table with inline nl/es entries."""
    def found(name: str, value: Any) -> Iterator[tuple[str, dict, str | None]]:
        if isinstance(value, Words):
            if value.inline:
                yield name, {"en": value["en"], **value.inline}, value.context
        elif isinstance(value, dict) and "en" in value and any(lang in value for lang in TRANSLATED):
            yield name, value, None
    for name, value in vars(module).items():
        yield from found(name, value)
        if isinstance(value, type) and value.__module__ == module.__name__:
            for attr, inner in vars(value).items():
                yield from found(f"{name}.{attr}", inner)


def _context_of(en: Any, msgid: Any, context: str | None) -> str | None:
    """A plural entry's own msgctxt, if it has one (else the table's)."""
    if isinstance(msgid, tuple):
        for value in _plurals(en):
            if value.msgid == msgid and value.context:
                return value.context
    return context


def _filled(string: Any) -> Any:
    """A catalog entry's translation (a plural's as a tuple of its forms), or None when empty."""
    if isinstance(string, (tuple, list)):
        return tuple(string) if string and all(string) else None
    return string or None


def _plurals(value: Any) -> Iterator[Plural]:
    """The plural entries of an English value (rules.catalog.strings walks it)."""
    return (s for s in words_catalog.strings(value) if isinstance(s, Plural))


def open_catalog(lang: str) -> Catalog:
    path = po_path(lang)
    if path.exists():
        with path.open("rb") as f:
            return read_po(f, locale=lang, domain=words_catalog.DOMAIN)
    return Catalog(locale=lang, domain=words_catalog.DOMAIN, project="qbsync", fuzzy=False)


def save(po: Catalog, lang: str) -> None:
    path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, po, sort_output=False)  # Babel's default width, as `pybabel update` writes


def harvest(files: list[str], *, overwrite: bool = False, out=sys.stdout) -> int:
    """Write the inline translations of `files` into the catalogs; returns how many problems
    (missing counterparts, conflicting translations) were reported."""
    problems = 0
    catalogs = {lang: open_catalog(lang) for lang in TRANSLATED}
    added = dict.fromkeys(TRANSLATED, 0)
    for file in files:
        module = sys.modules[words_catalog.load(Path(file))]
        for name, table, context in tables(module):
            for lang in TRANSLATED:
                if lang not in table:
                    continue
                for msgid, msgstr, where in pairs(table["en"], table[lang], f"{file}:{name}"):
                    ctx = _context_of(table["en"], msgid, context)
                    old = catalogs[lang].get(msgid, context=ctx)
                    had = _filled(old.string) if old is not None else None
                    if msgstr is None:
                        if had is None:
                            problems += 1
                            print(f"{lang}: no translation for {msgid!r} at {where}", file=out)
                        continue
                    if had is not None and had != msgstr and not overwrite:
                        problems += 1
                        print(f"{lang}: {msgid!r} at {where} is {msgstr!r}, the catalog has {had!r} "
                              f"(kept; --overwrite replaces)", file=out)
                        continue
                    if old is None or had != msgstr or old.fuzzy:
                        catalogs[lang].add(msgid, msgstr, flags=(), context=ctx)
                        added[lang] += 1
    for lang in TRANSLATED:
        save(catalogs[lang], lang)
    words_catalog.catalog.cache_clear()  # read again from the files just written
    for lang in TRANSLATED:
        print(f"{lang}: {added[lang]} translation(s) written to {po_path(lang)}", file=out)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.i18n_harvest", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="Python files with tables that still have nl/es entries")
    parser.add_argument("--overwrite", action="store_true", help="replace differing translations in the catalog")
    args = parser.parse_args(argv)
    return 1 if harvest(args.files, overwrite=args.overwrite) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
