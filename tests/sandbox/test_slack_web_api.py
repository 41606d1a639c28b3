"""The Slack stand-in's Web API, through the real slack_sdk WebClient over HTTP on 127.0.0.1."""
from __future__ import annotations

import json
import time
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, SectionBlock
from slack_sdk.webhook import WebhookClient

from bot.slack_scopes import BOT_SCOPES
from sandbox.app import Sandbox
from sandbox.server import RequestLog
from sandbox.slack import SlackStandIn
from sandbox.slack_workspace import ALERT_CHANNEL, APP_TOKEN, BOT_TOKEN, BOT_USER_ID

ALICE, BRAM, CARMEN = "U0ALICE001", "U0BRAM0001", "U0CARMEN01"


@pytest.fixture
def slack():
    log = RequestLog()
    s = SlackStandIn(post_rate_per_s=1.0, post_burst=4).start(log)
    s.log = log
    yield s
    s.stop()


@pytest.fixture
def client(slack):
    return WebClient(token=BOT_TOKEN, base_url=slack.api_base, timeout=5)


def error_of(call, *args, **kwargs) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------- auth
def test_auth_test_reports_identity_and_granted_scopes(client):
    r = client.auth_test()
    assert r["user_id"] == BOT_USER_ID and r["bot_id"].startswith("B") and r["team_id"].startswith("T")
    # The sandbox's bot token has exactly the scopes the manifest asks for.
    assert set(r.headers["x-oauth-scopes"].split(",")) == set(BOT_SCOPES)
    assert {"chat:write", "commands", "channels:history"} <= set(BOT_SCOPES)


