"""Many companies in one sandbox: each `SandboxCompany` is one HubSpot portal, one QuickBooks
company (realm) and one Slack channel (in a workspace), with the simulated integration
between its portal and its realm, the way a qbsync connection sees the real services.

The sandbox serves them all on the same three servers, routed as the real services route:
HubSpot by the bearer token (a token belongs to one portal, sandbox/hubspot_http.py), QBO by
the realm id in the URL (each refresh token is issued for one realm, sandbox/qbo_oauth.py),
Slack by channel (a bot token sees its own workspace's channels only, sandbox/slack.py).

    with Sandbox() as sb:
        a = sb.add_company("duplicate-doc-number")
        b = sb.add_company("missing-customer", team_id="T0ACME0001")
        env_a = a.environment()          # what qbsync needs for company a (as bot_environment())

Company 0 is the sandbox's own (`sb.portal`, `sb.qbo`, `sb.integration`, `C0ALERTS01`): its
ids come from its scenario, exactly as before. Every added company gets ids of its own
(portal id, realm id, tokens, channel), whatever its scenario says, so two companies loaded
from one scenario never share an id where the real services would not; record ids inside
them may repeat (HubSpot ids are per portal, QBO ids per realm).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import scenario as scenarios
from .hubspot import HubSpotPortal
from .integration import Integration
from .qbo import QboCompany
from .slack_workspace import BOT_TOKEN, TEAM_ID

if TYPE_CHECKING:  # pragma: no cover
    from .app import Sandbox

# Ids of added companies: far from the shipped scenarios' (portal 24681357, realm
# 9341453189012345) and from each other. Numbers only, as HubSpot portal ids and QBO realm
# ids are.
PORTAL_ID_BASE = 40_000_000
REALM_ID_BASE = 9_341_453_190_000_000
PEOPLE = ("U0ALICE001", "U0BRAM0001", "U0CARMEN01")  # the default workspace's people


def read_world(world: str | Path | dict, *, validate: bool = True) -> dict:
    """A scenario: a shipped name, a path, or a dict (validated unless told not to; a generated
    50,000-invoice world is valid by construction and slow to check)."""
    if isinstance(world, dict):
        if validate:
            scenarios.validate(world)
        return world
    return scenarios.read(world)


@dataclass(eq=False)
class SandboxCompany:
    """One company of a Sandbox. Build it with `Sandbox.add_company`, not directly."""

    sandbox: "Sandbox" = field(repr=False)
    index: int                      # 0: the sandbox's own company
    key: str                        # a short name for tests and logs ("c1", or what was asked)
    portal: HubSpotPortal = field(repr=False)
    qbo: QboCompany = field(repr=False)
    integration: Integration = field(repr=False)
    hubspot_token: str              # a legacy private app's token (pat-...) for this portal only
    hubspot_service_key: str        # a service key for this portal only (no pat- shape)
    channel: str                    # its alert channel
    team_id: str                    # the Slack workspace the channel is in
    slack_bot_token: str            # the bot token of that workspace
    scenario: dict | None = field(default=None, repr=False)
    fixed_ids: tuple[int, str] | None = field(default=None, repr=False)  # (portal id, realm id); None: company 0

    @property
    def portal_id(self) -> int:
        return self.portal.portal_id

    @property
    def realm_id(self) -> str:
        return self.qbo.realm_id

    def load(self, world: str | Path | dict, *, validate: bool = True, sync: bool = True) -> dict:
        """Replace this company's data with a scenario (as `Sandbox.load` does for company 0);
        an added company keeps its own portal and realm ids whatever the scenario names."""
        if self.fixed_ids is None:
            return self.sandbox.load(world, validate=validate, sync=sync)
        data = read_world(world, validate=validate)
        portal_id, realm_id = self.fixed_ids
        self.portal.load({**(data.get("hubspot") or {}), "portal_id": portal_id})
        self.qbo.load({**(data.get("qbo") or {}), "realm_id": realm_id})
        self.integration.load(data.get("integration", {}))
        self.scenario = data
        if sync:
            self.integration.run_once(force=True)
        return data

    def new_qbo_refresh_token(self) -> str:
        """A refresh token for this company's realm only, as `qbsync connect quickbooks` gets it."""
        return self.sandbox.qbo_service.issue_refresh_token(self.realm_id)

    def pick_for_consent(self) -> None:
        """Make this the QBO company the person picks on Intuit's consent page, so that
        `qbsync connect quickbooks` (or any OAuth authorize) ends on its realm."""
        self.sandbox.qbo_service.consent_realm = self.realm_id

    def environment(self, *, refresh_token: str | None = None, hubspot: str = "private_app") -> dict[str, str]:
        """Settings (env var -> value) that point qbsync at this company: the same keys as
        `Sandbox.bot_environment()`. `hubspot`: "private_app" (pat-...) or "service_key"."""
        tokens = {"private_app": self.hubspot_token, "service_key": self.hubspot_service_key}
        return self.sandbox.environment_for(
            hubspot_token=tokens[hubspot], realm_id=self.realm_id,
            refresh_token=refresh_token or self.new_qbo_refresh_token(),
            slack_bot_token=self.slack_bot_token, channel=self.channel)


