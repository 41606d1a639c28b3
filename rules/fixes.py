"""Building blocks the rules' fixes share: request ids, error -> words a person can act on,
the audit trail, the re-check, and the customer/contact fixes two rules offer."""
from __future__ import annotations

import logging
from typing import Callable

from bot.errors import (ApiError, AuthError, BooksClosed, CompanyUnavailable, ConfigError, NotFound, QbsyncError,
                        RateLimited, StaleObject, Transient, ValidationFailed)

from .base import CONFIRM_MAX, Finding, Fix, FixContext, FixResult
from .facts import name_key, name_key_text
from .refusals import described, refusal
from .text import clip, lang_of, render, request_id
from .view import LiveContactDirectory, LiveQboView, email_of
from .catalog import plural, words

log = logging.getLogger(__name__)
# A store cursor: the 6190 text ("Invalid Company Status") the last QBO write answered, or "".
# Set when a fix meets it, cleared when a fix writes again; bot/scan.py keeps the one shared
# `qbo-subscription` alert up while it is set (reads keep working, so a scan cannot tell).
SUBSCRIPTION_MARK = "qbo.company_unavailable"

MSG = words({
    "en": {
        "auth": "{service} refused qbsync's credentials ({detail}). Nothing was changed. "
                "For QuickBooks run `qbsync connect quickbooks`; for HubSpot check HUBSPOT_ACCESS_TOKEN and its scopes.",
        "subscription": "QuickBooks Online refuses new data for this company: its subscription or trial ended, was cancelled, or has a billing problem ({detail}). Nothing was changed. A QuickBooks admin can settle it under Settings > Account and settings > Billing & Subscription.",
        "rate": plural("{service} is throttling qbsync. Nothing was changed; try again in {seconds} second.",
                       "{service} is throttling qbsync. Nothing was changed; try again in {seconds} seconds.",
                       n="seconds"),
        "stale": "Someone changed this record in QuickBooks at the same moment. Nothing was changed; run the check again and retry.",
        "notfound": "The record is no longer there in {service} (deleted or merged?). Run the check again.",
        "transient": "{service} did not answer ({detail}). Try again: the same request id means it is never applied twice.",
        "refused": "{service} refused the change: {detail}.",
        "gone": "Confirmed: the cause is gone ({rule}).",
        "still": "The cause still holds ({rule}): {detail}",
        # who answered, when the error names no service we know (an error of qbsync's own side)
        "a_service": "The service",
    },
})
# A fix that finds its change already made says so in one sentence per case: the cases were
# one "Nothing to do: {what} already." with an English `what` inside the nl/es sentence.
ALREADY = words({
    "en": {
        "customer_has_email": "Nothing to do: QBO customer {name} (Id {id}) already has {email}.",
        "customer_active": "Nothing to do: QBO customer {name} (Id {id}) is already active with {email}.",
        "record_active": "Nothing to do: QBO {entity} {name} (Id {id}) is already active.",
        "switched": "Nothing to do: invoice {number} in HubSpot already has contact {name} ({email}).",
        "customer_in_currency": "Nothing to do: QBO customer {name} (Id {id}) already bills {email} in {currency}.",
        "name_has_email": "Nothing to do: {name} already has {email}.",
        "invoice_matches": "Nothing to do: QBO invoice {number} already matches HubSpot.",
        "number_free": "Nothing to do: no QuickBooks document other than this invoice uses {number} any more.",
        "preference_off": "Nothing to do: {path} is already off in QuickBooks.",
        "Item": "item",
        "Customer": "customer",
    },
})
SERVICE_NAMES = {"qbo": "QuickBooks Online", "hubspot": "HubSpot", "slack": "Slack"}


def msg(lang: str, key: str, **values) -> str:
    return render(MSG[lang_of(lang)][key], values)


def already(lang: str, key: str, **values) -> str:
    """A fix found its change already made: ALREADY[key] in `lang` with the records' values."""
    return render(ALREADY[lang_of(lang)][key], values)


def entity_word(lang: str, entity: str) -> str:
    """A QBO entity name (Item, Customer) as a word of `lang`; others as they are."""
    return ALREADY[lang_of(lang)].get(entity, entity)


