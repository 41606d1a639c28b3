"""Socket Mode end to end: a real slack_bolt App with its SocketModeHandler (slack_sdk's
built-in WebSocket client) connects to the stand-in through apps.connections.open, and the
driver types commands, clicks buttons, opens the Home tab and submits a modal."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, SectionBlock
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from sandbox.slack import SlackStandIn
from sandbox.slack_workspace import ALERT_CHANNEL, APP_TOKEN, BOT_TOKEN, SIGNING_SECRET

ALICE, BRAM = "U0ALICE001", "U0BRAM0001"


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def slack():
    s = SlackStandIn(post_rate_per_s=100, post_burst=100).start()
    yield s
    s.stop()


@pytest.fixture
def app(slack):
    """A bolt App whose handlers do what qbsync's will: ack at once, then call the Web API."""
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_base, timeout=5)
    app = App(client=client, signing_secret=SIGNING_SECRET)  # auth.test against the stand-in
    app.seen = []

    @app.command("/qbsync")
    def qbsync(ack, command, say, respond, client):
        app.seen.append(("command", command["user_id"], command["text"]))
        if command["text"] == "snooze":
            ack()
            client.views_open(trigger_id=command["trigger_id"], view={
                "type": "modal", "callback_id": "snooze", "title": {"type": "plain_text", "text": "Snooze"},
                "submit": {"type": "plain_text", "text": "Snooze"},
                "blocks": [{"type": "input", "block_id": "dur", "label": {"type": "plain_text", "text": "How long"},
                            "element": {"type": "plain_text_input", "action_id": "duration"}}]})
            return
        ack(f"Working on `{command['text']}`")
        say(channel=command["channel_id"], text=f"status asked by {command['user_id']}: {command['text']}")

    @app.action("fix:create")
    def fix(ack, body, client):
        ack()
        app.seen.append(("click", body["user"]["id"], body["actions"][0]["value"]))
        client.chat_update(channel=body["channel"]["id"], ts=body["container"]["message_ts"],
                           text=f"fixing (by {body['user']['id']})")

    @app.event("app_home_opened")
    def home(event, client):
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Open alerts:* 0"}},
            {"type": "actions", "elements": [{"type": "button", "action_id": "home:scan",
                                              "text": {"type": "plain_text", "text": "Scan now"}}]}]})

    @app.action("home:scan")
    def scan(ack, body):
        ack()
        app.seen.append(("home", body["user"]["id"], body["container"]["type"]))

    @app.view("snooze")
    def snooze(ack, view, body):
        value = view["state"]["values"]["dur"]["duration"]["value"]
        if not value.endswith("h"):
            ack(response_action="errors", errors={"dur": "Use hours, like 4h"})
            return
        ack()
        app.seen.append(("snoozed", body["user"]["id"], value))

    return app


@pytest.fixture
def handler(app, slack):
    h = SocketModeHandler(app, APP_TOKEN, ping_interval=1)
    h.connect()
    assert slack.socket.wait_connected(5)
    yield h
    # slack_sdk's client holds its socket for up to 3 s in a blocking read; closing from our
    # side first lets the test end at once instead of waiting that out.
    h.client.auto_reconnect_enabled = False
    slack.socket.drop()
    wait_for(lambda: not h.client.is_connected(), 5)
    h.close()


def test_slash_command_is_acked_and_the_handler_posts(slack, app, handler):
    d = slack.driver.slash(ALICE, "/qbsync", "status")
    assert d.acked and d.in_time and d.ack == {"text": "Working on `status`"}
    assert d.trigger_id and d.response_url.startswith(slack.url + "/commands/")
    assert [e.text for e in slack.driver.ephemerals(ALICE)] == ["Working on `status`"]
    msgs = wait_for(lambda: slack.driver.transcript(ALERT_CHANNEL))
    assert msgs[0].text == f"status asked by {ALICE}: status"
    assert app.seen == [("command", ALICE, "status")]


def test_unhandled_command_is_recorded_as_unacked(slack, handler):
    slack.driver.ack_timeout_s = 0.5
    d = slack.driver.slash(ALICE, "/other", "x")  # no listener: bolt sends no ack
    assert not d.acked and d.ack is None and d.elapsed_s >= 0.5
    assert [e["payload"]["command"] for e in slack.socket.unacked] == ["/other"]


