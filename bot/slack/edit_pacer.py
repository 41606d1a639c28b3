"""How often one long job may edit its Slack messages (chat.update).

Slack rate-limits Web API methods per method, per app, per workspace, and Tier 3 allows "50+
per minute" (https://api.slack.com/apis/rate-limits). chat.update is Tier 3 on its method page
(https://api.slack.com/methods/chat.update: "Rate limits: Tier 3"; the Slack stand-in applies
it, sandbox/slack_limits.py). A bulk fix edits two messages
per step (its progress message and the group's parent), and the bot edits other parents
meanwhile, so a step is at most every EDIT_EVERY_S = 3 s: 40 edits a minute at most, under the
tier with room to spare. The last step (the final counts) is always shown.
"""
from __future__ import annotations

import time

EDIT_EVERY_S = 3.0


class EditPacer:
    def __init__(self, every_s: float = EDIT_EVERY_S, clock=time.monotonic):
        self.every_s = every_s
        self.clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        """True (and counted as an edit) when the last edit is at least `every_s` ago."""
        now = self.clock()
        if self._last is not None and now - self._last < self.every_s:
            return False
        self._last = now
        return True