def test_conversations_history_pages_newest_first_within_the_window(slack, client):
    slack.service.set_post_rate(1000, 1000)
    posted = [client.chat_postMessage(channel=ALERT_CHANNEL, text=f"m{i}")["ts"] for i in range(4)]
    client.chat_postMessage(channel=ALERT_CHANNEL, text="reply", thread_ts=posted[0])  # not in history
    first = client.conversations_history(channel=ALERT_CHANNEL, oldest=posted[1], inclusive=True, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m3", "m2"] and first["has_more"] is True
    rest = client.conversations_history(channel=ALERT_CHANNEL, oldest=posted[1], inclusive=True, limit=2,
                                        cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["m1"] and rest["has_more"] is False
    exclusive = client.conversations_history(channel=ALERT_CHANNEL, oldest=posted[1], latest=posted[3])
    assert [m["text"] for m in exclusive["messages"]] == ["m2"]


def test_conversations_history_needs_the_scope_of_the_channel_type(slack):
    ws = slack.workspace
    ws.add_channel("G0PRIVATE01", "finance-private", members=[BOT_USER_ID], is_private=True)
    ws.add_token("xoxb-public-only", "bot", ["chat:write", "channels:history"])
    public_only = WebClient(token="xoxb-public-only", base_url=slack.api_base, timeout=5)
    assert public_only.conversations_history(channel=ALERT_CHANNEL)["ok"]
    assert error_of(public_only.conversations_history, channel="G0PRIVATE01").response["error"] == "missing_scope"
    ws.add_token("xoxb-no-history", "bot", ["chat:write"])
    none = WebClient(token="xoxb-no-history", base_url=slack.api_base, timeout=5)
    assert error_of(none.conversations_history, channel=ALERT_CHANNEL).response["error"] == "missing_scope"


def test_doctor_reads_the_scopes_from_the_stand_in(client, slack):
    from bot.doctor import OK, check_slack

    rows = check_slack(client)
    assert [r.status for r in rows] == [OK, OK], rows
    # a token without usergroups:read makes doctor fail the scope check
    slack.workspace.add_token("xoxb-limited-1", "bot", ("chat:write", "commands", "users:read"))
    rows = check_slack(WebClient(token="xoxb-limited-1", base_url=slack.api_base))
    assert rows[1].status != OK and "usergroups:read" in rows[1].detail


@pytest.mark.parametrize("token, error", [
    (None, "not_authed"), ("xoxb-nope", "invalid_auth"), (APP_TOKEN, "not_allowed_token_type")])
def test_bad_tokens_are_refused_with_http_200(slack, token, error):
    c = WebClient(token=token, base_url=slack.api_base)
    exc = error_of(c.chat_postMessage, channel=ALERT_CHANNEL, text="x")
    assert exc.response.status_code == 200 and exc.response["ok"] is False
    assert exc.response["error"] == error


def test_revoked_token_and_token_as_form_argument(slack, client):
    # slack_sdk sends the token as a bearer header; older clients send token=... in the form
    body = f"token={BOT_TOKEN}&channel={ALERT_CHANNEL}&text=hello+form".encode()
    req = urllib.request.Request(slack.api_base + "chat.postMessage", data=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    answer = json.loads(urllib.request.urlopen(req, timeout=5).read())
    assert answer["ok"] is True and answer["message"]["text"] == "hello form"
    slack.workspace.revoke_token(BOT_TOKEN)
    assert error_of(client.auth_test).response["error"] == "token_revoked"


def test_missing_scope_names_the_scope(slack, client):
    exc = error_of(client.conversations_info, channel=ALERT_CHANNEL)  # qbsync has no channels:read
    assert exc.response["error"] == "missing_scope" and "channels:read" in exc.response["needed"]


def test_unknown_method(client):
    exc = error_of(client.api_call, "chat.teleport")
    assert exc.response["error"] == "unknown_method"


# --------------------------------------------------------------------------- chat.postMessage
def test_post_thread_and_broadcast(slack, client):
    parent = client.chat_postMessage(channel=ALERT_CHANNEL, text="Invoice 1001 failed")
    assert parent["channel"] == ALERT_CHANNEL and parent["message"]["user"] == BOT_USER_ID
    r1 = client.chat_postMessage(channel=ALERT_CHANNEL, thread_ts=parent["ts"], text="evidence")
    r2 = client.chat_postMessage(channel=ALERT_CHANNEL, thread_ts=parent["ts"], text="resolved",
                                 reply_broadcast=True)
    # replying to a reply lands in the same thread
    r3 = client.chat_postMessage(channel=ALERT_CHANNEL, thread_ts=r1["ts"], text="more")
    d = slack.driver
    assert [m.text for m in d.thread(ALERT_CHANNEL, parent["ts"])] == [
        "Invoice 1001 failed", "evidence", "resolved", "more"]
    assert [m.ts for m in d.transcript(ALERT_CHANNEL)] == [parent["ts"], r2["ts"]]
    assert float(parent["ts"]) < float(r1["ts"]) < float(r2["ts"]) < float(r3["ts"])


def test_unknown_channel_and_not_in_channel(slack, client):
    assert error_of(client.chat_postMessage, channel="C0NOPE00001", text="x").response["error"] \
        == "channel_not_found"
    slack.workspace.add_channel("C0GENERAL01", "general", members=[ALICE])
    assert error_of(client.chat_postMessage, channel="C0GENERAL01", text="x").response["error"] \
        == "not_in_channel"
    slack.workspace.join("C0GENERAL01", BOT_USER_ID)
    assert client.chat_postMessage(channel="C0GENERAL01", text="x")["ok"]


def test_no_text_and_msg_too_long(client):
    assert error_of(client.api_call, "chat.postMessage", json={"channel": ALERT_CHANNEL}).response["error"] \
        == "no_text"
    assert error_of(client.chat_postMessage, channel=ALERT_CHANNEL, text="x" * 40_001).response["error"] \
        == "msg_too_long"
    assert client.chat_postMessage(channel=ALERT_CHANNEL, text="x" * 40_000)["ok"]


def test_blocks_built_with_slack_sdk_models_are_accepted_and_kept(slack, client):
    blocks = [SectionBlock(text="*Invoice* 1001", block_id="head"),
              ActionsBlock(block_id="acts", elements=[
                  ButtonElement(text="Create customer", action_id="fix:create", value="1001", style="primary",
                                confirm=ConfirmObject(title="Create?", text="Creates customer Acme in QBO",
                                                      confirm="Create", deny="Cancel"))])]
    r = client.chat_postMessage(channel=ALERT_CHANNEL, text="Invoice 1001", blocks=blocks)
    stored = slack.driver.message(ALERT_CHANNEL, r["ts"])
    assert stored.blocks[1]["elements"][0]["confirm"]["title"]["text"] == "Create?"
    assert r["message"]["blocks"][0]["block_id"] == "head"


def test_block_kit_limits_from_models_over_the_message_limit(client):
    # 51 valid blocks: each is fine for slack_sdk's models, the message is not (50 max)
    blocks = [SectionBlock(text=f"line {i}") for i in range(51)]
    exc = error_of(client.chat_postMessage, channel=ALERT_CHANNEL, text="x", blocks=blocks)
    assert exc.response["error"] == "invalid_blocks"
    assert any("no more than 50 items [json-pointer:/blocks]" in e for e in exc.response["errors"])
    assert client.chat_postMessage(channel=ALERT_CHANNEL, text="x", blocks=blocks[:50])["ok"]


@pytest.mark.parametrize("blocks, pointer", [
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "/blocks/0/text/text"),
    ([{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": str(i)}, "action_id": f"a{i}"}
        for i in range(26)]}], "/blocks/0/elements"),
    ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76},
                                        "action_id": "a"}]}], "/blocks/0/elements/0/text/text"),
    ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b"},
                                        "action_id": "a", "value": "v" * 2001}]}], "/blocks/0/elements/0/value"),
    ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b"},
                                        "action_id": "a" * 256}]}], "/blocks/0/elements/0/action_id"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "s"}, "accessory": {
        "type": "button", "text": {"type": "plain_text", "text": "b"}, "action_id": "a",
        "confirm": {"title": {"type": "plain_text", "text": "t" * 101},
                    "text": {"type": "plain_text", "text": "ok"},
                    "confirm": {"type": "plain_text", "text": "yes"},
                    "deny": {"type": "plain_text", "text": "no"}}}}], "/blocks/0/accessory/confirm/title/text"),
    ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b"},
                                        "action_id": "a", "confirm": {
        "title": {"type": "plain_text", "text": "t"}, "text": {"type": "mrkdwn", "text": "x" * 301},
        "confirm": {"type": "plain_text", "text": "c" * 31}, "deny": {"type": "plain_text", "text": "no"}}}]}],
     "/blocks/0/elements/0/confirm/text/text"),
    ([{"type": "sectoin", "text": {"type": "mrkdwn", "text": "typo"}}], "/blocks/0/type"),
])
def test_block_kit_limits_raw_json(client, slack, blocks, pointer):
    # raw JSON, as a client that skips slack_sdk's models would send it (form-encoded here)
    exc = error_of(client.api_call, "chat.postMessage",
                   data={"channel": ALERT_CHANNEL, "text": "x", "blocks": json.dumps(blocks)})
    assert exc.response["error"] == "invalid_blocks"
    assert any(f"[json-pointer:{pointer}]" in e for e in exc.response["errors"]), exc.response["errors"]
    assert exc.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert slack.driver.transcript(ALERT_CHANNEL) == []


