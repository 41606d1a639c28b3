"""The shapes every rule shares: Finding, Classification, Explanation, Fix, FixContext, Rule.

Texts are plain text with the real record values inserted; whoever renders them (Slack,
terminal) escapes for its medium. A rule keeps its texts in a dict per language (en/nl/es),
written in English and marked with rules.catalog.words(), which fills nl and es from the
gettext catalogs (rules/locale).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .locale_format import day, money
from .text import LANGS, lang_of, render

if TYPE_CHECKING:  # pragma: no cover
    from .facts import InvoiceFacts

CONFIRM_MAX = 300  # Slack's confirm-dialog text limit


@dataclass(frozen=True)
class Finding:
    """A cause found in the data for one HubSpot invoice."""

    rule: str
    invoice_id: str
    invoice_number: str
    summary_facts: dict   # short values the texts use (contact name, QBO customer, ...)
    evidence: dict        # the records involved, JSON-serialisable


@dataclass(frozen=True)
class Classification:
    """What an error text says: its rule, the QBO fault code if any, the values it names
    (DocNumber, TxnType, TxnId, Id) and the language of the text (en/nl/es, or None)."""

    rule: str
    code: str | None
    extracted: dict
    language: str | None


@dataclass(frozen=True)
class Explanation:
    rule: str
    title: str
    text: str
    locale: str  # en | nl | es


@dataclass
class FixResult:
    ok: bool
    message: str
    changed: dict = field(default_factory=dict)  # what was written ({} = nothing changed)


@dataclass
class FixContext:
    hubspot: Any              # bot.adapters.hubspot.HubSpotAdapter
    qbo: Any                  # bot.adapters.quickbooks.QuickBooksAdapter
    store: Any = None         # bot.store.Store: audit log when given
    actor: str = "system"
    lang: str = "en"
    # () -> QBO's CompanyInfo as the scans keep it (bot/mirror.py: read again after six hours),
    # for a re-check's tax facts (its Country); None: read live. A fix never changes it, and
    # reading it live cost every member of a bulk fix one QuickBooks request.
    company_info: Callable[[], dict] | None = None


@dataclass(frozen=True)
class Fix:
    """One repair. `label`/`confirm` say exactly what will change (confirm <= 300 chars).
    `apply(ctx)` writes through the adapters with `request_id` (deterministic: a repeat or
    retry is not applied twice); `recheck(ctx)` re-reads the data and is ok only when the
    cause is gone."""

    id: str
    rule: str
    label: str
    confirm: str
    request_id: str
    apply: Callable[[FixContext], FixResult]
    recheck: Callable[[FixContext], FixResult]


class Rule:
    """Base class. Subclasses set the class attributes and TEXTS, and override `check`
    (data) and `fixes` where they have any."""

    id: str = ""
    order: int = 100                 # the order a person should fix causes in (low first)
    fault_codes: tuple[str, ...] = ()
    patterns: dict[str, tuple[str, ...]] = {}  # regexes per language over normalised text
    # TEXTS[lang] = {"title": ..., "text": ... (for a Finding), "generic": ... (for a text),
    #                "steps": [...] (what to do, for a text)}
    TEXTS: dict[str, dict[str, Any]] = {}
    GENERIC_TITLES: dict[str, str] = {}  # title when explaining a text (no invoice at hand)
    # Values of a Finding's summary the texts show as a calendar date (ISO in the summary) or
    # an amount (a plain decimal; its currency is the summary's "currency"): formatted for the
    # reader's language when the text is rendered (rules/locale_format.py), so the summary,
    # and with it the alert's fingerprint, does not depend on the language.
    DATE_VALUES: tuple[str, ...] = ()
    MONEY_VALUES: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.compiled = {lang: [re.compile(p) for p in pats] for lang, pats in self.patterns.items()}

    # -- data ---------------------------------------------------------------------------
    def check(self, facts: "InvoiceFacts") -> Finding | None:
        """The cause from facts already gathered for a batch (rules.facts.gather)."""
        return None

    def detect(self, invoice, view, directory=None) -> Finding | None:
        """This rule's finding for one invoice, reading what it needs through `view`."""
        from .facts import gather

        return self.check(gather([invoice], view, directory)[invoice.id])

    # -- words --------------------------------------------------------------------------
    def texts(self, lang: str) -> dict[str, Any]:
        return self.TEXTS.get(lang_of(lang)) or self.TEXTS["en"]

    def explain(self, subject: "Finding | Classification", lang: str = "en") -> Explanation:
        lang = lang_of(lang)
        t = self.texts(lang)
        if isinstance(subject, Finding):
            values = self.localise(dict(subject.summary_facts, number=subject.invoice_number), lang)
            text = render(t[self.text_key(subject)], values)
            title = render(t["title"], values)
        else:
            values = {k: v for k, v in subject.extracted.items()}
            text = render(t["generic"], values)
            extras = [render(s, values) for s in self.generic_details(subject, lang)]
            if extras:
                text += "\n" + "\n".join(extras)
            title = render(self.GENERIC_TITLES.get(lang) or t["title"], values)
        return Explanation(self.id, title, text, lang)

    def localise(self, values: dict, lang: str) -> dict:
        """`values` with the DATE_VALUES and MONEY_VALUES written for `lang`."""
        out = dict(values)
        for key in self.DATE_VALUES:
            if out.get(key):
                out[key] = day(out[key], lang)
        for key in self.MONEY_VALUES:
            if out.get(key) not in (None, ""):
                out[key] = money(out[key], out.get("currency"), lang)
        return out

    def text_key(self, finding: Finding) -> str:
        """Which of TEXTS[lang]'s finding texts fits this finding (default "text")."""
        return "text"

    def generic_details(self, classification: Classification, lang: str) -> list[str]:
        """Extra lines for an explanation of a text (e.g. the document a Detail names)."""
        return []

    def steps(self, lang: str = "en") -> list[str]:
        """What a person can do, when there are no records to act on (explain TEXT)."""
        return list(self.texts(lang).get("steps", []))

    def fixes(self, finding: Finding, lang: str = "en") -> list[Fix]:
        return []

    def not_offered(self, finding: Finding, lang: str = "en") -> list[str]:
        """Fixes this rule knows but does not offer for this finding, with the reason."""
        return []


__all__ = ["CONFIRM_MAX", "Classification", "Explanation", "Finding", "Fix", "FixContext", "FixResult",
           "LANGS", "Rule"]
