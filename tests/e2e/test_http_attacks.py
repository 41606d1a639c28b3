"""Attacks on HTTP mode beyond tests/e2e/test_http_guard.py, over real HTTP against the running
app (HttpRunner, waitress + bolt) and the Slack sandbox: signed payloads whose fields bolt
itself reads in another type (each was a 500 from inside bolt's request parsing), lone
surrogates, signature and timestamp variants, durations in other digits, refusal reasons that
quoted the rejected body, and a slash command bolt's parser misread because it contained the
word "payload"."""
from __future__ import annotations

import copy
import json
import time
from urllib.parse import urlencode

from sandbox import slack_payloads as payloads
from sandbox.slack_http import encode, signature

from .conftest import ALICE
from .test_fix_flows import _fix_payload, customers_with
from .test_http_guard import FORM, JSON_T, KEY, _form, send, slack_writes, slash_fields
from .test_http_logs import debug_log  # noqa: F401  (fixture)

MARK = "attack-marker-5c1e"


def _set(payload: dict, path: str, value) -> dict:
    """A copy of `payload` with the dotted `path` (list indexes as numbers) set to `value`."""
    p = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node = p
    for name in parents:
        node = node[int(name)] if name.isdigit() else node[name]
    node[last] = value
    return p


def _click(p: dict) -> tuple[bytes, str]:
    return urlencode({"payload": json.dumps(p)}).encode(), FORM


def _event(p: dict) -> tuple[bytes, str]:
    return json.dumps(p).encode(), JSON_T


def bolt_misread_cases(slash: dict, click: dict, event: dict) -> list[tuple[str, bytes, str]]:
    """Signed, this workspace and app, but a field slack_bolt reads before any listener (its
    build_context / payload_utils) has a type bolt does not expect."""
    cases = [
        ("click: enterprise a number", *_click(_set(click, "enterprise", 5))),
        ("click: enterprise a list", *_click(_set(click, "enterprise", ["id"]))),
        ("click: authorizations a string", *_click(_set(click, "authorizations", "x"))),
        ("click: authorizations of numbers", *_click(_set(click, "authorizations", [1]))),
        ("click: authorizations an object", *_click(_set(click, "authorizations", {"a": 1}))),
        ("click: view null", *_click(_set(click, "view", None))),
        ("click: event a number", *_click(_set(click, "event", 5))),
        ("click: response_urls a string", *_click(_set(click, "response_urls", "x"))),
        ("click: a command field", *_click(_set(click, "command", "/qbsync"))),
        ("click: lone surrogate", *_click(_set(click, "actions.0.value", "\ud800"))),
        ("event: team a number", *_event(_set(event, "team", 5))),
        ("event: user a list", *_event(_set(event, "user", ["id"]))),
        ("event: channel true", *_event(_set(event, "channel", True))),
        ("event: event.channel a number", *_event(_set(event, "event.channel", 5))),
        ("event: event.item a string", *_event(_set(event, "event.item", "x"))),
        ("event: authorizations[0].team a number", *_event(_set(event, "authorizations.0.team", 5))),
        ("event: authorizations[0].enterprise a list", *_event(_set(event, "authorizations.0.enterprise", ["id"]))),
        ("event: response_urls null", *_event(_set(event, "response_urls", None))),
        ("event: a command field", *_event(_set(event, "command", "/qbsync"))),
        ("event: lone surrogate", *_event(_set(event, "event.tab", "\udfff"))),
        ("slash: body starts with {", b"{=1&" + _form(slash), FORM),
        ("slash: user id ends in a newline", _form(slash, user_id=ALICE + "\n"), FORM),
        ("slash: response_url ends in a newline", _form(slash, response_url=slash["response_url"] + "\n"), FORM),
    ]
    return cases


