"""Which Slack workspace and app this bot is installed as, for the HTTP guard's check that a
signed request was meant for this installation (bot/http_guard.py).

- Workspace: `auth.test` answers `team_id` (and `bot_id` for a bot token)
  (https://docs.slack.dev/reference/methods/auth.test; the Web API spec in
  ../shared/specs/slack/web_api.openapi2.json lists bot_id, team_id, user_id: no app id).
- App: `bots.info(bot=<bot_id>)` answers `bot.app_id`; Slack's page says to "use the app_id
  field to identify whether a bot belongs to your Slack app"
  (https://docs.slack.dev/reference/methods/bots.info; needs users:read, which the manifest
  asks for). Some client type definitions also list an optional `app_id` in auth.test's
  answer (docs.slack.dev AuthTestResponse for the Node SDK): taken first when present.

With Add to Slack on (bot/slack_oauth.py), `Installations` also accepts every workspace
installed through it (bot/slack_oauth_store.py), for the app id it installed, and still
refuses all others.

If the app id cannot be learnt (no bot_id, a missing scope), only the workspace is checked
and a warning says so; the workspace is required (auth.test must succeed to start anyway).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Installation:
    team_id: str
    app_id: str | None  # None: unknown, not checked

    def refuses(self, team_id: str | None, app_id: str | None) -> str | None:
        """Why a request naming this team and app is not for this installation (None: it is)."""
        if team_id != self.team_id:
            return "team_id is not this workspace"
        if self.app_id is not None and app_id != self.app_id:
            return "api_app_id is not this app"
        return None


class Installations:
    """This bot's own workspace (SLACK_BOT_TOKEN) and the workspaces installed via OAuth."""

    def __init__(self, home: Installation | None, store):
        """store: a bot.slack_oauth_store.SlackInstallationStore."""
        self.home = home
        self.store = store

    def refuses(self, team_id: str | None, app_id: str | None) -> str | None:
        home_says = self.home.refuses(team_id, app_id) if self.home is not None else "team_id is not this workspace"
        if home_says is None:
            return None
        installed_app = self.store.app_of(team_id)
        if installed_app is None:
            return home_says if self.home is not None else "team_id is not an installed workspace"
        expected = installed_app or (self.home.app_id if self.home is not None else None)
        if expected and app_id != expected:
            return "api_app_id is not this app"
        return None


def learn_installation(client) -> Installation:
    """Ask Slack through the bot's WebClient (slack_sdk)."""
    auth = client.auth_test()
    team_id = auth.get("team_id")
    if not team_id:
        raise RuntimeError("auth.test answered no team_id")
    app_id = auth.get("app_id")
    bot_id = auth.get("bot_id")
    if not app_id and bot_id:
        try:
            app_id = (client.bots_info(bot=bot_id).get("bot") or {}).get("app_id")
        except Exception as exc:  # slack_sdk's SlackApiError, a network error: degrade, loudly
            log.warning("could not learn the app id (bots.info: %s); requests are checked "
                        "against the workspace only", type(exc).__name__)
    if not app_id:
        log.warning("app id unknown: HTTP requests are checked against the workspace only")
    return Installation(str(team_id), str(app_id) if app_id else None)
