"""Two companies on one qbsync, as a new user sets them up: the bot (HTTP mode, Add to Slack),
two more workspaces installed through Add to Slack, and one connection in each
(bot/connections.py): A in Acme's workspace (Dutch), B in Beta's (Spanish). Both companies are
loaded from the same `mixed` scenario, so their invoice numbers are the same (INV-1002 ...
INV-1007 fail in both); only their QuickBooks invoice ids are made different, so a link or a
write can be told apart by realm. The company configured from the environment (the sandbox's
own, also `mixed`) runs beside them in the default workspace.

Used by tests/e2e/test_alerts_per_connection*.py (issue #12's features per connection)."""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from bot.app import tenants_of
from bot.connections import ConnectionRegistry
from bot.store import Store
from bot.token_cipher import TokenCipher
from sandbox import scenario as scenarios

from .slack_install import ACME, ANNA, BEN, BETA, oauth_bot
from .test_slack_install import install

# People whose Slack locale qbsync does not speak (French): their answers are in the
# connection's own language (QBSYNC_LANGUAGE of the connection), not in the env's (English).
ARNO, BERTA = "U0ARNO0001", "U0BERTA001"


def mixed(qbo_id_offset: int) -> dict:
    """The mixed scenario with its QuickBooks invoice ids moved by `qbo_id_offset` (145 ->
    1145 ...), so two companies loaded from it hold different QuickBooks invoice ids."""
    data = copy.deepcopy(scenarios.read("mixed"))
    for inv in data["qbo"]["invoices"]:
        inv["Id"] = str(int(inv["Id"]) + qbo_id_offset)
    for pair in data["integration"].get("synced", []):
        pair["qbo_invoice"] = str(int(pair["qbo_invoice"]) + qbo_id_offset)
    return data


@dataclass
class Two:
    bot: object
    sb: object
    a: object   # sandbox.companies.SandboxCompany
    b: object

    @property
    def tenants(self):
        return tenants_of(self.bot.app)

    def services(self, connection: str):
        return self.tenants.for_connection(connection)

    def store(self, connection: str):
        return self.services(connection).store

    def scan(self, connection: str):
        result = self.services(connection).run_scan(wait=True)
        assert result is not None and not result.problem, result
        return result

    def parents(self, channel: str) -> list:
        return [m for m in self.bot.d.transcript(channel) if not m.is_reply]

    def slash(self, user: str, channel: str, text: str, *, replies: int = 1, timeout: float = 10.0) -> list[str]:
        """`/qbsync text` typed by `user` in `channel`: the new ephemeral answers."""
        d = self.bot.d
        before = len(d.ephemerals(user))
        r = d.slash(user, "/qbsync", text, channel=channel)
        assert r.acked and r.in_time, (text, r.status, r.elapsed_s)
        d.wait_for(lambda: len(d.ephemerals(user)) >= before + replies, timeout=timeout)
        return [e.text for e in d.ephemerals(user)[before:]]


def connect(bot, connection_id: str, company, overrides: dict[str, str], *, name: str | None = None) -> None:
    """What `qbsync connect hubspot|quickbooks|slack --connection ID` leaves behind, plus the
    connection's own settings (`overrides`): the row, the sealed HubSpot token, and the
    QuickBooks refresh token in the connection's own store."""
    reg = ConnectionRegistry(bot.store, cipher=TokenCipher(bot.settings.secret_key))
    reg.save(connection_id, name=name or f"Company {connection_id.upper()}", qbo_realm_id=company.realm_id,
             slack_team_id=company.team_id, slack_channel=company.channel, overrides=overrides)
    reg.set_hubspot_secret(connection_id, "private_app", {"token": company.hubspot_token},
                           portal_id=str(company.portal_id))
    own = Store(bot.settings.store_target, connection=connection_id)
    try:
        own.save_qbo_tokens(company.realm_id, {"refresh_token": company.new_qbo_refresh_token(),
                                               "access_token": None, "access_expires_at": 0.0,
                                               "refresh_expires_at": None, "seed_hash": "", "updated_at": None})
    finally:
        own.close()


def two_companies(make_bot, sb, *, a_settings: dict | None = None, b_settings: dict | None = None,
                  env: dict | None = None, a_world: dict | None = None, b_world: dict | None = None,
                  **options) -> Two:
    """`options`: more make_bot arguments (hubspot_options, qbo_options: for every company)."""
    bot = oauth_bot(make_bot, sb, "mixed", env=env, **options)
    assert install(bot, ACME)[0] == 200 and install(bot, BETA)[0] == 200
    ws = sb.slack.workspace
    ws.add_user(ARNO, "arno", locale="fr-FR", team_id=ACME)
    ws.add_user(BERTA, "berta", locale="fr-FR", team_id=BETA)
    a = sb.add_company(a_world or mixed(1000), key="a", team_id=ACME)
    b = sb.add_company(b_world or mixed(2000), key="b", team_id=BETA)
    ws.join(a.channel, ARNO)
    ws.join(b.channel, BERTA)
    connect(bot, "a", a, {"QBSYNC_LANGUAGE": "nl", "QBSYNC_FIX_ALLOWED": f"{ANNA},{ARNO}"} | (a_settings or {}))
    connect(bot, "b", b, {"QBSYNC_LANGUAGE": "es", "QBSYNC_FIX_ALLOWED": f"{BEN},{BERTA}"} | (b_settings or {}))
    return Two(bot, sb, a, b)


def blocks_text(message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)
