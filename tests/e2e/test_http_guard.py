"""HTTP mode's gate (bot/http_guard.py) over real HTTP: the running app (HttpRunner on
127.0.0.1, waitress + bolt) and the Slack sandbox. Replays run once (across a restart too),
requests for another workspace or app and non-numeric timestamps get 401, ~40 signed but
malformed payloads get 400 with no state change, oversized bodies get 413."""
from __future__ import annotations

import copy
import json
import time
from urllib.parse import urlencode

import pytest

from sandbox import slack_payloads as payloads
from sandbox.slack_http import encode, post_signed
from sandbox.slack_workspace import ALERT_CHANNEL

from .conftest import ALICE
from .test_fix_flows import _fix_payload, customers_with

KEY = "3001:missing-customer"


def slash_fields(bot, text: str, user: str = ALICE) -> dict:
    """A slash command's form fields, as Slack sends them (fresh trigger id and response URL)."""
    ws = bot.sb.slack.workspace
    with ws.lock:
        trigger = ws.mint_trigger(user)
        url = ws.mint_response_url(bot.sb.slack.url, "commands", ALERT_CHANNEL, user)
    return payloads.slash_command(ws.users[user], "/qbsync", text, channel_id=ALERT_CHANNEL,
                                  channel_name="qbsync-alerts", response_url=url, trigger_id=trigger)


def send(bot, body: bytes, ctype: str, **kw):
    return post_signed(bot.runner.url, body, ctype, bot.sb.slack.workspace.signing_secret, timeout=5, **kw)


def audits(bot, action: str) -> list[dict]:
    return [e for e in bot.store.audit_entries() if e["action"] == action]


def slack_writes(bot) -> list[str]:
    """Web API calls that change something a person sees (reads like auth.test excluded)."""
    return [m for m, _ in bot.sb.slack.service.calls
            if m.startswith(("chat.", "views.")) or m == "reactions.add"]


# -- replays ------------------------------------------------------------------------------
def test_a_replayed_mute_and_scan_run_once_even_after_a_restart(make_bot):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    ts = str(int(time.time()))
    mute, ctype = encode("slash_commands", slash_fields(bot, "mute missing-customer 1h"))
    scan, _ = encode("slash_commands", slash_fields(bot, "scan"))
    first = [send(bot, mute, ctype, timestamp=ts), send(bot, scan, ctype, timestamp=ts)]
    assert [r.status for r in first] == [200, 200]
    bot.d.wait_for(lambda: len(audits(bot, "scan")) == 1, timeout=15)
    time.sleep(0.3)                                       # 3 s later in the issue; the window is 5 min
    again = [send(bot, mute, ctype, timestamp=ts), send(bot, scan, ctype, timestamp=ts),
             send(bot, mute, ctype, retry_num=1)]         # Slack's retry: same body, new timestamp
    assert [(r.status, r.body) for r in again] == [(200, b"")] * 3
    time.sleep(0.5)                                       # a second run would have audited by now
    assert len(audits(bot, "command:mute")) == 1
    assert len(audits(bot, "command:scan")) == 1 and len(audits(bot, "scan")) == 1

    # A restart: a new process on the same database still knows what it took.
    bot.runner.stop()
    bot.store.close()
    bot2 = make_bot(transport="http", allowed=ALICE, sandbox=bot.sb, load=False)
    assert send(bot2, mute, ctype, timestamp=ts).body == b""
    time.sleep(0.5)
    assert len(audits(bot2, "command:mute")) == 1
    fresh, _ = encode("slash_commands", slash_fields(bot2, "mute missing-customer 2h"))
    assert send(bot2, fresh, ctype).status == 200        # a new command still runs
    bot2.d.wait_for(lambda: len(audits(bot2, "command:mute")) == 2, timeout=10)


