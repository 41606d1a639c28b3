"""The Slack stand-in's answers against Slack's own Web API spec (OpenAPI 2, 2020), in
../shared/specs/slack/web_api.openapi2.json.

Where the spec and the live service disagree we follow the service and say so here:
- chat.update's `message.blocks` is typed "object" in the spec; Slack returns an array (as
  chat.postMessage's message does, whose schema says array).
- invalid_blocks and ratelimited postdate the spec's error enums; checked by hand elsewhere.
"""
from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock

from sandbox.slack import SlackStandIn
from sandbox.slack_workspace import ALERT_CHANNEL, BOT_TOKEN
from tests.conftest import shared_file

ALICE = "U0ALICE001"


@pytest.fixture(scope="module")
def spec():
    return json.loads(shared_file("specs", "slack", "web_api.openapi2.json").read_text())


@pytest.fixture
def slack():
    s = SlackStandIn().start()
    yield s
    s.stop()


@pytest.fixture
def client(slack):
    return WebClient(token=BOT_TOKEN, base_url=slack.api_base)


def schema_for(spec: dict, method: str, outcome: str) -> dict:
    op = next(iter(spec["paths"][f"/{method}"].values()))
    schema = copy.deepcopy(op["responses"]["200" if outcome == "ok" else "default"]["schema"])
    schema["definitions"] = spec["definitions"]
    return schema


def check(spec, method: str, body: dict, outcome: str = "ok", patch=None) -> None:
    schema = schema_for(spec, method, outcome)
    if patch:
        patch(schema)
    jsonschema.Draft4Validator(schema).validate(body)


def test_auth_test_shape(spec, client, slack):
    check(spec, "auth.test", client.auth_test().data)
    bad = WebClient(token="xoxb-wrong", base_url=slack.api_base)
    with pytest.raises(SlackApiError) as e:
        bad.auth_test()
    check(spec, "auth.test", e.value.response.data, "error")


def test_post_message_shapes(spec, client):
    blocks = [SectionBlock(text="*Invoice 1001*"),
              ActionsBlock(elements=[ButtonElement(text="Re-check", action_id="recheck", value="1001")])]
    r = client.chat_postMessage(channel=ALERT_CHANNEL, text="Invoice 1001", blocks=blocks)
    check(spec, "chat.postMessage", r.data)
    reply = client.chat_postMessage(channel=ALERT_CHANNEL, text="evidence", thread_ts=r["ts"])
    check(spec, "chat.postMessage", reply.data)
    for kwargs in ({"channel": "C0NOPE00001", "text": "x"}, {"channel": ALERT_CHANNEL, "text": "x" * 40_001}):
        with pytest.raises(SlackApiError) as e:
            client.chat_postMessage(**kwargs)
        check(spec, "chat.postMessage", e.value.response.data, "error")


def test_post_message_shape_is_really_checked(spec, client):
    """The check can fail: a ts in the wrong format is refused by the spec's schema."""
    r = client.chat_postMessage(channel=ALERT_CHANNEL, text="x").data
    broken = dict(r, ts="12345")
    with pytest.raises(jsonschema.ValidationError):
        check(spec, "chat.postMessage", broken)


def _blocks_are_an_array(schema):
    schema["properties"]["message"]["properties"]["blocks"] = {"type": "array"}


def test_update_shapes(spec, client):
    r = client.chat_postMessage(channel=ALERT_CHANNEL, text="open")
    u = client.chat_update(channel=ALERT_CHANNEL, ts=r["ts"], text="resolved", blocks=[SectionBlock(text="done")])
    check(spec, "chat.update", u.data, patch=_blocks_are_an_array)
    plain = client.chat_postMessage(channel=ALERT_CHANNEL, text="no blocks")
    check(spec, "chat.update", client.chat_update(channel=ALERT_CHANNEL, ts=plain["ts"], text="again").data)
    with pytest.raises(SlackApiError) as e:
        client.chat_update(channel=ALERT_CHANNEL, ts="1700000000.000001", text="x")
    check(spec, "chat.update", e.value.response.data, "error")


def test_post_ephemeral_shape(spec, client):
    check(spec, "chat.postEphemeral", client.chat_postEphemeral(channel=ALERT_CHANNEL, user=ALICE, text="x").data)


def test_users_info_shape(spec, client):
    check(spec, "users.info", client.users_info(user=ALICE, include_locale=True).data)
    check(spec, "users.info", client.users_info(user="U0QBSYNCBOT").data)
    with pytest.raises(SlackApiError) as e:
        client.users_info(user="U0NOBODY001")
    check(spec, "users.info", e.value.response.data, "error")


def test_views_publish_and_open_shapes(spec, client, slack):
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
    check(spec, "views.publish", client.views_publish(user_id=ALICE, view=home).data)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []}
    check(spec, "views.open", client.views_open(trigger_id=slack.workspace.mint_trigger(ALICE), view=modal).data)
    with pytest.raises(SlackApiError) as e:
        client.views_publish(user_id="U0NOBODY001", view=home)
    check(spec, "views.publish", e.value.response.data, "error")


def test_usergroups_and_conversations_shapes(spec, client, slack):
    check(spec, "usergroups.users.list", client.usergroups_users_list(usergroup="S0FIXERS01").data)
    slack.workspace.add_token("xoxb-reader-1", "bot", ("channels:read",))
    reader = WebClient(token="xoxb-reader-1", base_url=slack.api_base)
    check(spec, "conversations.members", reader.conversations_members(channel=ALERT_CHANNEL).data)
