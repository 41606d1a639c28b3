"""Two Slack workspaces, each installed through Add to Slack (HTTP mode), each with a connection
(bot/connections.py) bound to its own channel and its own company in the one sandbox: every
`/qbsync`, button and App Home acts on the connection of the channel it comes from
(handlers/tenancy.py), and nobody sees another connection's data. The env company keeps
working beside them."""
from __future__ import annotations

import json
import re

import pytest

from bot.app import tenants_of
from bot.slack.messages import ACTION_ACK, ACTION_FIX
from handlers.texts import t
from sandbox import scenario as scenarios
from sandbox import slack_payloads as payloads
from sandbox.app import Sandbox
from sandbox.slack_blocks import iter_elements
from sandbox.slack_http import encode, post_signed
from sandbox.slack_workspace import ALERT_CHANNEL

from . import two_companies
from .conftest import ALICE
from .slack_install import ACME, ANNA, BEN, BETA, NEVER, NORA, oauth_bot
from .test_slack_install import install

NUMBER = re.compile(r"\b(ACME|BETA|INV)-\d{4}\b")
FREE_CHANNEL = "C0BETAFREE1"  # a channel of Beta's workspace that no connection owns


def world(name: str, prefix: str) -> dict:
    """A shipped scenario whose invoice numbers start with `prefix` (everywhere it names
    them), so each company's alerts can be told apart by number."""
    return json.loads(json.dumps(scenarios.read(name)).replace("INV-", prefix))


def numbers(text: str) -> set[str]:
    return {m.group(1) for m in NUMBER.finditer(text)}


def channel_text(bot, channel: str) -> str:
    return "\n".join(m.visible_text() for m in bot.d.transcript(channel))


def connect(bot, connection_id: str, company, fixer: str) -> None:
    """A connection named after its id whose only fixer is `fixer` (tests/e2e/two_companies.py)."""
    two_companies.connect(bot, connection_id, company, {"QBSYNC_FIX_ALLOWED": fixer}, name=connection_id.title())


def slash(bot, user: str, channel: str, text: str) -> str:
    """`/qbsync text` typed by `user` in `channel`: the one ephemeral answer."""
    before = len(bot.d.ephemerals(user))
    d = bot.d.slash(user, "/qbsync", text, channel=channel)
    assert d.acked and d.in_time, (text, d.status, d.elapsed_s)
    bot.d.wait_for(lambda: len(bot.d.ephemerals(user)) > before, timeout=10)
    return bot.d.ephemerals(user)[before].text


@pytest.fixture
def sb():
    s = Sandbox(slack_post_rate_per_s=100, slack_post_burst=100).start()
    yield s
    s.stop()