# -- not this installation, not a number --------------------------------------------------
def _elsewhere(bot, what: str):
    if what.startswith("slash"):
        fields = slash_fields(bot, "mute missing-customer 1h")
        fields["team_id" if what == "slash-team" else "api_app_id"] = "T0OTHERTEAM" if what == "slash-team" else "A0OTHERAPP1"
        return encode("slash_commands", fields)
    payload = _fix_payload(bot, KEY, "create-customer")
    if what == "click-team":
        payload["team"]["id"] = "T0OTHERTEAM"
    else:
        payload["api_app_id"] = "A0OTHERAPP1"
    return encode("interactive", payload)


@pytest.mark.parametrize("what", ["slash-team", "slash-app", "click-team", "click-app"])
def test_a_request_for_another_workspace_or_app_is_refused(make_bot, what):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    bot.scan()
    assert bot.runner.guard.installation.app_id == "A0QBSYNC001"  # learnt through bots.info
    audit_before, writes_before = len(bot.store.audit_entries()), slack_writes(bot)
    body, ctype = _elsewhere(bot, what)
    r = send(bot, body, ctype)
    assert r.status == 401 and b"{" not in r.body
    time.sleep(0.5)
    assert len(bot.store.audit_entries()) == audit_before and slack_writes(bot) == writes_before
    assert bot.store.active_mutes() == {} and customers_with(bot.sb, "ann.jansen@northwind.example") == []


@pytest.mark.parametrize("ts", ["abc", "", "1e9", "-5", "12.5", "\xb9\xb2"])
def test_a_timestamp_that_is_not_a_number_is_401_not_500(make_bot, ts):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    body, ctype = encode("slash_commands", slash_fields(bot, "mute missing-customer 1h"))
    r = send(bot, body, ctype, timestamp=ts)
    assert r.status == 401
    time.sleep(0.2)
    assert audits(bot, "command:mute") == []


# -- malformed but signed -----------------------------------------------------------------
FORM, JSON_T = "application/x-www-form-urlencoded", "application/json"


def _form(fields: dict, **changes) -> bytes:
    out = dict(fields)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return urlencode(out).encode()


def _click(payload: dict, mutate) -> bytes:
    p = copy.deepcopy(payload)
    mutate(p)
    return urlencode({"payload": json.dumps(p)}).encode()


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def malformed_cases(slash: dict, click: dict, event: dict) -> list[tuple[str, bytes, str]]:
    c = lambda f: _click(click, f)  # noqa: E731
    ev = lambda f: json.dumps(_mut(event, f)).encode()  # noqa: E731
    return [
        ("slash: body not UTF-8", _form(slash) + b"&x=\xff\xfe", FORM),
        ("slash: %-escape not UTF-8", _form(slash).replace(b"text=", b"text=%FF", 1), FORM),
        ("slash: no team_id", _form(slash, team_id=None), FORM),
        ("slash: no api_app_id", _form(slash, api_app_id=None), FORM),
        ("slash: no command", _form(slash, command=None), FORM),
        ("slash: no user_id", _form(slash, user_id=None), FORM),
        ("slash: no response_url", _form(slash, response_url=None), FORM),
        ("slash: field repeated", _form(slash) + b"&text=unmute", FORM),
        ("slash: user id not an id", _form(slash, user_id="<!channel>"), FORM),
        ("slash: response_url not a URL", _form(slash, response_url="javascript:alert(1)"), FORM),
        ("slash: command without slash", _form(slash, command="qbsync"), FORM),
        ("slash: not a form", b"&&==&%%", FORM),
        ("slash: too many fields", _form(slash) + b"".join(b"&f%d=1" % i for i in range(80)), FORM),
        ("click: payload not JSON", urlencode({"payload": "{not json"}).encode(), FORM),
        ("click: payload a list", urlencode({"payload": "[1, 2]"}).encode(), FORM),
        ("click: payload null", urlencode({"payload": "null"}).encode(), FORM),
        ("click: payload and more", _click(click, lambda p: None) + b"&extra=1", FORM),
        ("click: unknown type", c(lambda p: p.update(type="dialog_submission")), FORM),
        ("click: actions a string", c(lambda p: p.update(actions="fix")), FORM),
        ("click: actions empty", c(lambda p: p.update(actions=[])), FORM),
        ("click: action not an object", c(lambda p: p.update(actions=[1])), FORM),
        ("click: action_id a number", c(lambda p: p["actions"][0].update(action_id=7)), FORM),
        ("click: value a list", c(lambda p: p["actions"][0].update(value=["3001"])), FORM),
        ("click: no user", c(lambda p: p.pop("user")), FORM),
        ("click: user id a number", c(lambda p: p["user"].update(id=42)), FORM),
        ("click: no team", c(lambda p: p.pop("team")), FORM),
        ("click: channel a string", c(lambda p: p.update(channel="C0ALERTS01")), FORM),
        ("click: nested 200 deep", c(lambda p: p.update(state={"values": json.loads(_nested(200))})), FORM),
        ("click: NaN", urlencode({"payload": json.dumps(click).replace('"state"', '"x": NaN, "state"', 1)}).encode(),
         FORM),
        ("click: repeated key", urlencode({"payload": json.dumps(click)[:-1] + ', "type": "block_actions"}'}).encode(),
         FORM),
        ("event: not JSON", b'{"type": "event_callback",', JSON_T),
        ("event: a list", b"[]", JSON_T),
        ("event: no event", ev(lambda p: p.pop("event")), JSON_T),
        ("event: event type a number", ev(lambda p: p["event"].update(type=1)), JSON_T),
        ("event: unknown wrapper", ev(lambda p: p.update(type="block_suggestion")), JSON_T),
        ("event: no team_id", ev(lambda p: p.pop("team_id")), JSON_T),
        ("event: nested 100000 deep", _nested(100000).encode(), JSON_T),
        ("event: not UTF-8", b'{"type": "event_callback", "x": "\xc3\x28"}', JSON_T),
        ("other content type", _form(slash), "text/plain"),
    ]


