"""Shared by the Add to Slack tests: a bot in HTTP mode with the install flow on, pointed at
the Slack stand-in's OAuth pages, and extra workspaces in the stand-in."""
from __future__ import annotations

import time

from sandbox import slack_payloads as payloads
from sandbox.slack_http import encode, post_signed
from sandbox.slack_workspace import APP_ID

CLIENT_ID, CLIENT_SECRET = "4242.8484", "sandbox-slack-client-secret-0000"
ACME, BETA, NEVER = "T0ACME0001", "T0BETA0001", "T0NEVER001"
ANNA, BEN, NORA = "U0ANNA0001", "U0BEN00001", "U0NORA0001"   # who installs (or would) in each


def oauth_bot(make_bot, sb, world: str = "missing-customer", *, env: dict | None = None, **options):
    """A bot with Add to Slack on, on `sb` (a started sandbox.app.Sandbox the caller stops);
    the Slack stand-in knows three more workspaces, none installed. `options`: more make_bot
    arguments (hubspot_options, qbo_options)."""
    slack = sb.slack
    ws = slack.workspace
    ws.add_team(ACME, "Acme Books", installer=ANNA, installer_name="anna", locale="nl-NL")
    ws.add_team(BETA, "Beta Ltd", installer=BEN, installer_name="ben", locale="es-ES")
    ws.add_team(NEVER, "Never Installed", installer=NORA, installer_name="nora")
    bot = make_bot(world, transport="http", sandbox=sb,
                   env={"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
                        "QBSYNC_SLACK_AUTHORIZE_URL": slack.authorize_url} | (env or {}), **options)
    # The app's configured redirect URL (its port is known once qbsync listens).
    slack.oauth.register_client(CLIENT_ID, CLIENT_SECRET, [redirect_url(bot)])
    return bot


def base_url(bot) -> str:
    return f"http://127.0.0.1:{bot.runner.port}"


def redirect_url(bot) -> str:
    return base_url(bot) + "/slack/oauth_redirect"


def slash(bot, user: str, text: str = "help"):
    """A signed /qbsync from `user`'s workspace, straight to the request URL (HttpResult)."""
    ws = bot.sb.slack.workspace
    with ws.lock:
        trigger = ws.mint_trigger(user)
        url = ws.mint_response_url(bot.sb.slack.url, "commands", "C0ALERTS01", user)
    fields = payloads.slash_command(ws.users[user], "/qbsync", text, channel_id="C0ALERTS01",
                                    channel_name="qbsync-alerts", response_url=url, trigger_id=trigger)
    body, ctype = encode("slash_commands", fields)
    return post_signed(bot.runner.url, body, ctype, ws.signing_secret, timeout=5)


def event(bot, team_id: str, inner: dict):
    """A signed Events API delivery from `team_id`'s workspace."""
    payload = {"token": "x", "team_id": team_id, "api_app_id": APP_ID, "event": inner, "type": "event_callback",
               "event_id": f"Ev{time.time_ns()}", "event_time": int(time.time())}
    body, ctype = encode("events_api", payload)
    return post_signed(bot.runner.url, body, ctype, bot.sb.slack.workspace.signing_secret, timeout=5)


def replies(bot, user: str, count: int, timeout: float = 10.0) -> list[str]:
    bot.d.wait_for(lambda: len(bot.d.ephemerals(user)) >= count, timeout=timeout)
    return [e.text for e in bot.d.ephemerals(user)]


def issued_token(bot, team_id: str) -> str:
    tokens = [tok for team, tok in bot.sb.slack.oauth.issued if team == team_id]
    assert tokens, f"no token issued for {team_id}"
    return tokens[-1]
