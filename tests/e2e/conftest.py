"""The whole bot against the sandbox: real adapters over HTTP, the real bolt App from
bot.app.create_app connected over Socket Mode (or served by HttpRunner), and the Slack
stand-in's driver playing the people."""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass

import pytest

from bot import wiring
from bot.app import HttpRunner, SocketModeRunner, create_app, services_of
from bot.config import load_settings
from bot.store import Store
from sandbox import scenario as scenarios
from sandbox.app import Sandbox
from sandbox.slack_workspace import ALERT_CHANNEL

ALICE, BRAM, CARMEN = "U0ALICE001", "U0BRAM0001", "U0CARMEN01"
FIXERS = "S0FIXERS01"  # the user group "fixers" = [alice]


@dataclass
class Bot:
    sb: Sandbox
    settings: object
    parts: object
    app: object
    runner: object

    @property
    def d(self):
        return self.sb.slack.driver

    @property
    def store(self):
        return self.parts.store

    @property
    def services(self):
        return services_of(self.app)

    def scan(self):
        return self.parts.scanner.scan()

    def parents(self):
        return [m for m in self.d.transcript(ALERT_CHANNEL) if not m.is_reply]

    def alert(self, key: str) -> dict:
        return self.store.get_alert(key)

    def parent_of(self, key: str):
        a = self.alert(key)
        return self.d.message(a["channel"], a["ts"])

    def thread_texts(self, key: str) -> list[str]:
        a = self.alert(key)
        return [m.visible_text() for m in self.d.thread(a["channel"], a["ts"])]

    def wait_audit(self, target: str, action: str, outcome: str, timeout: float = 15.0) -> dict:
        """The audit entry a step writes last (its work is then complete)."""
        return self.d.wait_for(lambda: next((e for e in self.store.audit_entries(target=target)
                                             if e["action"] == action and e["outcome"] == outcome), None),
                               timeout=timeout)

    def ephemeral_texts(self, user: str) -> list[str]:
        return [e.text for e in self.d.ephemerals(user)]

    def wait_ephemeral(self, user: str, count: int, timeout: float = 10.0) -> list[str]:
        """The user's ephemeral messages once there are at least `count` of them."""
        self.d.wait_for(lambda: len(self.d.ephemerals(user)) >= count, timeout=timeout)
        return self.ephemeral_texts(user)

    def command(self, user: str, text: str, *, replies: int = 1, timeout: float = 10.0) -> list[str]:
        """`/qbsync text` as `user`; the ack must come in time; returns the new ephemeral texts
        once `replies` of them arrived."""
        before = len(self.d.ephemerals(user))
        r = self.d.slash(user, "/qbsync", text)
        assert r.acked and r.in_time, (text, r.elapsed_s)
        return self.wait_ephemeral(user, before + replies, timeout)[before:]


def scenario(name: str) -> dict:
    return copy.deepcopy(scenarios.read(name))


@pytest.fixture
def make_bot(tmp_path, request):
    """make_bot(scenario, transport="socket", allowed=FIXERS, viewers="", env=None) -> Bot; everything is
    stopped after. `env`: more settings (e.g. QBSYNC_ROUTES, QBSYNC_DATABASE_URL).

    QBSYNC_E2E_STORE=postgresql in the environment runs every end-to-end test on a PostgreSQL
    database of its own (tests/pg.py) instead of a SQLite file; test_postgres_e2e.py runs a
    selection on PostgreSQL always."""
    made = []
    pg_url = request.getfixturevalue("pg_url") if os.environ.get("QBSYNC_E2E_STORE") == "postgresql" else None

    def make(world="mixed", *, transport: str = "socket", allowed: str = FIXERS, viewers: str = "",
             sandbox: Sandbox | None = None, db_name: str = "qbsync.db", load: bool = True,
             env: dict | None = None, hubspot_options: dict | None = None,
             qbo_options: dict | None = None) -> Bot:
        sb = sandbox
        if sb is None:
            sb = Sandbox(slack_post_rate_per_s=100, slack_post_burst=100).start()
            made.append(("sandbox", sb))
        if load:
            sb.load(world)
        environ = sb.bot_environment() | {"QBSYNC_DB_PATH": str(tmp_path / db_name), "QBSYNC_FIX_ALLOWED": allowed,
                                          "QBSYNC_SLACK_TRANSPORT": transport, "QBSYNC_VIEW_ALLOWED": viewers}
        if pg_url:
            environ["QBSYNC_DATABASE_URL"] = pg_url
        settings = load_settings(environ | (env or {}), env_file=None)
        parts = wiring.build(settings, store=Store(settings.store_target), post_interval=0,
                             hubspot_options=hubspot_options, qbo_options=qbo_options)
        # Each connection's parts (handlers/tenancy.py) are built like the default's here.
        app = create_app(parts, connection_build={"post_interval": 0, "hubspot_options": hubspot_options,
                                                  "qbo_options": qbo_options})
        if transport == "socket":
            runner = SocketModeRunner(app, settings.slack_app_token).start()
            assert sb.slack.socket.wait_connected(5)
            sb.slack.driver.use_socket()
        else:
            runner = HttpRunner(app, 0).start()
            sb.slack.driver.use_http(runner.url)
        bot = Bot(sb, settings, parts, app, runner)
        made.append(("bot", bot))
        return bot

    yield make
    for kind, thing in reversed(made):
        if kind == "bot":
            thing.runner.stop()
            thing.parts.store.close()
        else:
            thing.stop()
