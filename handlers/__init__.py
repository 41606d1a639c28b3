"""Thin Slack listeners: `/qbsync`, the alert buttons and the App Home.

Every listener acknowledges at once and hands the work to the worker pool (Services.work):
Slack wants an ack within 3 seconds, and a scan or a fix can take longer. The steps live in
commands.py, actions.py and home.py; steps.py turns any failure into an ephemeral answer in
the person's language, so no listener dies on an error.

    services = Services(parts)
    register(app, services)
"""
from __future__ import annotations

import logging
import re

from bot.slack.messages import (ACTION_ACK, ACTION_BULK_CONFIRM, ACTION_BULK_FIX, ACTION_FIX, ACTION_RECHECK,
                                ACTION_RESOLVE, ACTION_SNOOZE, parse_button_value, parse_plan_value)

from . import actions, bulk
from .commands import handle_command
from .home import publish_home
from .services import Services
from .steps import Interaction, Say, run_step

log = logging.getLogger(__name__)

COMMAND = "/qbsync"
_FIX_ACTION = re.compile("^" + re.escape(ACTION_FIX) + r"[A-Za-z0-9_.-]+$")

__all__ = ["COMMAND", "Services", "register"]


def register(app, services: Services) -> None:
    @app.command(COMMAND)
    def on_command(ack, command, respond):
        ack()
        ix = Interaction(services, command.get("user_id", ""), command.get("channel_id"), respond, "command")
        text = command.get("text") or ""
        services.work(run_step, ix, lambda i: handle_command(i, text))

    def button(step, *, with_fix: bool = False):
        def on_click(ack, body, respond):
            ack()
            act = (body.get("actions") or [{}])[0]
            ix = Interaction(services, (body.get("user") or {}).get("id", ""),
                             (body.get("channel") or {}).get("id"), respond, "action")

            def run(i: Interaction) -> None:
                try:
                    key, fix_id = parse_button_value(act.get("value"))
                except ValueError:
                    raise Say("bad_button") from None
                if with_fix:
                    wanted = act.get("action_id", "")[len(ACTION_FIX):]
                    if fix_id != wanted:  # the action id and the value must agree
                        raise Say("bad_button")
                    step(i, key, fix_id)
                else:
                    step(i, key)
            run.__name__ = step.__name__
            services.work(run_step, ix, run)
        on_click.__name__ = f"on_{step.__name__}"
        return on_click

    def bulk_button(kind: str):
        """Fix all N like this (value: group key + fix id) or its Confirm (value: plan id)."""
        def on_click(ack, body, respond):
            ack()
            act = (body.get("actions") or [{}])[0]
            ix = Interaction(services, (body.get("user") or {}).get("id", ""),
                             (body.get("channel") or {}).get("id"), respond, "action")

            def run(i: Interaction) -> None:
                try:
                    if kind == "confirm":
                        plan_id = parse_plan_value(act.get("value"))
                    else:
                        key, fix_id = parse_button_value(act.get("value"))
                except ValueError:
                    raise Say("bad_button") from None
                if kind == "confirm":
                    bulk.confirm(i, plan_id)
                elif fix_id is None:
                    raise Say("bad_button")
                else:
                    bulk.plan(i, key, fix_id)
            run.__name__ = f"bulk_{kind}"
            services.work(run_step, ix, run)
        on_click.__name__ = f"on_bulk_{kind}"
        return on_click

    app.action(ACTION_BULK_FIX)(bulk_button("plan"))
    app.action(ACTION_BULK_CONFIRM)(bulk_button("confirm"))
    app.action(_FIX_ACTION)(button(actions.fix, with_fix=True))
    app.action(ACTION_RECHECK)(button(actions.recheck))
    app.action(ACTION_ACK)(button(actions.acknowledge))
    app.action(ACTION_SNOOZE)(button(actions.snooze))
    app.action(ACTION_RESOLVE)(button(actions.resolve))

    @app.event("app_home_opened")
    def on_home_opened(event):
        # Events are acked by bolt itself as soon as the listener is picked.
        if event.get("tab", "home") != "home":
            return
        ix = Interaction(services, event.get("user", ""), None, None, "event")
        services.work(run_step, ix, publish_home)
