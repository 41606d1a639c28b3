"""Build qbsync's Slack messages (text + Block Kit blocks) from plain data. Nothing here
sends anything; the callers post what these functions return.

Every untrusted value (names, emails, invoice numbers, error texts) is escaped with
mrkdwn.escape before it goes into mrkdwn, and clipped to Block Kit's limits; blocks are built
with slack_sdk.models.blocks, whose validators reject anything over a limit, so a message
that builds is a message Slack accepts.

Buttons carry only the alert key and the fix id. Handlers look the alert up in the store and
check permission and state there: a button never decides anything by itself.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from .mrkdwn import clip, escape, link, plain, slack_date, user
from .texts import t

SECTION_MAX = 3000
CONTEXT_MAX = 2000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
FALLBACK_TEXT_MAX = 3000
ACTIONS_MAX = 25

ACTION_FIX = "qbsync:fix:"  # + fix id
ACTION_RECHECK = "qbsync:recheck"
ACTION_ACK = "qbsync:ack"
ACTION_SNOOZE = "qbsync:snooze"
ACTION_RESOLVE = "qbsync:resolve"
ACTION_BULK_FIX = "qbsync:bulk-fix"          # on a storm group's parent: show the plan (handlers/bulk.py)
ACTION_BULK_CONFIRM = "qbsync:bulk-confirm"  # on the plan's ephemeral message: run it
ACTION_BULK_CANCEL = "qbsync:bulk-cancel"    # on the plan's ephemeral message: drop it

STATE_EMOJI = {"open": ":red_circle:", "acknowledged": ":large_orange_circle:", "fixing": ":hourglass_flowing_sand:",
               "resolved": ":white_check_mark:", "snoozed": ":zzz:"}


@dataclass(frozen=True)
class FixButton:
    fix_id: str
    label: str
    confirm: str
    key: str | None = None  # the cause (alert key) it fixes, when not the card's own


@dataclass(frozen=True)
class CauseLine:
    """One cause of an invoice's failure, as its parent lists it (issue 12: one parent per
    invoice, causes in fix order, each with its own state)."""
    title: str
    state: str


@dataclass(frozen=True)
class AlertCard:
    """What the parent message of an alert shows. Filled by the alert service from the store
    row, the rule's explanation and the rule's fixes."""

    key: str
    rule: str
    state: str
    title: str
    invoice_number: str | None = None
    who: str | None = None          # contact / customer the invoice is for
    amount: str | None = None       # e.g. "1,450.00 USD"
    failing_since: float | None = None
    fixes: tuple[FixButton, ...] = ()
    acknowledged_by: str | None = None
    snoozed_until: float | None = None
    resolution: str | None = None
    group_count: int | None = None  # a grouped alert (QBO connection, throttling): how many invoices
    storm: bool = False             # one parent for many failures of one rule (members in the thread)
    lang: str = "en"
    parent_key: str | None = None   # what the parent message stands for (an invoice): its block_id
    causes: tuple[CauseLine, ...] = ()  # an invoice with more than one cause: all of them, in fix order
    links: tuple[tuple[str, str], ...] = ()  # (label, url): the invoice's records in HubSpot / QuickBooks
    acknowledgers: tuple[str, ...] = ()  # an invoice whose causes different people acknowledged: all of them
    bulk: tuple[str, int] | None = None  # a storm: (fix id, N) for "Fix all N like this" (bot/bulk_offer.py)


@dataclass(frozen=True)
class Message:
    text: str  # the notification / fallback text (plain, escaped)
    blocks: list[dict] = field(default_factory=list)


def button_value(alert_key: str, fix_id: str | None = None) -> str:
    payload = {"k": alert_key}
    if fix_id:
        payload["f"] = fix_id
    value = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if len(value) > BUTTON_VALUE_MAX:
        raise ValueError("alert key too long for a button value")
    return value


def plan_value(plan_id: str) -> str:
    """The Confirm button of a bulk fix plan carries only the plan's id (handlers/bulk.py)."""
    return json.dumps({"p": plan_id}, separators=(",", ":"))


def parse_plan_value(value: str | None) -> str:
    """The plan id; ValueError for anything we did not build."""
    try:
        plan = json.loads(value or "")["p"]
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a qbsync plan button") from None
    if not isinstance(plan, str) or not plan or len(plan) > 64:
        raise ValueError("not a qbsync plan button")
    return plan


def parse_button_value(value: str | None) -> tuple[str, str | None]:
    """(alert key, fix id or None); ValueError for anything we did not build."""
    try:
        data = json.loads(value or "")
        key = data["k"]
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a qbsync button value") from None
    if not isinstance(key, str) or not key:
        raise ValueError("not a qbsync button value")
    fix = data.get("f")
    return key, fix if isinstance(fix, str) and fix else None