def error_words(exc: Exception, lang: str, hint: str = "") -> str:
    """An adapter error as a sentence a person can act on (never a traceback), in `lang`:
    qbsync's own words from rules/refusals.py, the service's own words quoted as they came."""
    service = SERVICE_NAMES.get(getattr(exc, "service", ""), msg(lang, "a_service"))
    detail = described(exc, lang) if isinstance(exc, ApiError) else str(exc)
    if isinstance(exc, ConfigError):
        text = refusal(lang, "settings")  # its problems name settings in English: logged, for the terminal
    elif isinstance(exc, AuthError):
        text = msg(lang, "auth", service=service, detail=detail)
    elif isinstance(exc, CompanyUnavailable):
        text = msg(lang, "subscription", detail=detail)
    elif isinstance(exc, BooksClosed) and exc.status is None and not exc.words:
        text = exc.message  # qbsync's own refusal before writing (rules/books_closed.py), already in words
    elif isinstance(exc, RateLimited):
        text = msg(lang, "rate", service=service, seconds=int(exc.retry_after))
    elif isinstance(exc, StaleObject):
        text = msg(lang, "stale")
    elif isinstance(exc, NotFound):
        text = msg(lang, "notfound", service=service)
    elif isinstance(exc, Transient):
        text = msg(lang, "transient", service=service, detail=detail)
    elif isinstance(exc, ValidationFailed) and exc.words and exc.status is None:
        text = detail  # qbsync refused before asking the service: its own whole sentence
    else:
        text = msg(lang, "refused", service=service, detail=detail)
    return f"{text} {hint}".strip()


def guarded(fix_id: str, finding: Finding, work: Callable[[FixContext], FixResult],
            hint: Callable[[Exception, str], str] | None = None) -> Callable[[FixContext], FixResult]:
    """Run `work`, turn adapter errors into a FixResult, and write the audit trail."""

    def run(ctx: FixContext) -> FixResult:
        try:
            result = work(ctx)
        except QbsyncError as exc:
            log.warning("fix %s on invoice %s failed: %s", fix_id, finding.invoice_id, exc)
            result = FixResult(False, error_words(exc, ctx.lang, hint(exc, ctx.lang) if hint else ""))
            if isinstance(exc, CompanyUnavailable) and ctx.store is not None:
                ctx.store.set_cursor(SUBSCRIPTION_MARK, exc.raw or exc.message)
        if ctx.store is not None and result.ok and result.changed and ctx.store.get_cursor(SUBSCRIPTION_MARK):
            ctx.store.set_cursor(SUBSCRIPTION_MARK, "")  # QBO took a write: the subscription is in order
        if ctx.store is not None:
            outcome = "ok" if result.ok and result.changed else ("noop" if result.ok else "failed")
            ctx.store.audit(ctx.actor, f"fix:{fix_id}", outcome, target=f"{finding.invoice_id}:{finding.rule}",
                            detail={"message": result.message, "changed": result.changed})
        return result
    return run


def recheck_for(rule, finding: Finding) -> Callable[[FixContext], FixResult]:
    """Re-read the invoice and QBO, run the rule's detect again: ok only if the cause is gone."""

    def run(ctx: FixContext) -> FixResult:
        try:
            invoice = ctx.hubspot.get_invoice(finding.invoice_id)
            again = rule.detect(invoice, LiveQboView(ctx.qbo, company_info=ctx.company_info),
                                LiveContactDirectory(ctx.hubspot))
        except QbsyncError as exc:
            return FixResult(False, error_words(exc, ctx.lang))
        if again is None:
            return FixResult(True, msg(ctx.lang, "gone", rule=rule.id))
        return FixResult(False, msg(ctx.lang, "still", rule=rule.id,
                                    detail=rule.explain(again, ctx.lang).title))
    return run


def make_fix(rule, finding: Finding, fix_id: str, lang: str, values: dict,
             work: Callable[[FixContext], FixResult], hint=None) -> Fix:
    t = rule.texts(lang)["fixes"][fix_id]
    values = rule.localise(dict(finding.summary_facts, number=finding.invoice_number, **values), lang)
    return Fix(id=fix_id, rule=rule.id, label=clip(render(t["label"], values), 75),
               confirm=clip(render(t["confirm"], values), CONFIRM_MAX),
               request_id=request_id(finding.invoice_id, rule.id, fix_id, finding.evidence),
               apply=guarded(fix_id, finding, work, hint), recheck=recheck_for(rule, finding))


# -- shared customer / contact fixes --------------------------------------------------------

