"""Issue #12's alerts on an install with two companies (issue #13's connections), end to end
through the Slack stand-in and the real bot: connection A (Acme's workspace, Dutch) and B
(Beta's workspace, Spanish), both loaded from the `mixed` scenario so their invoice numbers are
the same (tests/e2e/two_companies.py). Checked per connection here: record links, permalinks,
language, routes, history and export; reminders, the digest and bulk fix are in
test_alerts_per_connection_jobs.py."""
from __future__ import annotations

import csv
import io
import re

import pytest

from bot.slack.texts import t as slack_t
from sandbox.slack_blocks import iter_elements
from sandbox.app import Sandbox

from bot.cli import main
from bot.connections import ConnectionRegistry
from bot.slack.messages import ACTION_ACK
from sandbox.slack_workspace import ALERT_CHANNEL, BOT_USER_ID

from .conftest import ALICE
from .slack_install import ACME, ANNA, BEN, BETA
from .two_companies import ARNO, BERTA, blocks_text, two_companies

DEFAULT_PORTAL = 24681357  # the mixed scenario's own portal (the env company's)
CAUSE_WORDS = {"nl": "is al in gebruik", "es": "ya existe en QuickBooks"}
CONFIRM_WORDS = {"nl": "Toepassen", "es": "Aplicar"}
EXPLAIN_WORDS = {"nl": "Factuur INV-1005 is na de synchronisatie", "es": "La factura INV-1005 se modificó"}
STATUS_WORDS = {"nl": "Open meldingen: 6", "es": "Alertas abiertas: 6"}


@pytest.fixture
def sb():
    s = Sandbox(slack_post_rate_per_s=100, slack_post_burst=100).start()
    yield s
    s.stop()


def _evidence_keys(evidence: dict) -> set[str]:
    """Every key of an alert's evidence, the rule's fields nested under "finding" included."""
    out = set(evidence)
    for value in evidence.values():
        if isinstance(value, dict):
            out |= _evidence_keys(value)
    return out


def hubspot_links(text: str) -> set[str]:
    """Portal ids of the HubSpot record links in a message."""
    return set(re.findall(r"https://app\.hubspot\.com/contacts/(\d+)/record/", text))


def qbo_invoice_links(text: str) -> set[str]:
    return set(re.findall(r"https://app\.sandbox\.qbo\.intuit\.com/app/invoice\?txnId=(\d+)", text))


