"""Small helpers for the rules' words and keys: locale -> language, rendering texts with
record values, the evidence fingerprint and deterministic QBO request ids."""
from __future__ import annotations

import hashlib
import json
import unicodedata
import uuid
from typing import Any, Mapping

LANGS = ("en", "nl", "es")
# A fixed namespace for request ids, so the same (invoice, rule, fix, evidence) always gives
# the same id on every machine.
_NAMESPACE = uuid.UUID("5b0f0c1e-3b7a-4c11-9d2e-8a9b1f6c0d42")


def lang_of(locale: str | None, default: str = "en") -> str:
    """'nl-NL' -> 'nl', 'es_ES' -> 'es', 'en-US' -> 'en'; anything else -> default (or en)."""
    head = (locale or "").strip().lower().replace("_", "-").split("-")[0]
    if head in LANGS:
        return head
    return default if default in LANGS else "en"


class _Values(dict):
    def __missing__(self, key: str) -> str:  # a text never crashes on a value it lacks
        return "?"


def render(template: str, values: Mapping[str, Any]) -> str:
    return template.format_map(_Values({k: ("" if v is None else v) for k, v in values.items()}))


def plain(text: str) -> str:
    """Case-folded text without accents and with single spaces (for matching)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def fingerprint(evidence: Mapping[str, Any]) -> str:
    blob = json.dumps(evidence, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def request_id(invoice_id: str, rule: str, fix_id: str, evidence: Mapping[str, Any], *extra: str) -> str:
    """A UUID-shaped id (36 characters: QBO's requestid accepts it) derived from the invoice,
    the rule, the fix and the evidence, so a repeated click or a retry sends the same id."""
    key = "|".join([str(invoice_id), rule, fix_id, fingerprint(evidence), *map(str, extra)])
    return str(uuid.uuid5(_NAMESPACE, key))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
