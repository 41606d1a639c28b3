"""Who may do and see what through qbsync.

Change things (Fix, Acknowledge, Snooze, Resolve, snooze/mute commands): the users and user
groups in QBSYNC_FIX_ALLOWED. See record details (customer and contact names, emails, amounts
in `/qbsync explain`, `list` and the App Home): those, plus QBSYNC_VIEW_ALLOWED; everyone else
gets a cause explained at the level of the rule.

One place answers "may this person apply fixes / read records?" for every button and command. User-group
membership comes from Slack (usergroups.users.list, scope usergroups:read) and is cached
briefly, so a burst of clicks costs one look-up and a person removed from the group loses the
right within `ttl` seconds. When Slack cannot say who is in a group, the answer is no (fail
closed) and the failure is not cached, so the next click asks again.
"""
from __future__ import annotations

import logging
import threading
import time

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class Permissions:
    def __init__(self, users, usergroups, client, *, viewers=(), viewer_groups=(), ttl: float = 60.0,
                 clock=time.monotonic):
        self.users = frozenset(users or ())
        self.usergroups = tuple(usergroups or ())
        self.viewers = frozenset(viewers or ())
        self.viewer_groups = tuple(viewer_groups or ())
        self.client = client
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    @classmethod
    def from_settings(cls, settings, client, **kw) -> "Permissions":
        return cls(settings.fix_users, settings.fix_usergroups, client, viewers=settings.view_users,
                   viewer_groups=settings.view_usergroups, **kw)

    def can_fix(self, user_id: str) -> bool:
        """True if `user_id` is in QBSYNC_FIX_ALLOWED, or in a user group listed there."""
        return self._listed(user_id, self.users, self.usergroups)

    def can_view(self, user_id: str) -> bool:
        """True if `user_id` may read record details: a fixer, or listed in QBSYNC_VIEW_ALLOWED."""
        return self.can_fix(user_id) or self._listed(user_id, self.viewers, self.viewer_groups)

    def _listed(self, user_id: str, users, groups) -> bool:
        if not user_id:
            return False
        if user_id in users:
            return True
        return any(user_id in self._group(g) for g in groups)

    def _group(self, group_id: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._members.get(group_id)
            if cached and now - cached[0] < self.ttl:
                return cached[1]
        try:
            resp = self.client.usergroups_users_list(usergroup=group_id)
            members = frozenset(resp.get("users") or ())
        except SlackApiError as exc:
            log.warning("cannot read members of user group %s: %s", group_id, exc.response.get("error"))
            return frozenset()
        except Exception as exc:  # network trouble: deny now, ask again next time
            log.warning("cannot read members of user group %s: %s", group_id, type(exc).__name__)
            return frozenset()
        with self._lock:
            self._members[group_id] = (now, members)
        return members

    def forget(self) -> None:
        with self._lock:
            self._members.clear()
