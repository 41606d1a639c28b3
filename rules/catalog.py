"""qbsync's words in nl and es: gettext catalogs managed with Babel, English text as msgid.

The English words stay in the modules that use them, in tables marked with `words(...)`:

    TEXTS = words({"en": {"headline": "{number} did not reach QuickBooks", ...}})

`words` returns a plain dict {"en": ..., "nl": ..., "es": ...}: the same shape the tables had
when nl and es were written inline, so callers (`TEXTS[lang]`, bot.i18n.pick, Rule.texts) do
not change. The nl and es values are the English ones with every string looked up in
rules/locale/{nl,es}/LC_MESSAGES/qbsync.po (a missing one falls back to English; the catalog
test, tests/test_catalogs.py, fails on it first). Strings in dicts and lists (a rule's steps)
are translated one by one; tuples (regex patterns) are data and left alone.

`pybabel extract` finds the English strings with `extract` below (babel.cfg maps the source
files to it): it imports the module and yields every string of its `words` tables, so a table
built with `+` (e.g. a settings path shared by several texts) is extracted exactly as used.

The catalogs are read from the .po files at import (babel.messages.pofile), not from compiled
.mo files: one source of truth that cannot drift from a stale .mo, no binary files in git, and
parsing a few hundred messages costs milliseconds. Fuzzy entries are not used (gettext's rule).

Tables still written the old way (nl/es inline) keep working: `words` also takes nl/es
entries, which win over the catalog. bot/i18n_harvest.py moves such entries into the .po files.

Lives in rules/ (the lowest layer: bot/ and handlers/ import rules/, never the reverse).
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from babel.messages.pofile import read_po

DOMAIN = "qbsync"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
TRANSLATED = ("nl", "es")  # English is the source language: its words are the msgids
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[tuple[str | None, str], str]:
    """(msgctxt, msgid) -> msgstr of `lang`'s catalog: translated, non-fuzzy entries only."""
    path = po_path(lang)
    if not path.exists():
        return {}
    with path.open("rb") as f:
        po = read_po(f, locale=lang, domain=DOMAIN)
    return {(m.context, m.id): m.string for m in po if m.id and isinstance(m.id, str)
            and isinstance(m.string, str) and m.string and not m.fuzzy}


def is_word(text: str) -> bool:
    """A string worth translating: it has letters outside its {placeholders}."""
    return any(c.isalpha() for c in _PLACEHOLDER.sub("", text))


def translate(value: Any, lang: str, context: str | None = None) -> Any:
    """`value` (a string, or dicts and lists of them) in `lang`; English where no translation.
    `context`: gettext's msgctxt, for English words that read differently elsewhere."""
    if isinstance(value, str):
        if lang == "en" or not is_word(value):
            return value
        return catalog(lang).get((context, value), value)
    if isinstance(value, dict):
        return {k: translate(v, lang, context) for k, v in value.items()}
    if isinstance(value, list):
        return [translate(v, lang, context) for v in value]
    return value


class Words(dict):
    """A words table: {"en": ..., "nl": ..., "es": ...}. `inline` holds nl/es entries still
    written in the source (bot/i18n_harvest.py moves them into the catalogs)."""

    module: str = ""
    lineno: int = 0
    context: str | None = None
    inline: dict


# (module name, line) -> (context, English value) of every words() table, for extraction. Tables
# are module or class constants: one registration each (a table built in a function would
# not be extracted before the function ran).
_TABLES: dict[tuple[str, int], tuple[str | None, Any]] = {}


def _overlay(base: Any, inline: Any) -> Any:
    """`base` (translated from the catalog) with the entries written inline on top."""
    if isinstance(base, dict) and isinstance(inline, dict):
        return {k: _overlay(v, inline[k]) if k in inline else v for k, v in base.items()} | \
            {k: v for k, v in inline.items() if k not in base}
    return inline if inline not in (None, "") else base


def words(table: dict[str, Any], context: str | None = None) -> Words:
    """Mark a words table (see the module doc) and fill in nl and es from the catalogs.
    `context` (msgctxt) separates an English word that is translated differently here."""
    frame = sys._getframe(1)
    en = table["en"]
    out = Words({"en": en})
    for lang in TRANSLATED:
        mine = translate(en, lang, context)
        out[lang] = _overlay(mine, table[lang]) if lang in table else mine
    out.module, out.lineno, out.context = frame.f_globals.get("__name__", ""), frame.f_lineno, context
    out.inline = {lang: table[lang] for lang in TRANSLATED if lang in table}
    _TABLES[(out.module, out.lineno)] = (context, en)
    return out


def strings(value: Any) -> Iterator[str]:
    """Every translatable string of an English value, in order."""
    if isinstance(value, str):
        if is_word(value):
            yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def _module_name(path: Path) -> str | None:
    """The dotted name of a module file inside packages (rules/text.py -> rules.text)."""
    parts = [path.stem] if path.stem != "__init__" else []
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts) if len(parts) > 1 else None


def load(path: Path) -> str:
    """Import the module at `path` (so its words() tables register) and return its name."""
    path = path.resolve()
    name = _module_name(path)
    if name:
        module = importlib.import_module(name)
        if Path(getattr(module, "__file__", "") or "").resolve() == path:
            return name
    # a file outside our packages (a new module being checked, a test's temporary file)
    name = "_qbsync_words_" + re.sub(r"\W", "_", str(path))
    for key in [k for k in _TABLES if k[0] == name]:
        del _TABLES[key]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return name


def extract(fileobj, keywords, comment_tags, options) -> Iterator[tuple[int, str | None, Any, list[str]]]:
    """Babel extraction method (babel.cfg: `[rules.catalog.extract: bot/**.py]`): every English
    string of the file's words() tables, with the line of its table. A string with a context is
    reported as a `pgettext(context, text)` call (one of Babel's default keywords), which is
    how Babel records a msgctxt."""
    source = fileobj.read()
    if b"words(" not in (source if isinstance(source, bytes) else source.encode()):
        return
    name = load(Path(fileobj.name))
    for (module, lineno), (context, en) in sorted(_TABLES.items()):
        if module == name:
            for text in strings(en):
                yield (lineno, "pgettext", (context, text), []) if context else (lineno, None, text, [])