def new_company(sb: "Sandbox", index: int, *, key: str | None, channel: str | None,
                team_id: str | None) -> SandboxCompany:
    """A fresh, empty company number `index` (>= 1) with ids, tokens and a channel of its own,
    registered with the sandbox's three services."""
    used_portals = {c.portal_id for c in sb.companies}
    used_realms = {c.realm_id for c in sb.companies}
    portal_id = PORTAL_ID_BASE + index
    while portal_id in used_portals:
        portal_id += 1_000_000
    realm_id = str(REALM_ID_BASE + index)
    while realm_id in used_realms:
        realm_id = str(int(realm_id) + 1_000_000)
    portal = HubSpotPortal(sb.clock, portal_id=portal_id)
    qbo = QboCompany(sb.clock, realm_id=realm_id)
    integration = Integration(portal, qbo, sb.clock)
    # Tokens: a private app's pat-<region>-<uuid> shape, and an opaque service key.
    hubspot_token = f"pat-na1-sandbox-{index:04d}-0000-{portal_id:012d}"
    service_key = f"CiRzYW5kYm94LXNlcnZpY2Uta2V5{index:06d}EgZuYTEtc2sY"
    sb.hubspot_service.add_token(hubspot_token, portal)
    sb.hubspot_service.add_token(service_key, portal)
    sb.qbo_service.add_company(qbo)
    team, bot_token = _slack_team(sb, team_id or TEAM_ID)
    channel = channel or f"C0CO{index:05d}"
    ws = sb.slack.workspace
    members = [team.bot_user_id] + (list(PEOPLE) if team.id == TEAM_ID else [team.installer])
    ws.add_channel(channel, f"qbsync-{key or f'c{index}'}", members=members, team_id=team.id)
    return SandboxCompany(sb, index, key or f"c{index}", portal, qbo, integration, hubspot_token, service_key,
                          channel, team.id, bot_token, fixed_ids=(portal_id, realm_id))


def _slack_team(sb: "Sandbox", team_id: str):
    """The workspace `team_id` (made, with one person, if the stand-in does not know it) and a
    bot token for it: the default workspace's BOT_TOKEN, else the token its Add to Slack
    install got (sandbox/slack_oauth.py), else one minted as if the app were installed there."""
    ws = sb.slack.workspace
    with ws.lock:
        team = ws.teams.get(team_id)
        if team is None:
            suffix = team_id[2:] if len(team_id) > 2 else team_id
            team = ws.add_team(team_id, f"Team {suffix}", installer=f"U0IN{suffix}", installer_name=f"owner-{suffix}")
        if team.id == TEAM_ID:
            return team, BOT_TOKEN
        for token, t in ws.tokens.items():
            if t.team_id == team.id and t.kind == "bot" and not t.revoked:
                return team, token
        from bot.slack_scopes import BOT_SCOPES  # the scopes qbsync's manifest asks for

        token = f"xoxb-{team.id[1:]}-0000000000001-sandboxbottoken{team.id[1:].lower()}"
        ws.add_token(token, "bot", BOT_SCOPES, team.bot_user_id, team_id=team.id)
        return team, token
