"""A finding's evidence as a finance team reads it (issue 12): Block Kit fields with labels in
the reader's language and plain values, links to each record in HubSpot and QuickBooks, and
the line-by-line difference of an invoice as a small table.

No Python data structure reaches Slack: every value is formatted by the kind of record it is
(a HubSpot contact, a QuickBooks customer, a transaction, a list of names); a value of a kind
not known here is shown as its plain parts, never as a repr. Ids are shown only as links with
the record's name. Untrusted text is escaped (mrkdwn.escape); URLs come from bot/links.py.
"""
from __future__ import annotations

from typing import Any, Callable

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from bot.i18n import pick
from rules.locale_format import day, money, number

from .mrkdwn import clip, escape, link, slack_date
from rules.catalog import plural, words
from rules.missing_customer import WHY
from rules.text import lang_of

FIELD_MAX = 2000      # Block Kit: a section field's text, at most 2,000 characters
FIELDS_MAX = 10       # Block Kit: at most 10 fields in one section
TABLE_ROWS = 15       # lines of a difference table shown (the rest counted)

# Keys the explanation or the fix buttons already say in words, or that are internal codes.
# Also skipped, because the explanation already says them in the reader's language (a label
# made from the key would be English): doc-number-too-long's hubspot_remedy (an English
# sentence kept in the evidence, so the alert's fingerprint does not change), length and max;
# currency-mismatch's currencies, multicurrency and kind (an internal code); the country of
# tax-code-required (its title names it); customer_company (the company a created customer
# gets: the "company" field shows it).
SKIP = {"preference", "value", "settings_path", "reactivate", "not_offered", "differences", "no_email",
        "hubspot_remedy", "length", "max", "invoice_currency", "home_currency", "multicurrency", "kind",
        "country", "customer_company"}

LABELS: dict[str, dict[str, str]] = words({
    "en": {"contact": "HubSpot contact", "company": "Company", "display_name": "Name the integration gives",
           "integration_name": "Name the integration gives", "holder": "Name already used by",
           "holder_contact": "HubSpot contact with that email", "new_name": "A free name",
           "switch_contact": "Contact to switch to", "set_email": "Customer to give the email",
           "email_owner": "Email used by", "likely_customers": "Likely QuickBooks customer",
           "qbo_invoice": "QuickBooks invoice", "totals": "Totals", "conflicts": "Number already used by",
           "doc_number": "Invoice number", "lines": "Lines", "reason": "Why", "created_at": "Created",
           "qbo_customers_with_email": "QuickBooks customers with the email",
           "revenue_recognition": "Revenue recognition", "not_offered": "Not offered",
           "t_line": "Line", "t_hubspot": "HubSpot", "t_qbo": "QuickBooks",
           "more_rows": plural("… {count} more line", "… {count} more lines"),
           "yes": "yes", "no": "no", "none": "none", "inactive": "inactive", "invoices": "invoices: {count}",
           "Customer": "customer", "Vendor": "supplier", "Employee": "employee", "Invoice": "invoice",
           "CreditMemo": "credit memo", "tax": "tax", "total": "total", "no_email_value": "no email",
           "customer": "QuickBooks customer", "book_close_date": "Books closed up to", "invoice_date": "Invoice date",
           "inactive_items": "Inactive items", "lines_without_tax_code": "Lines without a tax code"},
})


def word(lang: str, key: str, **values) -> str:
    return pick(LABELS, lang, key, **values)


def _why(reason: str, lang: str) -> str:
    """A likely customer's reason in `lang` (rules/missing_customer.py WHY), as stored if unknown."""
    return WHY[lang_of(lang)].get(reason, reason)


