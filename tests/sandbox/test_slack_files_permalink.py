"""The Slack stand-in's chat.getPermalink and file uploads, through slack_sdk's own WebClient
(files_upload_v2 makes the three calls in order)."""
from __future__ import annotations

import struct
import zlib

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack import SlackStandIn
from sandbox.slack_workspace import ALERT_CHANNEL, BOT_TOKEN

FILES_TOKEN = "xoxb-files-0000000001"


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def slack():
    with SlackStandIn() as s:
        s.workspace.add_token(FILES_TOKEN, "bot", ("chat:write", "files:write"))
        yield s


def client(s, token=FILES_TOKEN):
    return WebClient(token=token, base_url=s.url + "/api/")


def test_get_permalink_names_the_message_and_its_thread(slack):
    c = client(slack)
    parent = c.chat_postMessage(channel=ALERT_CHANNEL, text="parent")
    reply = c.chat_postMessage(channel=ALERT_CHANNEL, text="reply", thread_ts=parent["ts"])
    link = c.chat_getPermalink(channel=ALERT_CHANNEL, message_ts=parent["ts"])["permalink"]
    assert link == f"https://qbsync-sandbox.slack.com/archives/{ALERT_CHANNEL}/p{parent['ts'].replace('.', '')}"
    link = c.chat_getPermalink(channel=ALERT_CHANNEL, message_ts=reply["ts"])["permalink"]
    assert link.endswith(f"?thread_ts={parent['ts']}&cid={ALERT_CHANNEL}")
    with pytest.raises(SlackApiError) as err:
        c.chat_getPermalink(channel=ALERT_CHANNEL, message_ts="1.000001")
    assert err.value.response["error"] == "message_not_found"


def test_files_upload_v2_shares_a_png_in_a_thread(slack):
    c = client(slack)
    parent = c.chat_postMessage(channel=ALERT_CHANNEL, text="digest")
    data = png()
    resp = c.files_upload_v2(channel=ALERT_CHANNEL, thread_ts=parent["ts"], content=data, filename="chart.png",
                             title="Failures this week", alt_txt="A bar chart", initial_comment="This week")
    assert resp["file"]["name"] == "chart.png" and resp["file"]["mimetype"] == "image/png"
    [shared] = [m for m in slack.workspace.thread(ALERT_CHANNEL, parent["ts"]) if m.files]
    assert shared.files[0]["data"] == data and shared.text == "This week"
    methods = [m for m, _ in slack.service.calls]
    assert methods[-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


def test_upload_limits_are_slacks(slack):
    c = client(slack)
    for kwargs, error in (({"filename": "x.png", "length": 0}, "missing_argument"),
                          ({"filename": "x.png", "length": 10, "alt_txt": "a" * 1001}, "alt_txt_too_large"),
                          ({"filename": "x.png", "length": 2 * 1024 ** 3}, "file_upload_size_restricted")):
        with pytest.raises(SlackApiError) as err:
            c.files_getUploadURLExternal(**kwargs)
        assert err.value.response["error"] == error
    # A bot token without files:write: Slack's missing_scope answer.
    scopes = [s for s in slack.workspace.tokens[BOT_TOKEN].scopes if s != "files:write"]
    slack.workspace.add_token("xoxb-no-files-write", "bot", scopes)
    with pytest.raises(SlackApiError) as err:
        client(slack, "xoxb-no-files-write").files_getUploadURLExternal(filename="x.png", length=10)
    assert err.value.response["error"] in ("missing_scope",)
    # A file whose bytes never came cannot be shared.
    up = c.files_getUploadURLExternal(filename="x.png", length=10)
    with pytest.raises(SlackApiError) as err:
        c.files_completeUploadExternal(files=[{"id": up["file_id"], "title": "x"}], channel_id=ALERT_CHANNEL)
    assert err.value.response["error"] == "file_not_found"
