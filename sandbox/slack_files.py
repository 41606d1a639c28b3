"""The Slack stand-in's file uploads, as slack_sdk's `files_upload_v2` makes them, and
chat.getPermalink.

Uploads take three steps (Slack's reference,
https://docs.slack.dev/reference/methods/files.getUploadURLExternal and
https://docs.slack.dev/reference/methods/files.completeUploadExternal; slack_sdk
WebClient.files_upload_v2 calls them in this order):
1. files.getUploadURLExternal(filename, length[, alt_txt, snippet_type]) -> upload_url, file_id.
   Limits copied from Slack's list of errors for the method (as mirrored in
   hex.pm slack_kit priv/docs/methods/files.getUploadURLExternal.json): `length` 0 or missing
   -> `missing_argument`; `alt_txt` over 1,000 characters -> `alt_txt_too_large`; a file over
   the workspace's limit -> `file_upload_size_restricted` (Slack's help centre gives 1 GB as
   the largest file; the stand-in's limit is settable). `filename` missing -> `invalid_arguments`.
2. POST the bytes to upload_url (raw body or multipart): HTTP 200 (Slack: "Slack will return
   HTTP 200 if the upload is successful"), anything else is a failed upload.
3. files.completeUploadExternal(files=[{"id", "title"}], channel_id?, thread_ts?,
   initial_comment?) shares them: one message in the channel (a thread reply with thread_ts,
   which must name a parent). A file id this token did not get, or whose bytes never came:
   `file_not_found` (an assumption: Slack's reference does not say which error this is).
   The files are kept on the message, so a test can read back what was uploaded.

chat.getPermalink(channel, message_ts) -> {"channel", "permalink"}; `channel_not_found`,
`message_not_found` (https://docs.slack.dev/reference/methods/chat.getPermalink, mirrored by
slack_kit's chat.getPermalink.json). The form is Slack's example:
https://<team>.slack.com/archives/<channel>/p<ts without the dot>; a reply's link adds
`?thread_ts=<parent>&cid=<channel>`.
"""
from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field

MAX_FILE_BYTES = 1024 ** 3   # Slack's largest file (1 GB)
ALT_TXT_MAX = 1000


@dataclass
class Upload:
    id: str
    filename: str
    length: int
    token: str
    alt_txt: str = ""
    data: bytes | None = None
    shared: bool = False
    meta: dict = field(default_factory=dict)


class FileStore:
    def __init__(self, max_bytes: int = MAX_FILE_BYTES):
        self.max_bytes = max_bytes
        self.uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def begin(self, args: dict, token: str, error) -> Upload:
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length") or 0)
        except (TypeError, ValueError):
            raise error("invalid_arguments") from None
        if not filename:
            raise error("invalid_arguments")
        if length <= 0:
            raise error("missing_argument")
        alt = str(args.get("alt_txt") or "")
        if len(alt) > ALT_TXT_MAX:
            raise error("alt_txt_too_large")
        if length > self.max_bytes:
            raise error("file_upload_size_restricted")
        up = Upload("F" + secrets.token_hex(5).upper(), filename, length, token, alt)
        with self._lock:
            self.uploads[up.id] = up
        return up

    def receive(self, file_id: str, body: bytes) -> bool:
        with self._lock:
            up = self.uploads.get(file_id)
            if up is None or up.shared or not body or len(body) > self.max_bytes:
                return False
            up.data = body
            return True

    def complete(self, args: dict, token: str, error) -> list[Upload]:
        files = args.get("files")
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                raise error("invalid_arguments") from None
        if not isinstance(files, list) or not files:
            raise error("invalid_arguments")
        out = []
        with self._lock:
            for item in files:
                up = self.uploads.get(str((item or {}).get("id") or "")) if isinstance(item, dict) else None
                if up is None or up.token != token or up.data is None or up.shared:
                    raise error("file_not_found")
                up.meta["title"] = str(item.get("title") or up.filename)
                out.append(up)
            for up in out:
                up.shared = True
        return out


def file_object(up: Upload, user: str, created: float) -> dict:
    """A file as the Web API describes one (the fields qbsync could read)."""
    png = up.data is not None and up.data[:8] == b"\x89PNG\r\n\x1a\n"
    return {"id": up.id, "name": up.filename, "title": up.meta.get("title", up.filename),
            "mimetype": "image/png" if png else "application/octet-stream", "filetype": "png" if png else "binary",
            "size": len(up.data or b""), "user": user, "created": int(created), "alt_txt": up.alt_txt or None}


def permalink(team_domain: str, channel: str, ts: str, thread_ts: str | None) -> str:
    link = f"https://{team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link
