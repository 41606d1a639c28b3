"""Slack's per-method Web API rate limits ("tiers") for the Slack stand-in.

Slack limits each Web API method "per API method per workspace/team per app": Tier 1 allows
1+ request per minute, Tier 2 20+, Tier 3 50+, Tier 4 100+, and "Special" methods have their
own rules (https://docs.slack.dev/apis/web-api/rate-limits; the tier table first appeared in
https://api.slack.com/changelog/2018-03-great-rate-limits). Over the limit Slack answers HTTP
429 with `Retry-After` (seconds) and `{"ok": false, "error": "ratelimited"}`.

The model (Slack publishes floors, "Sporadic bursts are welcome", not its algorithm): per
(workspace, method), a sliding 60-second window that holds at most the tier's nominal figure
(20, 50, 100); the next call is refused with Retry-After = whole seconds until the oldest
counted call leaves the window. Refused calls do not count. A burst of the whole minute's
figure is therefore allowed at once, which is the "bursts" part. chat.postMessage keeps its
own per-channel token bucket (slack.py); its workspace-wide limit is not published and not
modelled. "Special" methods without a published figure (auth.test, chat.getPermalink) get
Tier 4's 100 a minute: generous, as the client libraries assume (slack-morphism's Rust client
models both at 100 a second, github.com/abdolence/slack-morphism-rust src/api/auth.rs and
src/api/chat.rs), but still a limit a loop can hit.

Non-Marketplace mode (opt-in): since May 29, 2025, new commercially distributed apps that are
not in the Slack Marketplace may call conversations.history and conversations.replies once a
minute, and `limit` defaults to and tops out at 15 ("this method is rate limited to 1 request
per minute. The maximum and default values for the limit parameter have both been reduced to
15 objects. For Marketplace and internal customer-built applications, this method has Tier 3
rate limits": https://docs.slack.dev/reference/methods/conversations.history and
.../conversations.replies; changelog https://api.slack-gov.com/changelog/2025-05-terms-rate-limit-update-and-faq).
qbsync installs as an internal app, so the default is off.
"""
from __future__ import annotations

import math
import threading

from .hubspot_limits import RollingWindow

WINDOW_S = 60.0
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
SPECIAL = "special"

# Each method the stand-in serves and its tier, with where the tier is stated. "slack_kit" is
# the method JSON that the slack_kit Elixir client generates from docs.slack.dev
# (hex.pm/packages/slack_kit/1.0.0-alpha.0, priv/docs/methods/<method>.json, "rate_limit":
# {"label": "Tier N: ..."}); "api.slack.com" is the method page's "Rate limits" fact.
METHOD_TIERS: dict[str, int | str] = {
    "auth.test": SPECIAL,                  # slack-morphism src/api/auth.rs: special limit
    "chat.postMessage": SPECIAL,           # rate-limits page: 1 per second per channel (bucket in slack.py)
    "chat.update": 3,                      # https://api.slack.com/methods/chat.update "Tier 3"
    "chat.postEphemeral": 4,               # slack-morphism src/api/chat.rs: SLACK_TIER4_METHOD_CONFIG
    "chat.getPermalink": SPECIAL,          # slack_kit chat.getPermalink.json "Special rate limits apply."
    "views.open": 4,                       # slack_kit views.open.json "Tier 4: 100+ per minute"
    "views.publish": 4,                    # slack_kit views.publish.json "Tier 4: 100+ per minute"
    "users.info": 4,                       # slack_kit users.info.json "Tier 4: 100+ per minute"
    "bots.info": 3,                        # slack_kit bots.info.json "Tier 3: 50+ per minute"
    "usergroups.users.list": 2,            # slack_kit usergroups.users.list.json "Tier 2: 20+ per minute"
    "conversations.info": 3,               # slack_kit conversations.info.json "Tier 3: 50+ per minute"
    "conversations.open": 3,               # slack-morphism src/api/conversations.rs: SLACK_TIER3_METHOD_CONFIG
    "conversations.members": 4,            # slack_kit conversations.members.json "Tier 4: 100+ per minute"
    "conversations.history": 3,            # https://docs.slack.dev/reference/methods/conversations.history "Tier 3"
    "conversations.replies": 3,            # https://docs.slack.dev/reference/methods/conversations.replies "Tier 3"
    # slack_kit apps.connections.open.json says "Tier 3: 50+ per minute" (slack-morphism
    # uses Tier 1): the docs mirror wins.
    "apps.connections.open": 3,
    "files.getUploadURLExternal": 4,       # https://api.slack.com/methods/files.getUploadURLExternal "Tier 4"
    "files.completeUploadExternal": 4,     # https://api.slack.com/methods/files.completeUploadExternal "Tier 4"
}

