"""Make untrusted text safe for Slack mrkdwn, and keep text inside Block Kit's limits.

Slack reads `<...>` as links, mentions and broadcasts (`<!channel>`, `<@U123>`,
`<https://evil|x>`), and `&` starts an entity. Slack's own rule: escape exactly `&`, `<`, `>`
as `&amp;`, `&lt;`, `&gt;` (apis.md). Customer names, emails and QBO/HubSpot error texts are
untrusted, so every one goes through `escape()` before it is placed in a message; only
mentions we build ourselves from validated ids (`user()`) are inserted as markup.

Formatting characters (`*`, `_`, `~`, `` ` ``) in names are left alone: they can make a name
bold, but cannot ping, link or hide text, and stripping them would misquote the record.
"""
from __future__ import annotations

import re
import time

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def escape(text: object) -> str:
    """`&`, `<`, `>` as entities; None as an empty string."""
    if text is None:
        return ""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def user(user_id: str) -> str:
    """A mention of a Slack user by id (validated, so it cannot smuggle other markup)."""
    if not _USER_ID.match(user_id or ""):
        return escape(user_id)
    return f"<@{user_id}>"


def slack_date(ts: float) -> str:
    """A time Slack shows in each reader's own time zone (`<!date^...>`; fallback: UTC)."""
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{fallback}>"


def clip(text: str, limit: int, marker: str = "…") -> str:
    """Cut `text` (already escaped) to at most `limit` characters without splitting an
    entity such as `&amp;` in half."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(marker))]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + marker


def plain(text: object, limit: int) -> str:
    """For plain_text fields (button labels, dialog titles): no escaping needed, just the limit."""
    s = "" if text is None else str(text)
    return s if len(s) <= limit else s[: max(0, limit - 1)] + "…"