def test_two_workspaces_each_see_and_act_on_only_their_own_company(make_bot, sb):
    bot = oauth_bot(make_bot, sb, "duplicate-display-name")       # the env company: INV-... in C0ALERTS01
    assert install(bot, ACME)[0] == 200 and install(bot, BETA)[0] == 200
    acme = sb.add_company(world("missing-customer", "ACME-"), key="acme", team_id=ACME)
    beta = sb.add_company(world("duplicate-doc-number", "BETA-"), key="beta", team_id=BETA)
    ws = sb.slack.workspace
    ws.add_channel(FREE_CHANNEL, "general", members=[BEN, ws.teams[BETA].bot_user_id], team_id=BETA)
    connect(bot, "acme", acme, ANNA)
    connect(bot, "beta", beta, BEN)

    # Acme's scan from Slack (`/qbsync scan` in its channel scans its connection, answered in
    # Anna's Dutch); Beta's through the real Scanner of its own parts; the env company's too.
    tenants = tenants_of(bot.app)
    before = len(bot.d.ephemerals(ANNA))
    assert bot.d.slash(ANNA, "/qbsync", "scan", channel=acme.channel).acked
    done = bot.d.wait_for(lambda: [e.text for e in bot.d.ephemerals(ANNA)[before:]
                                   if e.text != t("nl", "scanning")], timeout=20)
    assert len(done) == 1, done
    checked, failing, created, resolved = (int(n) for n in re.findall(r"\d+", done[0]))
    assert done[0] == t("nl", "scan_done", checked=t("nl", "scan_checked", count=checked),
                        failing=t("nl", "scan_failing", count=failing), created=t("nl", "scan_created", count=created),
                        resolved=t("nl", "scan_resolved", count=resolved))  # each count in its own form
    assert created == len(tenants.for_connection("acme").store.list_alerts()) > 0
    result = tenants.for_connection("beta").run_scan(wait=True)
    assert result is not None and not result.problem and result.created, result
    assert bot.scan().created

    # Each workspace's channel has its own company's alerts only (and the env company's its own).
    assert numbers(channel_text(bot, acme.channel)) == {"ACME"}
    assert numbers(channel_text(bot, beta.channel)) == {"BETA"}
    assert numbers(channel_text(bot, ALERT_CHANNEL)) == {"INV"}
    # ...posted with each workspace's own bot token (the stand-in also refuses a post into a
    # channel of another workspace than the token's).
    posters = {team for method, team in sb.slack.service.callers if method == "chat.postMessage"}
    assert {ACME, BETA} <= posters
    acme_store, beta_store = tenants.for_connection("acme").store, tenants.for_connection("beta").store
    assert {a["rule"] for a in acme_store.list_alerts()} == {"missing-customer"}
    assert {a["rule"] for a in beta_store.list_alerts()} == {"duplicate-doc-number"}

    # /qbsync status and list answer about the channel's connection only.
    status_a, list_a = slash(bot, ANNA, acme.channel, "status"), slash(bot, ANNA, acme.channel, "list")
    status_b, list_b = slash(bot, BEN, beta.channel, "status"), slash(bot, BEN, beta.channel, "list")
    assert "`missing-customer`" in status_a and "duplicate-doc-number" not in status_a
    assert "`duplicate-doc-number`" in status_b and "missing-customer" not in status_b
    assert numbers(list_a) == {"ACME"} and numbers(list_b) == {"BETA"}
    # The env company's channel in its own workspace: "default", exactly as before.
    assert numbers(slash(bot, ALICE, ALERT_CHANNEL, "list")) == {"INV"}

    # A channel of Beta's workspace that no connection owns: told so, in Ben's language (es).
    assert slash(bot, BEN, FREE_CHANNEL, "status") == t("es", "not_connected", channel=FREE_CHANNEL)

    # A button click from Beta carrying an alert key of Acme (a forged value on Beta's own
    # message) is looked up in Beta's store, not found, and nothing is sent to HubSpot or QBO.
    a_parent = next(m for m in bot.d.transcript(acme.channel) if not m.is_reply and m.blocks)
    block_id, a_fix = next((b, el) for b, el in iter_elements(a_parent.blocks)
                           if str(el.get("action_id", "")).startswith(ACTION_FIX))
    b_parent = next(m for m in bot.d.transcript(beta.channel) if not m.is_reply and m.blocks)
    a_alerts_before = {a["key"]: a["state"] for a in acme_store.list_alerts()}
    assert beta_store.get_alert(next(iter(a_alerts_before))) is None       # precondition: Acme's keys
    calls_before = (sb.log.count("hubspot"), sb.log.count("qbo"))
    before = len(bot.d.ephemerals(BEN))
    forged_click(bot, BEN, beta.channel, b_parent, payloads.action(a_fix, block_id, None))
    bot.d.wait_for(lambda: len(bot.d.ephemerals(BEN)) > before, timeout=10)
    assert bot.d.ephemerals(BEN)[before].text == t("es", "alert_missing")
    assert (sb.log.count("hubspot"), sb.log.count("qbo")) == calls_before       # not one request, so no write
    assert {a["key"]: a["state"] for a in acme_store.list_alerts()} == a_alerts_before
    refused = [e for e in beta_store.audit_entries(actor=BEN) if e["outcome"] == "noop"]
    assert refused and refused[-1]["action"] == a_fix["action_id"].replace("qbsync:", "slack:", 1)
    assert not acme_store.audit_entries(actor=BEN)

    # The same person's own button on their own connection's alert does act (in Beta's store).
    ack = bot.d.click(BEN, beta.channel, b_parent.ts, ACTION_ACK)
    assert ack.acked
    b_key = next(a["key"] for a in beta_store.list_alerts() if a["ts"] == b_parent.ts)
    bot.d.wait_for(lambda: beta_store.get_alert(b_key)["state"] == "acknowledged", timeout=10)

    # App Home: each workspace's own connections, never the other's. Beta's workspace gets a
    # second company (not scanned yet): Ben's Home is Beta's, with a line naming the other.
    gamma = sb.add_company(world("missing-customer", "GAMMA-"), key="gamma", team_id=BETA)
    connect(bot, "gamma", gamma, BEN)
    for user, mine in ((BEN, "BETA"), (ANNA, "ACME")):
        bot.d.open_home(user)
        home = bot.d.wait_for(lambda u=user: bot.d.home(u), timeout=10)
        shown = json.dumps(home["blocks"], ensure_ascii=False)
        assert numbers(shown) == {mine}, (user, home["blocks"])
        assert (t("es", "home_other", name="Gamma", count=0) in shown) == (user == BEN)
    # A third workspace installs the app but has no connection: its Home says how to connect one.
    assert install(bot, NEVER)[0] == 200
    bot.d.open_home(NORA)
    home = bot.d.wait_for(lambda: bot.d.home(NORA), timeout=10)
    shown = json.dumps(home["blocks"], ensure_ascii=False)
    assert t("en", "home_not_connected") in shown and not numbers(shown)


def forged_click(bot, user: str, channel: str, message, act: dict):
    """A signed block_actions delivery of `act` on `message` in `channel` by `user`, as Slack
    would send it (the value is whatever the message's button carried: here, forged)."""
    ws = bot.sb.slack.workspace
    with ws.lock:
        u = ws.users[user]
        trigger = ws.mint_trigger(user)
        url = ws.mint_response_url(bot.sb.slack.url, "actions", channel, user, message_ts=message.ts)
        payload = payloads.block_actions_on_message(u, channel, ws.channels[channel].name, message, act,
                                                    response_url=url, trigger_id=trigger)
    body, ctype = encode("interactive", payload)
    r = post_signed(bot.runner.url, body, ctype, ws.signing_secret, timeout=5)
    assert r.status == 200, r
    return r
