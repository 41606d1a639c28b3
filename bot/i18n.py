"""One lookup for qbsync's word tables (en/nl/es). Each module keeps its own table of the
words it owns (English in the source, nl/es from the gettext catalogs: rules/catalog.py
words()); this only picks the language, falls back to English for a missing key, and fills
the values."""
from __future__ import annotations

LANGS = ("en", "nl", "es")


def pick(tables: dict[str, dict[str, str]], lang: str, key: str, **values) -> str:
    table = tables.get(lang) or tables["en"]
    template = table.get(key) or tables["en"][key]
    return template.format(**values) if values else template
