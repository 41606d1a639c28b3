"""A scan under 20% injected faults (429s, 5xx, slow answers, dropped connections) on HubSpot,
QBO and Slack at once ends with exactly the alerts a scan without faults ends with: same keys,
one parent message each, same number of thread messages. The adapters' own retry code does
the work; only their waits are shortened (constructor arguments through wiring), never
skipped."""
from __future__ import annotations

import time

import pytest

from bot import wiring
from bot.config import load_settings
from sandbox.app import Sandbox

SEEDS = (101, 202, 303)


class ShortSleep:
    """Waits for real, but at most `cap` seconds; remembers what was asked."""

    def __init__(self, cap: float = 0.05):
        self.cap = cap
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        time.sleep(min(seconds, self.cap))


def scan_outcome(tmp_path, seed: int | None):
    """Run one scan of the mixed scenario; return (outcome, fault plan, sandbox request log)."""
    with Sandbox(slack_post_rate_per_s=100, slack_post_burst=100) as sb:
        sb.load("mixed")
        env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / f"qbsync-{seed}.db"),
                                      "QBSYNC_FIX_ALLOWED": "U0ALLOWED1"}
        settings = load_settings(env, env_file=None)
        plan = sb.faults(rate=0.2, seed=seed, slow_s=0.05) if seed is not None else None
        hs_sleep, qbo_sleep = ShortSleep(), ShortSleep()
        parts = wiring.build(settings, post_interval=0, hubspot_options={"sleep": hs_sleep},
                             qbo_options={"sleep": qbo_sleep, "throttle_wait": 0.05, "backoff_base": 0.05,
                                          "backoff_cap": 0.2})
        result = parts.scanner.scan()
        if plan is not None:
            plan.configure(rate=0)  # read the outcome without faults
        driver = sb.slack.driver
        parents = [m for m in driver.transcript() if not m.thread_ts or m.thread_ts == m.ts]
        alerts = parts.store.list_alerts(states=("open", "acknowledged", "fixing", "snoozed"))
        threads = {}
        for alert in alerts:
            same = [m for m in parents if m.ts == alert["ts"]]
            assert len(same) == 1, alert["key"]
            threads[alert["key"]] = len(driver.thread(alert["channel"], alert["ts"]))
        outcome = {"problem": result.problem, "failing": result.failing, "threads": threads,
                   "parents": len(parents)}
        statuses = {s: {code: sb.log.count_status(s, code) for code in (429, 500, 503, -1)}
                    for s in ("hubspot", "qbo", "slack")}
        return outcome, plan, statuses, (hs_sleep, qbo_sleep)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    outcome, _, statuses, _ = scan_outcome(tmp_path_factory.mktemp("baseline"), None)
    assert outcome["problem"] is None and len(outcome["threads"]) >= 5
    assert all(n == 0 for codes in statuses.values() for n in codes.values())  # paced: no 429
    return outcome


@pytest.mark.parametrize("seed", SEEDS)
def test_scan_under_injected_faults_ends_with_the_same_alerts(baseline, tmp_path, seed):
    started = time.monotonic()
    outcome, plan, statuses, (hs_sleep, qbo_sleep) = scan_outcome(tmp_path, seed)
    assert outcome == baseline
    # The faults really happened, on every service, and were answered by retries.
    for service in ("hubspot", "qbo", "slack"):
        assert plan.count(service) >= 1, (service, plan.injected)
    assert plan.count(kind="drop") + plan.count(kind="5xx") + plan.count(kind="429") >= 3
    assert sum(statuses[s][429] for s in statuses) + sum(statuses[s][-1] for s in statuses) >= 1
    assert hs_sleep.asked or qbo_sleep.asked  # an adapter backed off at least once
    assert time.monotonic() - started < 40



def _settings(sb, tmp_path):
    env = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / "qbsync.db"), "QBSYNC_FIX_ALLOWED": "U0ALLOWED1"}
    return load_settings(env, env_file=None)


def test_a_qbo_write_lost_after_commit_is_retried_under_the_same_requestid(tmp_path):
    from bot.store import Store

    with Sandbox() as sb:
        sb.load("mixed")
        settings = _settings(sb, tmp_path)
        qbo = wiring.qbo_adapter(settings, Store(settings.db_path), sleep=ShortSleep())
        qbo.company_info()                          # tokens in hand before the fault
        sb.qbo_service.inject("drop")               # QBO applies the create, the answer is lost
        created = qbo.create("Customer", {"DisplayName": "Resilient Ltd"}, request_id="fix-42")
        assert sb.log.count_status("qbo", -1) == 1  # the first attempt really was dropped
        same = qbo.query("SELECT * FROM Customer WHERE DisplayName = 'Resilient Ltd'")
        assert [c["Id"] for c in same] == [created["Id"]]   # the retry did not create a second one


def test_a_slack_5xx_on_a_post_is_looked_up_then_sent_again(tmp_path):
    from bot.errors import Transient
    from bot.slack.messages import Message, thread_reply

    with Sandbox(slack_post_rate_per_s=100, slack_post_burst=100) as sb:
        settings = _settings(sb, tmp_path)
        parts = wiring.build(settings, post_interval=0)
        sb.slack.service.fail_next("chat.postMessage", status=502)   # refused before it was stored
        ts = parts.poster.post(settings.alert_channel, thread_reply("still here"))
        assert sb.log.count_status("slack", 502) == 1
        assert [m.text for m in sb.slack.driver.transcript()] == ["still here"]
        assert sb.slack.driver.message(settings.alert_channel, ts).text == "still here"
        methods = [m for m, _ in sb.slack.service.calls]
        assert methods == ["chat.postMessage", "conversations.history", "chat.postMessage"]
        # A message without blocks cannot be looked for: not sent blindly a second time.
        sb.slack.service.fail_next("chat.postMessage", status=503)
        with pytest.raises(Transient):
            parts.poster.post(settings.alert_channel, Message(text="no blocks"))
        assert [m.text for m in sb.slack.driver.transcript()] == ["still here"]
    # Other calls (reads, edits) are still retried by slack_sdk's handlers.
    with Sandbox() as sb:
        parts = wiring.build(_settings(sb, tmp_path), post_interval=0)
        sb.slack.service.fail_next("users.info", status=503)
        assert parts.slack.users_info(user="U0ALICE001")["user"]["id"] == "U0ALICE001"
