"""What every interaction step shares: who acts and where, their language, an ephemeral
answer, the permission check, and turning errors into words instead of a dead listener.

One small step class per interaction (commands.py, actions.py); the listener acks, then the
step runs on the worker pool through `run_step`.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

from bot.errors import QbsyncError
from bot.slack.mrkdwn import clip
from rules.fixes import error_words

from .services import Services
from .texts import t

log = logging.getLogger(__name__)

EPHEMERAL_MAX = 12000
MAX_DURATION_S = 30 * 86400
# ASCII digits only: Python's \d and int() also take other scripts' digits, so "1١d" (an
# ARABIC-INDIC DIGIT ONE after the 1) would be read as 11 days. re.ASCII keeps \s to ASCII too.
_DURATION = re.compile(r"^([0-9]{1,6})\s*([mhdw])\Z", re.IGNORECASE | re.ASCII)
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Usage(Exception):
    """A person typed something qbsync cannot use: answered with a usage message."""

    def __init__(self, key: str, **values):
        super().__init__(key)
        self.key, self.values = key, values


class Say(Exception):
    """Stop here and tell the person why (a text key of handlers/texts.py): nothing changed."""

    def __init__(self, key: str, **values):
        super().__init__(key)
        self.key, self.values = key, values


class Refused(Exception):
    """Not allowed: answered with the refusal (and audited by whoever raised it)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


@dataclass
class Interaction:
    services: Services
    user: str
    channel: str | None
    respond: Callable | None   # bolt's Respond for this delivery's response_url
    kind: str                  # "command" | "action" | "event"
    _lang: str | None = None
    # bolt's WebClient for this delivery, with the token of the workspace it came from (with
    # Add to Slack, another workspace than SLACK_BOT_TOKEN's); None: the bot's own client.
    client: Any = None

    @property
    def lang(self) -> str:
        if self._lang is None:
            self._lang = self.services.lang(self.user, client=self.client)
        return self._lang

    def set_lang(self, lang: str) -> None:
        self._lang = lang

    def t(self, key: str, **values) -> str:
        return t(self.lang, key, **values)

    def answer(self, text: str) -> None:
        """An ephemeral message only this person sees (via the response URL)."""
        if self.respond is None:
            log.info("no response_url to answer %s", self.user)
            return
        self.respond(text=clip(text, EPHEMERAL_MAX), response_type="ephemeral", replace_original=False)

    def answer_blocks(self, text: str, blocks: list[dict]) -> None:
        """An ephemeral message with blocks (buttons) only this person sees. `text` is the
        notification fallback."""
        if self.respond is None:
            log.info("no response_url to answer %s", self.user)
            return
        self.respond(text=clip(text, EPHEMERAL_MAX), blocks=blocks, response_type="ephemeral",
                     replace_original=False)

    def replace_answer(self, text: str) -> None:
        """Replace the ephemeral message the clicked button is on with `text` (the click's
        response_url with replace_original, which also works on an ephemeral message:
        https://docs.slack.dev/messaging/modifying-messages, "Updating messages using
        response_url")."""
        if self.respond is None:
            log.info("no response_url to answer %s", self.user)
            return
        self.respond(text=clip(text, EPHEMERAL_MAX), response_type="ephemeral", replace_original=True)

    def require_fixer(self, what: str, *, action: str, target: str = "") -> None:
        """Raise Refused (after auditing the attempt) unless the person may change things."""
        if self.services.permissions.can_fix(self.user):
            return
        self.services.store.audit(self.user, action, "refused", target=target,
                                  detail={"why": "not in QBSYNC_FIX_ALLOWED", "via": self.kind})
        raise Refused(what)

    def may_view(self, *, action: str, target: str = "") -> bool:
        """Whether the person may read record details (names, emails, amounts). A no is
        audited as a refusal (they are then shown the rule-level answer instead)."""
        if self.services.permissions.can_view(self.user):
            return True
        self.services.store.audit(self.user, action, "refused", target=target,
                                  detail={"why": "record details: not in QBSYNC_FIX_ALLOWED or QBSYNC_VIEW_ALLOWED",
                                          "via": self.kind, "shown": "rule level"})
        return False


def run_step(ix: Interaction, step: Callable[[Interaction], None]) -> None:
    """Run one step; every failure ends as an ephemeral answer in the person's language."""
    try:
        step(ix)
    except Usage as exc:
        ix.answer(f"{ix.t(exc.key, **exc.values)}\n{ix.t('usage_hint')}")
    except Say as exc:
        ix.answer(ix.t(exc.key, **exc.values))
    except Refused as exc:
        ix.answer(ix.t("not_allowed", what=ix.t(exc.what)))
    except QbsyncError as exc:
        log.warning("%s by %s failed: %s", getattr(step, "__name__", step), ix.user, exc)
        ix.answer(error_words(exc, ix.lang))
    except Exception:
        log.exception("%s by %s crashed", getattr(step, "__name__", step), ix.user)
        try:
            ix.answer(ix.t("error"))
        except Exception:
            log.exception("could not tell %s about the failure", ix.user)


def parse_duration(text: str) -> float:
    """'30m', '2h', '1d', '1w' -> seconds; Usage for anything else or more than 30 days."""
    m = _DURATION.match((text or "").strip())
    if not m:
        raise Usage("usage_duration", value=_code(text))
    seconds = int(m.group(1)) * _UNIT_S[m.group(2).lower()]
    if seconds <= 0 or seconds > MAX_DURATION_S:
        raise Usage("usage_duration", value=_code(text))
    return float(seconds)


def _code(text) -> str:
    """User text shown inside `code`: escaped, no backticks, short."""
    from bot.slack.mrkdwn import escape

    return clip(escape(str(text or "").replace("`", "'")), 80)


code = _code
