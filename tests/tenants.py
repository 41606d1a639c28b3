"""Register sandbox companies (sandbox/companies.py, Sandbox.add_company) as qbsync connections
(bot/connections.py) the way the `qbsync connect ...` commands leave them: a sealed private-app
token with hubspot_auth "private_app", the realm id, the QBO token chain seeded in the
connection's own store (as bot/connect.py saves it: seed_hash of the refresh token), the Slack
team and channel, and, for a workspace other than the sandbox's default one, the workspace's
bot installation (bot/slack_oauth_store.py, as Add to Slack saves it)."""
from __future__ import annotations

import hashlib
import time

from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Bot

from bot.connections import Connection, ConnectionRegistry
from bot.slack_oauth_store import SlackInstallationStore
from bot.store import Store
from bot.token_cipher import TokenCipher
from sandbox.slack_workspace import TEAM_ID

SECRET_KEY = Fernet.generate_key().decode("ascii")  # QBSYNC_SECRET_KEY of these tests

# Settings of the company configured from the environment: left out when only connections run.
ENV_COMPANY = ("HUBSPOT_ACCESS_TOKEN", "QBO_REALM_ID", "QBO_REFRESH_TOKEN", "QBSYNC_ALERT_CHANNEL")


def connections_only(env: dict[str, str], **more: str) -> dict[str, str]:
    """A process environment with no company of its own (connections only) and the secret key
    the connections' credentials are sealed with."""
    out = {k: v for k, v in env.items() if k not in ENV_COMPANY}
    out["QBSYNC_SECRET_KEY"] = SECRET_KEY
    out.update(more)
    return out


def seed_qbo_tokens(main_path: str, connection_id: str, company) -> None:
    """The QBO token chain in the connection's own store, as `qbsync connect quickbooks` saves
    it (bot/connect.py): no usable access token yet, so the first scan refreshes."""
    refresh = company.new_qbo_refresh_token()
    now = time.time()
    store = Store(main_path, connection=connection_id)
    try:
        store.save_qbo_tokens(company.realm_id, {
            "access_token": "", "access_expires_at": 0.0, "refresh_token": refresh,
            "refresh_expires_at": now + 100 * 86400,
            "seed_hash": hashlib.sha256(refresh.encode()).hexdigest(), "updated_at": now})
    finally:
        store.close()


def register(main_store: Store, company, connection_id: str, *, qbo_tokens: bool = True,
             overrides: dict[str, str] | None = None) -> Connection:
    """overrides: the connection's own settings (e.g. QBSYNC_FIX_ALLOWED: a connection does not
    take the environment's)."""
    cipher = TokenCipher(SECRET_KEY)
    registry = ConnectionRegistry(main_store, cipher=cipher)
    registry.save(connection_id, name=f"Company {company.key}", qbo_realm_id=company.realm_id,
                  slack_team_id=company.team_id, slack_channel=company.channel,
                  **({"overrides": overrides} if overrides else {}))
    connection = registry.set_hubspot_secret(connection_id, "private_app", {"token": company.hubspot_token},
                                             portal_id=str(company.portal_id))
    if company.team_id != TEAM_ID:
        SlackInstallationStore(main_store, cipher=cipher).save_bot(Bot(
            team_id=company.team_id, team_name=f"Team {company.team_id}", bot_token=company.slack_bot_token,
            bot_id="B0" + company.team_id[2:], bot_user_id="U0BOT" + company.team_id[2:],
            installed_at=time.time()))
    if qbo_tokens:
        seed_qbo_tokens(main_store.main_path, connection_id, company)
    return connection
