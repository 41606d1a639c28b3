"""HTTP mode end to end: a real slack_bolt App behind a real WSGI server on 127.0.0.1 gets
signed deliveries from the stand-in; bad signatures are refused before any handler runs."""
from __future__ import annotations

import threading
import time
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from sandbox.slack import SlackStandIn
from sandbox.slack_http import encode, signature
from sandbox.slack_workspace import ALERT_CHANNEL, BOT_TOKEN, SIGNING_SECRET

ALICE = "U0ALICE001"


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def slack():
    s = SlackStandIn(post_rate_per_s=100, post_burst=100).start()
    yield s
    s.stop()


@pytest.fixture
def app(slack):
    app = App(client=WebClient(token=BOT_TOKEN, base_url=slack.api_base), signing_secret=SIGNING_SECRET)
    app.seen = []

    @app.command("/qbsync")
    def qbsync(ack, command, say, request):
        ack(f"Working on `{command['text']}`")
        app.seen.append(("command", command["text"], request.headers.get("x-slack-retry-num", [None])[0]))
        say(channel=command["channel_id"], text=f"done: {command['text']}")

    @app.action("recheck")
    def recheck(ack, body):
        ack()
        app.seen.append(("click", body["actions"][0]["value"], body["user"]["id"]))

    @app.event("app_home_opened")
    def home(event, client):
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Home"}}]})

    return app


@pytest.fixture
def request_url(app, slack):
    server = make_server("127.0.0.1", 0, SlackRequestHandler(app), server_class=_ThreadingWSGIServer,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/slack/events"
    slack.driver.use_http(url)
    yield url
    server.shutdown()
    server.server_close()


def test_signed_slash_command_is_answered(slack, app, request_url):
    d = slack.driver.slash(ALICE, "/qbsync", "status")
    assert d.transport == "http" and d.status == 200 and d.in_time
    assert d.ack == {"text": "Working on `status`"}
    assert [e.text for e in slack.driver.ephemerals(ALICE)] == ["Working on `status`"]
    wait_for(lambda: [m.text for m in slack.driver.transcript(ALERT_CHANNEL)] == ["done: status"])
    assert app.seen == [("command", "status", None)]


@pytest.mark.parametrize("how", [{"forge": True}, {"stale_s": 600}])
def test_forged_or_stale_signature_is_refused_and_no_handler_runs(slack, app, request_url, how):
    d = slack.driver.slash(ALICE, "/qbsync", "status", **how)
    assert d.status == 401 and not d.acked
    time.sleep(0.3)  # a handler that ran would have posted by now
    assert app.seen == [] and slack.driver.transcript(ALERT_CHANNEL) == []


def test_retried_delivery_carries_the_retry_header(slack, app, request_url):
    assert slack.driver.slash(ALICE, "/qbsync", "scan", retry_num=1).status == 200
    assert app.seen == [("command", "scan", "1")]


def test_click_over_http(slack, app, request_url):
    posted = WebClient(token=BOT_TOKEN, base_url=slack.api_base).chat_postMessage(
        channel=ALERT_CHANNEL, text="alert", blocks=[{"type": "actions", "elements": [
            {"type": "button", "action_id": "recheck", "value": "inv-7",
             "text": {"type": "plain_text", "text": "Re-check"}}]}])
    d = slack.driver.click(ALICE, ALERT_CHANNEL, posted["ts"], "recheck")
    assert d.status == 200 and d.acked
    assert app.seen == [("click", "inv-7", ALICE)]


def test_event_over_http(slack, app, request_url):
    assert slack.driver.open_home(ALICE).status == 200
    wait_for(lambda: slack.driver.home(ALICE) is not None)


def test_bodies_are_encoded_and_signed_as_slack_does():
    payload = {"token": "t", "team_id": "T1", "command": "/qbsync", "text": "explain 1001 & more"}
    body, ctype = encode("slash_commands", payload)
    assert ctype == "application/x-www-form-urlencoded"
    assert body == b"token=t&team_id=T1&command=%2Fqbsync&text=explain+1001+%26+more"
    body, _ = encode("interactive", {"type": "block_actions"})
    assert parse_qs(body.decode()) == {"payload": ['{"type": "block_actions"}']}
    ts = str(int(time.time()))
    headers = {"x-slack-request-timestamp": ts, "x-slack-signature": signature(SIGNING_SECRET, ts, body)}
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
