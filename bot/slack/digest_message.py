"""The digest as a Slack message (Block Kit), built from bot/digest.py's figures: sends nothing.

Invoice numbers and customer names are untrusted and escaped; mentions are built from
validated ids (mrkdwn.user); permalinks come from Slack (chat.getPermalink) and are passed in
by the caller. The first block's block_id names the period, so a digest whose answer was lost
in a crash is found in the channel's history instead of being posted twice.
"""
from __future__ import annotations

import hashlib

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from bot.digest import SYSTEM, DigestFigures

from .messages import CONTEXT_MAX, FALLBACK_TEXT_MAX, SECTION_MAX, Message
from .mrkdwn import clip, escape, link, slack_date, user
from .texts import t

NUMBERS_MAX = 10   # invoice numbers named per person who resolved some


def digest_block_id(period_id: str) -> str:
    return "qbsync-digest-" + hashlib.sha256(period_id.encode("utf-8")).hexdigest()[:32]


def duration_words(seconds: float, lang: str) -> str:
    """"3 days 4 hours", "5 hours 10 minutes", "12 minutes" in `lang` (the two largest units)."""
    minutes = max(1, int(seconds // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    for n, unit in ((days, "d"), (hours, "h"), (mins, "m")):
        if n:
            parts.append(t(lang, f"dur_{unit}", n=n))
    return " ".join(parts[:2])


def digest_message(fig: DigestFigures, mode: str, lang: str, *, links: dict | None = None,
                   chart_note: str | None = None) -> Message:
    """`mode`: weekly | daily (the heading). `links`: {(channel, ts): permalink}. `chart_note`:
    a line about the chart (e.g. that it could not be attached), already safe mrkdwn."""
    links = links or {}
    head = t(lang, f"digest_head_{mode}")
    span = f"{slack_date(fig.period.start)} – {slack_date(fig.period.end)}"
    if fig.empty:
        text = f"*{head}* ({span})\n{t(lang, f'digest_empty_{mode}')}"
        only = SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX)),
                            block_id=digest_block_id(fig.period.id))
        return Message(text=clip(f"{head}: {t(lang, f'digest_empty_{mode}')}", FALLBACK_TEXT_MAX),
                       blocks=[only.to_dict()])

    summary = " · ".join((t(lang, "digest_new", count=fig.new), t(lang, "digest_resolved", count=fig.resolved),
                          t(lang, "digest_open_now", count=fig.open_now)))
    sections = [f"*{head}* ({span})\n{summary}"]

    if fig.causes:
        lines = [f"*{t(lang, 'digest_by_cause')}*"]
        lines += [f"• {escape(c.title)}: {t(lang, 'digest_new', count=c.new)}, {t(lang, 'digest_open', count=c.open)}"
                  for c in fig.causes]
        sections.append("\n".join(lines))

    if fig.oldest:
        lines = [f"*{t(lang, 'digest_oldest')}*"]
        for o in fig.oldest:
            url = links.get((o.channel, o.ts)) if o.ts else None
            name = link(url, o.number) if url else escape(o.number)
            parts = [name] + ([escape(o.who)] if o.who else [])
            parts.append(t(lang, "digest_failing_for", age=duration_words(fig.now - o.since, lang)))
            lines.append("• " + " · ".join(parts))
        sections.append("\n".join(lines))

    if fig.resolvers:
        lines = [f"*{t(lang, 'digest_resolved_head')}*"]
        for r in fig.resolvers:
            shown = ", ".join(escape(n) for n in r.numbers[:NUMBERS_MAX])
            if len(r.numbers) > NUMBERS_MAX:
                shown += " " + t(lang, "digest_more", count=len(r.numbers) - NUMBERS_MAX)
            who = t(lang, "digest_by_system") if r.user == SYSTEM else user(r.user)
            lines.append(f"• {who} ({len(r.numbers)}): {shown}")
        sections.append("\n".join(lines))

    if fig.median_fix_s is not None and fig.worst_fix_s is not None:
        sections.append(t(lang, "digest_fix_time", median=duration_words(fig.median_fix_s, lang),
                          worst=duration_words(fig.worst_fix_s, lang)))

    blocks: list[SectionBlock | ContextBlock] = []
    for i, part in enumerate(sections):
        block_id = digest_block_id(fig.period.id) if i == 0 else None
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(part, SECTION_MAX)), block_id=block_id))
    if chart_note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(chart_note, CONTEXT_MAX))]))
    return Message(text=clip(f"{head}: {summary}", FALLBACK_TEXT_MAX), blocks=[b.to_dict() for b in blocks])
