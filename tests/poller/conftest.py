"""Worlds for the poller tests: the sandbox over HTTP, the bot built by bot.wiring."""
from __future__ import annotations

import pytest

from bot import wiring
from bot.config import load_settings
from sandbox.app import Sandbox


def settings_for(sb, path, env: dict | None = None, hubspot: str = "private_app"):
    """`env`: settings on top of the sandbox's; `hubspot`: "private_app" or "service_key"."""
    env = sb.bot_environment(hubspot=hubspot) | {"QBSYNC_DB_PATH": str(path), "QBSYNC_FIX_ALLOWED": "U0ALLOWED1"} \
        | (env or {})
    return load_settings(env, env_file=None)


def db_env(target) -> dict:
    """Settings that put the bot's store at `target` (the `store_target` fixture: a SQLite file
    or a PostgreSQL URL)."""
    if str(target).startswith("postgresql://"):
        return {"QBSYNC_DATABASE_URL": str(target)}
    return {"QBSYNC_DB_PATH": str(target)}


def build(sb, path, env: dict | None = None, hubspot: str = "private_app", **kw):
    hs = sb.hubspot_service
    if hs.searches_per_second > 5:
        # The test raised the stand-in's HubSpot limits; pace the adapter to the same limits,
        # or the test waits on real HubSpot pacing for nothing.
        kw.setdefault("hubspot_options", {"searches_per_second": hs.searches_per_second,
                                          "requests_per_10s": hs.request_limit})
    return wiring.build(settings_for(sb, path, env, hubspot), post_interval=0, **kw)


def open_keys(store) -> set[str]:
    return {a["key"] for a in store.open_alerts()}


def parents(sb):
    return [m for m in sb.slack.driver.transcript() if not m.thread_ts or m.thread_ts == m.ts]


@pytest.fixture
def sandbox():
    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000) as sb:
        yield sb


class FailAfter:
    """An adapter stand-in that forwards to the real one and raises on the `n`-th call of
    `method` (a crash half-way through a cycle)."""

    def __init__(self, real, method: str, n: int):
        self._real, self._method, self._n, self.calls = real, method, n, 0

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if name != self._method:
            return attr

        def wrapped(*a, **kw):
            self.calls += 1
            if self.calls == self._n:
                raise RuntimeError(f"crash in {name} (call {self.calls})")
            return attr(*a, **kw)
        return wrapped