def free_display_name(qbo, wanted: list[str]) -> str:
    """The first of `wanted` (then wanted[-1] + " 2", " 3", ...) that no customer, vendor or
    employee holds. One look-up for all candidates. Names are written with runs of spaces
    collapsed and compared that way, so "Acme  Corp" is never created next to "Acme Corp"
    (QBO's uniqueness check appears to ignore extra spaces: source in rules/facts.py gather)."""
    wanted = [name_key_text(w) for w in wanted]
    base = wanted[-1]
    candidates = list(dict.fromkeys(wanted + [f"{base} {n}" for n in range(2, 20)]))
    taken = {name_key(str(r.get("DisplayName", ""))) for _, r in qbo.names_in_use(candidates)}
    for name in candidates:
        if name_key(name) not in taken:
            return name
    raise ValidationFailed("qbo", f"every name from {wanted[0]!r} to {candidates[-1]!r} is taken in QuickBooks",
                           words="names_taken", values={"first": wanted[0], "last": candidates[-1]})


def customer_body(contact, company_name: str, display_name: str) -> dict:
    body = {"DisplayName": display_name, "PrimaryEmailAddr": {"Address": contact.email}}
    if contact.firstname:
        body["GivenName"] = contact.firstname[:100]
    if contact.lastname:
        body["FamilyName"] = contact.lastname[:100]
    if company_name:
        body["CompanyName"] = company_name[:100]
    return body


def create_customer_work(finding: Finding, names: list[str], rid: str, lang: str):
    """Create the QBO customer for the invoice's contact under the first free name of `names`;
    nothing when an active customer already has the contact's email."""
    ev = finding.evidence
    email = ev["contact"]["email"]

    def work(ctx: FixContext) -> FixResult:
        if not (email or "").strip():
            raise ValidationFailed("qbo", "the contact has no email; qbsync never creates a customer with a blank email",
                                   words="no_email_customer")
        existing = ctx.qbo.customers_by_email([email]).get(email.lower(), [])
        if existing:
            c = existing[0]
            return FixResult(True, already(ctx.lang, "customer_has_email", name=c.get("DisplayName"), id=c["Id"],
                                           email=email))
        from bot.models import Contact
        contact = Contact(**{k: ev["contact"][k] for k in ("id", "email", "firstname", "lastname")},
                          company_id=None)
        name = free_display_name(ctx.qbo, names)
        company = ev.get("customer_company", ev.get("company", ""))  # the contact's own company
        created = ctx.qbo.create("Customer", customer_body(contact, company, name), request_id=rid)
        return FixResult(True, render(_CREATED[lang_of(ctx.lang)], {
            "name": created.get("DisplayName"), "id": created.get("Id"), "email": email}),
            {"qbo_customer_created": {"id": str(created.get("Id")), "name": created.get("DisplayName"),
                                      "email": email}})
    return work


def reactivate_work(finding: Finding, holder: dict, email: str, *, set_email: bool):
    """Make the inactive QBO customer `holder` active again (and, when it has no email, give it
    the contact's). Checked again at the moment of writing: still the email the person saw (or
    still none), never a blank email. Sparse update: nothing else of the customer changes."""
    customer_id = holder["id"]

    def work(ctx: FixContext) -> FixResult:
        if not (email or "").strip():
            raise ValidationFailed("qbo", "the contact has no email; qbsync never writes a blank email",
                                   words="no_email")
        current = ctx.qbo.get("Customer", customer_id)
        have = email_of(current)
        wanted_email = email if set_email else have
        if current.get("Active", True) and have.lower() == wanted_email.lower():
            return FixResult(True, already(ctx.lang, "customer_active", name=current.get("DisplayName"),
                                           id=customer_id, email=wanted_email))
        if (set_email and have) or (not set_email and have.lower() != email.lower()):
            raise ValidationFailed("qbo", f"customer {current.get('DisplayName')} now has email {have or '-'}, "
                                          f"not what was shown; nothing was changed, run Re-check",
                                   words="email_moved", values={"name": current.get("DisplayName"),
                                                                "have": have or "-"})
        body = {"Id": current["Id"], "SyncToken": current["SyncToken"], "Active": True}
        if set_email:
            body["PrimaryEmailAddr"] = {"Address": email}
        updated = ctx.qbo.update("Customer", body, sparse=True,
                                 request_id=request_id(finding.invoice_id, finding.rule, "reactivate-customer",
                                                       finding.evidence))
        return FixResult(True, render(_REACTIVATED[lang_of(ctx.lang)], {
            "name": updated.get("DisplayName"), "id": updated.get("Id"), "email": email_of(updated)}),
            {"qbo_customer_reactivated": {"id": str(updated.get("Id")), "email_set": email if set_email else None}})
    return work


