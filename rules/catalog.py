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

Count texts are plural entries: `plural("{count} cause", "{count} causes")` in a table (the
English singular and plural; `n=` names the placeholder that counts, "count" by default). It is
extracted as a gettext plural message (msgid + msgid_plural), its nl/es forms are the entry's
msgstr[0..], and the form is picked with the catalog's own Plural-Forms header (parsed by Babel's
Catalog.plural_expr, evaluated as GNU gettext does). A Plural is a str (its last form), so tables
keep their types; its `format`/`format_map` pick the form from the counting value, so
`t(lang, "causes_count", count=1)` says "1 cause" without the caller knowing.

Tables still written the old way (nl/es inline) keep working: `words` also takes nl/es
entries, which win over the catalog. bot/i18n_harvest.py moves such entries into the .po files.

Lives in rules/ (the lowest layer: bot/ and handlers/ import rules/, never the reverse).
"""
from __future__ import annotations

import gettext
import importlib
import importlib.util
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

DOMAIN = "qbsync"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
TRANSLATED = ("nl", "es")  # English is the source language: its words are the msgids
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(lang: str) -> Catalog | None:
    path = po_path(lang)
    if not path.exists():
        return None
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[tuple[str | None, Any], Any]:
    """(msgctxt, msgid) -> msgstr of `lang`'s catalog: translated, non-fuzzy entries only. A
    plural entry is ((msgctxt, (singular, plural)) -> (msgstr[0], msgstr[1], ...)), kept only
    when every form the catalog's Plural-Forms asks for is there."""
    po = _read(lang)
    _PLURAL_EXPR.pop(lang, None)
    if po is None:
        return {}
    _PLURAL_EXPR[lang] = po.plural_expr
    out: dict[tuple[str | None, Any], Any] = {}
    for m in po:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, str) and isinstance(m.string, str) and m.string:
            out[(m.context, m.id)] = m.string
        elif isinstance(m.id, (tuple, list)) and isinstance(m.string, (tuple, list)):
            forms = tuple(m.string)
            if len(forms) == po.num_plurals and all(forms):
                out[(m.context, tuple(m.id))] = forms
    return out


_PLURAL_EXPR: dict[str, str] = {}  # lang -> the Plural-Forms expression of the catalog catalog() read


def plural_rule(lang: str) -> Callable[[int], int]:
    """n -> the index of the plural form in `lang`: the catalog's Plural-Forms expression (Babel
    reads the header into Catalog.plural_expr; English, the source language, and a language
    without a catalog use Babel's own rule for the locale, "(n != 1)" for en), compiled by
    the stdlib's gettext.c2py, the function gettext.GNUTranslations (and so
    babel.support.Translations) uses for ngettext."""
    # Plural-Forms: "nplurals=2; plural=n != 1;" for Dutch and Spanish, as GNU gettext lists them
    # (https://www.gnu.org/software/gettext/manual/html_node/Plural-forms.html); docs/words.md.
    if lang in TRANSLATED:
        catalog(lang)  # reads the header along with the messages (and is re-read after cache_clear)
    return _compiled(_PLURAL_EXPR.get(lang) or Catalog(locale=lang).plural_expr)


@lru_cache(maxsize=None)
def _compiled(expr: str) -> Callable[[int], int]:
    return gettext.c2py(expr)


class Plural(str):
    """A count text: its forms in one language (English: singular, plural; nl/es: msgstr[0..]
    of the catalog), `msgid` the English (singular, plural) it is looked up by, `n` the name
    of the placeholder whose value picks the form, `context` its own msgctxt (else the table's).
    As a str it is its last form ("other")."""

    forms: tuple[str, ...]
    msgid: tuple[str, str]
    n: str
    lang: str
    context: str | None

    def __new__(cls, forms: tuple[str, ...], *, msgid: tuple[str, str], n: str, lang: str,
                context: str | None = None) -> "Plural":
        self = super().__new__(cls, forms[-1])
        self.forms, self.msgid, self.n, self.lang, self.context = tuple(forms), msgid, n, lang, context
        return self

    def form(self, count: Any) -> str:
        """The form for `count` (an int, or text of one); the last form when it is not a number."""
        try:
            number = int(count)
        except (TypeError, ValueError):
            return self.forms[-1]
        index = plural_rule(self.lang)(abs(number))
        return self.forms[min(index, len(self.forms) - 1)]

    def format(self, *args: Any, **values: Any) -> str:
        return self.form(values.get(self.n)).format(*args, **values)

    def format_map(self, values: Any) -> str:  # Any: str.format_map's mapping type is private to typeshed
        try:
            count = values[self.n]
        except KeyError:
            count = None
        return self.form(count).format_map(values)

    def __reduce__(self):  # copy and pickle keep the forms (str's own would call __new__ with one str)
        return (_plural_again, (self.forms, self.msgid, self.n, self.lang, self.context))

    def translated(self, lang: str, context: str | None) -> "Plural":
        found = catalog(lang).get((self.context or context, self.msgid)) if lang != "en" else None
        if not found:
            return self  # English (the catalog test names the missing entry)
        return self.with_forms(found, lang)

    def with_forms(self, forms: tuple[str, ...], lang: str) -> "Plural":
        return Plural(forms, msgid=self.msgid, n=self.n, lang=lang, context=self.context)


