"""bolt's WSGI adapter, with one correction to how it reads a slash command's form body.

slack_bolt's parse_body (slack_bolt/request/internals.py) decides a form body is an
interaction when the *substring* "payload" occurs anywhere in it, then looks for a `payload`
field, finds none and hands the listeners an empty body. So `/qbsync explain payload`, or any
command from a channel or person whose name contains "payload", was answered 404 "unhandled
request" in HTTP mode (Socket Mode delivers parsed JSON and is not affected). Here such a body
is parsed as the plain form it is; the raw bytes bolt verifies the signature over are unchanged.
The HTTP guard (bot/http_guard.py) has already checked the form's shape.
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context

FORM = "application/x-www-form-urlencoded"


class FormSafeRequestHandler(SlackRequestHandler):
    def dispatch(self, request):
        req = BoltRequest(body=request.get_body(), query=request.query_string, headers=request.get_headers())
        raw = req.raw_body
        if not req.body and raw and (req.content_type or "").lower() == FORM and not raw.startswith("{"):
            fields = dict(parse_qsl(raw, keep_blank_values=True))
            if "payload" not in fields:  # bolt's substring test misfired: a plain form
                req.body = fields
                req.context = build_context(BoltContext({}), fields)
        return self.app.dispatch(req)