def parent_block_id(alert_key: str) -> str:
    """The block_id of a parent's first block: it names the alert, so after a crash the
    parent can be recognised in the channel's history (Slack returns block ids as sent)."""
    return "qbsync-alert-" + hashlib.sha256(alert_key.encode("utf-8")).hexdigest()[:32]


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d"


def _state_line(card: AlertCard) -> str:
    lang = card.lang
    if card.state == "acknowledged" and (card.acknowledgers or card.acknowledged_by):
        who = card.acknowledgers or (card.acknowledged_by,)
        words = t(lang, "state_acknowledged", user=", ".join(user(u) for u in who if u))
    elif card.state == "snoozed" and card.snoozed_until:
        words = t(lang, "state_snoozed", until=slack_date(card.snoozed_until))
    elif card.state == "resolved" and card.resolution:
        words = t(lang, "state_resolved_why", why=escape(card.resolution))
    else:
        words = t(lang, f"state_{card.state}")
    return f"{STATE_EMOJI.get(card.state, '')} {words}".strip()


def alert_parent(card: AlertCard, *, now: float | None = None) -> Message:
    """The thread root: names the invoice, customer, amount and cause, shows the state, and
    (unless resolved) carries the buttons."""
    now = time.time() if now is None else now
    lang = card.lang
    if card.group_count:
        headline = t(lang, "headline_group", count=card.group_count)
    elif card.invoice_number:
        headline = t(lang, "headline", number=escape(card.invoice_number))
    else:  # a cause every sync shares (QBO connection, throttling)
        headline = t(lang, "headline_global")
    facts = [escape(x) for x in (card.who, card.amount) if x]
    if card.failing_since is not None and card.state != "resolved":
        facts.append(t(lang, "failing_for", age=_age(max(now - card.failing_since, 0))))
    if len(card.causes) > 1:
        body = f"*{headline}*: " + t(lang, "causes_count", count=len(card.causes))
        for i, cause in enumerate(card.causes, 1):
            mark = STATE_EMOJI["resolved"] if cause.state == "resolved" else f"{i}."
            body += f"\n{mark} {escape(cause.title)}"
    else:
        body = f"*{headline}*: {escape(card.title)}"
    if facts:
        body += "\n" + " · ".join(facts)
    if card.links:
        body += "\n" + " · ".join(link(url, label) for label, url in card.links)
    if card.storm:
        body += "\n" + t(lang, "storm_hint")
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=clip(body, SECTION_MAX)),
                     block_id=parent_block_id(card.parent_key or card.key)),
        ContextBlock(elements=[MarkdownTextObject(text=clip(_state_line(card), CONTEXT_MAX))]),
    ]
    buttons = _buttons(card) if card.state != "resolved" else []
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    fallback = f"{headline}: {card.title}"
    return Message(text=clip(escape(fallback), FALLBACK_TEXT_MAX), blocks=[b.to_dict() for b in blocks])


def _buttons(card: AlertCard) -> list[ButtonElement]:
    lang = card.lang
    buttons: list[ButtonElement] = []
    if card.storm:  # fixes and re-checks are per invoice: `/qbsync explain <number>`
        if card.bulk:
            # No Block Kit confirm here: it is fixed when the message is posted and could not
            # show the counts at click time. The click shows the plan to confirm instead.
            buttons.append(ButtonElement(
                text=PlainTextObject(text=plain(t(lang, "btn_bulk_fix", count=card.bulk[1]), BUTTON_TEXT_MAX)),
                action_id=ACTION_BULK_FIX, value=button_value(card.key, card.bulk[0]), style="primary"))
        if card.state != "acknowledged":
            buttons.append(ButtonElement(text=PlainTextObject(text=plain(t(lang, "btn_ack"), BUTTON_TEXT_MAX)),
                                         action_id=ACTION_ACK, value=button_value(card.key)))
        return buttons
    seen = set()
    for i, fix in enumerate(card.fixes):
        action_id = f"{ACTION_FIX}{fix.fix_id}"
        if action_id in seen:
            continue  # action_ids must be unique in a message: two causes offering one fix show it once
        seen.add(action_id)
        buttons.append(ButtonElement(
            text=PlainTextObject(text=plain(fix.label, BUTTON_TEXT_MAX)),
            action_id=action_id,
            value=button_value(fix.key or card.key, fix.fix_id),
            style="primary" if i == 0 else None,
            confirm=ConfirmObject(
                title=PlainTextObject(text=plain(t(lang, "confirm_title"), CONFIRM_TITLE_MAX)),
                text=PlainTextObject(text=plain(fix.confirm, CONFIRM_TEXT_MAX)),
                confirm=PlainTextObject(text=plain(t(lang, "confirm_yes"), CONFIRM_BUTTON_MAX)),
                deny=PlainTextObject(text=plain(t(lang, "confirm_no"), CONFIRM_BUTTON_MAX)),
            ),
        ))
    for action_id, label in ((ACTION_RECHECK, "btn_recheck"), (ACTION_ACK, "btn_ack"),
                             (ACTION_SNOOZE, "btn_snooze"), (ACTION_RESOLVE, "btn_resolve")):
        if action_id == ACTION_ACK and card.state in ("acknowledged", "snoozed"):
            continue  # acknowledging a snoozed alert would end the snooze: refused anyway
        buttons.append(ButtonElement(text=PlainTextObject(text=plain(t(lang, label), BUTTON_TEXT_MAX)),
                                     action_id=action_id, value=button_value(card.key)))
    return buttons[:ACTIONS_MAX]