def test_button_click_reaches_the_handler_after_confirm(slack, app, handler):
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_base)
    posted = client.chat_postMessage(channel=ALERT_CHANNEL, text="Invoice 1001 failed", blocks=[
        SectionBlock(text="Invoice *1001* failed"),
        ActionsBlock(elements=[ButtonElement(text="Create customer", action_id="fix:create", value="inv-1001",
                                             confirm=ConfirmObject(title="Create customer?", text="Creates Acme",
                                                                   confirm="Create", deny="Cancel"))])])
    d = slack.driver
    cancelled = d.click(ALICE, ALERT_CHANNEL, posted["ts"], "fix:create", confirm=False)
    assert not cancelled.delivered and app.seen == []
    with pytest.raises(LookupError, match="fix:delete"):
        d.click(ALICE, ALERT_CHANNEL, posted["ts"], "fix:delete")

    r = d.click(ALICE, ALERT_CHANNEL, posted["ts"], "fix:create")
    assert r.acked and r.in_time and r.payload["type"] == "block_actions"
    assert r.payload["message"]["ts"] == posted["ts"] and r.payload["response_url"]
    wait_for(lambda: d.message(ALERT_CHANNEL, posted["ts"]).edited)
    m = d.message(ALERT_CHANNEL, posted["ts"])
    assert m.text == f"fixing (by {ALICE})" and m.edits[0].text == "Invoice 1001 failed"
    assert app.seen == [("click", ALICE, "inv-1001")]


def test_fifty_slash_commands_at_once_are_all_acknowledged(slack, app, handler):
    with ThreadPoolExecutor(max_workers=50) as pool:
        deliveries = list(pool.map(lambda i: slack.driver.slash(ALICE, "/qbsync", f"status {i}"), range(50)))
    assert all(d.acked for d in deliveries), [d.elapsed_s for d in deliveries if not d.acked]
    times = sorted(d.elapsed_s for d in deliveries)
    assert times[-1] < 3.0, times
    assert len(slack.socket.acks) == 50 and not slack.socket.unacked
    wait_for(lambda: len(slack.driver.transcript(ALERT_CHANNEL)) == 50)


def test_refresh_and_drop_are_survived(slack, app, handler):
    sock = slack.socket
    sock.refresh()  # {"type": "disconnect", "reason": "refresh_requested"}
    wait_for(lambda: sock.connects == 2 and sock.open_count == 1)  # new one open, old one let go
    assert slack.driver.slash(ALICE, "/qbsync", "after refresh").acked
    sock.drop()     # the network goes away without a word
    wait_for(lambda: sock.connects == 3 and sock.open_count == 1)
    assert slack.driver.slash(ALICE, "/qbsync", "after drop").acked
    assert [s[2] for s in app.seen] == ["after refresh", "after drop"]


def test_home_tab_opened_published_and_clicked(slack, app, handler):
    d = slack.driver
    assert d.open_home(BRAM).acked
    home = wait_for(lambda: d.home(BRAM))
    assert home["blocks"][0]["text"]["text"] == "*Open alerts:* 0"
    r = d.click_home(BRAM, "home:scan")
    assert r.acked
    wait_for(lambda: ("home", BRAM, "view") in app.seen)


def test_modal_opened_with_the_trigger_then_submitted(slack, app, handler):
    d = slack.driver
    assert d.slash(ALICE, "/qbsync", "snooze").acked
    modal = wait_for(lambda: d.modals(ALICE))[0]
    refused = d.submit_view(ALICE, modal["id"], {"duration": "tomorrow"})
    assert refused.ack == {"response_action": "errors", "errors": {"dur": "Use hours, like 4h"}}
    assert d.modals(ALICE)  # still open
    ok = d.submit_view(ALICE, modal["id"], {"duration": "4h"})
    assert ok.acked and d.modals(ALICE) == []
    assert ("snoozed", ALICE, "4h") in app.seen


def test_websocket_needs_a_fresh_ticket(slack, handler):
    url = slack.socket.issue_url()
    forged = url.split("ticket=")[0] + "ticket=made-up"
    with pytest.raises(InvalidStatus):
        ws_connect(forged, open_timeout=3)
    with ws_connect(url, open_timeout=3) as ws:  # a real ticket works once ...
        assert '"type": "hello"' in ws.recv(timeout=3)
    with pytest.raises(InvalidStatus):           # ... and only once
        ws_connect(url, open_timeout=3)
    assert slack.socket.rejected == 2


def test_deliver_without_a_connection_fails_loudly(slack):
    from sandbox.slack_socket import NotConnected

    with pytest.raises(NotConnected):
        slack.socket.deliver("slash_commands", {"command": "/qbsync"}, connect_wait=0.2)