def test_confirm_button_text_over_30(client):
    blocks = [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b"},
               "action_id": "a", "confirm": {"title": {"type": "plain_text", "text": "t"},
                                             "text": {"type": "plain_text", "text": "x"},
                                             "confirm": {"type": "plain_text", "text": "c" * 31},
                                             "deny": {"type": "plain_text", "text": "d" * 31}}}]}]
    errors = error_of(client.chat_postMessage, channel=ALERT_CHANNEL, text="x", blocks=blocks).response["errors"]
    assert {e.split("[json-pointer:")[1] for e in errors} == {
        "/blocks/0/elements/0/confirm/confirm/text]", "/blocks/0/elements/0/confirm/deny/text]"}


# --------------------------------------------------------------------------- rate limit
def test_post_message_rate_limit_per_channel_with_retry_after(slack, client):
    slack.workspace.add_channel("C0OTHER0001", "other", members=[BOT_USER_ID])
    for i in range(4):  # the burst
        client.chat_postMessage(channel=ALERT_CHANNEL, text=f"m{i}")
    exc = error_of(client.chat_postMessage, channel=ALERT_CHANNEL, text="one too many")
    assert exc.response.status_code == 429 and exc.response["error"] == "ratelimited"
    assert int(exc.response.headers["Retry-After"]) >= 1
    assert client.chat_postMessage(channel="C0OTHER0001", text="another channel has its own budget")["ok"]
    assert slack.service.rate_limited == 1
    assert slack.log.count_status("slack", 429) == 1
    slack.clock.advance(1.0)  # one more message a second
    assert client.chat_postMessage(channel=ALERT_CHANNEL, text="after a second")["ok"]
    assert len(slack.driver.transcript(ALERT_CHANNEL)) == 5


