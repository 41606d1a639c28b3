"""Rate limits shared by all workers, HubSpot (issue 13): ten real processes read through
HubSpotAdapter with ONE token, as bot/wiring.py builds it with the store on PostgreSQL; the
token's rolling 10-second window holds for all of them together (bot/adapters/shared_pacing.py),
where the same processes with process-local pacers (the control round) exceed it."""
from __future__ import annotations

import pytest

from bot.adapters.hubspot import pace_limits
from sandbox.app import Sandbox
from tests.rate_rounds import PROCESSES, most_in_any_window, two_rounds
from tests.workers import environment


@pytest.mark.timeout(90)
def test_ten_processes_stay_under_one_hubspot_tokens_limit_together(tmp_path, pg_url):
    # Scaled down: the stand-in allows 20 requests per 10 s per token, the adapters pace to 18
    # per 10.25 s (bot/adapters/hubspot.py pace_limits: the real window plus its margin). 30
    # calls: 18 at once, the other 12 a window later.
    calls, limit, paced = 3, 20, 18
    assert pace_limits(paced)[0] == [(paced, 10.25)]
    with Sandbox(hubspot_limit_per_10s=limit) as sb:
        sb.load("mixed")
        service = sb.hubspot_service
        shared, local = two_rounds(tmp_path, environment(sb, pg_url), service, sb.log, "hubspot", calls,
                                   str(paced), service.reset_limits)  # the stand-in forgets the first round

    total = PROCESSES * calls
    assert shared.totals == {"ok": total, "rate_limited": 0, "other": 0}
    assert shared.refused == 0 and len(shared.arrivals) == total
    # Never more than the token's limit in any 10 s at the stand-in. (Not `<= paced`: the sends
    # are 18 per 10.25 s, but on a loaded machine a request of the first batch can reach the
    # server late enough to share a 10.0 s window with the second batch; seen in CI: 19.)
    assert most_in_any_window(shared.arrivals, 10.0) <= limit
    assert max(shared.arrivals) - min(shared.arrivals) >= 10.0   # the second batch waited a window
    # Control: each process under its own 18 sends its 3 at once; the token's window overflows.
    assert local.totals["other"] == 0 and local.totals["rate_limited"] == total - limit
    assert local.refused == total - limit and most_in_any_window(local.arrivals, 10.0) == total