def test_signed_payloads_bolt_would_misread_get_400_not_500_and_nothing_runs(make_bot):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    bot.scan()
    ws = bot.sb.slack.workspace
    alert_before = bot.alert(KEY)
    audit_before, writes_before = len(bot.store.audit_entries()), slack_writes(bot)
    slash = slash_fields(bot, "mute missing-customer 1h")
    click = _fix_payload(bot, KEY, "create-customer")
    event = payloads.app_home_opened(ws.users[ALICE], "D0ALICE001", None)
    cases = bolt_misread_cases(slash, click, event)
    got = {name: send(bot, body, ctype).status for name, body, ctype in cases}
    assert got == {name: 400 for name, _, _ in cases}
    time.sleep(0.5)                                       # anything dispatched would have acted by now
    assert len(bot.store.audit_entries()) == audit_before and slack_writes(bot) == writes_before
    assert bot.alert(KEY) == alert_before and bot.store.active_mutes() == {}
    assert customers_with(bot.sb, "ann.jansen@northwind.example") == []
    # Slack's own shapes of the same fields still pass: an org-wide install's enterprise
    # object, the event's authorizations list, a null enterprise (the originals have these).
    assert send(bot, *_event(_set(event, "enterprise", {"id": "E0ORG00001"}))).status == 200
    assert send(bot, *encode("interactive", click)).status == 200
    bot.wait_audit(KEY, "slack:fix:create-customer", "ok")


def test_a_slash_command_containing_the_word_payload_reaches_its_listener(make_bot):
    """bolt's parse_body took any form body with the substring "payload" for an interaction and
    found nothing: the command was answered 404 and never ran (bot/bolt_wsgi.py)."""
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    [answer] = bot.command(ALICE, "explain payload")   # an answer at all: before, a 404 and none
    assert answer.strip()
    [answer] = bot.command(ALICE, "payload")
    assert "is not a qbsync command" in answer


def test_signature_and_timestamp_variants_are_401_and_nothing_runs(make_bot):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    secret = bot.sb.slack.workspace.signing_secret
    body, ctype = encode("slash_commands", slash_fields(bot, "mute missing-customer 1h"))
    now = str(int(time.time()))
    good = signature(secret, now, body)
    variants = {
        "v1= scheme": (now, good.replace("v0=", "v1=", 1)),
        "upper-case hex": (now, "v0=" + good[3:].upper()),
        "twice": (now, f"{good}, {good}"),
        "missing": (now, None),
        "garbage": (now, "v0=zz"),
        "400 s in the future": (str(int(now) + 400), "sign"),
        "negative": ("-" + now, "sign"),
        "float": (now + ".0", "sign"),
        "40 digits": ("9" * 40, "sign"),
        "padded inside": (now[:5] + " " + now[5:], "sign"),
    }
    got = {}
    for name, (ts, sig) in variants.items():
        headers = {"X-Slack-Request-Timestamp": ts}
        if sig is not None:
            headers["X-Slack-Signature"] = signature(secret, ts, body) if sig == "sign" else sig
        got[name] = _post(bot.runner.url, body, ctype, headers)
    assert got == {name: 401 for name in variants}
    time.sleep(0.3)
    assert bot.store.active_mutes() == {}


def _post(url: str, body: bytes, ctype: str, headers: dict) -> int:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype, **headers})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_durations_are_ascii_numbers_with_a_unit_only(make_bot):
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    bot.scan()
    for text in ("1e3d", "-1d", "99999999999d", "0d", "1\u200bd", "\uff11d", "1\u0661d", "1.5d", "+1d"):
        [answer] = bot.command(ALICE, f"mute missing-customer {text}")
        assert "is not a duration" in answer, (text, answer)
    assert bot.store.active_mutes() == {}


def test_refusal_reasons_never_quote_the_rejected_body(make_bot, debug_log):  # noqa: F811
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    ws = bot.sb.slack.workspace
    bot.scan()
    slash = slash_fields(bot, "mute missing-customer 1h")
    click = _fix_payload(bot, KEY, "create-customer")
    event = payloads.app_home_opened(ws.users[ALICE], "D0ALICE001", None)
    bodies = [(_form(slash) + f"&{MARK}=1&{MARK}=2".encode(), FORM),
              _click(_set(click, "type", MARK)),
              _event(_set(event, "type", MARK))]
    answers = [send(bot, body, ctype) for body, ctype in bodies]
    assert [a.status for a in answers] == [400, 400, 400]
    assert all(MARK.encode() not in a.body for a in answers)
    out = debug_log.getvalue()
    assert out.count("Slack request refused") >= 3 and MARK not in out