# Per-minute figure of a "special" method without a published one (see the module docstring).
SPECIAL_UNPUBLISHED_PER_MINUTE = TIER_PER_MINUTE[4]
# Methods a special rule of their own limits elsewhere (None: no tier window here).
OWN_RULE = {"chat.postMessage"}

NON_MARKETPLACE_PER_MINUTE = {"conversations.history": 1, "conversations.replies": 1}
NON_MARKETPLACE_PAGE = 15


def default_per_minute(method: str) -> int | None:
    """The nominal per-minute figure of `method` (None: not limited by a tier window)."""
    if method in OWN_RULE:
        return None
    tier = METHOD_TIERS.get(method)
    if tier is None:
        return None
    if tier == SPECIAL:
        return SPECIAL_UNPUBLISHED_PER_MINUTE
    return TIER_PER_MINUTE[int(tier)]


class MethodLimits:
    """Counts calls per (team, method) in sliding windows and says when one is over.

    `overrides` {method: per-window figure or None (unlimited)} replace the defaults; tests
    that hammer a method on purpose raise them, tests of the limit lower them. `window_s`
    shortens the window for tests that want a real client to wait out a Retry-After quickly.
    `non_marketplace` applies the 2025 limits of history/replies (overrides still win)."""

    def __init__(self, clock, *, overrides: dict[str, int | None] | None = None,
                 non_marketplace: bool = False, window_s: float = WINDOW_S):
        self.clock = clock
        self.overrides = dict(overrides or {})
        self.non_marketplace = non_marketplace
        self.window_s = float(window_s)
        self._windows: dict[tuple[str, str], RollingWindow] = {}
        self._lock = threading.Lock()

    def per_window(self, method: str) -> int | None:
        if method in self.overrides:
            return self.overrides[method]
        if self.non_marketplace and method in NON_MARKETPLACE_PER_MINUTE:
            return NON_MARKETPLACE_PER_MINUTE[method]
        return default_per_minute(method)

    def configure(self, *, overrides: dict[str, int | None] | None = None, non_marketplace: bool | None = None,
                  window_s: float | None = None) -> None:
        """Change the limits; counting starts afresh."""
        with self._lock:
            if overrides is not None:
                self.overrides.update(overrides)
            if non_marketplace is not None:
                self.non_marketplace = non_marketplace
            if window_s is not None:
                self.window_s = float(window_s)
            self._windows.clear()

    def page_cap(self, method: str) -> int | None:
        """The most messages one page of history/replies may hold in non-Marketplace mode."""
        if self.non_marketplace and method in NON_MARKETPLACE_PER_MINUTE:
            return NON_MARKETPLACE_PAGE
        return None

    def take(self, team: str, method: str) -> int:
        """Count a call of `method` by `team`: 0 when it is allowed, else the Retry-After in
        whole seconds (at least 1)."""
        limit = self.per_window(method)
        if limit is None:
            return 0
        with self._lock:
            key = (team, method)
            window = self._windows.get(key)
            if window is None or window.limit != max(1, limit):
                window = self._windows[key] = RollingWindow(max(1, limit), self.window_s, self.clock)
        if limit < 1:
            return max(1, math.ceil(self.window_s))
        allowed, _ = window.try_hit()
        if allowed:
            return 0
        return max(1, math.ceil(window.wait_s()))
