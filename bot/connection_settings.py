"""`qbsync connections set ID NAME=VALUE ... [--unset NAME]`: a connection's own settings
(bot/connections.py OVERRIDABLE: who may fix or read records, language, routes, digest,
reminders, grace period, HubSpot sync source). Before this, nothing but code could set them, so
a connection had no fixers, no language and no routes of its own.

Values are parsed as bot/config.py parses the environment (ConnectionRegistry.save refuses a
bad one, naming it). Route channels (QBSYNC_ROUTES) are also asked of Slack with the
connection's own workspace token, as `qbsync doctor` checks channels (conversations.history,
bot/doctor.py check_channels): a bot token sees its own workspace's channels only, so a channel
of another workspace answers `channel_not_found` and is refused here, before any alert is
routed there (https://docs.slack.dev/reference/methods/conversations.history: errors
channel_not_found, not_in_channel)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from .connections import (OVERRIDABLE, Connection, ConnectionProblem, ConnectionRegistry, check_overrides,
                          route_channels)

# Slack's answers for a channel the bot cannot use, and what to do.
_CHANNEL_REFUSALS = {
    "channel_not_found": "Slack does not know it in workspace {team} (the connection's): a channel of another "
                         "workspace, or a private channel without the bot; a connection's alerts stay in its "
                         "own workspace",
    "not_in_channel": "the bot is not a member: invite it (/invite @qbsync in the channel)",
    "is_archived": "the channel is archived",
}


def parse_assignments(pairs: list[str], unset: list[str]) -> dict[str, str | None]:
    """NAME=VALUE arguments and --unset NAMEs as ConnectionRegistry.save's `overrides`."""
    changes: dict[str, str | None] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConnectionProblem(f"{pair!r} is not NAME=VALUE (e.g. QBSYNC_LANGUAGE=nl)")
        changes[name.strip()] = value.strip()
    for name in unset:
        changes[name.strip()] = None
    bad = sorted(n for n in changes if n not in OVERRIDABLE)
    if bad:
        raise ConnectionProblem(f"not a per-company setting: {', '.join(bad)} (these are: {', '.join(OVERRIDABLE)})")
    if not changes:
        raise ConnectionProblem("nothing to change: give NAME=VALUE or --unset NAME")
    return changes


def check_route_channels(connection: Connection, slack_client: Callable[[], Any] | None) -> None:
    """Every route channel must be one the connection's bot can read in its own workspace;
    else ConnectionProblem naming each channel and why."""
    channels = sorted(route_channels(connection))
    if not channels:
        return
    if not connection.slack_team_id:
        raise ConnectionProblem(f"connection {connection.id!r} has no Slack workspace yet: "
                                f"run qbsync connect slack --connection {connection.id} first")
    client = slack_client() if slack_client is not None else None
    if client is None:
        raise ConnectionProblem(f"qbsync is not installed in workspace {connection.slack_team_id} "
                                "(no bot token): its route channels cannot be checked")
    from slack_sdk.errors import SlackApiError, SlackClientError

    bad = []
    for channel in channels:
        try:
            client.conversations_history(channel=channel, limit=1)
        except SlackApiError as exc:
            code = exc.response.get("error", "") if exc.response is not None else ""
            why = _CHANNEL_REFUSALS.get(code, "Slack refused to read it").format(team=connection.slack_team_id)
            bad.append(f"{channel}: {code or 'error'}: {why}")
        except (SlackClientError, OSError) as exc:
            bad.append(f"{channel}: Slack did not answer ({type(exc).__name__})")
    if bad:
        raise ConnectionProblem("QBSYNC_ROUTES refused: " + "; ".join(bad))


def change_settings(registry: ConnectionRegistry, connection_id: str, changes: dict[str, str | None], *,
                    slack_client: Callable[[Connection], Any] | None,
                    env_channels: frozenset[str] = frozenset()) -> Connection:
    """Apply `changes` to the connection's settings after checking them all; nothing is saved
    when any is refused. `slack_client(connection)`: a WebClient with its workspace's bot token
    (None: not installed there). `env_channels`: the channels of the company configured from
    the environment (connections.env_company_channels), which no connection may route to."""
    current = registry.require(connection_id)
    merged = dict(current.overrides)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    if changes.get("QBSYNC_ROUTES") is not None:
        check_overrides({"QBSYNC_ROUTES": changes["QBSYNC_ROUTES"]})  # a parse error first, without Slack
        preview = replace(current, overrides=merged)
        taken = sorted(route_channels(preview) & env_channels)
        if taken:
            raise ConnectionProblem(f"QBSYNC_ROUTES refused: {', '.join(taken)} belongs to the company configured "
                                    "from the environment (QBSYNC_ALERT_CHANNEL / QBSYNC_ROUTES): a channel names "
                                    "one company")
        check_route_channels(preview, (lambda: slack_client(preview)) if slack_client is not None else None)
    return registry.save(connection_id, overrides=changes)
