"""The App Home tab: open alerts by rule (with their invoice numbers), the last and next
scan, and connection health, published with views.publish when a person opens it.

Built with slack_sdk.models.blocks (whose validators enforce Block Kit's text limits) and
kept under the 100 blocks a view may have.
"""
from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.slack.mrkdwn import clip, escape

from .commands import alert_label, record_details, status_lines, thread_link
from .steps import Interaction
from .texts import t

MAX_BLOCKS = 100
SECTION_MAX = 3000
NUMBERS_PER_RULE = 60


def home_view(data, lang: str, *, details: bool = False, link=None, others=()) -> dict:
    """The Home tab. With `details` (the person may read record details) each invoice also
    shows who it is for and its amount. `others`: (name, open alerts) of the workspace's other
    connections (handlers/tenancy.py), named in one line under the title."""
    tr = lambda key, **v: t(lang, key, **v)  # noqa: E731
    blocks: list = [HeaderBlock(text=tr("home_title"))]
    if others:
        named = ", ".join(tr("home_other", name=escape(name), count=count) for name, count in others)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(tr("home_others", companies=named), 2000))]))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=tr("home_alerts", count=data.open_count))))
    rules = sorted(data.open_by_rule.items())
    # Leave room for the health part (divider, heading, lines) whatever the number of rules.
    room = MAX_BLOCKS - len(blocks) - 3
    for rule, alerts in rules[:room]:
        shown = []
        for a in alerts[:NUMBERS_PER_RULE]:
            label = alert_label(a, details=details)
            url = link(a["channel"], a["ts"]) if link is not None and a["ts"] and a["channel"] else None
            shown_label = f"<{url}|{label}>" if url else label
            extra = record_details(a, lang) if details else ""
            shown.append(f"{shown_label} ({extra})" if extra else shown_label)
        more = len(alerts) - len(shown)
        numbers = ", ".join(shown) + (f" (+{more})" if more > 0 else "")
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=_clip_links(tr("home_rule", rule=escape(rule), count=len(alerts), numbers=numbers)))))
    blocks.append(DividerBlock())
    blocks.append(SectionBlock(text=MarkdownTextObject(text=tr("home_health"))))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip("\n".join(status_lines(data, tr)), 2000))]))
    blocks = blocks[:MAX_BLOCKS]
    return View(type="home", blocks=blocks).to_dict()


def _clip_links(text: str) -> str:
    """Cut a long list of links at a comma, never inside a <link|label>."""
    if len(text) <= SECTION_MAX:
        return text
    cut = text[: SECTION_MAX - 2]
    cut = cut[: cut.rfind(", ")] if ", " in cut else cut[: cut.rfind("<")]
    return cut + " …"


def publish_home(ix: Interaction, *, others=()) -> None:
    """The Home of ix.services' connection; `others`: (name, open alerts) of the workspace's
    other connections. Published with the client of the workspace the person is in (bolt's
    per-request client), else the connection's own."""
    svc = ix.services
    data = svc.status()
    details = ix.may_view(action="home:view") if data.open_count else True  # nothing to hide: no refusal
    (ix.client or svc.slack).views_publish(
        user_id=ix.user, view=home_view(data, ix.lang, details=details, link=lambda c, ts: thread_link(svc, c, ts),
                                        others=others))


def publish_not_connected(ix: Interaction) -> None:
    """The Home of a workspace none of whose channels is a connection's: how to connect one."""
    view = View(type="home", blocks=[HeaderBlock(text=ix.t("home_title")),
                                     SectionBlock(text=MarkdownTextObject(text=ix.t("home_not_connected")))])
    (ix.client or ix.services.slack).views_publish(user_id=ix.user, view=view.to_dict())
