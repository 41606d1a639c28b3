"""End-to-end flows with the store on PostgreSQL (QBSYNC_DATABASE_URL), through the Slack
stand-in, unchanged: the same test functions as on SQLite, collected here a second time with
`make_bot` pointing every bot at a PostgreSQL database of its own (tests/pg.py).

Covered here: the bulk fix of a storm (plan, single Confirm, Cancel, a second person's Fix all
during a run), every cause's fix flow (alert -> fix click -> re-check -> sync -> resolved), a
failing fix, the double-delivered click, the scan/commands flow (scan, explain, snooze, mute),
the buttons, and a restart between scans. QBSYNC_E2E_STORE=postgresql runs all of tests/e2e
on PostgreSQL (README, "PostgreSQL").
"""
from __future__ import annotations

import pytest

from tests.e2e.test_commands import (  # noqa: F401  (collected again, on PostgreSQL)
    test_a_restart_between_scans_posts_no_duplicate_parent,
    test_buttons_acknowledge_recheck_snooze_resolve,
    test_help_status_list_and_lang,
    test_scan_explain_snooze_mute_unmute,
)
from tests.e2e.test_bulk_fix import (  # noqa: F401
    fast_bot,
    test_a_storm_of_30_is_fixed_with_one_click_and_one_confirm,
    test_only_the_person_shown_the_plan_can_confirm_it,
)
from tests.e2e.test_bulk_fix_cancel import (  # noqa: F401
    test_cancel_drops_the_plan_once_and_a_later_confirm_does_nothing,
)
from tests.e2e.test_bulk_fix_two_people import test_a_second_fix_all_during_a_run_fixes_nothing_twice  # noqa: F401
from tests.e2e.test_multi_cause_parent import test_the_snooze_command_acts_like_the_button  # noqa: F401
from tests.e2e.test_fix_flows import (  # noqa: F401
    test_a_failing_fix_goes_back_and_says_what_to_do,
    test_alert_fix_sync_resolved,
    test_the_same_click_delivered_twice_runs_the_fix_once,
)


@pytest.fixture
def make_bot(make_bot, pg_url):
    """The conftest's make_bot, with the store on this test's PostgreSQL database."""
    def make(*args, env: dict | None = None, **kw):
        bot = make_bot(*args, env={"QBSYNC_DATABASE_URL": pg_url, **(env or {})}, **kw)
        assert bot.parts.store.dialect == "postgresql"  # not a SQLite file by mistake
        return bot
    return make
