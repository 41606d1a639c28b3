"""Fixtures for the HubSpot adapter tests: the adapter (official client underneath) pointed at
the HubSpot stand-in over real HTTP. Imported explicitly by the HubSpot adapter test modules."""
from __future__ import annotations

import pytest

from bot.adapters.hubspot import HubSpotAdapter
from tests.sandbox.conftest_hubspot import (  # noqa: F401  (re-exported fixtures)
    SCENARIO, TOKEN, ClockSleep, HubSpotWorld, make_world, world,
)


@pytest.fixture
def make_adapter():
    """make_adapter(world, token=TOKEN, **HubSpotAdapter kwargs) -> (adapter, sleep recorder).
    The adapter's sleep moves the sandbox clock, so waiting out a 429 takes no real time."""

    def make(w: HubSpotWorld, token: str = TOKEN, **kw):
        sleep = kw.pop("sleep", None) or ClockSleep(w.clock)
        kw.setdefault("timeout", 10)
        if w.service.searches_per_second >= 1000 and w.service.request_limit >= 1000:
            # The world has make_world's high limits: pace the adapter to match, so tests don't
            # wait on real HubSpot pacing the stand-in would not enforce. Tests that lower the
            # limits to provoke a 429 keep the adapter's real pacing.
            kw.setdefault("searches_per_second", w.service.searches_per_second)
            kw.setdefault("requests_per_10s", w.service.request_limit)
        return HubSpotAdapter(token, w.url, sleep=sleep, **kw), sleep

    return make
