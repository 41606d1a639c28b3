"""Block Kit limits, checked the way Slack's servers check them, for the Slack stand-in.

`check_blocks(blocks, max_blocks=50)` returns a list of problems, each worded like the
messages Slack puts in an `invalid_blocks` answer ("must be less than 3001 characters
[json-pointer:/blocks/0/text/text]"); an empty list means the blocks would be accepted.
`check_view(view)` does the same for a modal or Home tab view (`invalid_arguments` on Slack).

Limits (Slack's Block Kit reference; slack_sdk.models.blocks enforces the same numbers on the
client side, and tests/sandbox/test_slack_blocks.py checks that both agree):
  message 50 blocks, modal / Home tab 100; block_id 255; section text 3,000, fields 10 x 2,000;
  header 150; context 10 elements; actions 1..25 elements; action_id 255; button text 75,
  value 2,000, url 3,000, style primary|danger; confirm dialog title 100, text 300,
  confirm/deny 30; option text 75, value 150; select options 100, placeholder 150;
  overflow 1..5 options; modal title/submit/close 24, callback_id 255, private_metadata 3,000.
Block types qbsync does not use are accepted without a deep check (Slack knows more types
than this stand-in does; refusing them would be a stand-in bug, not Slack's behaviour).
"""
from __future__ import annotations

from typing import Any

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100

_KNOWN_UNCHECKED = {"image", "file", "rich_text", "video", "call", "markdown", "table",
                    "context_actions", "card", "alert", "carousel", "plan", "task_card"}