def test_links_permalinks_and_language_are_each_connections_own(make_bot, sb):
    two = two_companies(make_bot, sb)
    two.scan("a")
    two.scan("b")
    assert two.bot.scan().created
    a, b = two.a, two.b

    for company, lang, other in ((a, "nl", b), (b, "es", a)):
        parents = two.parents(company.channel)
        assert {m.text.split()[0] for m in parents} == {"INV-1002", "INV-1003", "INV-1005", "INV-1006", "INV-1007"}
        for parent in parents:
            text = blocks_text(parent)
            # Every parent links its HubSpot invoice in its own portal, never another's.
            assert hubspot_links(text) == {str(company.portal_id)}, (company.key, text)
            thread = two.bot.d.thread(company.channel, parent.ts)
            assert len(thread) >= 2
            for reply in thread[1:]:
                shown = blocks_text(reply)
                assert hubspot_links(shown) <= {str(company.portal_id)}, (company.key, shown)
        # INV-1005 (native-invoice-modified): its QuickBooks invoice is linked by this realm's id.
        [inv5] = [m for m in parents if m.text.startswith("INV-1005")]
        evidence = "\n".join(blocks_text(m) for m in two.bot.d.thread(company.channel, inv5.ts))
        own_id = next(i["Id"] for i in company.qbo.entities["Invoice"].values() if i.get("DocNumber") == "INV-1005")
        other_id = next(i["Id"] for i in other.qbo.entities["Invoice"].values() if i.get("DocNumber") == "INV-1005")
        assert own_id != other_id
        assert qbo_invoice_links(evidence) == {own_id}, evidence
        # Parents, threads and the fix buttons' confirms in the connection's language.
        for parent in parents:
            number = parent.text.split()[0]
            assert parent.visible_text().startswith(f"*{slack_t(lang, 'headline', number=number)}*"), parent.text
        inv2 = next(m for m in parents if m.text.startswith("INV-1002"))
        reply = two.bot.d.thread(company.channel, inv2.ts)[1].visible_text()
        assert CAUSE_WORDS[lang] in reply, reply
        # No evidence label falls back to its English key (a label missing from the table).
        threads = "\n".join(r.visible_text() for m in parents for r in two.bot.d.thread(company.channel, m.ts)[1:])
        keys = {k for al in two.store(company.key).list_alerts() for k in _evidence_keys(al["evidence"])}
        untranslated = sorted(k for k in keys if f"*{k.replace('_', ' ').capitalize()}*" in threads)
        assert not untranslated, untranslated
        confirms = [el["confirm"] for _, el in iter_elements(inv2.blocks) if el.get("confirm")]
        assert confirms and all(c["confirm"]["text"] == CONFIRM_WORDS[lang] for c in confirms), confirms

        # Permalinks come from chat.getPermalink of the connection's own workspace.
        domain = two.sb.slack.workspace.teams[company.team_id].domain
        for user in (ANNA if company is a else BEN, ARNO if company is a else BERTA):
            [listing] = two.slash(user, company.channel, "list")
            links = re.findall(r"<(https://[^|>]+)\|", listing)
            threads = {m.ts.replace(".", "") for m in parents}
            assert links and all(u.startswith(f"https://{domain}.slack.com/archives/{company.channel}/p")
                                 for u in links if "slack.com" in u), listing
            assert {u.rsplit("/p", 1)[1].split("?")[0] for u in links if "slack.com" in u} <= threads
            # Command answers: the asker's Slack language (nl / es), else the connection's
            # (Arno and Berta use French, which qbsync does not speak).
            [status] = two.slash(user, company.channel, "status")
            assert STATUS_WORDS[lang] in status, (user, status)
            # `/qbsync explain` of a number both companies have reads this company's QuickBooks.
            [explained] = two.slash(user, company.channel, "explain INV-1005", timeout=20)
            assert f"(Id {own_id})" in explained and f"(Id {other_id})" not in explained, explained
            assert explained.startswith(f"*{EXPLAIN_WORDS[lang]}"), explained
    callers = {team for method, team in two.sb.slack.service.callers if method == "chat.getPermalink"}
    assert {ACME, BETA} <= callers


A_ROUTE = "C0ACMECUST1"   # a channel of Acme's workspace: A's missing-customer alerts go there
DEFAULT_WS_CHANNEL = "C0GENERAL01"  # a channel of the default workspace that no company uses


def qbsync_cli(two, monkeypatch, tmp_path, *args: str) -> int:
    """`qbsync ARGS` run as an operator would, against the bot's database and the stand-ins."""
    env = two.sb.bot_environment() | {"QBSYNC_DB_PATH": two.bot.settings.store_target}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env file there
    return main(list(args))