def reactivate_record_work(finding: Finding, entity: str, record_id: str, fix_id: str):
    """Make the inactive QBO name-list record (Item, Customer) `record_id` active again: a
    sparse update of `Active: true` with the current SyncToken, nothing else changes. QBO never
    deletes names, it makes them inactive (real-failures.md, `invalid-reference`)."""

    def work(ctx: FixContext) -> FixResult:
        current = ctx.qbo.get(entity, record_id)
        name = current.get("DisplayName") or current.get("Name") or record_id
        if current.get("Active", True):
            return FixResult(True, already(ctx.lang, "record_active", entity=entity_word(ctx.lang, entity), name=name,
                                           id=record_id))
        updated = ctx.qbo.update(entity, {"Id": current["Id"], "SyncToken": current["SyncToken"], "Active": True},
                                 sparse=True, request_id=request_id(finding.invoice_id, finding.rule, fix_id,
                                                                    finding.evidence, record_id))
        return FixResult(True, render(_RECORD_REACTIVATED[lang_of(ctx.lang)], {
            "entity": entity_word(ctx.lang, entity), "name": name, "id": updated.get("Id")}),
            {"qbo_reactivated": {"entity": entity, "id": str(updated.get("Id"))}})
    return work


_RECORD_REACTIVATED = words({
    "en": "QBO {entity} {name} (Id {id}) is active again.",
})
_REACTIVATED = words({
    "en": "QBO customer {name} (Id {id}) is active again, with email {email}.",
})
_CREATED = words({
    "en": "Created QBO customer {name} (Id {id}) with email {email}.",
})
_SWITCHED = words({
    "en": "Invoice {number} in HubSpot now has contact {name} ({email}).",
})


def switch_contact_work(finding: Finding, target: dict):
    def work(ctx: FixContext) -> FixResult:
        invoice = ctx.hubspot.get_invoice(finding.invoice_id)
        values = {"number": finding.invoice_number, "name": target["name"], "email": target["email"]}
        if [c.id for c in invoice.contacts] == [target["id"]]:
            return FixResult(True, already(ctx.lang, "switched", **values))
        if invoice.status == "paid":
            raise ValidationFailed("hubspot", "the invoice is paid; HubSpot does not let a paid invoice change contact",
                                   words="paid_invoice", values={"number": finding.invoice_number})
        ctx.hubspot.set_invoice_contact(finding.invoice_id, target["id"])
        return FixResult(True, render(_SWITCHED[lang_of(ctx.lang)], values),
                         {"hubspot_invoice_contact": {"invoice": finding.invoice_id,
                                                      "from": [c.id for c in invoice.contacts], "to": target["id"]}})
    return work


def switch_target(facts, customer_emails: list[str]) -> dict | None:
    """The HubSpot contact (not the invoice's) whose email is one of these QBO customers'."""
    for e in customer_emails:
        if not e:
            continue
        other = facts.other_contact(e.lower())
        if other is not None:
            return {"id": other.id, "name": other.name, "email": other.email}
    return None


def own_company_of(facts) -> str:
    """The contact's own company (what the integration names a new customer after): the name
    and CompanyName of a customer a fix creates. The invoice's company only when it is the
    contact's (its name not read yet); never another company the invoice happens to name."""
    contact, company = facts.contact, facts.invoice.company
    own = (contact.company_name or "").strip() if contact else ""
    if not own and contact is not None and company is not None and company.id == contact.company_id:
        own = company.name.strip()
    return own


def contact_evidence(facts) -> dict:
    c = facts.contact
    # The email trimmed, as the integration trims it when it looks the customer up: a fix must
    # never write " ann@x.example " into QBO (qbsync's own lookups would then miss it).
    return {"id": c.id, "name": c.name, "email": c.email.strip(), "firstname": c.firstname, "lastname": c.lastname}


__all__ = ["ALREADY", "MSG", "already", "entity_word", "contact_evidence", "create_customer_work", "customer_body", "email_of", "error_words",
           "free_display_name", "guarded", "make_fix", "msg", "own_company_of", "reactivate_record_work",
           "reactivate_work", "recheck_for",
           "switch_contact_work", "switch_target"]
