"""Add to Slack the way a person does it, in headless Chromium (Debian's package, driven by
Playwright, which must not download a browser of its own): qbsync's /slack/install, the
Add to Slack button, the Slack stand-in's consent page, Allow, qbsync's success page. Then
the workspace's signed commands are accepted and answered with its own token.

Chromium: tests/e2e/browser.py."""
from __future__ import annotations

import pytest

from bot.slack_oauth_store import SlackInstallationStore
from sandbox.app import Sandbox

from .browser import chromium_context, starts
from .slack_install import ACME, ANNA, BEN, BETA, NORA, base_url, issued_token, oauth_bot, replies, slash


@pytest.fixture
def browser():
    with chromium_context() as context:
        yield context


@pytest.fixture
def sb():
    s = Sandbox(slack_post_rate_per_s=100, slack_post_burst=100).start()
    yield s
    s.stop()


def click_through_install(page, bot, workspace_name: str) -> str:
    """Open the install page, click Add to Slack, pick the workspace, click Allow; return the
    text of the page the browser lands on."""
    page.goto(base_url(bot) + "/slack/install")
    page.get_by_alt_text("Add to Slack").click()
    page.wait_for_url(starts(bot.sb.slack.authorize_url))
    assert "qbsync is requesting permission" in page.content()
    page.select_option("#team", label=workspace_name)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(starts(base_url(bot) + "/slack/oauth_redirect"))
    return page.locator("body").inner_text()


def test_a_person_installs_two_workspaces_in_the_browser(make_bot, sb, browser):
    bot = oauth_bot(make_bot, sb)
    page = browser.new_page()
    page.set_default_timeout(10_000)
    assert "Thank you!" in click_through_install(page, bot, "Acme Books")
    store = SlackInstallationStore(bot.store)
    assert store.find_bot(enterprise_id=None, team_id=ACME).bot_token == issued_token(bot, ACME)
    assert [(w.team_id, w.team_name, w.installed_by) for w in store.installations()] == [(ACME, "Acme Books", ANNA)]

    # A signed slash command from the new workspace is accepted and answered with its token.
    callers_before = len(bot.sb.slack.service.callers)
    assert slash(bot, ANNA, "help").status == 200
    assert "/qbsync" in replies(bot, ANNA, 1)[0]
    assert ("users.info", ACME) in bot.sb.slack.service.callers[callers_before:]
    assert slash(bot, NORA).status == 401                      # never installed: refused

    # A second workspace, in the same browser (a new tab: the success page hands the first one
    # to the slack:// app link, which a headless browser leaves pending): its own token.
    page = browser.new_page()
    page.set_default_timeout(10_000)
    assert "Thank you!" in click_through_install(page, bot, "Beta Ltd")
    beta = store.find_bot(enterprise_id=None, team_id=BETA).bot_token
    assert beta == issued_token(bot, BETA) and beta != issued_token(bot, ACME)
    assert slash(bot, BEN, "help").status == 200


def test_cancel_on_the_consent_page_installs_nothing(make_bot, sb, browser):
    bot = oauth_bot(make_bot, sb)
    page = browser.new_page()
    page.set_default_timeout(10_000)
    page.goto(base_url(bot) + "/slack/install")
    page.get_by_alt_text("Add to Slack").click()
    page.wait_for_url(starts(bot.sb.slack.authorize_url))
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(starts(base_url(bot) + "/slack/oauth_redirect"))
    assert "Thank you!" not in page.locator("body").inner_text()
    assert SlackInstallationStore(bot.store).installations() == []
    assert slash(bot, ANNA).status == 401
