"""The whole sandbox in one object: HubSpot, QBO and Slack stand-ins on 127.0.0.1 (each on a
port of its own, as the real services live on different hosts), the simulated integration
between them, one clock and one request log. `sb.slack.driver` plays the Slack users.

    with Sandbox() as sb:
        sb.load("mixed")                    # a shipped scenario, a path, or a dict
        env = sb.bot_environment()          # settings that point qbsync at the stand-ins
        ...

Tests and the demo use this; production code never imports it.
"""
from __future__ import annotations

from pathlib import Path

from .clock import Clock
from .companies import SandboxCompany, new_company, read_world
from .hubspot import HubSpotPortal
from .hubspot_http import HubSpotService
from .hubspot_oauth import HubSpotOAuth
from .integration import Integration
from .qbo import QboCompany, QboService
from .server import RequestLog, ServiceServer
from .slack import SlackStandIn
from .slack_workspace import ALERT_CHANNEL, APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, TEAM_ID

# Credentials the stand-ins accept. They are not secrets: they only open the local sandbox.
# HubSpot: a legacy private app's token (pat-<region>-<uuid>) and a service key, the only
# credential new HubSpot accounts can create since legacy private apps were closed to new
# creation (2026-10-26). HubSpot documents no format for service keys; this one is opaque
# on purpose (no `pat-`, base64url characters), so nothing in qbsync may rely on a shape.
HUBSPOT_TOKEN = "pat-na1-sandbox-0000-0000-000000000000"
HUBSPOT_SERVICE_KEY = "CiRzYW5kYm94LXNlcnZpY2Uta2V5EgZuYTEtc2sYwMDe_Zb9Lw-Q2xHY7aBn"
QBO_CLIENT_ID = "ABsandboxClientId000000000000000000000000000000"
QBO_CLIENT_SECRET = "sandbox-client-secret-000000000000000"