def test_retry_handler_gets_through_the_rate_limit(slack):
    slack.service.set_post_rate(per_second=2.0, burst=1)
    c = WebClient(token=BOT_TOKEN, base_url=slack.api_base,
                  retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)])
    c.chat_postMessage(channel=ALERT_CHANNEL, text="first")
    start = time.monotonic()
    assert c.chat_postMessage(channel=ALERT_CHANNEL, text="second")["ok"]  # 429, waits Retry-After, ok
    assert time.monotonic() - start >= 1.0
    assert slack.service.rate_limited >= 1
    assert [m.text for m in slack.driver.transcript(ALERT_CHANNEL)] == ["first", "second"]


def test_requests_are_counted_per_method(slack, client):
    client.auth_test()
    client.chat_postMessage(channel=ALERT_CHANNEL, text="a")
    client.chat_postMessage(channel=ALERT_CHANNEL, text="b")
    client.users_info(user=ALICE)
    snap = slack.log.snapshot()["slack"]
    assert snap["POST /api/chat.postMessage"] == 2
    assert snap["POST /api/auth.test"] == 1 and snap["POST /api/users.info"] == 1


def test_injected_faults(slack, client):
    slack.service.fail_next("chat.postMessage", error="fatal_error")
    assert error_of(client.chat_postMessage, channel=ALERT_CHANNEL, text="x").response["error"] == "fatal_error"
    slack.service.fail_next("chat.update", status=429, retry_after=7)
    exc = error_of(client.chat_update, channel=ALERT_CHANNEL, ts="1.000001", text="x")
    assert exc.response.status_code == 429 and exc.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel=ALERT_CHANNEL, text="x")["ok"]
    assert [m for m, _ in slack.service.calls] == ["chat.postMessage", "chat.update", "chat.postMessage"]