def thread_reply(text: str, *, lang: str = "en") -> Message:
    """A reply in an alert's thread. `text` is mrkdwn the caller built from escaped parts."""
    return Message(text=clip(text, FALLBACK_TEXT_MAX),
                   blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX))).to_dict()])


def explanation_reply(title: str, explanation: str, evidence: list[dict] | None = None, *,
                      lang: str = "en") -> Message:
    """The first thread reply of a cause: the rule's explanation, then the records it is about
    (`evidence`: Block Kit blocks from bot/slack/evidence.py, already escaped)."""
    text = f"*{escape(title)}*\n\n{escape(explanation)}"
    blocks = [SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX))).to_dict(), *(evidence or [])]
    return Message(text=clip(escape(title), FALLBACK_TEXT_MAX), blocks=blocks[:50])


def storm_listing(heading: str, lines: list[str], *, lang: str = "en") -> Message:
    """A thread reply of a storm group naming its member invoices: `heading` (mrkdwn built
    from escaped parts) and one mrkdwn line per invoice (built by the caller from escaped
    parts and record links: bot.alerts.member_mrkdwn), packed into as few section blocks as
    Slack's 3,000-character limit allows."""
    return Message(text=clip(heading, FALLBACK_TEXT_MAX), blocks=_packed(heading, lines, escaped=True))


def _packed(heading: str, lines: list[str], *, escaped: bool = False) -> list[dict]:
    """Section blocks: `heading` (mrkdwn, escaped by the caller), then one bullet per line
    (plain text escaped here, or mrkdwn the caller escaped when `escaped`), as few sections as
    the 3,000-character limit allows."""
    sections, current = [], heading
    for line in lines:
        item = f"• {line if escaped else escape(line)}"
        if len(current) + 1 + len(item) > SECTION_MAX:
            sections.append(current)
            current = item
        else:
            current = f"{current}\n{item}" if current else item
    sections.append(current)
    return [SectionBlock(text=MarkdownTextObject(text=clip(part, SECTION_MAX))).to_dict() for part in sections]


def listing(parts: list[tuple[str, list[str]]], *, fallback: str, footer: str = "",
            confirm: tuple[str, str] | None = None, cancel: str | None = None) -> Message:
    """A message of headed lists (a bulk fix's plan or outcome): each part is (mrkdwn heading
    built from escaped parts, plain lines escaped here); `footer` mrkdwn; `confirm`: (label,
    plan id) for a Confirm button (handlers/bulk.py), with a Cancel button labelled `cancel`
    next to it when given. At most 50 blocks (Slack's limit)."""
    blocks: list[dict] = []
    for heading, lines in parts:
        blocks += _packed(heading, lines)
    if footer:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(footer, CONTEXT_MAX))]).to_dict())
    if confirm is not None:
        blocks = blocks[:49]
        buttons = [ButtonElement(
            text=PlainTextObject(text=plain(confirm[0], BUTTON_TEXT_MAX)), action_id=ACTION_BULK_CONFIRM,
            value=plan_value(confirm[1]), style="primary")]
        if cancel:
            buttons.append(ButtonElement(text=PlainTextObject(text=plain(cancel, BUTTON_TEXT_MAX)),
                                         action_id=ACTION_BULK_CANCEL, value=plan_value(confirm[1])))
        blocks.append(ActionsBlock(elements=buttons).to_dict())
    return Message(text=clip(fallback, FALLBACK_TEXT_MAX), blocks=blocks[:50])
