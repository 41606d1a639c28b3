"""Plays the people in the Slack stand-in: types slash commands, clicks buttons, submits
modals, opens the App Home, and reads back what they would see.

    d = sandbox.slack_driver                     # or SlackStandIn(...).driver
    r = d.slash("U0ALICE001", "/qbsync", "status")
    assert r.acked and r.elapsed_s < 3
    parent = d.transcript("C0ALERTS01")[-1]
    d.click("U0ALICE001", "C0ALERTS01", parent.ts, "fix:create_customer")
    [m.visible_text() for m in d.thread("C0ALERTS01", parent.ts)]

Deliveries go over Socket Mode (default; the bot must be connected) or, after
`use_http(request_url)`, as signed HTTP posts. Either way the driver then does what Slack
does with the app's acknowledgement: a slash command's ack text is shown to the user as an
ephemeral message (or in the channel with response_type in_channel); a view_submission's
response_action (errors / update / clear) is applied to the modal.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import slack_payloads as payloads
from .slack_blocks import iter_elements
from .slack_http import HttpResult, encode, post_signed
from .slack_workspace import ALERT_CHANNEL, BOT_ID, BOT_USER_ID, TEAM_ID, Ephemeral, Message, View

if TYPE_CHECKING:  # pragma: no cover
    from .slack import SlackStandIn

ACK_DEADLINE_S = 3.0


@dataclass
class Delivery:
    kind: str                       # slash_commands | interactive | events_api
    transport: str                  # socket | http
    payload: dict                   # what "Slack" sent
    acked: bool = False             # socket: ack came in time; http: 2xx came in time
    ack: dict | None = None         # the ack's payload (socket) or JSON body (http)
    elapsed_s: float = 0.0
    status: int | None = None       # http: the status code (401 for a refused signature)
    body: bytes = b""               # http: the raw answer
    trigger_id: str | None = None
    response_url: str | None = None
    delivered: bool = True          # False: nothing was sent (the user cancelled a confirm dialog)
    envelope_id: str | None = None

    @property
    def in_time(self) -> bool:
        return self.acked and self.elapsed_s <= ACK_DEADLINE_S


class SlackDriver:
    def __init__(self, standin: "SlackStandIn", *, ack_timeout_s: float = ACK_DEADLINE_S):
        self.standin = standin
        self.ws = standin.workspace
        self.ack_timeout_s = ack_timeout_s
        self.transport = "socket"
        self.request_url: str | None = None
        self.deliveries: list[Delivery] = []

    # ---- transport ---------------------------------------------------------------------------
    def use_http(self, request_url: str) -> None:
        """Deliver as signed HTTP posts to the app's request URL (HTTP mode)."""
        self.transport, self.request_url = "http", request_url

    def use_socket(self) -> None:
        self.transport, self.request_url = "socket", None

    def _send(self, kind: str, payload: dict, *, accepts_response_payload: bool, forge: bool = False,
              stale_s: float = 0.0, retry_num: int | None = None, **extra) -> Delivery:
        d = Delivery(kind, self.transport, payload, **extra)
        if self.transport == "socket":
            if forge or stale_s:
                raise ValueError("Socket Mode deliveries are not signed: forge/stale need use_http()")
            ack = self.standin.socket.deliver(kind, payload, accepts_response_payload=accepts_response_payload,
                                              timeout=self.ack_timeout_s, retry_attempt=retry_num)
            d.acked, d.ack, d.elapsed_s, d.envelope_id = ack.acked, ack.payload, ack.elapsed_s, ack.envelope_id
        else:
            if not self.request_url:
                raise RuntimeError("use_http(request_url) first")
            body, ctype = encode(kind, payload)
            r: HttpResult = post_signed(self.request_url, body, ctype, self.ws.signing_secret,
                                        timeout=self.ack_timeout_s, forge=forge, stale_s=stale_s,
                                        retry_num=retry_num)
            d.status, d.body, d.elapsed_s = r.status, r.body, r.elapsed_s
            d.acked = r.status is not None and 200 <= r.status < 300
            if d.acked and r.body:
                ctype = next((v for k, v in r.headers.items() if k.lower() == "content-type"), "")
                if "json" in ctype:
                    d.ack = json.loads(r.body)
                else:
                    d.ack = {"text": r.body.decode("utf-8", "replace")}
        self.deliveries.append(d)
        return d

    # ---- people acting -----------------------------------------------------------------------
    def _person(self, user_id: str):
        user = self.ws.users.get(user_id)
        if user is None:
            raise LookupError(f"no user {user_id!r} in the sandbox workspace (add_user first)")
        return user

    def slash(self, user: str, command: str = "/qbsync", text: str = "", *, channel: str = ALERT_CHANNEL,
              forge: bool = False, stale_s: float = 0.0, retry_num: int | None = None) -> Delivery:
        """`user` types `command text` in `channel`. Returns the delivery with the app's ack."""
        u = self._person(user)
        with self.ws.lock:
            ch = self.ws.channels.get(channel)
            if ch is None:
                raise LookupError(f"no channel {channel!r} in the sandbox workspace")
            trigger_id = self.ws.mint_trigger(u.id)
            response_url = self.ws.mint_response_url(self.standin.url, "commands", channel, u.id)
        payload = payloads.slash_command(u, command, text, channel_id=channel, channel_name=ch.name,
                                         response_url=response_url, trigger_id=trigger_id,
                                         team=self.ws.teams.get(u.team_id))
        d = self._send("slash_commands", payload, accepts_response_payload=True, forge=forge,
                       stale_s=stale_s, retry_num=retry_num, trigger_id=trigger_id, response_url=response_url)
        if d.acked and d.ack:
            self._show_command_reply(u.id, channel, d.ack)
        return d

    def _show_command_reply(self, user: str, channel: str, ack: dict) -> None:
        text, blocks = ack.get("text") or "", ack.get("blocks")
        if not text and not blocks:
            return
        with self.ws.lock:
            if ack.get("response_type") == "in_channel":
                # Posted as the app's bot of the channel's workspace.
                ch = self.ws.channels.get(channel)
                team = self.ws.teams.get(ch.team_id) if ch is not None else None
                bot_user, bot_id = (team.bot_user_id, team.bot_id) if team is not None else (BOT_USER_ID, BOT_ID)
                self.ws.add_message(Message(channel, self.ws.next_ts(), bot_user, text, blocks,
                                            bot_id=bot_id, via="ack", posted_at=self.ws.clock.time(),
                                            team=team.id if team is not None else TEAM_ID))
            else:
                self.ws.ephemerals.append(Ephemeral(channel, user, text, blocks, self.ws.next_ts(), via="ack"))

    def find_element(self, blocks: list | None, action_id: str, value: str | None = None,
                     *, where: str = "") -> tuple[str | None, dict]:
        """The element a person would click; fails loudly, listing what is there, if absent."""
        elements = iter_elements(blocks or [])
        for block_id, el in elements:
            if el.get("action_id") != action_id:
                continue
            if el.get("type") == "button" and value is not None and el.get("value") != value:
                continue
            return block_id, el
        there = [(el.get("action_id"), el.get("value")) for _, el in elements]
        raise LookupError(f"no element with action_id={action_id!r}"
                          f"{'' if value is None else f' and value={value!r}'} {where}; there are: {there}")

    def click(self, user: str, channel: str, message_ts: str, action_id: str, value: str | None = None, *,
              confirm: bool = True, forge: bool = False, stale_s: float = 0.0,
              retry_num: int | None = None) -> Delivery:
        """`user` clicks the button (or picks option `value` of the select) `action_id` on the
        message `message_ts` (a channel message or one of the user's ephemeral messages). A
        button with a confirm dialog is confirmed (confirm=False: the user cancels, nothing is
        sent). Raises LookupError when the user cannot see such an element."""
        u = self._person(user)
        with self.ws.lock:
            ch = self.ws.channels.get(channel)
            if ch is None:
                raise LookupError(f"no channel {channel!r} in the sandbox workspace")
            message: Message | Ephemeral | None = self.ws.find_message(channel, message_ts)
            if message is not None and u.id not in ch.members:
                raise LookupError(f"{user} is not in {channel}: they cannot see message {message_ts}")
            if message is None:
                message = next((e for e in self.ws.ephemerals if e.user == u.id and e.channel == channel
                                and e.ts == message_ts and not e.replaced), None)
            if message is None:
                raise LookupError(f"no message {message_ts} in {channel} that {user} can see")
            block_id, el = self.find_element(message.blocks, action_id,
                                             value if el_is_button_value(message.blocks, action_id) else None,
                                             where=f"on message {message_ts} in {channel}")
            if el.get("confirm") is not None and not confirm:
                return Delivery("interactive", self.transport, {}, delivered=False)
            act = payloads.action(el, block_id, value)
            trigger_id = self.ws.mint_trigger(u.id)
            response_url = self.ws.mint_response_url(self.standin.url, "actions", channel, u.id,
                                                     message_ts=message_ts,
                                                     ephemeral=isinstance(message, Ephemeral))
            payload = payloads.block_actions_on_message(u, channel, ch.name, message, act,
                                                        response_url=response_url, trigger_id=trigger_id,
                                                        team=self.ws.teams.get(u.team_id))
        return self._send("interactive", payload, accepts_response_payload=False, forge=forge,
                          stale_s=stale_s, retry_num=retry_num, trigger_id=trigger_id,
                          response_url=response_url)

    def click_home(self, user: str, action_id: str, value: str | None = None, *, confirm: bool = True) -> Delivery:
        """`user` clicks an element on their App Home tab."""
        u = self._person(user)
        with self.ws.lock:
            view = self._home_view(u.id)
            if view is None:
                raise LookupError(f"{user} has no Home tab published")
            block_id, el = self.find_element(view.view.get("blocks"), action_id,
                                             value if el_is_button_value(view.view.get("blocks"), action_id)
                                             else None, where=f"on {user}'s Home tab")
            if el.get("confirm") is not None and not confirm:
                return Delivery("interactive", self.transport, {}, delivered=False)
            trigger_id = self.ws.mint_trigger(u.id)
            payload = payloads.block_actions_on_view(u, view, payloads.action(el, block_id, value),
                                                     trigger_id=trigger_id, team=self.ws.teams.get(u.team_id))
        return self._send("interactive", payload, accepts_response_payload=False, trigger_id=trigger_id)

    def submit_view(self, user: str, view_id: str, values: dict[str, str] | None = None) -> Delivery:
        """`user` fills in the open modal `view_id` (values: action_id -> text typed or option
        value chosen) and presses its submit button. The app's response_action is applied."""
        u = self._person(user)
        with self.ws.lock:
            view = self.ws.views.get(view_id)
            if view is None or view.type != "modal" or view.closed or view.user != u.id:
                raise LookupError(f"{user} has no open modal {view_id!r}")
            state: dict = {}
            wanted = dict(values or {})
            for block_id, el in iter_elements(view.view.get("blocks") or []):
                aid = el.get("action_id")
                if aid not in wanted:
                    continue
                entry = {"type": el.get("type")}
                if el.get("type") in ("static_select", "external_select"):
                    entry["selected_option"] = payloads.action(el, block_id, wanted.pop(aid))["selected_option"]
                else:
                    entry["value"] = wanted.pop(aid)
                state.setdefault(block_id, {})[aid] = entry
            if wanted:
                raise LookupError(f"modal {view_id} has no inputs {sorted(wanted)}")
            trigger_id = self.ws.mint_trigger(u.id)
            payload = payloads.view_submission(u, view, state, trigger_id=trigger_id,
                                               team=self.ws.teams.get(u.team_id))
        d = self._send("interactive", payload, accepts_response_payload=True, trigger_id=trigger_id)
        if d.acked:
            action = (d.ack or {}).get("response_action")
            with self.ws.lock:
                if action == "update" and isinstance(d.ack.get("view"), dict):
                    view.view = d.ack["view"]
                elif action != "errors":
                    view.closed = True
        return d

    def open_home(self, user: str) -> Delivery:
        """`user` opens the app's Home tab (app_home_opened event)."""
        u = self._person(user)
        with self.ws.lock:
            home = self._home_view(u.id)
            payload = payloads.app_home_opened(u, "D" + u.id[1:], home)
        return self._send("events_api", payload, accepts_response_payload=False)

    # ---- what people see ---------------------------------------------------------------------
    @staticmethod
    def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
        """Poll `predicate` until it returns something truthy (returned) or raise TimeoutError:
        a bot does its slow work after the ack, so its messages arrive a little later."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)

    def transcript(self, channel: str = ALERT_CHANNEL) -> list[Message]:
        """The channel's messages (top level and replies also sent to the channel), oldest first.
        Edits are applied; each message keeps its earlier versions in `.edits`."""
        return self.ws.transcript(channel)

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The parent message, then its replies in order."""
        return self.ws.thread(channel, ts)

    def message(self, channel: str, ts: str) -> Message | None:
        return self.ws.find_message(channel, ts)

    def ephemerals(self, user: str, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages shown to `user` (chat.postEphemeral, response_url, command acks)."""
        with self.ws.lock:
            return [e for e in self.ws.ephemerals
                    if e.user == user and not e.replaced and (channel is None or e.channel == channel)]

    def _home_view(self, user: str) -> View | None:
        vid = self.ws.home_views.get(user)
        return self.ws.views.get(vid) if vid else None

    def home(self, user: str) -> dict | None:
        """The Home tab view last published for `user` (None if never)."""
        with self.ws.lock:
            v = self._home_view(user)
            return None if v is None else v.to_api()

    def modals(self, user: str) -> list[dict]:
        """Modals opened for `user` that are still open."""
        with self.ws.lock:
            return [v.to_api() for v in self.ws.views.values()
                    if v.type == "modal" and v.user == user and not v.closed]

    def responses(self, response_url: str | None = None) -> list[dict]:
        """Bodies posted to response URLs (one URL, or all), each {"at", "body", "outcome"}."""
        with self.ws.lock:
            hooks = list(self.ws.response_urls.items())
            out = []
            for key, hook in hooks:
                if response_url is None or response_url.endswith("/" + key):
                    out += [dict(p, url_kind=hook.kind, user=hook.user) for p in hook.posts]
            return sorted(out, key=lambda p: p["at"])

    def render(self, channel: str = ALERT_CHANNEL) -> str:
        """The channel as text, threads indented: for the demo and for test failure messages."""
        lines = []
        with self.ws.lock:
            for m in self.transcript(channel):
                lines.append(self._line(m, ""))
                if m.thread_ts == m.ts:
                    lines += [self._line(r, "    ") for r in self.thread(channel, m.ts)[1:]]
        return "\n".join(lines)

    def _line(self, m: Message, indent: str) -> str:
        who = self.ws.users[m.user].name if m.user in self.ws.users else m.user
        stamp = time.strftime("%H:%M:%S", time.gmtime(float(m.ts)))
        edited = " (edited)" if m.edited else ""
        text = m.visible_text().replace("\n", "\n" + indent + "  ")
        return f"{indent}[{stamp}] {who}{edited}: {text}"


def el_is_button_value(blocks: list | None, action_id: str) -> bool:
    """Whether `value` picks among buttons (same action_id, different values) rather than
    naming the option of a select."""
    return all(el.get("type") == "button" for _, el in iter_elements(blocks or [])
               if el.get("action_id") == action_id)