def test_malformed_json_body(slack):
    req = urllib.request.Request(slack.api_base + "chat.postMessage", data=b"{not json",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {BOT_TOKEN}"})
    assert json.loads(urllib.request.urlopen(req, timeout=5).read()) == {"ok": False, "error": "invalid_json"}


# --------------------------------------------------------------------------- chat.update
def test_update_keeps_edit_history(slack, client):
    r = client.chat_postMessage(channel=ALERT_CHANNEL, text="open")
    u = client.chat_update(channel=ALERT_CHANNEL, ts=r["ts"], text="fixing",
                           blocks=[SectionBlock(text="*fixing*")])
    assert u["ts"] == r["ts"] and u["text"] == "fixing"
    client.chat_update(channel=ALERT_CHANNEL, ts=r["ts"], text="resolved")
    m = slack.driver.message(ALERT_CHANNEL, r["ts"])
    assert m.text == "resolved" and [e.text for e in m.edits] == ["open", "fixing"]
    assert m.blocks[0]["text"]["text"] == "*fixing*"  # text-only update leaves the blocks


def test_update_someone_elses_message_and_missing_message(slack, client):
    other = "xoxb-another-app-0001"
    slack.workspace.add_token(other, "bot", ("chat:write",), BOT_USER_ID)
    r = WebClient(token=other, base_url=slack.api_base).chat_postMessage(channel=ALERT_CHANNEL, text="theirs")
    assert error_of(client.chat_update, channel=ALERT_CHANNEL, ts=r["ts"], text="mine").response["error"] \
        == "cant_update_message"
    assert error_of(client.chat_update, channel=ALERT_CHANNEL, ts="1700000000.000001", text="x").response[
        "error"] == "message_not_found"


# --------------------------------------------------------------------------- ephemeral
def test_post_ephemeral_only_for_one_member(slack, client):
    r = client.chat_postEphemeral(channel=ALERT_CHANNEL, user=BRAM, text="Geen rechten")
    assert r["message_ts"]
    assert [e.text for e in slack.driver.ephemerals(BRAM)] == ["Geen rechten"]
    assert slack.driver.ephemerals(ALICE) == [] and slack.driver.transcript(ALERT_CHANNEL) == []
    slack.workspace.add_user("U0OUTSIDE01", "outsider")
    assert error_of(client.chat_postEphemeral, channel=ALERT_CHANNEL, user="U0OUTSIDE01", text="x").response[
        "error"] == "user_not_in_channel"


# --------------------------------------------------------------------------- users, groups, conversations
def test_users_info_with_and_without_locale(client):
    assert client.users_info(user=BRAM, include_locale=True)["user"]["locale"] == "nl-NL"
    assert client.users_info(user=CARMEN, include_locale=True)["user"]["locale"] == "es-ES"
    assert "locale" not in client.users_info(user=BRAM)["user"]
    assert error_of(client.users_info, user="U0NOBODY001").response["error"] == "user_not_found"


def test_usergroup_members(slack, client):
    slack.workspace.add_usergroup("S0FINANCE01", "finance", [BRAM, CARMEN])
    assert client.usergroups_users_list(usergroup="S0FINANCE01")["users"] == [BRAM, CARMEN]
    assert error_of(client.usergroups_users_list, usergroup="S0NOPE00001").response["error"] == "no_such_subteam"


def test_conversations_with_a_token_that_has_channels_read(slack):
    slack.workspace.add_token("xoxb-reader-1", "bot", ("channels:read",), BOT_USER_ID)
    c = WebClient(token="xoxb-reader-1", base_url=slack.api_base)
    info = c.conversations_info(channel=ALERT_CHANNEL)["channel"]
    assert info["is_member"] is True and info["name"] == "qbsync-alerts"
    assert BOT_USER_ID in c.conversations_members(channel=ALERT_CHANNEL)["members"]


# --------------------------------------------------------------------------- views
def _modal(blocks=None, title="Snooze"):
    return {"type": "modal", "callback_id": "snooze", "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": "Snooze"},
            "blocks": blocks if blocks is not None else [
                {"type": "input", "block_id": "dur", "label": {"type": "plain_text", "text": "For how long"},
                 "element": {"type": "plain_text_input", "action_id": "duration"}}]}


def test_views_open_needs_a_fresh_unused_trigger(slack, client):
    ws = slack.workspace
    assert error_of(client.views_open, trigger_id="123.456.abc", view=_modal()).response["error"] \
        == "invalid_trigger_id"
    trigger = ws.mint_trigger(ALICE)
    slack.clock.advance(3.5)
    assert error_of(client.views_open, trigger_id=trigger, view=_modal()).response["error"] \
        == "expired_trigger_id"
    trigger = ws.mint_trigger(ALICE)
    view = client.views_open(trigger_id=trigger, view=_modal())["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "snooze"
    assert slack.driver.modals(ALICE)[0]["id"] == view["id"]
    assert error_of(client.views_open, trigger_id=trigger, view=_modal()).response["error"] \
        == "exchanged_trigger_id"


def test_views_limits(client, slack):
    too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": str(i)}} for i in range(101)]
    exc = error_of(client.views_open, trigger_id=slack.workspace.mint_trigger(ALICE), view=_modal(too_many))
    assert exc.response["error"] == "invalid_arguments"
    assert "[json-pointer:/view/blocks]" in exc.response["response_metadata"]["messages"][0]
    exc = error_of(client.views_open, trigger_id=slack.workspace.mint_trigger(ALICE),
                   view=_modal(title="A title longer than 24 chars"))
    assert "/view/title/text" in exc.response["response_metadata"]["messages"][0]


def test_views_publish_home_tab(slack, client):
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"row {i}"}}
                                       for i in range(100)]}
    v1 = client.views_publish(user_id=ALICE, view=home)["view"]
    assert slack.driver.home(ALICE)["blocks"][99]["text"]["text"] == "row 99"
    home["blocks"] = home["blocks"][:3]
    v2 = client.views_publish(user_id=ALICE, view=home, hash=v1["hash"])["view"]
    assert v2["id"] == v1["id"] and len(slack.driver.home(ALICE)["blocks"]) == 3
    assert error_of(client.views_publish, user_id=ALICE, view=home, hash=v1["hash"]).response["error"] \
        == "hash_conflict"
    home["blocks"] = home["blocks"] * 34  # 102 blocks
    assert error_of(client.views_publish, user_id=ALICE, view=home).response["error"] == "invalid_arguments"
    assert error_of(client.views_publish, user_id="U0NOBODY001", view={"type": "home", "blocks": []}).response[
        "error"] == "user_not_found"