def _mut(payload: dict, f) -> dict:
    p = copy.deepcopy(payload)
    f(p)
    return p


def test_signed_malformed_payloads_get_400_and_nothing_runs(make_bot):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    bot.scan()
    alert_before = bot.alert(KEY)
    audit_before, writes_before = len(bot.store.audit_entries()), slack_writes(bot)
    ws = bot.sb.slack.workspace
    slash = slash_fields(bot, "mute missing-customer 1h")
    click = _fix_payload(bot, KEY, "create-customer")
    event = payloads.app_home_opened(ws.users[ALICE], "D0ALICE001", None)
    cases = malformed_cases(slash, click, event)
    assert len(cases) >= 30
    got = {name: send(bot, body, ctype).status for name, body, ctype in cases}
    assert got == {name: 400 for name, _, _ in cases}
    time.sleep(0.5)                                       # anything dispatched would have acted by now
    assert len(bot.store.audit_entries()) == audit_before
    assert slack_writes(bot) == writes_before and bot.d.responses() == [] and bot.d.ephemerals(ALICE) == []
    assert bot.alert(KEY) == alert_before and bot.store.active_mutes() == {}
    assert customers_with(bot.sb, "ann.jansen@northwind.example") == []

    # The unbroken originals are accepted: what was refused is the breakage, not the request.
    assert send(bot, _form(slash), FORM).status == 200
    assert send(bot, *encode("interactive", click)).status == 200
    assert send(bot, *encode("events_api", event)).status == 200
    bot.d.wait_for(lambda: bot.store.active_mutes(), timeout=10)
    bot.wait_audit(KEY, "slack:fix:create-customer", "ok")


def test_url_verification_still_answers_its_challenge(make_bot):
    bot = make_bot("missing-customer", transport="http")
    r = send(bot, json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"}).encode(), JSON_T)
    assert r.status == 200 and b"c-123" in r.body


# -- size ---------------------------------------------------------------------------------
def test_an_oversized_body_is_413_before_the_signature(make_bot):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    fields = slash_fields(bot, "mute missing-customer 1h")
    fields["text"] += " " * (300 * 1024)                 # signed, but over the 256 KB cap
    body, ctype = encode("slash_commands", fields)
    assert send(bot, body, ctype).status == 413
    time.sleep(0.2)
    assert audits(bot, "command:mute") == []
