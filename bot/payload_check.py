"""The shape of a signed HTTP request from Slack, checked before bolt dispatches it.

A signature proves who sent a body, not that the body is what the app expects: a signed body
that is not JSON, has a list where a string belongs, lacks a field or nests 10,000 levels deep
used to crash bolt or a listener half-way (a 500, or an Acknowledge half done). `check()`
accepts only the shapes qbsync handles and answers everything else with `Malformed` (the
HTTP guard turns it into 400, and nothing runs).

The rules (sources: Slack's "Enabling interactivity with Slash commands" for the form
fields, "Handling user interaction" / block_actions and view_submission payload references,
the Events API's event_callback and url_verification wrappers; the shapes the sandbox sends
are built from the same pages, sandbox/slack_payloads.py):

- The body is UTF-8 (Slack: "a UTF-8 encoded message body"), at most the guard's size cap.
- `application/x-www-form-urlencoded`:
  - exactly one field `payload` = a JSON object -> an interaction (block_actions,
    view_submission or view_closed);
  - `ssl_check=1` -> Slack's certificate probe for slash command URLs (bolt answers it);
  - otherwise a slash command: each field at most once, and the fields below are strings.
- `application/json` -> an Events API request: `url_verification` (a string challenge) or
  `event_callback` (an `event` object with a string `type`), or `app_rate_limited`.
- JSON: objects nest at most MAX_DEPTH deep, no NaN/Infinity, no repeated keys.
- Ids (team, app, user, channel) look like Slack ids: upper-case letters and digits.
- Every request that acts (not url_verification / ssl_check) names its workspace and app,
  so the guard can check them against this installation (`Checked.team_id`, `.app_id`).
- JSON strings are valid Unicode: a lone surrogate (`"\\ud800"`) parses in Python but cannot
  be stored or sent on (SQLite and UTF-8 encoders raise).
- What bolt itself reads before any listener runs has the type bolt assumes (`_bolt_fields`):
  bolt's request parsing (slack_bolt/request/internals.py build_context, payload_utils.py)
  does `"id" in payload["enterprise"]`, `payload["authorizations"][0].get(...)`,
  `"type" in body["event"]`, `"callback_id" in body["view"]`; a number or a list there was
  a 500. A form body starting with `{` is read by bolt as JSON (internals.parse_body), so it
  is not accepted as a form.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

MAX_DEPTH = 40           # Block Kit messages inside a block_actions payload nest ~10 deep
MAX_FORM_FIELDS = 64     # a slash command has ~14 fields
MAX_ACTIONS = 25         # Block Kit: at most 25 elements per actions block

# \Z, not $: `$` also matches before a final "\n", and "U0ALICE001\n" is not an id.
_ID = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,63}\Z")
_URL = re.compile(r"^https?://[^\s]+\Z")
# A string runs to its closing quote or, unterminated, to the end of the text (json.loads
# stops at an unterminated string, so nothing after it is parsed). Without the `\Z` ending,
# every quote of '"\\"\\"\\"...' began a scan to the end that failed: quadratic, 3.6 s for a
# 40 KB signed body and minutes for 256 KB, holding a server thread.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.S)

INTERACTION_TYPES = ("block_actions", "view_submission", "view_closed")
EVENT_TYPES = ("event_callback", "url_verification", "app_rate_limited")


class Malformed(ValueError):
    """The body is not a payload qbsync accepts. The message names the rule, never the body."""


@dataclass(frozen=True)
class Checked:
    kind: str                  # slash_command | interaction | event | url_verification | ssl_check
    team_id: str | None        # None only for url_verification / ssl_check
    app_id: str | None


def check(body: bytes, content_type: str) -> Checked:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return _check_form(text)
    if media == "application/json":
        return _check_event(_json_object(text, "body"))
    raise Malformed(f"unsupported content type {media[:60]!r}")


# -- form bodies: slash commands, interactions, ssl_check -------------------------------------
_COMMAND_FIELDS = ("command", "text", "user_id", "channel_id", "team_id", "api_app_id",
                   "trigger_id", "response_url")


def _check_form(text: str) -> Checked:
    if text.startswith("{"):  # bolt's parse_body reads it as JSON whatever the content type says
        raise Malformed("form body starts with {")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding="utf-8",
                          errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except (ValueError, UnicodeDecodeError):  # bad pairs, too many fields, %-escapes not UTF-8
        raise Malformed("form body does not parse") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise Malformed(f"form field {_known(key)} repeated")
        form[key] = value
    if "payload" in form:
        if len(form) != 1:
            raise Malformed("an interaction carries only the payload field")
        return _check_interaction(_json_object(form["payload"], "payload"))
    if form.get("ssl_check") == "1":
        return Checked("ssl_check", None, None)
    for name in _COMMAND_FIELDS:
        if name not in form:
            raise Malformed(f"slash command without {name}")
    if not form["command"].startswith("/") or len(form["command"]) > 64:
        raise Malformed("slash command name")
    for name in ("user_id", "channel_id", "team_id", "api_app_id"):
        _id(form[name], name)
    _url(form["response_url"], "response_url")
    return Checked("slash_command", form["team_id"], form["api_app_id"])


# -- interactions -----------------------------------------------------------------------------
def _check_interaction(p: dict) -> Checked:
    _bolt_fields(p)
    if "command" in p or "event" in p:  # bolt would take it for a slash command / an event
        raise Malformed("an interaction carries no command or event")
    kind = p.get("type")
    if kind not in INTERACTION_TYPES:
        raise Malformed(f"interaction type {_known(kind, INTERACTION_TYPES)} not handled")
    team = _obj(p, "team")
    team_id = _id(team.get("id"), "team.id")
    app_id = _id(p.get("api_app_id"), "api_app_id")
    user = _obj(p, "user")
    _id(user.get("id"), "user.id")
    if kind == "block_actions":
        _block_actions(p)
    else:
        view = _obj(p, "view")
        _str(view.get("id"), "view.id")
        if kind == "view_submission":
            state = _obj(view, "state", "view.state")
            _obj(state, "values", "view.state.values")
    return Checked("interaction", team_id, app_id)


def _block_actions(p: dict) -> None:
    actions = p.get("actions")
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        raise Malformed("actions must be a list of 1 to 25 actions")
    for act in actions:
        if not isinstance(act, dict):
            raise Malformed("an action is not an object")
        _str(act.get("action_id"), "action.action_id")
        _str(act.get("type"), "action.type")
        for name in ("block_id", "value", "action_ts"):
            if act.get(name) is not None:
                _str(act[name], f"action.{name}")
        if "selected_option" in act:
            _str(_obj(act, "selected_option", "action.selected_option").get("value"),
                 "action.selected_option.value")
    if p.get("channel") is not None:
        _id(_obj(p, "channel").get("id"), "channel.id")
    if p.get("response_url") is not None:
        _url(p["response_url"], "response_url")
    for name in ("container", "message", "view", "state"):
        if p.get(name) is not None:
            _obj(p, name)
    if p.get("trigger_id") is not None:
        _str(p["trigger_id"], "trigger_id")


# -- Events API -------------------------------------------------------------------------------
def _check_event(p: dict) -> Checked:
    _bolt_fields(p)
    if "command" in p:  # bolt would take it for a slash command
        raise Malformed("an event carries no command")
    kind = p.get("type")
    if kind not in EVENT_TYPES:
        raise Malformed(f"event wrapper type {_known(kind, EVENT_TYPES)} not handled")
    if kind == "url_verification":
        _str(p.get("challenge"), "challenge")
        return Checked("url_verification", None, None)
    team_id = _id(p.get("team_id"), "team_id")
    app_id = _id(p.get("api_app_id"), "api_app_id")
    if kind == "event_callback":
        event = _obj(p, "event")
        _str(event.get("type"), "event.type")
        _str(p.get("event_id"), "event_id")
        if event.get("user") is not None:
            _id(event["user"], "event.user")
    return Checked("event", team_id, app_id)


# -- what bolt reads before dispatching ------------------------------------------------------
_REFS = ("enterprise", "team", "user", "channel")          # bolt: a string or an object with "id"
# bolt: `body["view"].get(...)` whenever "view" is there, even null (its unhandled-request
# warning, slack_bolt/logger/messages.py _build_filtered_body), `"type" in body["event"]`
_MUST_BE_OBJECTS = ("view", "event")
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread", "function_data",
           "container", "state")                           # objects bolt looks into (None: absent)


def _bolt_fields(p: dict, where: str = "", depth: int = 0) -> None:
    """The fields slack_bolt's build_context and payload_utils read, in the types they assume,
    here and in the objects bolt recurses into (event, message, item, authorizations[0], ...)."""
    for name in _REFS:
        value = p.get(name)
        if value is not None and not isinstance(value, (str, dict)):
            raise Malformed(f"{where}{name} must be a string or an object")
    for name in _MUST_BE_OBJECTS if not where else ():  # top level only (event.view may be null)
        if name in p and not isinstance(p[name], dict):
            raise Malformed(f"{where}{name} must be an object")
    # bolt: `len(body["response_urls"])` whenever the key is there, even null
    lists = {"authorizations": p.get("authorizations", [])}
    if "response_urls" in p:
        lists["response_urls"] = p["response_urls"]
    for name, value in lists.items():
        if name == "authorizations" and value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise Malformed(f"{where}{name} must be a list of objects")
    if depth >= 3:  # bolt recurses event -> message, authorizations[0]; deeper is not read
        return
    for name in _NESTED:
        value = p.get(name)
        if value is not None:
            if not isinstance(value, dict):
                raise Malformed(f"{where}{name} must be an object")
            _bolt_fields(value, f"{where}{name}.", depth + 1)
    for value in (p.get("authorizations") or [])[:1]:
        _bolt_fields(value, f"{where}authorizations[0].", depth + 1)


def _known(value, names=_COMMAND_FIELDS + ("payload", "ssl_check")) -> str:
    """A value from the body, quoted only if it is one of the names qbsync knows: a refusal's
    reason is logged and answered, and must not carry the rejected body (issue 10)."""
    return repr(value) if isinstance(value, str) and value in names else "(not shown)"


# -- primitives -------------------------------------------------------------------------------
def _json_object(text: str, what: str) -> dict:
    depth = 0
    for m in _JSON_TOKENS.finditer(text):  # before json.loads: deep nesting would recurse
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise Malformed(f"{what} nests deeper than {MAX_DEPTH}")
        elif tok in "]}":
            depth -= 1
    try:
        value = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_repeats)
    except (ValueError, RecursionError):
        raise Malformed(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not a JSON object")
    try:  # json.loads keeps a lone surrogate ("\\ud800"): not text, and it breaks later
        if "\\u" in text:  # only an escape can make one (text itself is valid UTF-8)
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Malformed(f"{what} holds a lone surrogate") from None
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _no_repeats(pairs: list) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError("repeated key")
        out[key] = value
    return out


def _obj(parent: dict, key: str, label: str | None = None) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise Malformed(f"{label or key} must be an object")
    return value


def _str(value, label: str) -> str:
    if not isinstance(value, str):
        raise Malformed(f"{label} must be a string")
    return value


def _id(value, label: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise Malformed(f"{label} must be a Slack id")
    return value


def _url(value, label: str) -> str:
    if not isinstance(value, str) or not _URL.match(value):
        raise Malformed(f"{label} must be an http(s) URL")
    return value