class Sandbox:
    def __init__(self, *, hubspot_limit_per_10s: int | None = None, hubspot_searches_per_s: int | None = None,
                 qbo_per_minute: int | None = None, qbo_per_second: int | None = None,
                 slack_post_rate_per_s: float = 1.0, slack_post_burst: int = 4,
                 slack_method_limits: dict[str, int | None] | None = None, slack_non_marketplace: bool = False):
        self.clock = Clock()
        self.log = RequestLog()
        self.portal = HubSpotPortal(self.clock)
        self.qbo = QboCompany(self.clock)
        self.integration = Integration(self.portal, self.qbo, self.clock)
        hs_kw = {}
        if hubspot_limit_per_10s is not None:
            hs_kw["limit_per_10s"] = hubspot_limit_per_10s
        if hubspot_searches_per_s is not None:
            hs_kw["searches_per_second"] = hubspot_searches_per_s
        self.hubspot_service = HubSpotService(self.portal, clock=self.clock,
                                              tokens={HUBSPOT_TOKEN: None, HUBSPOT_SERVICE_KEY: None}, **hs_kw)
        # HubSpot's OAuth pages and token endpoints, on the HubSpot host (register_app first).
        self.hubspot_oauth = HubSpotOAuth(self.hubspot_service)
        qbo_kw = {}
        if qbo_per_minute is not None:
            qbo_kw["per_minute_limit"] = qbo_per_minute
        if qbo_per_second is not None:
            qbo_kw["per_second_limit"] = qbo_per_second
        self.qbo_service = QboService(self.qbo, clock=self.clock, client_id=QBO_CLIENT_ID,
                                      client_secret=QBO_CLIENT_SECRET, **qbo_kw)
        # slack_method_limits / slack_non_marketplace: Slack's per-method tiers (sandbox/slack_limits.py).
        self.slack = SlackStandIn(self.clock, post_rate_per_s=slack_post_rate_per_s,
                                  post_burst=slack_post_burst, method_limits=slack_method_limits,
                                  non_marketplace=slack_non_marketplace)
        self._servers: list[ServiceServer] = []
        self.scenario: dict | None = None
        # Company 0 is the objects above; add_company() adds more (sandbox/companies.py).
        self.companies: list[SandboxCompany] = [SandboxCompany(
            self, 0, "c0", self.portal, self.qbo, self.integration, HUBSPOT_TOKEN, HUBSPOT_SERVICE_KEY,
            ALERT_CHANNEL, TEAM_ID, BOT_TOKEN)]

    # -- life cycle -------------------------------------------------------------------------
    def start(self, *, hubspot_port: int = 0, qbo_port: int = 0, slack_port: int = 0) -> "Sandbox":
        """Serve the stand-ins (port 0: any free port)."""
        if self._servers:
            return self
        self.hubspot_server = ServiceServer(self.hubspot_service, self.log, hubspot_port).start()
        self.qbo_server = ServiceServer(self.qbo_service, self.log, qbo_port).start()
        self._servers = [self.hubspot_server, self.qbo_server]
        self.slack.start(self.log, port=slack_port)
        return self

    def stop(self) -> None:
        for company in self.companies:
            company.integration.stop()
        for server in self._servers:
            server.stop()
        self.slack.stop()
        self._servers = []

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def faults(self, rate: float = 0.2, *, services=("hubspot", "qbo", "slack"), kinds=None,
               seed: int | None = None, slow_s: float = 0.5, **kw):
        """Inject random faults (sandbox/faults.py) on the given services' servers from now on;
        rate=0 stops. Returns the FaultPlan (its `configure()` changes it while running)."""
        from .faults import KINDS, FaultPlan

        plan = FaultPlan(rate, kinds or KINDS, seed, slow_s, services=services, **kw)
        for server in (self.hubspot_server, self.qbo_server, self.slack.server):
            server.faults = plan
        return plan

    # -- worlds -----------------------------------------------------------------------------
    def load(self, world: str | Path | dict, *, validate: bool = True, sync: bool = True) -> dict:
        """Load a scenario (shipped name, path, or dict) into empty models. With `sync`, the
        integration makes its first pass at once, as if the invoices had been around for a
        while (their age says how long)."""
        data = read_world(world, validate=validate)
        self.portal.load(data.get("hubspot", {}))
        self.qbo.load(data.get("qbo", {}))
        self.integration.load(data.get("integration", {}))
        # A scenario may name its own realm: the QBO stand-in routes by realm id.
        self.qbo_service.add_company(self.qbo)
        self.scenario = data
        self.companies[0].scenario = data
        if sync:
            self.integration.run_once(force=True)
        return data

    def add_company(self, world: str | Path | dict | None = None, *, key: str | None = None,
                    channel: str | None = None, team_id: str | None = None, validate: bool = True,
                    sync: bool = True) -> SandboxCompany:
        """Another company on the same servers: a new HubSpot portal, QBO company (realm) and
        integration, tokens for that portal and realm only, and an alert channel (`channel`, or
        C0CO<n>) with the bot in it, in the default Slack workspace or in `team_id` (made if
        the stand-in does not know it). `world` (as `load` takes, or a generated world from
        sandbox/generate.py) is loaded into it with its own portal and realm ids."""
        if key is not None and any(c.key == key for c in self.companies):
            raise ValueError(f"a company with key {key!r} exists already")
        if channel is not None and channel in self.slack.workspace.channels:
            raise ValueError(f"channel {channel!r} exists already: each company has a channel of its own")
        company = new_company(self, len(self.companies), key=key, channel=channel, team_id=team_id)
        self.companies.append(company)
        if world is not None:
            company.load(world, validate=validate, sync=sync)
        return company

    def company(self, key: str) -> SandboxCompany:
        """The company with this key ("c0" is the sandbox's own)."""
        for company in self.companies:
            if company.key == key:
                return company
        raise KeyError(key)

    # -- how the bot reaches it -------------------------------------------------------------
    @property
    def hubspot_url(self) -> str:
        return self.hubspot_server.url

    @property
    def hubspot_authorize_url(self) -> str:
        """The stand-in for https://app.hubspot.com/oauth/authorize (QBSYNC_HUBSPOT_AUTHORIZE_URL)."""
        return f"{self.hubspot_server.url}/oauth/authorize"

    @property
    def qbo_url(self) -> str:
        return self.qbo_server.url

    @property
    def qbo_api_base(self) -> str:
        return f"{self.qbo_server.url}/v3"

    @property
    def qbo_discovery_url(self) -> str:
        return f"{self.qbo_server.url}/.well-known/openid_sandbox_configuration"

    @property
    def slack_url(self) -> str:
        return self.slack.url

    @property
    def slack_api_base(self) -> str:
        """Slack Web API base for WebClient(base_url=...), with its trailing slash."""
        return self.slack.api_base

    @property
    def realm_id(self) -> str:
        return self.qbo.realm_id

    def new_qbo_refresh_token(self) -> str:
        """A refresh token as `qbsync connect quickbooks` would have obtained it."""
        return self.qbo_service.issue_refresh_token()

    def bot_environment(self, *, refresh_token: str | None = None, hubspot: str = "private_app") -> dict[str, str]:
        """Settings (env var -> value) that point qbsync at this sandbox. `hubspot`: which
        HubSpot credential qbsync gets, "private_app" (pat-...) or "service_key"."""
        tokens = {"private_app": HUBSPOT_TOKEN, "service_key": HUBSPOT_SERVICE_KEY}
        return self.environment_for(hubspot_token=tokens[hubspot], realm_id=self.realm_id,
                                    refresh_token=refresh_token or self.new_qbo_refresh_token(),
                                    slack_bot_token=BOT_TOKEN, channel=ALERT_CHANNEL)

    def environment_for(self, *, hubspot_token: str, realm_id: str, refresh_token: str, slack_bot_token: str,
                        channel: str) -> dict[str, str]:
        """The settings for one company (bot_environment() and SandboxCompany.environment())."""
        return {
            "HUBSPOT_ACCESS_TOKEN": hubspot_token,
            "QBSYNC_HUBSPOT_API_BASE": self.hubspot_url,
            "QBO_CLIENT_ID": QBO_CLIENT_ID,
            "QBO_CLIENT_SECRET": QBO_CLIENT_SECRET,
            "QBO_REALM_ID": realm_id,
            "QBO_REFRESH_TOKEN": refresh_token,
            "QBO_ENVIRONMENT": self.qbo_discovery_url,
            "QBSYNC_QBO_API_BASE": self.qbo_api_base,
            "SLACK_BOT_TOKEN": slack_bot_token,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "QBSYNC_ALERT_CHANNEL": channel,
            "QBSYNC_SLACK_API_BASE": self.slack_api_base,
        }