class _Checker:
    def __init__(self):
        self.errors: list[str] = []

    def err(self, pointer: str, message: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def max_len(self, pointer: str, value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.err(pointer, f"must be less than {limit + 1} characters")

    # -- composition objects ---------------------------------------------------------------
    def text(self, p: str, obj: Any, limit: int | None, *, plain_only: bool = False,
             required: bool = True) -> None:
        if obj is None:
            if required:
                self.err(p, "must provide an object")
            return
        if not isinstance(obj, dict):
            self.err(p, "must provide an object")
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.err(f"{p}/type", f"must be one of {', '.join(allowed)}")
        value = obj.get("text")
        if not isinstance(value, str) or not value:
            self.err(f"{p}/text", "must be more than 0 characters")
        elif limit is not None:
            self.max_len(f"{p}/text", value, limit)

    def confirm(self, p: str, obj: Any) -> None:
        if not isinstance(obj, dict):
            self.err(p, "must provide an object")
            return
        self.text(f"{p}/title", obj.get("title"), 100, plain_only=True)
        self.text(f"{p}/text", obj.get("text"), 300)
        self.text(f"{p}/confirm", obj.get("confirm"), 30, plain_only=True)
        self.text(f"{p}/deny", obj.get("deny"), 30, plain_only=True)
        if obj.get("style") not in (None, "primary", "danger"):
            self.err(f"{p}/style", "must be one of primary, danger")

    def option(self, p: str, obj: Any) -> None:
        if not isinstance(obj, dict):
            self.err(p, "must provide an object")
            return
        self.text(f"{p}/text", obj.get("text"), 75)
        value = obj.get("value")
        if not isinstance(value, str):
            self.err(f"{p}/value", "must provide a string")
        else:
            self.max_len(f"{p}/value", value, 150)

    # -- interactive elements --------------------------------------------------------------
    def element(self, p: str, el: Any) -> None:
        if not isinstance(el, dict) or not isinstance(el.get("type"), str):
            self.err(p, "must provide an object with a type")
            return
        self.max_len(f"{p}/action_id", el.get("action_id"), 255)
        if "confirm" in el:
            self.confirm(f"{p}/confirm", el["confirm"])
        kind = el["type"]
        if kind == "button":
            self.text(f"{p}/text", el.get("text"), 75, plain_only=True)
            self.max_len(f"{p}/value", el.get("value"), 2000)
            self.max_len(f"{p}/url", el.get("url"), 3000)
            if el.get("style") not in (None, "primary", "danger"):
                self.err(f"{p}/style", "must be one of primary, danger")
        elif kind in ("static_select", "multi_static_select", "external_select", "users_select",
                      "conversations_select", "channels_select", "multi_users_select",
                      "multi_conversations_select", "multi_channels_select", "multi_external_select"):
            if "placeholder" in el:
                self.text(f"{p}/placeholder", el["placeholder"], 150, plain_only=True)
            options = el.get("options")
            if kind.endswith("static_select") and options is None and el.get("option_groups") is None:
                self.err(f"{p}/options", "must provide options or option_groups")
            if isinstance(options, list):
                if len(options) > 100:
                    self.err(f"{p}/options", "must provide no more than 100 items")
                for i, o in enumerate(options):
                    self.option(f"{p}/options/{i}", o)
        elif kind == "overflow":
            options = el.get("options")
            if not isinstance(options, list) or not 1 <= len(options) <= 5:
                self.err(f"{p}/options", "must provide between 1 and 5 items")
            else:
                for i, o in enumerate(options):
                    self.option(f"{p}/options/{i}", o)
        elif kind == "plain_text_input":
            if "placeholder" in el:
                self.text(f"{p}/placeholder", el["placeholder"], 150, plain_only=True)
            self.max_len(f"{p}/initial_value", el.get("initial_value"), 3000)

    # -- blocks ----------------------------------------------------------------------------
    def block(self, p: str, block: Any, *, surface: str) -> None:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            self.err(p, "must provide an object with a type")
            return
        self.max_len(f"{p}/block_id", block.get("block_id"), 255)
        kind = block["type"]
        if kind == "section":
            if block.get("text") is None and not block.get("fields"):
                self.err(p, "must provide text or fields")
            if block.get("text") is not None:
                self.text(f"{p}/text", block["text"], 3000)
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    self.err(f"{p}/fields", "must provide no more than 10 items")
                else:
                    for i, f in enumerate(fields):
                        self.text(f"{p}/fields/{i}", f, 2000)
            if block.get("accessory") is not None:
                self.element(f"{p}/accessory", block["accessory"])
        elif kind == "header":
            self.text(f"{p}/text", block.get("text"), 150, plain_only=True)
        elif kind == "divider":
            pass
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                self.err(f"{p}/elements", "must provide between 1 and 10 items")
            else:
                for i, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") in ("plain_text", "mrkdwn"):
                        self.text(f"{p}/elements/{i}", el, 3000)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err(f"{p}/elements", "must provide at least 1 item")
            elif len(elements) > 25:
                self.err(f"{p}/elements", "must provide no more than 25 items")
            else:
                for i, el in enumerate(elements):
                    self.element(f"{p}/elements/{i}", el)
        elif kind == "input":
            if surface == "message":
                self.err(p, "input blocks are only allowed in modals and Home tabs")
            self.text(f"{p}/label", block.get("label"), 2000, plain_only=True)
            self.element(f"{p}/element", block.get("element"))
            if block.get("hint") is not None:
                self.text(f"{p}/hint", block["hint"], 2000, plain_only=True)
        elif kind not in _KNOWN_UNCHECKED:
            self.err(f"{p}/type", f"unsupported type: {kind}")

    def blocks(self, p: str, blocks: Any, max_blocks: int, surface: str) -> None:
        if not isinstance(blocks, list):
            self.err(p, "must provide an array")
            return
        if len(blocks) > max_blocks:
            self.err(p, f"must provide no more than {max_blocks} items")
        for i, b in enumerate(blocks):
            self.block(f"{p}/{i}", b, surface=surface)


def check_blocks(blocks: Any, *, max_blocks: int = MESSAGE_MAX_BLOCKS, surface: str = "message",
                 pointer: str = "/blocks") -> list[str]:
    """Problems with a message's (or view's) `blocks`, as Slack words them; [] when valid."""
    c = _Checker()
    c.blocks(pointer, blocks, max_blocks, surface)
    return c.errors


def check_view(view: Any) -> list[str]:
    """Problems with a view (type modal or home) for views.open / views.update / views.publish."""
    c = _Checker()
    if not isinstance(view, dict):
        c.err("/view", "must provide an object")
        return c.errors
    kind = view.get("type")
    if kind not in ("modal", "home"):
        c.err("/view/type", "must be one of modal, home")
        return c.errors
    if kind == "modal":
        c.text("/view/title", view.get("title"), 24, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                c.text(f"/view/{key}", view[key], 24, plain_only=True)
    c.max_len("/view/callback_id", view.get("callback_id"), 255)
    c.max_len("/view/private_metadata", view.get("private_metadata"), 3000)
    c.max_len("/view/external_id", view.get("external_id"), 255)
    c.blocks("/view/blocks", view.get("blocks"), VIEW_MAX_BLOCKS, kind)
    if kind == "modal" and view.get("submit") is None and any(
            isinstance(b, dict) and b.get("type") == "input" for b in (view.get("blocks") or [])):
        c.err("/view/submit", "must provide submit when the view has input blocks")
    return c.errors


def iter_elements(blocks: list) -> list[tuple[str | None, dict]]:
    """Every interactive element in `blocks` with the block_id it sits in (section accessories
    and actions elements), in order. The driver uses this to find the button a user clicks."""
    found: list[tuple[str | None, dict]] = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("accessory"), dict):
            found.append((block.get("block_id"), block["accessory"]))
        if block.get("type") == "actions":
            for el in block.get("elements") or []:
                if isinstance(el, dict):
                    found.append((block.get("block_id"), el))
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            found.append((block.get("block_id"), block["element"]))
    return found


def iter_texts(blocks: list) -> list[tuple[str, str]]:
    """(type, text) of every text object in `blocks` (sections, fields, headers, context,
    button labels, confirm dialogs): what a person reads, and where mentions could hide."""
    out: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
                out.append((node["type"], node["text"]))
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(blocks)
    return out