# --------------------------------------------------------------------------- apps.connections.open
def test_connections_open_needs_the_app_token(slack, client):
    url = WebClient(base_url=slack.api_base).apps_connections_open(app_token=APP_TOKEN)["url"]
    assert url.startswith(f"ws://127.0.0.1:{slack.socket.port}/link/?ticket=")
    assert error_of(client.apps_connections_open, app_token=BOT_TOKEN).response["error"] \
        == "not_allowed_token_type"


# --------------------------------------------------------------------------- response_url
def test_response_url_five_uses_then_used_url(slack, client):
    ws = slack.workspace
    r = client.chat_postMessage(channel=ALERT_CHANNEL, text="alert",
                                blocks=[SectionBlock(text="alert")])
    url = ws.mint_response_url(slack.url, "actions", ALERT_CHANNEL, ALICE, message_ts=r["ts"])
    hook = WebhookClient(url)
    assert hook.send(text="only you see this").status_code == 200
    assert hook.send(text="everyone sees this", response_type="in_channel").status_code == 200
    assert hook.send(text="replaced", replace_original=True).status_code == 200
    assert hook.send(text="4").status_code == 200 and hook.send(text="5").status_code == 200
    sixth = hook.send(text="6")
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    d = slack.driver
    assert [e.text for e in d.ephemerals(ALICE)] == ["only you see this", "4", "5"]
    assert [m.text for m in d.transcript(ALERT_CHANNEL)] == ["replaced", "everyone sees this"]
    assert d.message(ALERT_CHANNEL, r["ts"]).edits[0].by == "response_url"
    assert [p["outcome"] for p in d.responses(url)][-1] == "used_url"


def test_response_url_expires_after_30_minutes(slack):
    url = slack.workspace.mint_response_url(slack.url, "commands", ALERT_CHANNEL, ALICE)
    slack.clock.advance(30 * 60 + 1)
    r = WebhookClient(url).send(text="late")
    assert (r.status_code, r.body) == (404, "expired_url")
    r = WebhookClient(url.rsplit("/", 1)[0] + "/wrongsecret").send(text="x")
    assert (r.status_code, r.body) == (404, "no_service")


# --------------------------------------------------------------------------- the sandbox
def test_sandbox_serves_slack_and_its_settings_parse():
    from bot.config import parse_settings

    with Sandbox() as sb:
        env = sb.bot_environment(refresh_token="sandbox-refresh-token")
        settings = parse_settings(dict(env, QBSYNC_FIX_ALLOWED="U0ALICE001,S0FIXERS01"))
        assert settings.problems_for("run") == []
        assert settings.slack_api_base == sb.slack_api_base and sb.slack_api_base.endswith("/api/")
        c = WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["QBSYNC_SLACK_API_BASE"])
        c.chat_postMessage(channel=env["QBSYNC_ALERT_CHANNEL"], text="hello")
        assert sb.log.count("slack", "POST /api/chat.postMessage") == 1
        assert [m.text for m in sb.slack.driver.transcript()] == ["hello"]
