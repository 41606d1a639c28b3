"""Rate limits shared by all workers (issue 13): TEN real processes call ONE sandbox company
through the adapters as bot/wiring.py builds them with the store on PostgreSQL; the pacing
counted in PostgreSQL (bot/adapters/shared_pacing.py) keeps them together under the company's
limit, where the same processes with process-local pacers (the control round) exceed it."""
from __future__ import annotations

import json
import time

import pytest

from bot import wiring
from bot.adapters.quickbooks import PACE_LIMITS
from bot.config import load_settings
from bot.store import Store
from sandbox.app import Sandbox
from tests.rate_rounds import PROCESSES, most_in_any_window, two_rounds
from tests.workers import environment


def test_most_in_any_window_counts_a_burst():
    assert most_in_any_window([0.0, 0.1, 0.2, 1.05, 1.1], 1.0) == 3
    assert most_in_any_window([0.0, 1.0, 2.0], 1.0) == 1
    assert most_in_any_window([], 1.0) == 0


@pytest.mark.timeout(90)
def test_ten_processes_stay_under_one_qbo_companys_limit_together(tmp_path, pg_url):
    calls, per_second = 6, 10
    # QBO's 10 per second per company binds in a round of 60 calls (the minute window is never
    # reached). The processes pace to 8 per 1.25 s: more margin than the adapter's own 9 per
    # 1.1 s (PACE_LIMITS), because on this shared 2-core machine the stand-in itself, in the
    # test's process, can stamp an arrival 100 ms late: at load ~40, 9 per 1.1 s once drew one
    # 429 in 60 (at normal load it passed every run). The sharing is what is tested here.
    pace = [(8, 1.25), PACE_LIMITS[1]]
    with Sandbox(qbo_per_second=per_second, qbo_per_minute=500) as sb:
        sb.load("mixed")
        env = environment(sb, pg_url)
        # One access token for all: the token chain is in PostgreSQL; get it once here so ten
        # processes do not all refresh at once (not what this test is about).
        settings = load_settings(env, env_file=None)
        store = Store(pg_url)
        wiring.qbo_adapter(settings, store).tokens.access_token()
        store.close()
        shared, local = two_rounds(tmp_path, env, sb.qbo_service, sb.log, "qbo", calls, json.dumps(pace),
                                   lambda: time.sleep(1.2))  # the company's one-second window empties

    total = PROCESSES * calls
    # Shared: every call arrived and was answered, none refused, never more than the limit in
    # any second at the stand-in.
    assert shared.totals == {"ok": total, "rate_limited": 0, "other": 0}
    assert shared.refused == 0 and len(shared.arrivals) == total
    assert most_in_any_window(shared.arrivals, 1.0) <= per_second
    # Control: the same processes pacing only themselves send up to 10 x 8 at once: the
    # stand-in sees more than its limit in a second and refuses some.
    assert local.totals["other"] == 0 and local.totals["rate_limited"] > 0
    assert local.refused == local.totals["rate_limited"] and len(local.arrivals) == total
    assert most_in_any_window(local.arrivals, 1.0) > per_second
