"""The stand-in's Block Kit checks agree with slack_sdk's models on every limit both know,
and the workspace can tell which mentions would ping people."""
from __future__ import annotations

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock, ButtonElement, ConfirmObject, HeaderBlock, Option, SectionBlock, StaticSelectElement,
)

from sandbox.slack_blocks import check_blocks, check_view, iter_elements
from sandbox.slack_workspace import Message, find_mentions, unescape


def _button(text="Fix", value="v", action_id="fix", confirm=None):
    return ButtonElement(text=text, value=value, action_id=action_id, confirm=confirm)


def _confirm(title="Sure?", text="Changes QBO", confirm="Yes", deny="No"):
    return ConfirmObject(title=title, text=text, confirm=confirm, deny=deny)


# (name, a block that breaks exactly one limit by one character / item)
OVER_LIMIT = [
    ("section text 3000", lambda: SectionBlock(text="x" * 3001)),
    ("header 150", lambda: HeaderBlock(text="h" * 151)),
    ("actions 25", lambda: ActionsBlock(elements=[_button(action_id=f"a{i}") for i in range(26)])),
    ("button text 75", lambda: ActionsBlock(elements=[_button(text="t" * 76)])),
    ("button value 2000", lambda: ActionsBlock(elements=[_button(value="v" * 2001)])),
    ("action_id 255", lambda: ActionsBlock(elements=[_button(action_id="a" * 256)])),
    ("confirm title 100", lambda: ActionsBlock(elements=[_button(confirm=_confirm(title="t" * 101))])),
    ("confirm text 300", lambda: ActionsBlock(elements=[_button(confirm=_confirm(text="t" * 301))])),
    ("confirm button 30", lambda: ActionsBlock(elements=[_button(confirm=_confirm(confirm="c" * 31))])),
    ("deny button 30", lambda: ActionsBlock(elements=[_button(confirm=_confirm(deny="d" * 31))])),
    ("option text 75", lambda: ActionsBlock(elements=[StaticSelectElement(
        action_id="s", placeholder="Pick", options=[Option(text="o" * 76, value="1")])])),
    ("option value 150", lambda: ActionsBlock(elements=[StaticSelectElement(
        action_id="s", placeholder="Pick", options=[Option(text="o", value="1" * 151)])])),
]


def _unvalidated(obj):
    """The block's JSON without slack_sdk's validation (what a careless client would send)."""
    from slack_sdk.models.basic_objects import JsonObject

    original = JsonObject.validate_json
    JsonObject.validate_json = lambda self: None
    try:
        return obj.to_dict()
    finally:
        JsonObject.validate_json = original


@pytest.mark.parametrize("name, make", OVER_LIMIT, ids=[n for n, _ in OVER_LIMIT])
def test_limits_agree_with_slack_sdk_models(name, make):
    block = make()
    with pytest.raises(SlackObjectFormationError):
        block.to_dict()  # slack_sdk refuses it on the client side ...
    assert check_blocks([_unvalidated(block)]), name  # ... and the stand-in refuses it too


def test_blocks_at_the_limits_pass_both():
    blocks = [SectionBlock(text="x" * 3000), HeaderBlock(text="h" * 150),
              ActionsBlock(elements=[_button(text="t" * 75, value="v" * 2000, action_id="a" * 255,
                                             confirm=_confirm("t" * 100, "x" * 300, "c" * 30, "d" * 30))]
                           + [_button(action_id=f"b{i}") for i in range(24)])]
    assert check_blocks([b.to_dict() for b in blocks]) == []


def test_block_count_per_surface():
    blocks = [{"type": "divider"}] * 51
    assert check_blocks(blocks) == ["must provide no more than 50 items [json-pointer:/blocks]"]
    assert check_view({"type": "home", "blocks": blocks}) == []
    assert check_view({"type": "home", "blocks": blocks * 2}) == [
        "must provide no more than 100 items [json-pointer:/view/blocks]"]


def test_input_blocks_only_in_views():
    block = {"type": "input", "label": {"type": "plain_text", "text": "x"},
             "element": {"type": "plain_text_input", "action_id": "a"}}
    assert check_blocks([block])
    assert check_view({"type": "modal", "title": {"type": "plain_text", "text": "t"},
                       "submit": {"type": "plain_text", "text": "Go"}, "blocks": [block]}) == []


def test_iter_elements_finds_accessories_and_actions():
    blocks = [SectionBlock(block_id="s", text="x", accessory=_button(action_id="acc")).to_dict(),
              ActionsBlock(block_id="a", elements=[_button(action_id="one"), _button(action_id="two")]).to_dict()]
    assert [(b, e["action_id"]) for b, e in iter_elements(blocks)] == [("s", "acc"), ("a", "one"), ("a", "two")]


def test_mentions_that_would_ping():
    hostile = "<!channel> & <@U0123ABCD> <https://evil.example|x>"
    assert find_mentions(hostile) == ["<!channel>", "<@U0123ABCD>", "<https://evil.example|x>"]
    escaped = hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert find_mentions(escaped) == [] and unescape(escaped) == hostile
    msg = Message("C0ALERTS01", "1.000001", "U0QBSYNCBOT", text=escaped,
                  blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Customer <!here>"}},
                          {"type": "section", "text": {"type": "plain_text", "text": "<!here> is plain"}}])
    assert msg.mentions() == ["<!here>"]  # only mrkdwn renders mentions
    assert "Customer <!here>" in msg.visible_text()
