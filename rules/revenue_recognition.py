"""revenue-recognition-service-date: QBO's Revenue Recognition is on, so every invoice line
needs a service date, which HubSpot line items cannot carry (QBO fault 6000, "Business
Validation Error: Enter a service date for the revenue recognition line item").

Data: Preferences ProductAndServicesPrefs.RevenueRecognitionEnabled is true. That is the
field's real name: Intuit added `RevenueRecognitionEnabled` (and `RecognitionFrequencyType`)
under ProductAndServicesPrefs in platform release 2022.3.8 (QBO Accounting API release notes;
/work/shared/knowledge/apis.md); public code mirroring real Preferences answers has the same
column (ProductAndServicesPrefsRevenueRecognitionEnabled). No field named `RevenueRecognition`
exists. A company whose Preferences do not carry the field (an older minor version, a region
without the feature) is "unknown", never "off": the rule finds nothing, the `unknown` finding
says the setting could not be read, and the fix says so instead of "already off".
Fix: turn it off through the Preferences API (sparse, current SyncToken). Whether QBO lets
an app change it is not documented; when it refuses, the result gives the settings path from
Intuit's help article "Turn on revenue recognition in QuickBooks Online" (Settings > Account
and settings > Sales > Products and services > Edit > Revenue recognition; QBO Advanced).
"""
from __future__ import annotations

import dataclasses

from bot.errors import QbsyncError, ValidationFailed

from .base import Finding, FixContext, FixResult, Rule
from .fixes import already, error_words, make_fix
from .refusals import described
from .text import lang_of, request_id
from .catalog import words

PREF = ("ProductAndServicesPrefs", "RevenueRecognitionEnabled")

PATH = words({
    "en": "In QuickBooks Online go to Settings ⚙ > Account and settings > Sales > Products and services > Edit ✎, "
          "turn off Revenue recognition, then Save and Done.",
})
REFUSED = words({
    "en": "QuickBooks did not let qbsync turn Revenue Recognition off ({detail}). Please do it yourself: {path}",
})
# A preference QBO's answer does not carry: qbsync cannot tell on from off, so it says so.
UNREAD = words({
    "en": "QuickBooks did not report {pref} (the company's Preferences have no such field), so qbsync cannot "
          "tell whether it is on and changed nothing. Please check it yourself: {path}",
})
DONE = words({
    "en": "Revenue Recognition is now off in QuickBooks Online.",
})


class RevenueRecognition(Rule):
    id = "revenue-recognition-service-date"
    order = 20
    GENERIC_TITLES = words({'en': "QuickBooks' Revenue Recognition needs a service date"})
    fault_codes = ("6000",)  # only with the service-date text: 6000 is every business validation error
    patterns = {
        "en": (r"service date for the revenue recognition", r"revenue recognition line item"),
        "nl": (r"servicedatum in voor de regel voor (?:opbrengsterkenning|inkomstenherkenning)",
               r"servicedatum.{0,40}(?:opbrengsterkenning|inkomstenherkenning)"),
        "es": (r"fecha de servicio para el elemento de pedido de reconocimiento de ingresos",
               r"fecha de servicio.{0,60}reconocimiento de ingresos"),
    }
    TEXTS = words({
        "en": {
            "title": "Invoice {number}: QuickBooks' Revenue Recognition needs a service date",
            "text": "HubSpot could not sync invoice {number}: Revenue Recognition is on in QuickBooks Online, so "
                    "every invoice line needs a service date, and HubSpot line items cannot carry one. Turn Revenue "
                    "Recognition off and do revenue-recognition reporting separately. " + PATH["en"],
            "generic": "QuickBooks Online's Revenue Recognition is on, so every invoice line needs a service date; "
                       "HubSpot line items cannot carry one, so HubSpot invoices cannot sync.",
            "steps": ["Turn Revenue Recognition off and do revenue-recognition reporting separately. " + PATH["en"]],
            "fixes": {"disable-revenue-recognition": {
                "label": "Turn off Revenue Recognition in QBO",
                "confirm": "Turns off Revenue Recognition for the whole QuickBooks company (Preferences: "
                           "RevenueRecognitionEnabled true -> false). Existing schedules stay; new invoices need no "
                           "service date. Invoice {number} then syncs."}},
        },
    })

    def check(self, facts):
        # Only a preference QBO reports as true is a cause; absent is unknown (module doc).
        if facts.counterpart is not None or preference_state(facts.preferences, PREF) is not True:
            return None
        inv = facts.invoice
        evidence = {"preference": ".".join(PREF), "value": True, "settings_path": PATH["en"],
                    "lines": [li.name for li in inv.line_items]}
        return Finding(self.id, inv.id, inv.number, {"lines": len(inv.line_items)}, evidence)

    def fixes(self, finding, lang="en"):
        rid = request_id(finding.invoice_id, self.id, "disable-revenue-recognition", finding.evidence)
        fix = make_fix(self, finding, "disable-revenue-recognition", lang, {},
                       preference_off_work(PREF, rid, DONE, REFUSED, PATH),
                       hint=lambda exc, lang: PATH[lang_of(lang)])
        return [dataclasses.replace(fix, recheck=recheck_knowing(PREF, PATH, fix.recheck))]


def preference_state(prefs: dict | None, path: tuple[str, str]) -> bool | None:
    """A boolean preference as QBO reports it: True, False, or None when the answer does not
    carry the field (unknown: not the same as off)."""
    section, name = path
    node = (prefs or {}).get(section)
    if not isinstance(node, dict) or node.get(name) is None:
        return None
    value = node[name]
    if isinstance(value, str):  # be lenient about "true"/"false" strings
        return value.strip().lower() == "true"
    return bool(value)


def unread_message(path: tuple[str, str], lang: str, where: dict) -> str:
    lang = lang_of(lang)
    return UNREAD[lang].format(pref=".".join(path), path=where[lang])


def recheck_knowing(path: tuple[str, str], where: dict, recheck):
    """The rule's re-check, except that an unreadable preference is not "the cause is gone"."""

    def run(ctx: FixContext) -> FixResult:
        try:
            prefs = ctx.qbo.preferences()
        except QbsyncError as exc:
            return FixResult(False, error_words(exc, ctx.lang))
        if preference_state(prefs, path) is None:
            return FixResult(False, unread_message(path, ctx.lang, where))
        return recheck(ctx)
    return run


def preference_off_work(path: tuple[str, str], rid: str, done: dict, refused: dict, where: dict):
    """Turn a boolean preference off (sparse update with the current SyncToken); when QBO
    refuses, say where in QBO to do it by hand; when QBO does not report it, say that."""
    section, name = path

    def work(ctx: FixContext) -> FixResult:
        lang = lang_of(ctx.lang)
        prefs = ctx.qbo.preferences()
        state = preference_state(prefs, path)
        if state is None:
            return FixResult(False, unread_message(path, lang, where))
        if not state:
            return FixResult(True, already(lang, "preference_off", path=f"{section}.{name}"))
        body = {"SyncToken": prefs.get("SyncToken"), "sparse": True, section: {name: False}}
        try:
            ctx.qbo.update_preferences(body, request_id=rid)
        except ValidationFailed as exc:
            # QuickBooks' own words as they came; qbsync's own sentence (if any) in `lang`
            return FixResult(False, refused[lang].format(detail=described(exc, lang), path=where[lang]))
        return FixResult(True, done[lang], {"qbo_preference": {"path": f"{section}.{name}", "from": True, "to": False}})
    return work


RULE = RevenueRecognition()
