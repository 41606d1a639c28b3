"""The Slack stand-in's per-method rate limits (tiers), through slack_sdk's WebClient (no retry
handler: the 429 itself is what is looked at). The figures are Slack's: Tier 2 20, Tier 3 50,
Tier 4 100 requests a minute, per method per workspace
(https://docs.slack.dev/apis/web-api/rate-limits; each method's tier: sandbox/slack_limits.py)."""
from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.clock import Clock
from sandbox.slack import SlackStandIn
from sandbox.slack_limits import METHOD_TIERS, TIER_PER_MINUTE, default_per_minute
from sandbox.slack_workspace import ALERT_CHANNEL, BOT_TOKEN

OTHER_TEAM, OTHER_TOKEN = "T0OTHER0001", "xoxb-other-team-0001"


@pytest.fixture
def slack():
    s = SlackStandIn(Clock(), post_rate_per_s=1000, post_burst=1000).start()
    s.workspace.add_usergroup("S0FIXERS01", "fixers", ["U0ALICE001"])
    s.workspace.add_team(OTHER_TEAM, "Other Co", installer="U0OTHER001", installer_name="Olga")
    s.workspace.add_token(OTHER_TOKEN, "bot", ("users:read", "usergroups:read", "chat:write"),
                          user_id="U0BOTOTHER0", team_id=OTHER_TEAM)
    yield s
    s.stop()


def call(client, method: str, **kwargs):
    return client.api_call(method, params=kwargs)


def hammer(client, method: str, n: int, **kwargs) -> None:
    for _ in range(n):
        assert call(client, method, **kwargs)["ok"]


def refused(client, method: str, **kwargs) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call(client, method, **kwargs)
    return info.value


def test_sourced_tiers_of_the_methods_qbsync_leans_on():
    assert TIER_PER_MINUTE == {1: 1, 2: 20, 3: 50, 4: 100}
    assert METHOD_TIERS["usergroups.users.list"] == 2
    assert METHOD_TIERS["chat.update"] == METHOD_TIERS["conversations.history"] == 3
    assert METHOD_TIERS["users.info"] == METHOD_TIERS["files.getUploadURLExternal"] == 4
    assert default_per_minute("chat.postMessage") is None  # its own per-channel rule


@pytest.mark.parametrize("method,kwargs,figure", [
    ("usergroups.users.list", {"usergroup": "S0FIXERS01"}, 20),          # Tier 2
    ("conversations.history", {"channel": ALERT_CHANNEL}, 50),           # Tier 3
    ("users.info", {"user": "U0ALICE001"}, 100),                         # Tier 4
])
def test_the_call_after_the_tier_figure_in_a_minute_is_a_429_with_retry_after(slack, method, kwargs, figure):
    c = WebClient(token=BOT_TOKEN, base_url=slack.api_base, timeout=5)
    hammer(c, method, figure, **kwargs)
    exc = refused(c, method, **kwargs)
    assert exc.response.status_code == 429
    assert exc.response["ok"] is False and exc.response["error"] == "ratelimited"
    retry_after = int(exc.response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert slack.service.rate_limited_by_method == {method: 1}
    # Per method: another method of the same workspace is not limited by this one.
    assert call(c, "auth.test")["ok"]
    # The window slides: once the oldest call is a minute old, the method answers again.
    slack.clock.advance(retry_after)
    assert call(c, method, **kwargs)["ok"]


def test_other_workspace_and_method_have_their_own_windows(slack):
    c = WebClient(token=BOT_TOKEN, base_url=slack.api_base, timeout=5)
    other = WebClient(token=OTHER_TOKEN, base_url=slack.api_base, timeout=5)
    hammer(c, "usergroups.users.list", 20, usergroup="S0FIXERS01")
    assert refused(c, "usergroups.users.list", usergroup="S0FIXERS01").response.status_code == 429
    # Another workspace's calls of the same method have a whole minute of their own.
    hammer(other, "usergroups.users.list", 20, usergroup="S0FIXERS01")
    assert refused(other, "usergroups.users.list", usergroup="S0FIXERS01").response.status_code == 429
    assert call(c, "users.info", user="U0ALICE001")["ok"]


def test_overrides_raise_lower_and_lift_a_limit(slack):
    c = WebClient(token=BOT_TOKEN, base_url=slack.api_base, timeout=5)
    slack.service.set_method_limits({"users.info": 2, "usergroups.users.list": None})
    hammer(c, "users.info", 2, user="U0ALICE001")
    assert refused(c, "users.info", user="U0ALICE001").response.status_code == 429
    hammer(c, "usergroups.users.list", 30, usergroup="S0FIXERS01")   # lifted: a load test's knob


def test_non_marketplace_mode_limits_history_and_replies_to_one_a_minute_and_15_a_page(slack):
    c = WebClient(token=BOT_TOKEN, base_url=slack.api_base, timeout=5)
    parent = c.chat_postMessage(channel=ALERT_CHANNEL, text="parent")["ts"]
    for i in range(20):
        c.chat_postMessage(channel=ALERT_CHANNEL, text=f"reply {i}", thread_ts=parent)
        c.chat_postMessage(channel=ALERT_CHANNEL, text=f"m{i}")
    # An internal app (the default) has Tier 3 and pages of up to 999 / 1000.
    assert len(c.conversations_history(channel=ALERT_CHANNEL, limit=100)["messages"]) == 21
    assert len(c.conversations_replies(channel=ALERT_CHANNEL, ts=parent)["messages"]) == 21
    slack.service.set_method_limits(non_marketplace=True)
    page = c.conversations_history(channel=ALERT_CHANNEL, limit=100)
    assert len(page["messages"]) == 15 and page["has_more"] is True
    exc = refused(c, "conversations.history", channel=ALERT_CHANNEL)
    assert exc.response.status_code == 429 and int(exc.response.headers["Retry-After"]) == 60
    assert len(c.conversations_replies(channel=ALERT_CHANNEL, ts=parent)["messages"]) == 15
    assert refused(c, "conversations.replies", channel=ALERT_CHANNEL, ts=parent).response.status_code == 429
    slack.clock.advance(60)
    assert c.conversations_history(channel=ALERT_CHANNEL)["ok"]
