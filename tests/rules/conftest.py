"""A sandbox world with the real adapters over HTTP, for the rules tests."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.adapters.hubspot import HubSpotAdapter
from bot.adapters.quickbooks import QuickBooksAdapter
from bot.store import Store
from rules.base import FixContext
from rules.diagnose import diagnose
from rules.view import LiveContactDirectory, LiveQboView
from sandbox import scenario as scenarios
from sandbox.app import Sandbox


@dataclass
class World:
    sb: Sandbox
    hubspot: HubSpotAdapter
    qbo: QuickBooksAdapter
    store: Store
    data: dict

    def ctx(self, lang: str = "en") -> FixContext:
        return FixContext(self.hubspot, self.qbo, self.store, actor="U0TEST", lang=lang)

    def diagnose(self, grace_minutes: float = 10):
        ids = [r["id"] for r in self.hubspot.search_invoices(modified_since=None, statuses=None)]
        invoices = self.hubspot.read_invoices(ids)
        return diagnose(invoices, LiveQboView(self.qbo), now=self.sb.clock.now(),
                        grace=timedelta(minutes=grace_minutes), directory=LiveContactDirectory(self.hubspot))

    def findings(self, invoice_id: str):
        return self.diagnose().get(invoice_id, [])


def scenario(name: str) -> dict:
    return copy.deepcopy(scenarios.read(name))


@pytest.fixture
def world(tmp_path):
    opened = []

    def make(name_or_data, *, qbo_per_s: int | None = None) -> World:
        """`qbo_per_s`: a company with raised QuickBooks limits and adapters paced at that many
        requests a second (as tests/e2e/test_bulk_fix.py does), for tests that apply many fixes."""
        limits = {} if qbo_per_s is None else {"qbo_per_second": 4 * qbo_per_s, "qbo_per_minute": 240 * qbo_per_s}
        sb = Sandbox(**limits).start()
        data = sb.load(name_or_data)
        env = sb.bot_environment()
        store = Store(tmp_path / f"rules-{len(opened)}.db")
        hubspot = HubSpotAdapter(env["HUBSPOT_ACCESS_TOKEN"], host=env["QBSYNC_HUBSPOT_API_BASE"],
                                 sleep=lambda s: sb.clock.advance(s))
        qbo = QuickBooksAdapter(env["QBO_CLIENT_ID"], env["QBO_CLIENT_SECRET"], env["QBO_REALM_ID"],
                                env["QBO_REFRESH_TOKEN"], env["QBO_ENVIRONMENT"], store,
                                api_base=env["QBSYNC_QBO_API_BASE"], sleep=lambda s: sb.clock.advance(s),
                                pace_limits=None if qbo_per_s is None else [(qbo_per_s, 1.0), (60 * qbo_per_s, 60.0)])
        w = World(sb, hubspot, qbo, store, data)
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.store.close()
        w.sb.stop()
