"""Thin Slack listeners: `/qbsync`, the alert buttons and the App Home.

Every listener acknowledges at once and hands the work to the worker pool (Services.work):
Slack wants an ack within 3 seconds, and a scan or a fix can take longer. The steps live in
commands.py, actions.py and home.py; steps.py turns any failure into an ephemeral answer in
the person's language, so no listener dies on an error.

Each request acts on the connection of its workspace and channel (tenancy.py): after the ack,
the connection is picked and the step runs with that connection's Services, on its pool; a
channel that belongs to no connection gets the "not connected" answer and nothing else.

    services = Services(parts)
    register(app, services)        # or register(app, ConnectionServices(services, ...))
"""
from __future__ import annotations

import logging
import re

from bot.slack.messages import (ACTION_ACK, ACTION_BULK_CANCEL, ACTION_BULK_CONFIRM, ACTION_BULK_FIX, ACTION_FIX,
                                ACTION_RECHECK, ACTION_RESOLVE, ACTION_SNOOZE, parse_button_value, parse_plan_value)

from . import actions, bulk
from .commands import handle_command
from .home import publish_home, publish_not_connected
from .services import Services
from .steps import Interaction, Say, code, run_step
from .tenancy import ConnectionServices

log = logging.getLogger(__name__)

COMMAND = "/qbsync"
_FIX_ACTION = re.compile("^" + re.escape(ACTION_FIX) + r"[A-Za-z0-9_.-]+$")

__all__ = ["COMMAND", "ConnectionServices", "Services", "register"]


def register(app, services: Services | ConnectionServices) -> None:
    tenants = services if isinstance(services, ConnectionServices) else ConnectionServices(services)

    def dispatch(team_id: str | None, ix: Interaction, step) -> None:
        """After the ack: pick the connection of ix.channel in `team_id`, then run `step` with
        its Services on its pool. Picking is a step of its own (on ConnectionServices' small
        pool), so a channel of no connection (or a failure to build one) is answered in the
        person's language."""
        def pick(i: Interaction) -> None:
            target = tenants.resolve(team_id, i.channel)
            if target is None:
                raise Say("not_connected", channel=code(i.channel or "C..."))
            target.work(run_step, Interaction(target, i.user, i.channel, i.respond, i.kind, client=i.client), step)
        pick.__name__ = f"pick_connection_for_{getattr(step, '__name__', 'step')}"
        tenants.work(run_step, ix, pick)

    def clicked(body, respond, client) -> Interaction:
        """A click's Interaction. Its channel is the one of the message the button is on: the
        connection whose store is asked (dispatch)."""
        return Interaction(tenants.default, (body.get("user") or {}).get("id", ""),
                           (body.get("channel") or {}).get("id"), respond, "action", client=client)

    @app.command(COMMAND)
    def on_command(ack, command, respond, client, context):
        ack()
        ix = Interaction(tenants.default, command.get("user_id", ""), command.get("channel_id"), respond,
                         "command", client=client)
        text = command.get("text") or ""

        def sub_command(i: Interaction) -> None:
            handle_command(i, text)
        dispatch(context.team_id, ix, sub_command)

    def button(step, *, with_fix: bool = False):
        def on_click(ack, body, respond, client, context):
            ack()
            act = (body.get("actions") or [{}])[0]
            ix = clicked(body, respond, client)

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
            dispatch(context.team_id, ix, run)
        on_click.__name__ = f"on_{step.__name__}"
        return on_click

    def bulk_button(kind: str):
        """Fix all N like this (value: group key + fix id), its Confirm or Cancel (value: plan id)."""
        def on_click(ack, body, respond, client, context):
            ack()
            act = (body.get("actions") or [{}])[0]
            ix = clicked(body, respond, client)

            def run(i: Interaction) -> None:
                try:
                    if kind in ("confirm", "cancel"):
                        plan_id = parse_plan_value(act.get("value"))
                    else:
                        key, fix_id = parse_button_value(act.get("value"))
                except ValueError:
                    raise Say("bad_button") from None
                if kind == "confirm":
                    bulk.confirm(i, plan_id)
                elif kind == "cancel":
                    bulk.cancel(i, plan_id)
                elif fix_id is None:
                    raise Say("bad_button")
                else:
                    bulk.plan(i, key, fix_id)
            run.__name__ = f"bulk_{kind}"
            dispatch(context.team_id, ix, run)
        on_click.__name__ = f"on_bulk_{kind}"
        return on_click

    app.action(ACTION_BULK_FIX)(bulk_button("plan"))
    app.action(ACTION_BULK_CONFIRM)(bulk_button("confirm"))
    app.action(ACTION_BULK_CANCEL)(bulk_button("cancel"))
    app.action(_FIX_ACTION)(button(actions.fix, with_fix=True))
    app.action(ACTION_RECHECK)(button(actions.recheck))
    app.action(ACTION_ACK)(button(actions.acknowledge))
    app.action(ACTION_SNOOZE)(button(actions.snooze))
    app.action(ACTION_RESOLVE)(button(actions.resolve))

    @app.event("app_home_opened")
    def on_home_opened(event, client, context):
        # Events are acked by bolt itself as soon as the listener is picked.
        if event.get("tab", "home") != "home":
            return
        team_id = context.team_id
        ix = Interaction(tenants.default, event.get("user", ""), None, None, "event", client=client)

        def home(i: Interaction) -> None:
            """The workspace's own connections only: the first one's Home, naming the others."""
            found = tenants.for_team(team_id)
            if not found:
                publish_not_connected(i)
                return
            (_, first), others = found[0], found[1:]
            mine = Interaction(first, i.user, None, None, "event", client=i.client)
            publish_home(mine, others=[(label, s.status().open_count) for label, s in others])
        tenants.work(run_step, ix, home)