def test_routes_are_per_connection_and_a_route_channel_acts_on_its_connection(make_bot, sb, monkeypatch,
                                                                              tmp_path, capsys):
    # B routes duplicate-doc-number into a channel of Acme's workspace (A's route), saved as a
    # route Slack later refuses (`qbsync connections set` below refuses it up front): B's bot
    # token cannot post there, so Slack refuses and B's alert stays in B's own channel.
    two = two_companies(make_bot, sb, b_settings={"QBSYNC_ROUTES": f"duplicate-doc-number={A_ROUTE}"})
    ws = sb.slack.workspace
    ws.add_channel(A_ROUTE, "acme-customers", members=[ws.teams[ACME].bot_user_id, ANNA, ARNO], team_id=ACME)
    # The operator gives A its route with the CLI: checked with A's own workspace token, saved.
    assert qbsync_cli(two, monkeypatch, tmp_path, "connections", "set", "a",
                      f"QBSYNC_ROUTES=missing-customer={A_ROUTE}") == 0
    assert f"QBSYNC_ROUTES=missing-customer={A_ROUTE}" in capsys.readouterr().out
    # A route of B into a channel of another workspace (A's, or the env company's) is refused,
    # saying why; nothing changes.
    b_before = ConnectionRegistry(two.bot.store).require("b").overrides
    ws.add_channel(DEFAULT_WS_CHANNEL, "general", members=[BOT_USER_ID, ALICE])
    for channel, says in ((A_ROUTE, f"{A_ROUTE}: channel_not_found"),
                          (DEFAULT_WS_CHANNEL, f"{DEFAULT_WS_CHANNEL}: channel_not_found"),
                          (ALERT_CHANNEL, f"{ALERT_CHANNEL} belongs to the company configured from the environment")):
        assert qbsync_cli(two, monkeypatch, tmp_path, "connections", "set", "b",
                          f"QBSYNC_ROUTES=missing-customer={channel}") == 1
        err = capsys.readouterr().err
        assert says in err, err
        assert channel == ALERT_CHANNEL or f"workspace {BETA} (the connection's)" in err, err
    assert ConnectionRegistry(two.bot.store).require("b").overrides == b_before
    two.scan("a")
    two.scan("b")
    two.bot.scan()
    a, b = two.a, two.b
    numbers = lambda channel: sorted(m.text.split()[0] for m in two.parents(channel))  # noqa: E731
    # A's missing-customer parents (INV-1003; INV-1007, whose first cause it is) in A's route.
    assert numbers(A_ROUTE) == ["INV-1003", "INV-1007"]
    assert numbers(a.channel) == ["INV-1002", "INV-1005", "INV-1006"]
    # B's route into another workspace is refused by Slack: all of B's in B's channel (the scan
    # went on), the refusal audited in B's store; the env company's in its own channel.
    assert numbers(b.channel) == ["INV-1002", "INV-1003", "INV-1005", "INV-1006", "INV-1007"]
    refused = [e for e in two.store("b").audit_entries() if e["action"] == "alert:route"]
    assert [(e["outcome"], e["target"], e["detail"]["channel"], e["detail"]["error"]) for e in refused] == [
        ("refused", "3006:duplicate-doc-number", A_ROUTE, "channel_not_found")]
    assert not [e for e in two.store("a").audit_entries() if e["action"] == "alert:route"]
    assert numbers(ALERT_CHANNEL) == ["INV-1002", "INV-1003", "INV-1005", "INV-1006", "INV-1007"]
    # A's route never receives another company's posts.
    assert all(hubspot_links(blocks_text(m)) == {str(a.portal_id)} for m in two.parents(A_ROUTE))

    # A button and a command in A's route channel act on A (its store), in A's language.
    parent = next(m for m in two.parents(A_ROUTE) if m.text.startswith("INV-1003"))
    assert two.bot.d.click(ARNO, A_ROUTE, parent.ts, ACTION_ACK).acked
    a_store = two.store("a")
    key = next(x["key"] for x in a_store.list_alerts() if x["ts"] == parent.ts)
    two.bot.d.wait_for(lambda: a_store.get_alert(key)["state"] == "acknowledged", timeout=10)
    assert all(x["state"] == "open" for x in two.store("b").list_alerts() if x["invoice_number"] == "INV-1003")
    [listing] = two.slash(ARNO, A_ROUTE, "list")
    assert "INV-1003" in listing and str(b.portal_id) not in listing



