"""HubSpot requests are paced at the HTTP level: every request (retries included) waits for
100 per 10 s, searches also for 4 per second, so a burst draws no 429 from HubSpot."""
from __future__ import annotations

import threading

from bot.adapters.hubspot import HubSpotAdapter, pace_limits
from bot.adapters.pacing import Pacer
from tests.adapters.conftest_hubspot import TOKEN, make_adapter, make_world, world  # noqa: F401


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class RecordingPacer(Pacer):
    def __init__(self, limits, t: FakeTime):
        super().__init__(limits, clock=t.clock, sleep=t.sleep)
        self.t, self.stamps = t, []

    def wait(self):
        super().wait()
        self.stamps.append(self.t.now)


def most_in_any_window(stamps, window):
    return max(sum(1 for s in stamps if start <= s < start + window) for start in stamps)


def test_limits_hold_for_every_request_and_retry_with_a_fake_clock(world, make_adapter):
    t = FakeTime()
    general, searches = pace_limits()
    pacer, search_pacer = RecordingPacer(general, t), RecordingPacer(searches, t)
    adapter, _ = make_adapter(world, pacer=pacer, search_pacer=search_pacer)
    world.service.inject_fault(503, times=3, match="/search")        # retried: paced too
    world.service.inject_fault(-1, times=3, match="/batch/read")
    for _ in range(40):
        assert adapter.find_invoice_by_number("INV-1001").id == "3001"
    sent = world.log.count("hubspot")
    searched = world.log.count("hubspot", "POST /crm/v3/objects/{objectType}/search")
    assert len(pacer.stamps) == sent > 200                    # every HTTP request waited for the pacer
    assert len(search_pacer.stamps) == searched == 43         # 40 searches + 3 retried ones
    assert most_in_any_window(pacer.stamps, 10.0) <= 100
    assert most_in_any_window(search_pacer.stamps, 1.0) <= 4
    assert t.now >= 2 * 10.0                                  # it really had to wait
    assert world.log.count_status("hubspot", 429) == 0


def test_professional_portals_get_190(world, make_adapter):
    t = FakeTime()
    general, _ = pace_limits(requests_per_10s=190)
    pacer = RecordingPacer(general, t)
    adapter, _ = make_adapter(world, pacer=pacer, search_pacer=RecordingPacer([(1000, 1.0)], t))
    for _ in range(60):
        adapter.get_invoice("3001")
    assert most_in_any_window(pacer.stamps, 10.0) == 190


def test_pacers_are_shared_per_host_and_token(world, make_world):
    other = make_world()
    a, b = HubSpotAdapter(TOKEN, world.url), HubSpotAdapter(TOKEN, world.url)
    assert a.pacer is b.pacer and a.search_pacer is b.search_pacer      # a restart counts the old requests
    assert HubSpotAdapter(TOKEN, other.url).pacer is not a.pacer
    assert HubSpotAdapter("pat-na1-another-token-0000", world.url).pacer is not a.pacer


def _burst(adapter, threads=3, each=5):
    errors = []

    def work():
        try:
            for _ in range(each):
                assert list(adapter.search_invoices(modified_since=None))  # one search each
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors


def test_a_burst_of_searches_draws_no_429_from_the_stand_in(make_world, make_adapter):
    from tests.sandbox.conftest_hubspot import SCENARIO

    paced = make_world(limit_per_10s=100, searches_per_second=5)     # HubSpot's real limits
    paced.portal.load(SCENARIO)
    adapter, _ = make_adapter(paced)
    assert _burst(adapter) == []
    assert paced.log.count("hubspot", "POST /crm/v3/objects/{objectType}/search") == 15
    assert paced.log.count_status("hubspot", 429) == 0

    # The same burst with pacing opened up draws 429s (which the adapter then waits out).
    unpaced = make_world(limit_per_10s=100, searches_per_second=5)
    unpaced.portal.load(SCENARIO)
    loose, _ = make_adapter(unpaced, searches_per_second=1000)
    assert _burst(loose) == []
    assert unpaced.log.count_status("hubspot", 429) >= 1