class _Fmt:
    """Formats one evidence value as mrkdwn (escaped; links built by `links`)."""

    def __init__(self, links, lang: str, currency: str | None = ""):
        self.links = links
        self.lang = lang
        self.currency = currency or ""  # the invoice's (ISO 4217): amounts are shown in it

    def money(self, value: Any) -> str:
        """An amount of the invoice in its currency (`US$ 1.450,00` in Dutch); without a known
        currency a plain localised number (rules/locale_format.py)."""
        return escape(money(value, self.currency, self.lang) if self.currency else number(value, self.lang))

    def _link(self, url: str | None, label: Any) -> str:  # noqa: D401
        return link(url, label) if url else escape(label)

    def person(self, c: dict) -> str:
        """A HubSpot contact."""
        url = self.links.hubspot("contact", c.get("id")) if self.links else None
        out = self._link(url, c.get("name") or c.get("email") or "?")
        return out + (f" ({escape(c['email'])})" if c.get("email") and c.get("name") else "")

    def customer(self, c: dict, entity: str = "Customer") -> str:
        """A QuickBooks name-list record (customer, or the supplier/employee holding a name)."""
        url = self.links.qbo("customer", c.get("id")) if self.links and entity == "Customer" else None
        out = self._link(url, c.get("name") or c.get("email") or "?")
        extra = [escape(c["email"])] if c.get("email") and c.get("name") else []
        if c.get("active") is False:
            extra.append(word(self.lang, "inactive"))
        if c.get("invoices"):
            extra.append(word(self.lang, "invoices", count=c["invoices"]))
        if c.get("why"):  # the evidence's reasons ("same company", ...) in the reader's words
            extra.append(escape(", ".join(_why(str(w), self.lang) for w in c["why"])))
        return out + (f" ({'; '.join(extra)})" if extra else "")

    def holder(self, h: dict) -> str:
        entity = str(h.get("entity") or "Customer")
        return f"{escape(word(self.lang, entity))} {self.customer(h, entity)}"

    def transaction(self, d: dict) -> str:
        """A QuickBooks invoice or credit memo, with its date and customer."""
        kind = str(d.get("type") or "Invoice")
        url = self.links.qbo("creditmemo" if kind == "CreditMemo" else "invoice", d.get("id")) if self.links else None
        out = f"{escape(word(self.lang, kind))} {self._link(url, d.get('number') or '?')}"
        cust = d.get("customer")
        parts = [escape(day(d["date"], self.lang))] if d.get("date") else []
        if isinstance(cust, dict) and cust.get("name"):
            parts.append(self.customer(cust))
        return out + (f" · {' · '.join(parts)}" if parts else "")

    def qbo_invoice(self, d: dict) -> str:
        url = self.links.qbo("invoice", d.get("id")) if self.links else None
        return self._link(url, d.get("number") or "?")

    def totals(self, d: dict) -> str:
        parts = [f"{word(self.lang, 't_hubspot')} {self.money(d.get('hubspot', ''))}",
                 f"{word(self.lang, 't_qbo')} {self.money(d.get('qbo', ''))}"]
        if d.get("qbo_tax") not in (None, "", "0.00"):
            parts.append(f"{word(self.lang, 'tax')} {self.money(d['qbo_tax'])}")
        return " · ".join(parts)

    def plain(self, value: Any) -> str:
        """A value of a kind not known here: its parts as text, never a repr."""
        if isinstance(value, bool):
            return word(self.lang, "yes" if value else "no")
        if isinstance(value, dict):
            named = value.get("name") or value.get("number")
            if named:
                return escape(named)
            return " · ".join(self.plain(v) for v in value.values() if v not in (None, "", [], {}))
        if isinstance(value, (list, tuple)):
            return ", ".join(self.plain(v) for v in value) or word(self.lang, "none")
        return escape(value)


FORMATS: dict[str, Callable[[_Fmt, Any], str]] = {
    "contact": lambda f, v: f.person(v) if isinstance(v, dict) else f.plain(v),
    "holder_contact": lambda f, v: f.person(v),
    "switch_contact": lambda f, v: f.person(v),
    "email_owner": lambda f, v: f.person(v),
    "holder": lambda f, v: f.holder(v),
    "set_email": lambda f, v: f.customer(v),
    "likely_customers": lambda f, v: "\n".join(f.customer(c) for c in v),
    "conflicts": lambda f, v: "\n".join(f.transaction(d) for d in v),
    "qbo_invoice": lambda f, v: f.qbo_invoice(v),
    "totals": lambda f, v: f.totals(v),
    "lines": lambda f, v: escape(", ".join(str(x) for x in v)),
    "created_at": lambda f, v: _date(v),
    # calendar dates (books-closed), in the reader's words (rules/locale_format.py)
    "book_close_date": lambda f, v: escape(day(v, f.lang)),
    "invoice_date": lambda f, v: escape(day(v, f.lang)),
    "qbo_customers_with_email": lambda f, v: str(len(v)) if v else word(f.lang, "none"),
    "customer": lambda f, v: f.customer(v) if isinstance(v, dict) else f.plain(v),  # currency-mismatch's
    # invalid-reference: the inactive QuickBooks items by name (each once; the line ids are internal)
    "inactive_items": lambda f, v: escape(", ".join(dict.fromkeys(str(x.get("item") or x.get("line") or "?")
                                                                   for x in v))),
    "lines_without_tax_code": lambda f, v: escape(", ".join(str(x) for x in v)),
}