def test_the_environments_routes_are_the_env_companys_only(make_bot, sb):
    """QBSYNC_ROUTES in the environment routes the env company's alerts; a connection without
    routes of its own posts every alert in its own channel (before: it inherited them, and its
    alerts went to the env company's route channel, or to a channel Slack refused)."""
    env_route = "C0ENVCUST01"
    two = two_companies(make_bot, sb, env={"QBSYNC_ROUTES": f"missing-customer={env_route}"})
    sb.slack.workspace.add_channel(env_route, "env-customers", members=[BOT_USER_ID, ALICE])
    two.scan("a")
    two.bot.scan()
    numbers = lambda channel: sorted(m.text.split()[0] for m in two.parents(channel))  # noqa: E731
    assert numbers(two.a.channel) == ["INV-1002", "INV-1003", "INV-1005", "INV-1006", "INV-1007"]
    assert numbers(env_route) == ["INV-1003", "INV-1007"]                  # the env company's own
    assert all(hubspot_links(blocks_text(m)) == {str(DEFAULT_PORTAL)} for m in two.parents(env_route))
    assert not [e for e in two.store("a").audit_entries() if e["action"] == "alert:route"]

def export_rows(two, user: str) -> list[list[str]]:
    """The CSV `/qbsync export` shared with `user` (a file in their DM with the bot)."""
    ws = two.sb.slack.workspace
    [msg] = ws.messages["D" + user[1:]]
    [f] = msg.files
    body = f["data"].decode() if isinstance(f["data"], bytes) else f["data"]
    return list(csv.reader(io.StringIO(body)))


def test_history_and_export_show_only_the_channels_company(make_bot, sb):
    two = two_companies(make_bot, sb)
    two.scan("a")
    two.scan("b")
    two.bot.scan()
    a, b = two.a, two.b
    # INV-1005 fails in both companies: Anna resolves A's by hand, Ben acknowledges B's.
    a5 = next(m for m in two.parents(a.channel) if m.text.startswith("INV-1005"))
    b5 = next(m for m in two.parents(b.channel) if m.text.startswith("INV-1005"))
    assert two.bot.d.click(ANNA, a.channel, a5.ts, "qbsync:resolve").acked
    assert two.bot.d.click(BEN, b.channel, b5.ts, ACTION_ACK).acked
    key = "3005:native-invoice-modified"
    two.bot.d.wait_for(lambda: two.store("a").get_alert(key)["state"] == "resolved", timeout=10)
    two.bot.d.wait_for(lambda: two.store("b").get_alert(key)["state"] == "acknowledged", timeout=10)

    # The same invoice number resolves to the channel's company: each history shows its own.
    [a_trail] = two.slash(ANNA, a.channel, "history INV-1005")
    [b_trail] = two.slash(BEN, b.channel, "history INV-1005")
    # (sentences of handlers/history.py: Anna reads Dutch, Ben Spanish)
    assert f"<@{ANNA}> sloot “" in a_trail and f"<@{BEN}>" not in a_trail and " pakte “" not in a_trail, a_trail
    assert f"<@{BEN}> atendió “" in b_trail and f"<@{ANNA}>" not in b_trail and " a mano" not in b_trail, b_trail
    assert a_trail.startswith("*") and "INV-1005" in a_trail
    # The env company's history of the same number has neither person.
    [env_trail] = two.slash(ALICE, ALERT_CHANNEL, "history INV-1005")
    assert ANNA not in env_trail and BEN not in env_trail

    # A command naming that number acts on the channel's company only.
    two.slash(ANNA, a.channel, "snooze INV-1003 1d")
    assert two.store("a").snoozed_until("3003") and not two.store("b").snoozed_until("3003")
    assert not two.bot.store.snoozed_until("3003")

    # Export: each company's own alerts, in a DM of the asker in its own workspace.
    two.slash(ANNA, a.channel, "export")
    two.slash(BEN, b.channel, "export")
    a_rows, b_rows = export_rows(two, ANNA), export_rows(two, BEN)
    state = lambda rows: {(r[0], r[1]): r[2] for r in rows[1:]}  # noqa: E731
    assert state(a_rows)[("INV-1005", "native-invoice-modified")] == "resolved"
    assert state(b_rows)[("INV-1005", "native-invoice-modified")] == "acknowledged"
    assert len(a_rows) - 1 == len(two.store("a").list_alerts()) and len(b_rows) - 1 == len(two.store("b").list_alerts())
    ws = two.sb.slack.workspace
    assert ws.channels["D" + ANNA[1:]].team_id == ACME and ws.channels["D" + BEN[1:]].team_id == BETA

