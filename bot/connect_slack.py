"""`qbsync connect slack --connection ID --channel C... [--team T...]`: where a connection's
alerts go. Slack tokens are never copied into the connection: it names a workspace (team id)
whose token is its Add to Slack installation (bot/slack_oauth_store.py) or, for the
workspace SLACK_BOT_TOKEN belongs to, that token (bot/wiring.py connection_credentials).

The channel is checked with conversations.history (limit 1) using that token. Not
conversations.info: it needs channels:read / groups:read, which qbsync does not ask for
(bot/slack_scopes.py), while conversations.history needs channels:history / groups:history,
which it has (it reads the alert channel's history after a crash). Slack answers
`channel_not_found` for a channel the bot cannot see (a private channel it is not in, another
workspace's) and `not_in_channel` when the bot is not a member, which it must be to post there
without chat:write.public (error names as handled against Slack in
https://github.com/simstudioai/sim/pull/1990; Slack's reference for the method:
https://docs.slack.dev/reference/methods/conversations.history).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .connections import Connection, ConnectionProblem, ConnectionRegistry, check_id, env_company_channels
from .errors import ApiError, ConfigError, QbsyncError

_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")
_TEAM = re.compile(r"^T[A-Z0-9]{2,}$")


class NotInstalled(QbsyncError):
    """The workspace has no installation qbsync can use; the message says how to install."""


@dataclass(frozen=True)
class SlackBinding:
    connection: Connection


def install_link(settings) -> str:
    """Where a person clicks Add to Slack: qbsync's /slack/install (HTTP mode), on the public
    URL its redirect URL names, else on this machine's HTTP port."""
    redirect = settings.slack_redirect_uri or ""
    if redirect.endswith("/slack/oauth_redirect"):
        return redirect[: -len("/slack/oauth_redirect")] + "/slack/install"
    return f"http://localhost:{settings.http_port}/slack/install"


def _auth_team(settings, token: str) -> str | None:
    from slack_sdk.errors import SlackApiError

    from .slack.client import make_web_client

    try:
        return make_web_client(token, base_url=settings.slack_api_base).auth_test().get("team_id")
    except SlackApiError:
        return None


def _token_for(settings, main_store, team: str | None) -> tuple[str, str]:
    """(team id, bot token) to bind with; raises NotInstalled / ConfigError."""
    from .slack_oauth_store import SlackInstallationStore
    from .token_cipher import TokenCipher

    installs = SlackInstallationStore(main_store, cipher=TokenCipher(settings.secret_key))
    env_team = _auth_team(settings, settings.slack_bot_token) if settings.slack_bot_token else None
    if team is None:
        teams = [w.team_id for w in installs.installations()]
        if env_team and env_team not in teams:
            teams.append(env_team)
        if len(teams) != 1:
            raise ConfigError([f"say which workspace with --team ({', '.join(teams) or 'none installed yet'})"])
        team = teams[0]
    bot = installs.find_bot(enterprise_id=None, team_id=team)
    if bot is not None and bot.bot_token:
        return team, bot.bot_token
    if env_team == team and settings.slack_bot_token:
        return team, settings.slack_bot_token
    raise NotInstalled(f"qbsync is not installed in Slack workspace {team}: open {install_link(settings)} "
                       "and click Add to Slack (qbsync run in HTTP mode with SLACK_CLIENT_ID and "
                       "SLACK_CLIENT_SECRET serves it), then run this command again")


def connect_slack(settings, main_store, connection_id: str, channel: str, team: str | None = None) -> SlackBinding:
    """Bind the connection to `channel` of `team` after checking the bot sees the channel.
    Raises ConfigError, NotInstalled, ApiError or ConnectionProblem (channel taken)."""
    from slack_sdk.errors import SlackApiError

    from .slack.client import make_web_client
    from .token_cipher import TokenCipher

    check_id(connection_id)
    if not _CHANNEL.match(channel or ""):
        raise ConfigError([f"--channel {channel!r} is not a channel id (C... or G..., from the channel's details)"])
    if team is not None and not _TEAM.match(team):
        raise ConfigError([f"--team {team!r} is not a workspace id (T...)"])
    if channel in env_company_channels(settings):
        raise ConnectionProblem(f"channel {channel} belongs to the company configured from the environment "
                                "(QBSYNC_ALERT_CHANNEL / QBSYNC_ROUTES): give the connection a channel of its own")
    team, token = _token_for(settings, main_store, team)
    try:
        make_web_client(token, base_url=settings.slack_api_base).conversations_history(channel=channel, limit=1)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "") if exc.response is not None else ""
        hint = {"channel_not_found": " (a private channel needs the bot invited first; a channel of another "
                                     "workspace is never seen)",
                "not_in_channel": " (invite the bot there first: /invite @qbsync)"}.get(error, "")
        raise ApiError("slack", f"the bot cannot read channel {channel} in workspace {team}: {error}{hint}") from None
    conn = ConnectionRegistry(main_store, cipher=TokenCipher(settings.secret_key)).save(
        connection_id, slack_team_id=team, slack_channel=channel)
    return SlackBinding(conn)
