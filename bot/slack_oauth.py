"""Add to Slack: bolt's OAuth flow, configured for qbsync (HTTP mode, SLACK_CLIENT_ID and
SLACK_CLIENT_SECRET set).

bolt serves the pages itself ("Authenticating with OAuth",
https://docs.slack.dev/tools/bolt-python/concepts/authenticating-oauth): `/slack/install`
with the Add to Slack button, which sends the person to Slack's consent page with a fresh
`state`, and `/slack/oauth_redirect`, where Slack sends them back with `code` and `state`;
bolt checks the state (kept in qbsync's database, single use, bot/slack_oauth_store.py),
trades the code with oauth.v2.access through the App's WebClient (so QBSYNC_SLACK_API_BASE
points it at the sandbox), and saves the installation.

Which token answers a request (`authorize`): the workspace of SLACK_BOT_TOKEN, when one is
configured, keeps that token exactly as before; any other workspace gets the token of its
installation, or nothing (bolt then refuses; bot/http_guard.py has already answered 401 for
a workspace that never installed the app). app_uninstalled / tokens_revoked events delete
the installation: bolt's enable_token_revocation_listeners() registers listeners that call
the store's delete_all / delete_bot (slack_bolt/listener/builtins.py,
https://docs.slack.dev/tools/bolt-python/reference/listener/builtins.html).
"""
from __future__ import annotations

import logging
import threading

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize, InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings

from .slack_oauth_store import SlackInstallationStore, SlackOAuthStateStore
from .slack_scopes import BOT_SCOPES
from .token_cipher import TokenCipher

log = logging.getLogger(__name__)


class HomeOrInstalledAuthorize(Authorize):
    """SLACK_BOT_TOKEN for its own workspace, else the installation store's token."""

    def __init__(self, home_client, installed: InstallationStoreAuthorize):
        """home_client: the App's WebClient with SLACK_BOT_TOKEN (token None: no home workspace)."""
        super().__init__()
        self.home_client = home_client
        self.installed = installed
        self._home: AuthorizeResult | None = None
        self._lock = threading.Lock()

    def _home_result(self) -> AuthorizeResult | None:
        if not getattr(self.home_client, "token", None):
            return None
        with self._lock:
            if self._home is None:  # asked once: the token's workspace does not change
                auth = self.home_client.auth_test()
                self._home = AuthorizeResult.from_auth_test_response(auth_test_response=auth,
                                                                    bot_token=self.home_client.token)
            return self._home

    def __call__(self, *, context, enterprise_id, team_id, user_id, **kwargs) -> AuthorizeResult | None:
        home = self._home_result()
        if home is not None and team_id == home.team_id:
            return home
        return self.installed(context=context, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
                              **kwargs)


def oauth_settings(settings, store) -> OAuthSettings:
    """bolt's OAuthSettings on qbsync's database. Production talks to slack.com; the sandbox
    override QBSYNC_SLACK_AUTHORIZE_URL moves the consent page (bolt's `authorization_url`)."""
    kwargs = {}
    if settings.slack_authorize_url:
        kwargs["authorization_url"] = settings.slack_authorize_url
    return OAuthSettings(
        client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES), user_scopes=[], redirect_uri=settings.slack_redirect_uri,
        installation_store=SlackInstallationStore(store, cipher=TokenCipher(settings.secret_key)),
        installation_store_bot_only=True,
        state_store=SlackOAuthStateStore(store), **kwargs)


def without_token(client):
    """The App's own WebClient once `authorize` picks each request's token: the same API base,
    timeout and retries, no token (bolt would ignore it, and warn that SLACK_BOT_TOKEN is
    ignored, which is not so: HomeOrInstalledAuthorize uses it for its workspace). bolt uses
    this client for oauth.v2.access (client id and secret) and copies its settings into each
    request's client."""
    from slack_sdk import WebClient

    return WebClient(base_url=client.base_url, timeout=client.timeout, retry_handlers=list(client.retry_handlers))


def app_arguments(parts) -> dict:
    """What bolt's App takes for the install flow (empty unless settings.slack_oauth)."""
    settings = parts.settings
    if not settings.slack_oauth:
        return {}
    oauth = oauth_settings(settings, parts.store)
    installed = InstallationStoreAuthorize(logger=logging.getLogger("qbsync.bolt"),
                                           installation_store=oauth.installation_store, bot_only=True)
    return {"oauth_settings": oauth, "authorize": HomeOrInstalledAuthorize(parts.slack, installed),
            "client": without_token(parts.slack)}
