"""Who may change things through qbsync: the users and user groups in QBSYNC_FIX_ALLOWED.

One place answers "may this person apply fixes?" for every button and command. User-group
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
    def __init__(self, users, usergroups, client, *, ttl: float = 60.0, clock=time.monotonic):
        self.users = frozenset(users or ())
        self.usergroups = tuple(usergroups or ())
        self.client = client
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    @classmethod
    def from_settings(cls, settings, client, **kw) -> "Permissions":
        return cls(settings.fix_users, settings.fix_usergroups, client, **kw)

    def can_fix(self, user_id: str) -> bool:
        """True if `user_id` is listed, or is in a listed user group."""
        if not user_id:
            return False
        if user_id in self.users:
            return True
        return any(user_id in self._group(g) for g in self.usergroups)

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
