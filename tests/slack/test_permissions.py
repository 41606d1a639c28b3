"""bot.permissions against the Slack stand-in's user groups (usergroups.users.list over HTTP)."""
from __future__ import annotations

from slack_sdk import WebClient

from bot.config import load_settings
from bot.permissions import Permissions
from sandbox.slack import SlackStandIn
from sandbox.slack_workspace import BOT_TOKEN

ALICE, BRAM, CARMEN = "U0ALICE001", "U0BRAM0001", "U0CARMEN01"


def test_viewers_by_user_and_by_group_may_view_but_not_fix():
    with SlackStandIn() as slack:
        slack.workspace.add_usergroup("S0VIEWERS1", "viewers", [CARMEN])
        client = WebClient(token=BOT_TOKEN, base_url=slack.api_base)
        settings = load_settings({"QBSYNC_FIX_ALLOWED": "S0FIXERS01",
                                  "QBSYNC_VIEW_ALLOWED": f"S0VIEWERS1, {BRAM}"}, env_file=None)
        assert settings.view_users == (BRAM,) and settings.view_usergroups == ("S0VIEWERS1",)
        perms = Permissions.from_settings(settings, client)
        assert [perms.can_fix(u) for u in (ALICE, BRAM, CARMEN)] == [True, False, False]
        assert [perms.can_view(u) for u in (ALICE, BRAM, CARMEN, "U0NOBODY01", "")] == [True, True, True, False, False]
        nobody = Permissions.from_settings(load_settings({"QBSYNC_FIX_ALLOWED": ALICE}, env_file=None), client)
        assert nobody.can_view(ALICE) and not nobody.can_view(BRAM) and not nobody.can_view(CARMEN)