def test_viewers_and_others_pressing_state_buttons_and_forged_buttons_change_nothing(make_bot):
    from bot.slack.messages import ACTION_FIX, button_value
    from sandbox.slack_workspace import ALERT_CHANNEL

    from .conftest import BRAM, CARMEN

    key = "3003:missing-customer"
    bot = make_bot("mixed", transport="http", allowed=ALICE, viewers=BRAM)
    bot.scan()
    before = bot.alert(key)
    qbo_before = copy.deepcopy(bot.sb.qbo.entities["Customer"])
    parent = bot.parent_of(key)
    buttons = [el["action_id"] for block in parent.blocks for el in block.get("elements", [])
               if el.get("type") == "button" and el["action_id"] != "qbsync:recheck"]
    assert len([b for b in buttons if b.startswith(ACTION_FIX)]) >= 1 and "qbsync:ack" in buttons
    for person in (BRAM, CARMEN):                         # a viewer, and someone not listed at all
        for action_id in buttons:
            assert bot.d.click(person, ALERT_CHANNEL, parent.ts, action_id).status == 200
    bot.d.wait_for(lambda: len([e for e in bot.store.audit_entries() if e["outcome"] == "refused"])
                   >= 2 * len(buttons), timeout=10)
    refused = sorted((e["actor"], e["action"]) for e in bot.store.audit_entries() if e["outcome"] == "refused")
    names = {b: "slack:fix:" + b[len(ACTION_FIX):] if b.startswith(ACTION_FIX) else "slack:" + b.split(":")[1]
             for b in buttons}
    assert refused == sorted((p, names[b]) for p in (BRAM, CARMEN) for b in buttons)
    assert bot.alert(key)["state"] == before["state"] and bot.alert(key)["version"] == before["version"]

    # A fixer's click, forged: a fix the alert does not offer, an alert that does not exist.
    fix_id = buttons[0][len(ACTION_FIX):]
    click = _fix_payload(bot, key, fix_id)
    forged = [_set(_set(click, "actions.0.action_id", ACTION_FIX + "delete-all"),
                   "actions.0.value", button_value(key, "delete-all")),
              _set(click, "actions.0.value", button_value("9999:missing-customer", fix_id))]
    assert [send(bot, *encode("interactive", p)).status for p in forged] == [200, 200]
    bot.d.wait_for(lambda: len([e for e in bot.store.audit_entries(actor=ALICE) if e["outcome"] == "noop"]) >= 2,
                   timeout=10)
    whys = sorted(e["detail"]["why"] for e in bot.store.audit_entries(actor=ALICE) if e["outcome"] == "noop")
    assert whys == ["fix not offered", "no such alert"]
    assert bot.alert(key)["version"] == before["version"]
    assert bot.sb.qbo.entities["Customer"] == qbo_before                       # no QBO write


def test_connections_that_promise_a_body_and_stall_do_not_keep_slack_out(make_bot):
    """110 connections, each with a Content-Length of 1000 and 2 bytes sent, took all of
    waitress' 100 connections for two minutes (its channel_timeout); now they are closed after
    SLOW_CLIENT_S of silence and Slack's request gets through (bot/app.py)."""
    import socket
    from urllib.parse import urlsplit

    from bot.app import SLOW_CLIENT_S

    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    url = urlsplit(bot.runner.url)
    head = (f"POST {url.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{}").encode()
    stalled = []
    try:
        for _ in range(110):
            s = socket.create_connection((url.hostname, url.port), timeout=5)
            s.sendall(head)
            stalled.append(s)
        t0 = time.monotonic()
        fields = slash_fields(bot, "mute missing-customer 1h")
        body, ctype = encode("slash_commands", fields)
        from sandbox.slack_http import post_signed
        r = post_signed(bot.runner.url, body, ctype, bot.sb.slack.workspace.signing_secret, timeout=SLOW_CLIENT_S + 15)
        waited = time.monotonic() - t0
        assert r.status == 200 and waited < SLOW_CLIENT_S + 10, (r.status, r.error, waited)
        bot.d.wait_for(lambda: bot.store.active_mutes(), timeout=10)
        stalled[0].settimeout(5)
        assert stalled[0].recv(100) == b""                 # the server closed the stalled one
    finally:
        for s in stalled:
            s.close()


