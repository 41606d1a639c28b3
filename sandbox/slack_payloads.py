"""The payloads Slack sends an app when a person acts, built from the stand-in's workspace.

Shapes follow Slack's reference pages for slash commands ("Enabling interactivity with Slash
commands": the form fields), block_actions and view_submission payloads, and the Events API
wrapper (event_callback) around app_home_opened. Socket Mode carries the same payloads inside
envelopes (slack_socket.py); HTTP mode posts them (slack_http.py): slash commands as a form,
interactions as `payload=<json>`, events as JSON.
"""
from __future__ import annotations

import copy
import secrets
import time

from .slack_workspace import (
    APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, VERIFICATION_TOKEN, Ephemeral, Message, Team, User, View,
)

# Every payload names the workspace the person acts in (their own: `team`, as the driver
# passes it; without it the default workspace's domain is assumed).


def _user(u: User) -> dict:
    return {"id": u.id, "username": u.name, "name": u.name, "team_id": u.team_id}


def _team(u: User, team: Team | None = None) -> dict:
    if team is not None:
        return {"id": team.id, "domain": team.domain}
    return {"id": u.team_id, "domain": TEAM_DOMAIN}


def slash_command(user: User, command: str, text: str, *, channel_id: str, channel_name: str,
                  response_url: str, trigger_id: str, team: Team | None = None) -> dict[str, str]:
    """A slash command's fields, in the order Slack sends them (all strings)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": user.team_id,   # the person's workspace (another one after an OAuth install)
        "team_domain": _team(user, team)["domain"],
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def action(element: dict, block_id: str | None, value: str | None) -> dict:
    """One entry of block_actions' `actions` for a clicked button or a chosen option."""
    act = {"action_id": element.get("action_id"), "block_id": block_id, "type": element.get("type"),
           "action_ts": f"{time.time():.6f}"}
    if element.get("type") == "button":
        act["text"] = copy.deepcopy(element.get("text"))
        if "value" in element:
            act["value"] = element["value"]
        if "style" in element:
            act["style"] = element["style"]
    else:
        options = list(element.get("options") or [])
        for group in element.get("option_groups") or []:
            options += group.get("options") or []
        chosen = [o for o in options if o.get("value") == value]
        if not chosen:
            raise LookupError(f"{element.get('action_id')!r} has no option with value {value!r}; "
                              f"options: {[o.get('value') for o in options]}")
        act["selected_option"] = copy.deepcopy(chosen[0])
    return act


def block_actions_on_message(user: User, channel_id: str, channel_name: str, message: Message | Ephemeral,
                             act: dict, *, response_url: str, trigger_id: str, team: Team | None = None) -> dict:
    ephemeral = isinstance(message, Ephemeral)
    container = {"type": "message", "message_ts": message.ts, "channel_id": channel_id,
                 "is_ephemeral": ephemeral}
    if message.thread_ts and message.thread_ts != message.ts:
        container["thread_ts"] = message.thread_ts
    payload = {
        "type": "block_actions",
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": _team(user, team),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [act],
    }
    if not ephemeral:
        msg = message.to_api()
        msg["app_id"] = APP_ID
        payload["message"] = msg
    return payload


def block_actions_on_view(user: User, view: View, act: dict, *, trigger_id: str, team: Team | None = None) -> dict:
    return {
        "type": "block_actions",
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view.id},
        "trigger_id": trigger_id,
        "team": _team(user, team),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view.to_api(),
        "actions": [act],
    }


def view_submission(user: User, view: View, values: dict, *, trigger_id: str, team: Team | None = None) -> dict:
    """values: {block_id: {action_id: {"type": ..., "value": ...}}} (view.state.values)."""
    v = view.to_api()
    v["state"] = {"values": copy.deepcopy(values)}
    return {
        "type": "view_submission",
        "team": _team(user, team),
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": v,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_callback(event: dict, team_id: str = TEAM_ID) -> dict:
    """An Events API delivery from workspace `team_id` (the person's, for app_home_opened)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }


def app_home_opened(user: User, dm_channel: str, home: View | None) -> dict:
    event = {"type": "app_home_opened", "user": user.id, "channel": dm_channel, "tab": "home",
             "event_ts": f"{time.time():.6f}"}
    if home is not None:
        event["view"] = home.to_api()
    return event_callback(event, user.team_id)
