"""Add to Slack end to end over real HTTP: qbsync's /slack/install (bolt's OAuth flow, stores in
qbsync's database), the Slack stand-in's consent page and oauth.v2.access, then signed requests
from the workspaces. The browser version is test_slack_install_browser.py."""
from __future__ import annotations

import html
import logging
import re
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from bot.slack_oauth_store import SlackInstallationStore
from sandbox.app import Sandbox
from sandbox.slack_workspace import TEAM_ID

from .conftest import ALICE
from .slack_install import (ACME, ANNA, BEN, BETA, NEVER, NORA, base_url, event, issued_token, oauth_bot,
                            replies, slash)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, *, cookie: str = "", form: dict | None = None) -> tuple[int, dict, str]:
    req = urllib.request.Request(url, data=urlencode(form).encode() if form is not None else None,
                                 headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def install(bot, team: str) -> tuple[int, str, str]:
    """A person opens /slack/install, follows Add to Slack, picks `team` and clicks Allow;
    returns (status, page) of qbsync's redirect page and the URL Slack sent them back to."""
    status, headers, page = get(base_url(bot) + "/slack/install")
    assert status == 200 and "Add to Slack" in page
    cookie = headers["Set-Cookie"].split(";")[0]              # bolt's state cookie
    consent_url = html.unescape(re.search(r'<a href="([^"]+)"', page).group(1))
    status, _, consent = get(consent_url)
    assert status == 200 and "Allow" in consent
    fields = dict(re.findall(r"name='([a-z_]+)' value='([^']*)'", consent))
    status, headers, _ = get(bot.sb.slack.authorize_url, form=fields | {"team": team, "decision": "allow"})
    assert status == 302
    back = headers["Location"]
    status, _, landing = get(back, cookie=cookie)
    return status, landing, back + "\n" + cookie


@pytest.fixture
def sb():
    s = Sandbox(slack_post_rate_per_s=100, slack_post_burst=100).start()
    yield s
    s.stop()


def test_a_workspace_installs_and_its_commands_are_answered_with_its_own_token(make_bot, sb, caplog):
    with caplog.at_level(logging.WARNING):
        bot = oauth_bot(make_bot, sb)
    assert "will be ignored" not in caplog.text   # bolt's claim that SLACK_BOT_TOKEN goes unused
    assert slash(bot, ANNA).status == 401                      # not installed yet: refused, as today
    status, page, _ = install(bot, ACME)
    assert status == 200 and "Thank you!" in page
    found = SlackInstallationStore(bot.store).find_bot(enterprise_id=None, team_id=ACME)
    assert found.bot_token == issued_token(bot, ACME) and found.team_name == "Acme Books"
    assert [(w.team_id, w.installed_by) for w in SlackInstallationStore(bot.store).installations()] == [(ACME, ANNA)]

    callers_before = len(bot.sb.slack.service.callers)
    r = slash(bot, ANNA, "help")
    assert r.status == 200
    # Anna's locale (nl-NL) is read with Acme's token: the answer comes in Dutch.
    answer = replies(bot, ANNA, 1)[0]
    assert "/qbsync" in answer and answer == _help_in(bot, "nl")
    assert ("users.info", ACME) in bot.sb.slack.service.callers[callers_before:]
    assert ("users.info", TEAM_ID) not in bot.sb.slack.service.callers[callers_before:]

    assert slash(bot, NORA).status == 401                      # a workspace that never installed
    assert slash(bot, ALICE, "help").status == 200             # SLACK_BOT_TOKEN's workspace, as before
    assert replies(bot, ALICE, 1)[0] == _help_in(bot, "en")


def _help_in(bot, lang: str) -> str:
    """`/qbsync help` as qbsync words it in `lang` (handlers/commands.py Help)."""
    from handlers.commands import rules_list
    from handlers.texts import t

    text = t(lang, "help", rules=rules_list()) + "\n" + t(lang, "help_digest")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def test_two_workspaces_each_get_their_own_token(make_bot, sb):
    bot = oauth_bot(make_bot, sb)
    assert install(bot, ACME)[0] == 200 and install(bot, BETA)[0] == 200
    store = SlackInstallationStore(bot.store)
    tokens = {t: store.find_bot(enterprise_id=None, team_id=t).bot_token for t in (ACME, BETA)}
    assert tokens == {ACME: issued_token(bot, ACME), BETA: issued_token(bot, BETA)}
    assert tokens[ACME] != tokens[BETA]
    assert slash(bot, BEN, "help").status == 200
    assert replies(bot, BEN, 1)[0] == _help_in(bot, "es")


def test_a_state_is_good_for_one_install_and_a_forged_one_for_none(make_bot, sb):
    bot = oauth_bot(make_bot, sb)
    status, _, back_and_cookie = install(bot, ACME)
    assert status == 200
    back, cookie = back_and_cookie.split("\n")
    status, _, page = get(back, cookie=cookie)                 # the same redirect again
    assert status != 200 and "Thank you!" not in page
    before = len(bot.sb.slack.oauth.issued)
    status, _, page = get(base_url(bot) + "/slack/oauth_redirect?code=x&state=forged", cookie="slack-app-oauth-state=forged")
    assert status != 200 and len(bot.sb.slack.oauth.issued) == before


def test_uninstalling_deletes_the_installation_and_refuses_the_workspace_again(make_bot, sb):
    bot = oauth_bot(make_bot, sb)
    install(bot, ACME)
    install(bot, BETA)
    assert event(bot, ACME, {"type": "app_uninstalled"}).status == 200
    store = SlackInstallationStore(bot.store)
    bot.d.wait_for(lambda: store.find_bot(enterprise_id=None, team_id=ACME) is None, timeout=5)
    assert slash(bot, ANNA).status == 401
    assert event(bot, BETA, {"type": "tokens_revoked", "tokens": {"bot": ["U0BOT0BETA0001"]}}).status == 200
    bot.d.wait_for(lambda: store.find_bot(enterprise_id=None, team_id=BETA) is None, timeout=5)
    assert slash(bot, BEN).status == 401
    assert slash(bot, ALICE).status == 200                     # the configured workspace is untouched


def test_the_cli_lists_and_removes_installations_without_tokens(make_bot, sb, capsys, tmp_path):
    from bot.cli import main

    bot = oauth_bot(make_bot, sb)
    install(bot, ACME)
    env = tmp_path / "cli.env"
    env.write_text(f"QBSYNC_DB_PATH={bot.settings.db_path}\n")
    assert main(["--env-file", str(env), "slack", "installations"]) == 0
    out = capsys.readouterr().out
    assert ACME in out and "Acme Books" in out and ANNA in out and "xoxb-" not in out
    assert main(["--env-file", str(env), "slack", "remove", ACME]) == 0
    assert main(["--env-file", str(env), "slack", "remove", ACME]) == 1
    assert slash(bot, ANNA).status == 401
    assert main(["--env-file", str(env), "slack", "installations"]) == 0
    assert "No Slack workspace installed" in capsys.readouterr().out


def test_without_client_credentials_there_is_no_install_page(make_bot):
    bot = make_bot("missing-customer", transport="http")
    status, _, _ = get(base_url(bot) + "/slack/install")
    assert status == 404
    assert bot.app.installation_store is None  # the single-workspace bot keeps no installations


def test_with_qbsync_secret_key_the_token_is_encrypted_in_the_database(make_bot, sb):
    from cryptography.fernet import Fernet

    bot = oauth_bot(make_bot, sb, env={"QBSYNC_SECRET_KEY": Fernet.generate_key().decode()})
    assert install(bot, ACME)[0] == 200
    token = issued_token(bot, ACME)
    [raw] = [r["bot_token"] for r in bot.store.query_rows("SELECT bot_token FROM slack_installations")]
    assert raw.startswith("fernet:") and token not in raw
    import glob

    for path in glob.glob(bot.settings.db_path + "*"):          # the file and its WAL
        with open(path, "rb") as f:
            assert token.encode() not in f.read(), path
    assert slash(bot, ANNA, "help").status == 200
    assert replies(bot, ANNA, 1)[0] == _help_in(bot, "nl")      # answered with the (decrypted) token