def _date(value: Any) -> str:
    from datetime import datetime
    try:
        return slack_date(datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return escape(value)


def evidence_fields(evidence: dict, links, lang: str, currency: str | None = "") -> list[str]:
    """One "*Label*\\nvalue" field per piece of evidence worth showing, in the rule's order.
    `currency`: the invoice's, for the amounts among them."""
    fmt = _Fmt(links, lang, currency)
    out = []
    for key, value in evidence.items():
        if key in SKIP or value in (None, "", [], {}):
            continue
        try:
            shown = FORMATS[key](fmt, value) if key in FORMATS else fmt.plain(value)
        except (AttributeError, TypeError, KeyError):
            shown = fmt.plain(value)  # a shape this module does not know: plain parts
        label = word(lang, key) if key in LABELS["en"] else key.replace("_", " ").capitalize()
        out.append(clip(f"*{escape(label)}*\n{shown}", FIELD_MAX))
    if evidence.get("no_email"):
        out.insert(0, clip(f"*{escape(word(lang, 'contact'))}*: {escape(word(lang, 'no_email_value'))}", FIELD_MAX))
    return out


def _side(value: Any, lang: str = "en", currency: str | None = "") -> str:
    """One side of a line difference as a reader of `lang` writes it: the quantity a plain
    number, unit price and amount in the invoice's `currency` (plain numbers if unknown)."""
    def amount_of(x: Any) -> str:
        return money(x, currency, lang) if currency else number(x, lang)

    if isinstance(value, dict):
        qty = number(value.get("qty", "?"), lang)
        return f"{qty} × {amount_of(value.get('unit_price', '?'))} = {amount_of(value.get('amount', '?'))}"
    return "—" if value in (None, "") else amount_of(value)


def difference_table(differences: list[dict], lang: str, currency: str | None = "") -> str | None:
    """The line-by-line difference of an invoice as a small fixed-width table (a code block:
    Slack keeps its spacing). Values are escaped; a cell holds no line break."""
    if not differences:
        return None
    rows = [(word(lang, "t_line"), word(lang, "t_hubspot"), word(lang, "t_qbo"))]
    for d in differences[:TABLE_ROWS]:
        line = str(d.get("line", ""))
        line = word(lang, line) if line in ("tax", "total") else line
        rows.append((line, _side(d.get("hubspot"), lang, currency), _side(d.get("qbo"), lang, currency)))
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(3)]
    text = "\n".join("  ".join(cell[:40].ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows)
    if len(differences) > TABLE_ROWS:
        text += "\n" + word(lang, "more_rows", count=len(differences) - TABLE_ROWS)
    return "```" + "\n".join(escape(line) for line in text.split("\n")) + "```"


def evidence_blocks(evidence: dict, links, lang: str, not_offered: list[str] | None = None,
                    currency: str | None = "") -> list[dict]:
    """Block Kit blocks for a finding's evidence: sections of fields (ten at most each), the
    difference table, and what is not offered (and why) as a context line. `currency`: the
    invoice's (ISO 4217), in which its amounts are shown."""
    blocks = []
    fields = evidence_fields(evidence, links, lang, currency)
    for i in range(0, len(fields), FIELDS_MAX):
        blocks.append(SectionBlock(fields=[MarkdownTextObject(text=f) for f in fields[i:i + FIELDS_MAX]]).to_dict())
    table = difference_table(evidence.get("differences") or [], lang, currency)
    if table:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(table, 3000))).to_dict())
    if not_offered:
        text = f"*{escape(word(lang, 'not_offered'))}:* " + " ".join(escape(x) for x in not_offered)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(text, 2000))]).to_dict())
    return blocks
