"""Build qbsync's parts from Settings: the one place that knows which setting feeds which
constructor. Commands (run, doctor, explain, demo) ask here instead of each building
adapters their own way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Settings


def pacers(settings: Settings):
    """How the adapters pace their requests. With PostgreSQL (workers on any number of
    machines) the requests per QBO company and per HubSpot token are counted in the database,
    so all workers together stay under one company's limits (bot/adapters/shared_pacing.py);
    with SQLite (one process) the process-local pacers (None: the adapters' default)."""
    if settings.database_url:
        from .adapters.shared_pacing import pg_pacers

        return pg_pacers(settings.database_url)
    return None


def channel_pacers(settings: Settings, interval: float):
    """With PostgreSQL: channel -> a pacer counting every process's posts to that Slack channel
    (one per `interval`, Slack's per-channel pace for chat.postMessage: apis.md), so workers and
    the listener together keep it. Channel ids are unique across workspaces. SQLite: None."""
    if not settings.database_url:
        return None
    from .adapters.shared_pacing import shared_pg_pacer

    url = settings.database_url
    return lambda channel: shared_pg_pacer(url, f"slack-post:{channel}", [(1, float(interval))])


def hubspot_adapter(settings: Settings, **overrides):
    from .adapters.hubspot import HubSpotAdapter

    kwargs: dict[str, Any] = {"source_property": settings.hubspot_source_property,
              "sync_sources": settings.hubspot_sync_sources, "pacers": pacers(settings)}
    kwargs.update(overrides)
    return HubSpotAdapter(settings.hubspot_token, host=settings.hubspot_api_base, **kwargs)


def qbo_adapter(settings: Settings, store, **overrides):
    from .adapters.quickbooks import QuickBooksAdapter

    overrides.setdefault("pacers", pacers(settings))
    return QuickBooksAdapter(
        client_id=settings.qbo_client_id, client_secret=settings.qbo_client_secret,
        realm_id=settings.qbo_realm_id, refresh_token=settings.qbo_refresh_token,
        environment=settings.qbo_environment, store=store, api_base=settings.qbo_api_base,
        redirect_uri=settings.qbo_redirect_uri, **overrides)


def slack_client(settings: Settings):
    from .slack.client import make_web_client

    return make_web_client(settings.slack_bot_token, base_url=settings.slack_api_base)


@dataclass
class Parts:
    settings: Settings
    store: object
    hubspot: object
    qbo: object
    slack: object      # slack_sdk WebClient
    poster: object     # bot.slack.client.SlackPoster
    alerts: object     # bot.alerts.AlertService
    scanner: object    # bot.scan.Scanner
    digest: object = None  # bot.digest_service.DigestService


def build(settings: Settings, *, store=None, post_interval: float = 1.0, incremental: bool = True,
          hubspot_options: dict | None = None, qbo_options: dict | None = None) -> Parts:
    """Every part the bot runs with. `post_interval`: seconds between posts per channel.
    `incremental`: the scanner runs the incremental poll cycle over the local QBO mirror and
    invoice cache (bot/poller.py); False: the complete scan that reads everything live.
    `hubspot_options` / `qbo_options`: extra adapter arguments (tests shorten waits with them)."""
    from .alerts import AlertService
    from .digest_service import DigestService
    from .links import RecordLinks
    from .scan import Scanner
    from .slack.client import ChannelPacer, SlackPoster
    from .store import Store

    store = store or Store(settings.store_target)
    hubspot = hubspot_adapter(settings, **(hubspot_options or {}))
    qbo = qbo_adapter(settings, store, **(qbo_options or {}))
    slack = slack_client(settings)
    poster = SlackPoster(slack, pacer=ChannelPacer(post_interval, shared=channel_pacers(settings, post_interval)))
    links = RecordLinks(getattr(hubspot, "account_details", None), settings.qbo_environment)
    alerts = AlertService(store, poster, settings.alert_channel or "", lang=settings.language,
                          fix_timeout_s=settings.fix_timeout_s, grace_s=settings.grace_minutes * 60, links=links,
                          remind_after_s=settings.remind_after_hours * 3600,
                          reminders_per_day=settings.reminders_per_day, fixers=settings.fix_allowed,
                          routes=settings.route_map)
    scanner = Scanner(hubspot, qbo, store, alerts, grace_minutes=settings.grace_minutes, incremental=incremental)
    scanner.digest = DigestService(store, poster, settings.alert_channel or "", mode=settings.digest,
                                   at=settings.digest_at, lang=settings.language)
    return Parts(settings, store, hubspot, qbo, slack, poster, alerts, scanner, scanner.digest)


def build_listener(settings: Settings, *, store=None) -> Parts:
    """The listener's own parts when no company is configured from the environment (an install
    with connections only, `qbsync run`): the main store (connections, Add to Slack
    installations, the replay ledger, scan jobs) and a Slack client from the Slack app's
    settings, and no HubSpot or QuickBooks adapter, poster, alerts or scanner (None). Every
    company's parts come from build_for_connection; handlers/tenancy.py never picks these."""
    from .store import Store

    store = store or Store(settings.store_target)
    return Parts(settings, store, hubspot=None, qbo=None, slack=slack_client(settings), poster=None,
                 alerts=None, scanner=None)


def is_listener_only(parts) -> bool:
    """True for build_listener's parts: there is no "default" company to scan or answer for."""
    return parts.scanner is None


def connection_credentials(settings: Settings, main_store, connection) -> tuple[str | None, str | None]:
    """(HubSpot token, Slack bot token) of a connection (bot/connections.py), read from the main
    store: its sealed HubSpot credential, and its workspace's installation from Add to Slack
    (or SLACK_BOT_TOKEN when the connection is in the workspace that token belongs to and no
    installation is stored). None where nothing usable is stored: the caller reports it."""
    from .connections import ConnectionRegistry
    from .slack_oauth_store import SlackInstallationStore
    from .token_cipher import TokenCipher

    cipher = TokenCipher(settings.secret_key)
    secret = ConnectionRegistry(main_store, cipher=cipher).hubspot_secret(connection.id) or {}
    hubspot_token: str | None
    if connection.hubspot_auth == "oauth":
        from .hubspot_oauth import current_access_token  # refreshes an expired access token

        hubspot_token = current_access_token(settings, main_store, connection, secret, cipher=cipher)
    else:
        hubspot_token = secret.get("token")
    bot = SlackInstallationStore(main_store, cipher=cipher).find_bot(enterprise_id=None,
                                                                      team_id=connection.slack_team_id)
    slack_token = bot.bot_token if bot is not None else None
    return hubspot_token, slack_token or settings.slack_bot_token


def build_for_connection(settings: Settings, main_store, connection_id: str, **kwargs) -> Parts:
    """Every part for one connection: its own store (bot/store Store(connection=...)), its
    HubSpot portal, QuickBooks company and Slack channel, its per-company settings. "default":
    the company configured from the environment, exactly as build() makes it."""
    from .connections import DEFAULT_CONNECTION, ConnectionRegistry, settings_for
    from .errors import ConfigError
    from .store import Store

    if connection_id == DEFAULT_CONNECTION:
        return build(settings, store=main_store, **kwargs)
    connection = ConnectionRegistry(main_store).require(connection_id)
    if not connection.complete:
        raise ConfigError([f"connection {connection_id!r} is not fully connected yet: "
                           f"missing {', '.join(connection.missing)} (qbsync connect ...)"])
    hubspot_token, slack_token = connection_credentials(settings, main_store, connection)
    mine = settings_for(settings, connection, hubspot_token=hubspot_token, slack_bot_token=slack_token)
    return build(mine, store=Store(main_store.main_path, connection=connection_id), **kwargs)
