"""Where bolt's OAuth flow keeps what it needs, in qbsync's own database (migration 10).

- `SlackInstallationStore`: slack_sdk's InstallationStore interface (save, find_bot,
  find_installation, delete_bot, delete_installation, delete_all;
  https://docs.slack.dev/tools/python-slack-sdk/reference/oauth/installation_store/installation_store.html:
  "If you would like to properly handle app uninstallations and token revocations, the
  following methods should be implemented: delete_installation, delete_all"). One row per
  workspace: a reinstall replaces the row, so the row *is* the latest installation.
  Only bot installations are kept: qbsync asks for no user scopes.
- `SlackOAuthStateStore`: slack_sdk's OAuthStateStore (issue / consume). A state works once
  (consume deletes it) and only until it expires, as slack_sdk's own stores do
  (slack_sdk/oauth/state_store/sqlite3: consume deletes the row it finds within
  expiration_seconds).

Only the Store's public API is used (transaction(), query_rows), with `?` placeholders and
INSERT ... ON CONFLICT, so the same SQL runs on the PostgreSQL store being built beside it.

Tokens at rest: sealed with Fernet when QBSYNC_SECRET_KEY is set (bot/token_cipher.py), else
as they are, like the QBO refresh token (bot/store: qbo_tokens); either way protect the
database (README, "Tokens at rest"). They are never logged and never listed: `installations()`
leaves them out.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from logging import Logger

from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

from .token_cipher import TokenCipher

log = logging.getLogger(__name__)

STATE_TTL_S = 600  # bolt's default state_expiration_seconds (slack_bolt OAuthStateUtils)


@dataclass(frozen=True)
class InstalledWorkspace:
    """What `qbsync slack installations` shows: never the token."""
    team_id: str
    team_name: str
    enterprise_id: str
    app_id: str
    installed_by: str
    installed_at: float


def _key(enterprise_id: str | None, team_id: str | None) -> tuple[str, str]:
    return (enterprise_id or "", team_id or "")


class SlackInstallationStore(InstallationStore):
    def __init__(self, store, *, cipher: TokenCipher | None = None, clock=time.time):
        """cipher: seals the bot tokens (bot/token_cipher.py); default: stored as they are."""
        self.store = store
        self.cipher = cipher or TokenCipher()
        self.clock = clock

    @property
    def logger(self) -> Logger:
        return log

    # -- writes ----------------------------------------------------------------------------
    def save(self, installation: Installation) -> None:
        self.save_bot(installation.to_bot())
        if installation.user_id:
            self._set_installer(installation.enterprise_id, installation.team_id, installation.user_id)

    def save_bot(self, bot: Bot) -> None:
        if not bot.bot_token:
            return  # nothing to act with (a user-only install); qbsync asks for a bot
        enterprise_id, team_id = _key(bot.enterprise_id, bot.team_id)
        installed_at = float(bot.installed_at or self.clock())
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO slack_installations (enterprise_id, team_id, team_name, app_id, bot_token, bot_id,"
                " bot_user_id, bot_scopes, is_enterprise_install, installed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (enterprise_id, team_id) DO UPDATE SET team_name = excluded.team_name,"
                " app_id = excluded.app_id, bot_token = excluded.bot_token, bot_id = excluded.bot_id,"
                " bot_user_id = excluded.bot_user_id, bot_scopes = excluded.bot_scopes,"
                " is_enterprise_install = excluded.is_enterprise_install, installed_at = excluded.installed_at",
                (enterprise_id, team_id, bot.team_name or "", bot.app_id or "", self.cipher.seal(bot.bot_token),
                 bot.bot_id or "",
                 bot.bot_user_id or "", ",".join(bot.bot_scopes or []), 1 if bot.is_enterprise_install else 0,
                 installed_at))
        log.info("Slack workspace installed: %s", team_id)  # the id only: never the token

    def _set_installer(self, enterprise_id, team_id, user_id: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE slack_installations SET installer_user_id = ? WHERE enterprise_id = ? AND team_id = ?",
                         (user_id, *_key(enterprise_id, team_id)))

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self._delete(enterprise_id, team_id)

    def delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                            user_id: str | None = None) -> None:
        # No user tokens are kept: a user's revocation leaves the bot installation alone.
        if user_id is None:
            self._delete(enterprise_id, team_id)

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self._delete(enterprise_id, team_id)

    def _delete(self, enterprise_id, team_id) -> bool:
        with self.store.transaction() as conn:
            gone = conn.execute("DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ?",
                                _key(enterprise_id, team_id)).rowcount
        if gone:
            log.info("Slack workspace removed: %s", team_id)
        return bool(gone)

    def remove(self, team_id: str, enterprise_id: str | None = None) -> bool:
        """`qbsync slack installations remove`: True when there was one."""
        return self._delete(enterprise_id, team_id)

    # -- reads -----------------------------------------------------------------------------
    def _row(self, enterprise_id, team_id) -> dict | None:
        rows = self.store.query_rows("SELECT * FROM slack_installations WHERE enterprise_id = ? AND team_id = ?",
                                     _key(enterprise_id, team_id))
        if not rows:
            return None
        token = self.cipher.open(rows[0]["bot_token"])
        if token is None:
            return None  # unreadable (no key / another key; logged): as good as not installed
        return rows[0] | {"bot_token": token}

    def find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                 is_enterprise_install: bool | None = False) -> Bot | None:
        row = self._row(enterprise_id, team_id)
        if row is None:
            return None
        return Bot(app_id=row["app_id"] or None, enterprise_id=row["enterprise_id"] or None,
                   team_id=row["team_id"], team_name=row["team_name"], bot_token=row["bot_token"],
                   bot_id=row["bot_id"], bot_user_id=row["bot_user_id"], bot_scopes=row["bot_scopes"],
                   is_enterprise_install=bool(row["is_enterprise_install"]), installed_at=row["installed_at"])

    def find_installation(self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
                          is_enterprise_install: bool | None = False) -> Installation | None:
        row = self._row(enterprise_id, team_id)
        if row is None:
            return None
        if user_id is not None and user_id != row["installer_user_id"]:
            return None  # no user token is kept for anyone else
        return Installation(app_id=row["app_id"] or None, enterprise_id=row["enterprise_id"] or None,
                            team_id=row["team_id"], team_name=row["team_name"], bot_token=row["bot_token"],
                            bot_id=row["bot_id"], bot_user_id=row["bot_user_id"], bot_scopes=row["bot_scopes"],
                            user_id=row["installer_user_id"] or "",
                            is_enterprise_install=bool(row["is_enterprise_install"]), installed_at=row["installed_at"])

    def installations(self) -> list[InstalledWorkspace]:
        rows = self.store.query_rows(
            "SELECT team_id, team_name, enterprise_id, app_id, installer_user_id, installed_at"
            " FROM slack_installations ORDER BY installed_at, team_id")
        return [InstalledWorkspace(r["team_id"], r["team_name"], r["enterprise_id"], r["app_id"],
                                   r["installer_user_id"], float(r["installed_at"])) for r in rows]

    def app_of(self, team_id: str | None) -> str | None:
        """The app id a workspace installed (None: not installed; '' when unknown)."""
        if not team_id:
            return None
        rows = self.store.query_rows("SELECT app_id FROM slack_installations WHERE team_id = ?", (team_id,))
        return str(rows[0]["app_id"]) if rows else None


class SlackOAuthStateStore(OAuthStateStore):
    """State values for the install link: single use, expiring (bolt checks the state on the
    redirect and refuses the install when consume() says no)."""

    def __init__(self, store, *, expiration_seconds: int = STATE_TTL_S, clock=time.time):
        self.store = store
        self.expiration_seconds = expiration_seconds
        self.clock = clock

    @property
    def logger(self) -> Logger:
        return log

    def issue(self, *args, **kwargs) -> str:
        state = secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM slack_oauth_states WHERE expires_at < ?", (now,))
            conn.execute("INSERT INTO slack_oauth_states (state, expires_at) VALUES (?, ?)",
                         (state, now + self.expiration_seconds))
        return state

    def consume(self, state: str) -> bool:
        with self.store.transaction() as conn:
            taken = conn.execute("DELETE FROM slack_oauth_states WHERE state = ? AND expires_at >= ?",
                                 (state or "", self.clock())).rowcount
        return taken == 1