def _plural_again(forms, msgid, n, lang, context) -> Plural:
    return Plural(forms, msgid=msgid, n=n, lang=lang, context=context)


def plural(singular: str, plural_: str, *, n: str = "count", context: str | None = None) -> Plural:
    """A plural entry of a words() table: the English for one and for any other count. `n`:
    the placeholder that counts ("{count}" unless said). `context`: a msgctxt for this entry
    (the same English count word agreeing with another noun elsewhere, e.g. in Spanish)."""
    return Plural((singular, plural_), msgid=(singular, plural_), n=n, lang="en", context=context)


def is_word(text: str) -> bool:
    """A string worth translating: it has letters outside its {placeholders}."""
    return any(c.isalpha() for c in _PLACEHOLDER.sub("", text))


def translate(value: Any, lang: str, context: str | None = None) -> Any:
    """`value` (a string, or dicts and lists of them) in `lang`; English where no translation.
    `context`: gettext's msgctxt, for English words that read differently elsewhere."""
    if isinstance(value, Plural):
        return value.translated(lang, context)
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


def _overlay(base: Any, inline: Any, lang: str) -> Any:
    """`base` (translated from the catalog) with the entries written inline on top. A plural
    entry's inline translation is the tuple of its forms (msgstr[0], msgstr[1], ...)."""
    if isinstance(base, dict) and isinstance(inline, dict):
        return {k: _overlay(v, inline[k], lang) if k in inline else v for k, v in base.items()} | \
            {k: v for k, v in inline.items() if k not in base}
    if isinstance(base, Plural) and isinstance(inline, (tuple, list)) and inline and all(inline):
        return base.with_forms(tuple(inline), lang)
    return inline if inline not in (None, "") else base


def words(table: dict[str, Any], context: str | None = None) -> Words:
    """Mark a words table (see the module doc) and fill in nl and es from the catalogs.
    `context` (msgctxt) separates an English word that is translated differently here."""
    frame = sys._getframe(1)
    en = table["en"]
    out = Words({"en": en})
    for lang in TRANSLATED:
        mine = translate(en, lang, context)
        out[lang] = _overlay(mine, table[lang], lang) if lang in table else mine
    out.module, out.lineno, out.context = frame.f_globals.get("__name__", ""), frame.f_lineno, context
    out.inline = {lang: table[lang] for lang in TRANSLATED if lang in table}
    _TABLES[(out.module, out.lineno)] = (context, en)
    return out


def strings(value: Any) -> Iterator[str | Plural]:
    """Every translatable string of an English value, in order (a plural entry as itself)."""
    if isinstance(value, Plural):
        yield value
    elif isinstance(value, str):
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
    how Babel records a msgctxt; a plural entry as `ngettext(singular, plural)` (or
    `npgettext(context, singular, plural)`), which Babel records as msgid + msgid_plural."""
    source = fileobj.read()
    if b"words(" not in (source if isinstance(source, bytes) else source.encode()):
        return
    name = load(Path(fileobj.name))
    for (module, lineno), (context, en) in sorted(_TABLES.items()):
        if module == name:
            for text in strings(en):
                if isinstance(text, Plural):
                    own = text.context or context
                    yield (lineno, "npgettext", (own, *text.msgid), []) if own else (lineno, "ngettext", text.msgid, [])
                else:
                    yield (lineno, "pgettext", (context, text), []) if context else (lineno, None, text, [])