def test_a_click_resent_with_its_fields_reordered_fixes_once(make_bot):
    """The replay ledger keys on the exact bytes (bot/replay_ledger.py): the same click in other
    bytes (JSON keys reordered, so a new signature, which only Slack or the secret's holder can
    make) passes it. Decided: that is fine, because what acts is claimed one level up: a fix
    claims its alert key and version, and a resolved alert takes no fix (handlers/actions.py)."""
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    bot.scan()
    click = _fix_payload(bot, KEY, "create-customer")
    first = urlencode({"payload": json.dumps(click)}).encode()
    reordered = urlencode({"payload": json.dumps(click, sort_keys=True, indent=1)}).encode()
    assert first != reordered and json.loads(json.dumps(click, sort_keys=True)) == click
    assert send(bot, first, FORM).status == 200
    assert send(bot, reordered, FORM).status == 200     # not the same bytes: not a ledger replay
    bot.wait_audit(KEY, "slack:fix:create-customer", "ok")
    bot.d.wait_for(lambda: len(bot.store.audit_entries(target=KEY)) >= 5, timeout=10)
    time.sleep(0.5)
    assert len(customers_with(bot.sb, "ann.jansen@northwind.example")) == 1
    outcomes = [e["outcome"] for e in bot.store.audit_entries(target=KEY) if e["action"] == "slack:fix:create-customer"]
    assert outcomes.count("ok") == 1 and outcomes.count("started") == 1, outcomes
    assert outcomes.count("noop") == 1, outcomes      # the second delivery was seen, and stopped


def test_a_signed_body_of_unterminated_escaped_quotes_is_refused_at_once(make_bot):
    """The nesting pre-scan (bot/payload_check.py) was quadratic on '"\\"\\"\\"...': a 240 KB
    signed body held a server thread for minutes before its 400."""
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    for body, ctype in [(b'{"type": "event_callback", "a": "' + b'\\"' * 120_000, JSON_T),
                        (urlencode({"payload": '{"a": "' + '\\"' * 40_000}).encode(), FORM)]:
        assert len(body) < 256 * 1024
        r = send(bot, body, ctype)
        assert r.status == 400 and r.elapsed_s < 2, (r.status, r.elapsed_s)


def test_slacks_retry_of_an_event_minutes_later_does_not_run_it_again(make_bot):
    """A retry carries the same body under a fresh timestamp, so only the ledger stops it; its
    claims lasted the 5-minute signature window, and a retry arriving later ran again
    (bot/replay_ledger.py KEEP_S). The ledger's clock is moved 400 s on; Slack signs the retry now."""
    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    event = payloads.app_home_opened(bot.sb.slack.workspace.users[ALICE], "D0ALICE001", None)
    body, ctype = _event(event)
    assert send(bot, body, ctype).status == 200
    bot.d.wait_for(lambda: bot.d.home(ALICE), timeout=10)
    publishes = lambda: [m for m, _ in bot.sb.slack.service.calls if m == "views.publish"]  # noqa: E731
    assert len(publishes()) == 1
    bot.runner.guard.ledger.clock = lambda: time.time() + 400
    retry = send(bot, body, ctype, retry_num=3, retry_reason="http_timeout")
    assert (retry.status, retry.body) == (200, b"")
    time.sleep(0.5)
    assert len(publishes()) == 1


def test_one_signed_command_sent_twenty_times_at_once_runs_once(make_bot):
    from concurrent.futures import ThreadPoolExecutor

    bot = make_bot("missing-customer", transport="http", allowed=ALICE)
    body, ctype = encode("slash_commands", slash_fields(bot, "mute missing-customer 1h"))
    ts = str(int(time.time()))
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: send(bot, body, ctype, timestamp=ts), range(20)))
    assert sorted(a.status for a in answers) == [200] * 20
    bot.d.wait_for(lambda: bot.store.active_mutes(), timeout=10)
    time.sleep(0.5)
    assert len([e for e in bot.store.audit_entries() if e["action"] == "command:mute"]) == 1
