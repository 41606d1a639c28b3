"""Make untrusted text safe for Slack mrkdwn, and keep text inside Block Kit's limits.

Slack reads `<...>` as links, mentions and broadcasts (`<!channel>`, `<@U123>`,
`<https://evil|x>`), and `&` starts an entity. Slack's own rule: escape exactly `&`, `<`, `>`
as `&amp;`, `&lt;`, `&gt;` (apis.md). Customer names, emails and QBO/HubSpot error texts are
untrusted, so every one goes through `escape()` before it is placed in a message; only
mentions we build ourselves from validated ids (`user()`) are inserted as markup.

Formatting characters (`*`, `_`, `~`, `` ` ``) in names are left alone: they can make a name
bold, but cannot ping, link or hide text, and stripping them would misquote the record.

Two more things untrusted text must not do (issue 10): forge a line (a company name ending in
"\n✅ Resolved by alice" read as a line of its own in the parent) and reorder or hide text.
So `escape()` (and `plain()` for plain_text fields) also remove every Unicode format character
(category Cf: the bidi embeddings/overrides/isolates U+202A–U+202E and U+2066–U+2069, which
reorder what follows, the "Trojan Source" class, CVE-2021-42574; zero-width U+200B–U+200F,
U+2060–U+2064, U+FEFF) and the other control characters, and fold every line break into one
space: a value is always one line. Text qbsync composes of several lines of its own (the
storm group's steps) goes through `escape_lines()`, which cleans each line the same way and
keeps the breaks between them.
"""
from __future__ import annotations

import re
import time
import unicodedata

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


# Line breaks (CR/LF, VT, FF, NEL, U+2028/U+2029) and tabs become one space.
_BREAKS = re.compile(r"[\r\n\t\x0b\x0c\x85\u2028\u2029]+")


def _drop(c: str) -> bool:
    """Format characters (Cf: bidi controls, zero-width characters, BOM, soft hyphen) and the
    other control characters (Cc) are never shown on purpose; they only hide or reorder."""
    return unicodedata.category(c) in ("Cf", "Cc")


def one_line(text: object) -> str:
    """`text` as one line without invisible characters: line breaks and tabs folded into a
    single space, Cf and Cc characters removed. Not escaped (see escape)."""
    if text is None:
        return ""
    s = _BREAKS.sub(" ", str(text))
    return "".join(c for c in s if not _drop(c))


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape(text: object) -> str:
    """Untrusted text for mrkdwn: one line (see one_line), then `&`, `<`, `>` as entities;
    None as an empty string."""
    return _entities(one_line(text))


def escape_lines(text: object) -> str:
    """Text of several lines that qbsync composed itself: each line made safe as by escape(),
    the line breaks between them kept."""
    if text is None:
        return ""
    return "\n".join(escape(line) for line in re.split(r"\r\n|[\r\n\u2028\u2029]", str(text)))


def user(user_id: str) -> str:
    """A mention of a Slack user by id (validated, so it cannot smuggle other markup)."""
    if not _USER_ID.match(user_id or ""):
        return escape(user_id)
    return f"<@{user_id}>"


_USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


def usergroup(group_id: str) -> str:
    """A mention of a Slack user group by id. Slack's syntax is `<!subteam^ID>` (users are
    `<@ID>`): https://api.slack.com/reference/surfaces/formatting#mentioning-groups"""
    if not _USERGROUP_ID.match(group_id or ""):
        return escape(group_id)
    return f"<!subteam^{group_id}>"


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
    """For plain_text fields (button labels, dialog titles, confirm texts): no entities needed
    (Slack shows plain_text as is), but one line without invisible characters, within the limit."""
    s = one_line(text)
    return s if len(s) <= limit else s[: max(0, limit - 1)] + "…"


def link(url: str, label: object) -> str:
    """A mrkdwn link `<url|label>` to a record. `url` must be built by qbsync from ids it
    quoted (bot/links.py), never taken from a record; `label` is untrusted text, escaped, and
    a `|` in it would end the URL part early in Slack's parser, so it is replaced."""
    if not url.startswith("https://") or any(c in url for c in "<>| \n"):
        return escape(label)
    return f"<{url}|{escape(label).replace('|', '/')}>"
