"""The alert lifecycle: diagnosis results in, Slack threads out.

One alert per (HubSpot invoice, rule) ("a cause"), keyed in the store, each with its own state
and audit. The parent message belongs to the invoice (issue 12): every cause of an invoice
shares one thread (the same ts), its parent lists the causes in fix order with the first open
cause's buttons first, and it shows resolved when every cause is. "The fix held" is said once
per invoice. The order of writes makes a crash
safe to repeat: the store row first (no ts), a durable "post started" mark, the Slack post,
then the ts. A row without a ts is "not posted yet" and is posted by the next pass; if its
post had started, the channel's history is searched first for a parent naming the alert
(its first block's block_id), so a crash between Slack accepting the post and the ts being
saved does not post it twice.

A storm (more than `storm_threshold` new alerts in one pass, e.g. a first run on a big
company, or a change in QBO that breaks thousands of syncs) does not become thousands of
parents: the new alerts of each rule join one group alert whose parent counts them and
whose thread lists every invoice (100 a reply). Each member stays an alert of its own in the
store (list, explain, resolve as usual); its group's parent is edited as members resolve,
and resolves when none is left. New failures of that rule within STORM_JOIN_S join the
group too, since a storm rarely arrives in one pass.

Parent messages are edited in place to show the state; the explanation, every fix attempt
and the resolution go into the thread. Alerts whose cause is gone on a later pass are
resolved. A problem every sync shares (the QBO connection, throttling) gets one grouped alert
instead of one per invoice.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Iterable, Protocol

from rules import registry
from rules.base import Classification, Finding
from rules.locale_format import money, number

from .slack.messages import (AlertCard, CauseLine, FixButton, Message, alert_parent, explanation_reply,
                             storm_listing, thread_reply)
from .slack.evidence import evidence_blocks
from .slack.mrkdwn import escape, escape_lines, link, user, usergroup
from .slack.texts import t
from .errors import ApiError
from .fix_guard import FIX_TIMEOUT_S, FixGuard
from .links import RecordLinks
from .store import GROUP_PREFIX

log = logging.getLogger(__name__)

GLOBAL_PREFIX = "global:"
# Slack's answers to a post into a channel the bot cannot post in (chat.postMessage errors,
# https://docs.slack.dev/reference/methods/chat.postMessage): a route there falls back.
ROUTE_REFUSALS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
INVOICE_PREFIX = "invoice:"  # an invoice's parent message (its block_id names it), not a store row
STORM_THRESHOLD = 20     # more new alerts than this in one pass: group them per rule
STORM_JOIN_S = 3600      # new failures of a rule join its storm group for this long
LISTING_CHUNK = 100      # member invoices named per thread reply
BULK_MIN = 2             # a storm group offers "Fix all N like this" from this many members
OPEN_STATES = ("open", "acknowledged", "fixing", "snoozed")
# After a fix, HubSpot's integration retries on its own schedule. Until it does, the invoice
# is simply "missing" with no known cause; an `unknown` alert then would be noise. Only when
# it is still missing this long after the fix is that worth an alert.
SYNC_WAIT_S = 24 * 3600
REMIND_AFTER_S = 24 * 3600   # an open alert nobody acknowledged is raised again after this
REMINDERS_PER_DAY = 20       # at most this many reminders in any 24 hours, across alerts
DAY_S = 24 * 3600
REMINDER_MARK = "qbsync-remind-"  # block_id prefix of a reminder reply (found again after a crash)


class SlackPoster(Protocol):
    def post(self, channel: str, message: Message, *, thread_ts: str | None = None) -> str: ...
    def update(self, channel: str, ts: str, message: Message) -> None: ...
    def find_parent(self, channel: str, alert_key: str, since: float) -> str | None: ...
    def find_posted(self, channel: str, block_id: str, since: float, *,
                    thread_ts: str | None = None) -> str | None: ...


@dataclass
class PassReport:
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)  # muted rule or snoozed invoice: not posted
    left_groups: dict[str, int] = field(default_factory=dict)  # storm group -> members resolved
    deferred: list[str] = field(default_factory=list)  # invoices a fix was busy with: judged next pass
    reminded: list[str] = field(default_factory=list)  # alerts raised again in their thread


def fingerprint(finding: Finding) -> str:
    blob = json.dumps({"facts": finding.summary_facts, "evidence": finding.evidence},
                      sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def invoice_facts(invoice) -> dict:
    """What a parent message shows about the invoice (kept with the alert, so the message can
    be rebuilt later without reading HubSpot again)."""
    if invoice is None:
        return {}
    who = None
    if invoice.contact is not None:
        who = invoice.contact.name
        if invoice.company is not None and invoice.company.name:
            who = f"{invoice.company.name} ({who})"
    elif invoice.company is not None:
        who = invoice.company.name
    return {
        "number": invoice.number,
        "who": who,
        # the amount and its currency, formatted in the reader's language when shown (invoice_amount)
        "amount_value": str(invoice.amount_billed),
        "currency": invoice.currency or "",
        "created_at": invoice.created_at.timestamp(),
        # ids for links to the records (bot/links.py), with the names the links show
        "contact_id": invoice.contact.id if invoice.contact is not None else None,
        "contact_name": invoice.contact.name if invoice.contact is not None else None,
        "company_id": invoice.company.id if invoice.company is not None else None,
        "company_name": invoice.company.name if invoice.company is not None else None,
    }


def invoice_amount(inv: dict, lang: str) -> str | None:
    """The invoice's amount in its currency, as a reader of `lang` writes it (`€ 1.450,00` in
    Dutch). Alerts stored before amounts were localised keep the text they were stored with."""
    if inv.get("amount_value") not in (None, ""):
        return money(inv["amount_value"], inv.get("currency"), lang)
    return inv.get("amount")


def finding_from_alert(alert: dict) -> Finding | None:
    ev = alert["evidence"]
    if "finding" not in ev:
        return None
    f = ev["finding"]
    return Finding(rule=alert["rule"], invoice_id=alert["invoice_id"] or "",
                   invoice_number=alert["invoice_number"] or "",
                   summary_facts=f.get("summary_facts", {}), evidence=f.get("evidence", {}))


class AlertService:
    def __init__(self, store, poster: SlackPoster, channel: str, *, lang: str = "en",
                 clock=time.time, storm_threshold: int = STORM_THRESHOLD, fix_timeout_s: float = FIX_TIMEOUT_S,
                 grace_s: float = 0.0, links=None, remind_after_s: float = 0.0,
                 reminders_per_day: int = REMINDERS_PER_DAY,
                 fixers: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
                 routes: dict[str, str] | None = None):
        self.store = store
        # QBSYNC_ROUTES: rule id -> channel. `channel` is the default (and global alerts' one).
        self.routes = dict(routes or {})
        # Reminders (remind_unacknowledged): 0 turns them off; `fixers` (user ids, user-group
        # ids, as QBSYNC_FIX_ALLOWED) are mentioned in them.
        self.remind_after_s = remind_after_s
        self.reminders_per_day = reminders_per_day
        self.fixers = fixers
        self.poster = poster
        self.channel = channel
        self.lang = lang
        self.clock = clock
        self.storm_threshold = storm_threshold
        # An invoice is failing from when it should have synced: created + the grace period.
        self.grace_s = grace_s
        self.links = links  # bot.links.RecordLinks, or None: no record links
        # A fix and a scan of the same invoice, one at a time (bot/fix_guard.py).
        self.guard = FixGuard(store, clock=clock, timeout_s=fix_timeout_s)

    # -- routing ---------------------------------------------------------------------------
    def channel_for(self, alert: dict) -> str:
        """Where a new parent for `alert` goes: its rule's route (QBSYNC_ROUTES), else the
        alert channel. A problem every sync shares always goes to the alert channel. An
        invoice's parent is posted for its first cause in fix order (_post_invoice), so it
        lands in that cause's channel; later causes join its thread wherever they route."""
        if alert["key"].startswith(GLOBAL_PREFIX):
            return self.channel
        return self.routes.get(alert["rule"], self.channel)

    # -- building --------------------------------------------------------------------------
    def card(self, alert: dict) -> AlertCard:
        """The parent of `alert`: for a cause of an invoice, the invoice's parent (every cause
        in its thread, in fix order); else the alert's own."""
        if not has_invoice_parent(alert):
            return self.cause_card(alert)
        causes = self.causes(alert)
        live = [c for c in causes if c["state"] in OPEN_STATES]
        lead = live[0] if live else max(causes, key=lambda c: (c["updated_at"] or 0, c["id"]))
        card = self.cause_card(lead)
        fixes = list(card.fixes)
        for other in live[1:]:
            fixes += [replace(f, key=other["key"]) for f in self.cause_card(other).fixes]
        since = [self._failing_since(c) for c in causes]
        if len(live) > 1:
            card = replace(card, **invoice_state(live))
        return replace(card, parent_key=parent_key(alert), fixes=tuple(fixes),
                       failing_since=min(since),
                       causes=tuple(CauseLine(self.title(c), c["state"]) for c in causes) if len(causes) > 1 else (),
                       links=self._invoice_links(lead))

    def causes(self, alert: dict) -> list[dict]:
        """The causes one invoice parent stands for, in fix order: those sharing its thread,
        or (not posted yet) every cause of the invoice waiting to be posted."""
        siblings = self.store.list_alerts(invoice_id=alert["invoice_id"])
        if alert["ts"]:
            mine = [a for a in siblings if a["ts"] == alert["ts"] and not is_group(a)]
        else:
            mine = [a for a in siblings if not a["ts"] and not a["group_key"] and a["state"] in OPEN_STATES]
        if not any(a["key"] == alert["key"] for a in mine):
            mine.append(alert)
        return sorted(mine, key=lambda a: (rule_order(a["rule"]), a["id"]))

    def title(self, alert: dict) -> str:
        """A cause's title in the channel's language (plain text: escape it for mrkdwn)."""
        finding = finding_from_alert(alert)
        if finding is not None:
            return registry.get(alert["rule"]).explain(finding, self.lang).title
        return alert["evidence"].get("title") or alert["summary"]

    def _failing_since(self, alert: dict) -> float:
        created = alert["evidence"].get("invoice", {}).get("created_at")
        return created + self.grace_s if isinstance(created, (int, float)) else alert["created_at"]

    def _invoice_links(self, alert: dict) -> tuple[tuple[str, str], ...]:
        if self.links is None:
            return ()
        return tuple(self.links.invoice_links(alert, self.lang))

    def cause_card(self, alert: dict) -> AlertCard:
        """The card of one cause by itself (its own title, state and fixes)."""
        rule = registry.get(alert["rule"])
        finding = finding_from_alert(alert)
        inv = alert["evidence"].get("invoice", {})
        fixes: tuple[FixButton, ...] = ()
        storm = is_group(alert)
        group_count = alert["evidence"].get("count")
        bulk = None
        if storm:
            counts = self.store.group_counts(alert["key"])
            group_count = sum(n for state, n in counts.items() if state in OPEN_STATES) or sum(counts.values())
            if alert["state"] != "resolved":
                bulk = self._bulk_offer(alert["key"])
        if finding is not None:
            title = rule.explain(finding, self.lang).title
            if alert["state"] != "resolved":
                fixes = tuple(FixButton(f.id, f.label, f.confirm, alert["key"]) for f in rule.fixes(finding, self.lang))
        else:
            title = alert["evidence"].get("title") or alert["summary"]
        return AlertCard(
            key=alert["key"], rule=alert["rule"], state=alert["state"], title=title,
            invoice_number=alert["invoice_number"], who=inv.get("who"), amount=invoice_amount(inv, self.lang),
            failing_since=alert["created_at"], fixes=fixes, acknowledged_by=alert["acknowledged_by"],
            snoozed_until=alert["snoozed_until"], resolution=alert["resolution"],
            group_count=group_count, storm=storm, lang=self.lang, bulk=bulk,
        )

    def _bulk_offer(self, group_key: str) -> tuple[str, int] | None:
        """(fix id, N) for the group's "Fix all N like this" button, when two or more open
        members share their recommended fix (bot/bulk_offer.py)."""
        from .bulk_offer import offer  # bulk_offer reads alerts through this module
        try:
            found = offer(self.store.group_members(group_key, states=OPEN_STATES), self.lang)
        except Exception:  # the parent must still show (with its Acknowledge button) if a rule trips
            log.exception("could not work out the bulk fix offer of %s", group_key)
            return None
        return found if found is not None and found[1] >= BULK_MIN else None

    # -- one diagnosis pass -----------------------------------------------------------------
    def apply_findings(self, findings: dict[str, list[Finding]], invoices: dict, checked: Iterable[str], *,
                       report: PassReport | None = None, finish: bool = True,
                       since: float | None = None) -> PassReport:
        """Record what a pass found and bring Slack in line. `checked` are the invoice ids the
        pass looked at: their alerts without a finding now are resolved. A pass that comes in
        chunks (bot/scan.py) passes one `report` and `finish=False` for each chunk, then calls
        finish_pass(report) once, so new alerts are posted (and a storm recognised) together.
        `since`: when the pass began reading; an invoice with a fix running, or finished after
        that, is not judged from this pass's data (report.deferred: for the next pass)."""
        report = report if report is not None else PassReport()
        checked = set(checked)
        busy = self.guard.busy(since)
        for invoice_id in sorted(set(findings) | checked):
            with self.guard.settled(invoice_id, since, busy) as trusted:
                if trusted:
                    self._apply_one(invoice_id, findings.get(invoice_id, []), invoices.get(invoice_id),
                                    invoice_id in checked, report)
                else:
                    report.deferred.append(invoice_id)
        if finish:
            self.finish_pass(report)
        return report

    def _apply_one(self, invoice_id: str, found: list[Finding], invoice, checked: bool, report: PassReport) -> None:
        """One invoice's findings (none: it is fine now), under its fix guard. `checked`: the
        pass looked at it (past its grace period), so its alerts without a finding are over."""
        seen_keys = set()
        for finding in found:
            if finding.rule == "unknown" and self._waiting_for_sync(invoice_id):
                continue
            key = self.store.alert_key(invoice_id, finding.rule)
            seen_keys.add(key)
            rule = registry.get(finding.rule)
            explanation = rule.explain(finding, self.lang)
            evidence = {"finding": {"summary_facts": finding.summary_facts, "evidence": finding.evidence},
                        "invoice": invoice_facts(invoice)}
            alert, what = self.store.record_detection(
                key=key, rule=finding.rule, invoice_id=invoice_id, invoice_number=finding.invoice_number,
                summary=explanation.title, evidence=evidence, fingerprint=fingerprint(finding))
            if what == "created":
                report.created.append(key)
            elif what == "changed":
                report.changed.append(key)
            elif what == "reopened":
                report.reopened.append(key)
            self._publish(alert, what, explanation.title, explanation.text, finding, report)
        if not checked:
            return
        left_groups = report.left_groups
        for alert in self.store.list_alerts(states=OPEN_STATES, invoice_id=invoice_id):
            if alert["key"] not in seen_keys:
                self.resolve(alert["key"], t(self.lang, "why_gone"))
                report.resolved.append(alert["key"])
                if alert["group_key"]:
                    left_groups[alert["group_key"]] = left_groups.get(alert["group_key"], 0) + 1
        if not found:
            self._confirm_syncs({invoice_id})

    def finish_pass(self, report: PassReport) -> None:
        """After the last chunk of a pass: storm groups that lost members say so, ended
        snoozes wake, and whatever is new is posted."""
        self._settle_groups(report.left_groups)
        report.left_groups = {}
        self.wake_snoozed()  # after resolving: only alerts that still fail are woken
        report.held_back.extend(self.post_pending())
        report.reminded.extend(self.remind_unacknowledged())

    # -- reminders --------------------------------------------------------------------------
    def remind_unacknowledged(self, now: float | None = None) -> list[str]:
        """Raise again, once per thread, an alert still open that nobody acknowledged, snoozed
        or began fixing for `remind_after_s` since it (re)opened or was last reminded, with the
        fixers mentioned. An invoice's causes share one thread: one reminder for them all; a
        storm member is stood for by its group. At most `reminders_per_day` in any 24 hours.
        Each reminder is recorded after Slack took it (a failed post is tried next pass), so a
        restart neither repeats one early nor forgets one is due; a crash between Slack taking
        it and the record is settled first (_settle_started_reminder). Returns the alert keys
        reminded (one per thread)."""
        if self.remind_after_s <= 0 or self.reminders_per_day <= 0:
            return []
        now = self.clock() if now is None else now
        self._settle_started_reminder()
        room = self.reminders_per_day - self.store.reminders_since(now - DAY_S)
        if room <= 0:
            return []
        threads: dict[tuple[str, str], list[dict]] = {}
        for alert in self.store.list_alerts(states=OPEN_STATES):
            if not alert["ts"] or alert["key"].startswith(GLOBAL_PREFIX):
                continue  # not in Slack yet, or a storm member (its group has the thread); global: not an invoice's
            threads.setdefault((alert["channel"], alert["ts"]), []).append(alert)
        due: list[tuple[float, dict]] = []
        for (channel, ts), causes in threads.items():
            if any(c["state"] != "open" for c in causes) or any(self._held_back(c) for c in causes):
                continue  # someone is on it (acknowledged, fixing, snoozed), or it is muted
            since = max([c["updated_at"] for c in causes] + [self.store.last_reminder(channel, ts) or 0.0])
            if now - since >= self.remind_after_s:
                due.append((since, min(causes, key=lambda c: (rule_order(c["rule"]), c["id"]))))
        reminded = []
        for _, alert in sorted(due, key=lambda d: (d[0], d[1]["id"]))[:room]:
            who = " ".join([user(u) for u in self.fixers[0]] + [usergroup(g) for g in self.fixers[1]])
            # hours as the reader writes them: 1,5 in nl/es, not 1.5 (rules/locale_format.py)
            hours = number(f"{self.remind_after_s / 3600:g}", self.lang)
            text = t(self.lang, "th_reminder", hours=hours, who=f" {who}" if who else "")
            # The crash window between Slack taking the reminder and its row being saved is
            # closed as for parents: a durable "post started" mark naming the reply's block_id
            # first; after a crash the thread is searched for it (_settle_started_reminder).
            block_id = REMINDER_MARK + uuid.uuid4().hex
            message = thread_reply(text, lang=self.lang)
            message = replace(message, blocks=[dict(message.blocks[0], block_id=block_id), *message.blocks[1:]])
            self.store.mark_reminder_started({"channel": alert["channel"], "ts": alert["ts"], "key": alert["key"],
                                              "block_id": block_id, "at": now, "since": time.time(),
                                              "mentioned": who})
            self.poster.post(alert["channel"], message, thread_ts=alert["ts"])
            self.store.record_reminder(alert["channel"], alert["ts"], alert["key"], at=now)
            self.store.audit("system", "alert:remind", "ok", target=alert["key"],
                             detail={"ts": alert["ts"], "mentioned": who})
            reminded.append(alert["key"])
        return reminded

    def _settle_started_reminder(self) -> None:
        """A reminder whose post began before a crash (its mark is still there): if Slack has
        it, record it as posted (the cap and the next reminder's time count it); if not, forget
        the mark and let this pass post it when it is still due. conversations.replies returns
        "an entire thread (a message plus all the messages in reply to it)" with the scopes of
        its conversation type, channels:history / groups:history, which qbsync already has for
        parents (https://api.slack.com/methods/conversations.replies; bot/slack_scopes.py).
        `since` is the wall clock when
        the post began (Slack's ts are wall-clock times), so the thread is searched around it
        only (conversations.replies of the thread, bot/slack/client.py find_posted). When the
        thread cannot be read (no history scope, not in the channel) the reminder counts as
        not posted: a repeated reminder is better than a lost one."""
        mark = self.store.started_reminder()
        if mark is None:
            return
        ts = self.poster.find_posted(mark["channel"], mark["block_id"], float(mark["since"]), thread_ts=mark["ts"])
        if not ts:
            self.store.forget_started_reminder()
            return
        log.info("a reminder in %s reached Slack before a restart; not posting it again", mark["key"])
        self.store.record_reminder(mark["channel"], mark["ts"], mark["key"], at=float(mark["at"]))
        self.store.audit("system", "alert:remind", "ok", target=mark["key"],
                         detail={"ts": mark["ts"], "mentioned": mark.get("mentioned", ""), "found_after_restart": True})

    def _confirm_syncs(self, synced_ids: set) -> None:
        """An alert a person resolved (a fix whose re-check passed, or Resolve) hears once, in
        its thread, that the invoice reached QuickBooks; it is not reopened or reposted."""
        for invoice_id in synced_ids:
            said = set()  # parents told: causes sharing a thread hear it once
            for watch in self.store.sync_watches(invoice_id):
                alert = self.store.get_alert(watch["key"])
                still = alert is not None and alert["state"] == "resolved" and alert["version"] == watch["version"]
                ended = self.store.end_sync_watch(watch["key"])
                if ended and still:  # for /qbsync history: the invoice reached QuickBooks after all
                    self.store.audit("system", "alert:synced", "ok", target=watch["key"])
                if ended and still and (alert["channel"], alert["ts"]) not in said:
                    said.add((alert["channel"], alert["ts"]))
                    number = escape(alert["invoice_number"] or invoice_id)
                    self.reply(watch["key"], t(self.lang, "th_synced", number=number))

    def _waiting_for_sync(self, invoice_id: str) -> bool:
        now = self.clock()
        return any(now - w["at"] < SYNC_WAIT_S for w in self.store.sync_watches(invoice_id))

    def wake_snoozed(self) -> list[str]:
        """Snoozes that ran out: the alert is open again and its parent says so."""
        woken = []
        now = self.clock()
        for alert in self.store.list_alerts(states=("snoozed",)):
            if alert["snoozed_until"] and alert["snoozed_until"] <= now:
                if self.store.transition(alert["key"], "open", expected_version=alert["version"]) is not None:
                    self.refresh_parent(alert["key"])
                    self.reply(alert["key"], t(self.lang, "th_snooze_over"))
                    woken.append(alert["key"])
        return woken

    def _held_back(self, alert: dict) -> bool:
        if alert["rule"] in self.store.active_mutes():
            return True
        return bool(alert["invoice_id"] and self.store.snoozed_until(alert["invoice_id"]))

    def _publish(self, alert: dict, what: str, title: str, text: str, finding: Finding | None,
                 report: PassReport) -> None:
        if not alert["ts"]:
            if alert["key"].startswith(GLOBAL_PREFIX) and not self._held_back(alert):
                self._post_new(alert, title, text, finding)
            # Invoice alerts are posted together at the end of the pass (post_pending), where
            # a storm is recognised and grouped.
            return
        if alert["group_key"]:
            return  # a storm member: its group's parent stands for it
        if what in ("changed", "reopened"):
            self.refresh_parent(alert["key"])
            self.reply(alert["key"], t(self.lang, "th_back" if what == "reopened" else "th_changed"))
            self._post_explanation(self.store.get_alert(alert["key"]), title, text, finding)

    def _post_parent(self, alert: dict, together: list[dict] | None = None) -> str:
        """Post the parent of `alert` once: a post that began before a crash is looked for in
        the channel's history before it is sent again. `together`: every cause of the invoice
        this parent is posted for (all get its ts; each is marked before the post)."""
        together = together or [alert]
        channel = alert["channel"] or self.channel_for(alert)
        ts = None
        started = [a["post_started_at"] for a in together if a.get("post_started_at")]
        if started:
            channel = next(a["channel"] for a in together if a.get("post_started_at")) or channel
            ts = self.poster.find_parent(channel, parent_key(alert), min(started))
            if ts:
                log.info("alert %s reached Slack before a restart; keeping that message", parent_key(alert))
        if not ts:
            channel = self.channel_for(alert)
            for a in together:
                self.store.mark_post_started(a["key"], channel)
            try:
                ts = self.poster.post(channel, alert_parent(self.card(alert), now=self.clock()))
            except ApiError as exc:
                if channel == self.channel or exc.code not in ROUTE_REFUSALS:
                    raise
                channel = self._route_refused(alert, channel, exc)
                for a in together:
                    self.store.mark_post_started(a["key"], channel)
                ts = self.poster.post(channel, alert_parent(self.card(alert), now=self.clock()))
        for a in together:
            self.store.set_alert_message(a["key"], channel, ts)
            self.store.audit("system", "alert:post", "ok", target=a["key"], detail={"ts": ts})
        return ts

    def _route_refused(self, alert: dict, channel: str, exc: ApiError) -> str:
        """Slack refused a post to the rule's route channel (QBSYNC_ROUTES): a channel that
        does not exist in this workspace (e.g. one of another company's workspace: a bot
        token sees its own workspace's channels only), that the bot is not in, or archived.
        The alert goes to the alert channel instead of stopping the scan at every pass; the
        refusal is logged and audited, and `qbsync doctor` names the channel."""
        log.warning("route of %s to %s refused by Slack (%s); posted in the alert channel %s",
                    alert["rule"], channel, exc.code, self.channel)
        self.store.audit("system", "alert:route", "refused", target=alert["key"],
                         detail={"channel": channel, "error": exc.code, "posted_in": self.channel})
        return self.channel

    def _post_new(self, alert: dict, title: str, text: str, finding: Finding | None) -> None:
        self._post_parent(alert)
        self._post_explanation(self.store.get_alert(alert["key"]), title, text, finding)

    def _post_explanation(self, alert: dict, title: str, text: str, finding: Finding | None) -> None:
        blocks = []
        if finding is not None:
            not_offered = registry.get(finding.rule).not_offered(finding, self.lang)
            # the invoice's currency, for the amounts of the evidence (totals, line differences)
            invoice = (alert.get("evidence") or {}).get("invoice") or {}
            currency = invoice.get("currency") or finding.summary_facts.get("currency")
            blocks = evidence_blocks(finding.evidence, self.links, self.lang, not_offered, currency)
        self.poster.post(alert["channel"], explanation_reply(title, text, blocks, lang=self.lang),
                         thread_ts=alert["ts"])

    def post_pending(self) -> list[str]:
        """Post the alerts recorded but not yet in Slack (new this pass, left by a crash, or
        when a mute ended). Many at once are a storm: grouped per rule. Returns the keys held
        back (muted rule, snoozed invoice)."""
        fresh, held = [], []
        for alert in self.store.unposted_alerts():
            if self._held_back(alert):
                held.append(alert["key"])
                continue
            fresh.append(alert)
        if not fresh:
            return held
        groups = self._recent_groups()
        storm = len([a for a in fresh if not a["group_key"]]) > self.storm_threshold
        joining: dict[str, list[dict]] = {}
        by_invoice: dict[str, list[dict]] = {}
        for alert in fresh:
            if alert["key"].startswith(GLOBAL_PREFIX):
                self._post_pending_one(alert)
            elif alert["group_key"] or storm or alert["rule"] in groups:
                joining.setdefault(alert["rule"], []).append(alert)
            elif alert["invoice_id"]:
                by_invoice.setdefault(alert["invoice_id"], []).append(alert)
            else:
                self._post_pending_one(alert)
        for invoice_id, causes in by_invoice.items():
            self._post_invoice(invoice_id, causes)
        for rule, members in joining.items():
            self._list_in_group(rule, members, groups.get(rule))
        return held

    def _post_invoice(self, invoice_id: str, new: list[dict]) -> None:
        """Causes of one invoice not in Slack yet: into the invoice's thread if it has one (its
        parent is edited to list them), else under one new parent for all of them."""
        new = sorted(new, key=lambda a: (rule_order(a["rule"]), a["id"]))
        threads = [a for a in self.store.list_alerts(invoice_id=invoice_id) if a["ts"] and not is_group(a)]
        if threads:
            home = max(threads, key=lambda a: a["id"])
            for a in new:
                self.store.set_alert_message(a["key"], home["channel"], home["ts"])
                self.store.audit("system", "alert:post", "ok", target=a["key"],
                                 detail={"ts": home["ts"], "joined": True})
            self.refresh_parent(home["key"])
            for a in new:
                self.reply(a["key"], t(self.lang, "th_cause_new", cause=escape(self.title(a))))
        else:
            self._post_parent(new[0], new)
        for a in new:
            self._post_pending_explanation(self.store.get_alert(a["key"]))

    def _post_pending_explanation(self, alert: dict) -> None:
        finding = finding_from_alert(alert)
        if finding is not None:
            exp = registry.get(alert["rule"]).explain(finding, self.lang)
            self._post_explanation(alert, exp.title, exp.text, finding)
        else:
            self._post_explanation(alert, alert["summary"], alert["evidence"].get("text", ""), None)

    def _post_pending_one(self, alert: dict) -> None:
        finding = finding_from_alert(alert)
        if finding is not None:
            exp = registry.get(alert["rule"]).explain(finding, self.lang)
            self._post_new(alert, exp.title, exp.text, finding)
        else:
            self._post_new(alert, alert["summary"], alert["evidence"].get("text", ""), None)

    # -- storms -----------------------------------------------------------------------------
    def _recent_groups(self) -> dict[str, dict]:
        """Open storm groups young enough for new failures to join, by rule."""
        now = self.clock()
        out: dict[str, dict] = {}
        for alert in self.store.open_groups():
            if now - alert["created_at"] < STORM_JOIN_S:
                out.setdefault(alert["rule"], alert)
        return out

    def _list_in_group(self, rule_id: str, members: list[dict], group: dict | None) -> None:
        """Put `members` (alerts of one rule) into a storm group and name them in its thread.
        Members already given a group (a crash before they were listed) stay in theirs."""
        by_group: dict[str, list[dict]] = {}
        new = [m for m in members if not m["group_key"]]
        if new:
            if group is None:
                group = self._open_group(rule_id)
            self.store.join_group([m["key"] for m in new], group["key"])
            by_group[group["key"]] = new
        for m in members:
            if m["group_key"]:
                by_group.setdefault(m["group_key"], []).append(m)
        for group_key, items in by_group.items():
            g = self.store.get_alert(group_key)
            if g is None:
                continue
            if not g["ts"]:
                self._post_parent(g)
                g = self.store.get_alert(group_key)
                self.poster.post(g["channel"],
                                 thread_reply(escape_lines(g["evidence"].get("text", "")), lang=self.lang),
                                 thread_ts=g["ts"])
            else:
                self.refresh_parent(group_key)
            already = self.store.group_counts(group_key)
            start = sum(already.values()) - len(items)
            for i in range(0, len(items), LISTING_CHUNK):
                chunk = items[i:i + LISTING_CHUNK]
                heading = t(self.lang, "th_storm_members", first=start + i + 1, last=start + i + len(chunk))
                lines = [member_mrkdwn(m, self.lang, self.links) for m in chunk]
                self.poster.post(g["channel"], storm_listing(heading, lines, lang=self.lang),
                                 thread_ts=g["ts"])
                self.store.mark_listed([m["key"] for m in chunk])
            self.store.audit("system", "alert:group", "ok", target=group_key, detail={"listed": len(items)})

    def _open_group(self, rule_id: str) -> dict:
        exp = registry.get(rule_id).explain(Classification(rule_id, None, {}, None), self.lang)
        key = f"{GROUP_PREFIX}{rule_id}:{int(self.clock() * 1000)}"
        steps = registry.get(rule_id).steps(self.lang)
        text = exp.text + ("\n" + "\n".join(f"• {s}" for s in steps) if steps else "")
        alert, _ = self.store.record_detection(key=key, rule=rule_id, invoice_id=None, invoice_number=None,
                                               summary=exp.title, evidence={"title": exp.title, "text": text,
                                                                            "storm": True},
                                               fingerprint=hashlib.sha256(key.encode()).hexdigest()[:16])
        return alert

    def settle_groups(self, left: dict[str, int]) -> None:
        """Public for a bulk fix (handlers/bulk.py): its members resolved outside a pass."""
        self._settle_groups(left)

    def _settle_groups(self, left: dict[str, int]) -> None:
        """Storm groups some members of which resolved this pass: say how many are left, or
        resolve the group when none is."""
        for group_key, gone in left.items():
            group = self.store.get_alert(group_key)
            if group is None or group["state"] == "resolved":
                continue
            counts = self.store.group_counts(group_key)
            still = sum(n for state, n in counts.items() if state in OPEN_STATES)
            if still == 0:
                self.resolve(group_key, t(self.lang, "why_gone"))
            elif group["ts"]:
                self.refresh_parent(group_key)
                synced, failing = t(self.lang, "storm_synced", count=gone), t(self.lang, "storm_still", count=still)
                self.reply(group_key, f":white_check_mark: {synced}; {failing}.")

    # -- a problem all syncs share ----------------------------------------------------------
    def raise_global(self, rule_id: str, title: str, text: str, *, count: int | None = None) -> dict:
        """One alert for a cause every sync shares (QBO connection broken, throttling)."""
        key = f"{GLOBAL_PREFIX}{rule_id}"
        evidence = {"title": title, "text": text, "count": count}
        alert, what = self.store.record_detection(key=key, rule=rule_id, invoice_id=None, invoice_number=None,
                                                  summary=title, evidence=evidence,
                                                  fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16])
        report = PassReport()
        self._publish(alert, what, title, text, None, report)
        return self.store.get_alert(key)

    def clear_global(self, rule_id: str, why: str) -> bool:
        alert = self.store.get_alert(f"{GLOBAL_PREFIX}{rule_id}")
        if alert is None or alert["state"] == "resolved":
            return False
        self.resolve(alert["key"], why)
        return True

    # -- state changes (the poller and the buttons) -----------------------------------------
    def resolve(self, key: str, why: str, *, by: str = "system") -> dict | None:
        alert = self.store.transition(key, "resolved", resolution=why, by=by)
        if alert is None:
            return None
        self.store.audit(by, "alert:resolve", "ok", target=key, detail={"why": why})
        if alert["ts"]:
            self.refresh_parent(key)
            several = has_invoice_parent(alert) and len(self.causes(alert)) > 1
            if several:  # the thread is the invoice's: say which cause
                cause = escape(self.title(alert))
                text = t(self.lang, "th_cause_resolved", cause=cause, why=escape(why)) if by == "system" \
                    else t(self.lang, "th_cause_resolved_by", cause=cause, user=user(by), why=escape(why))
            elif by == "system":
                text = t(self.lang, "th_resolved", why=escape(why))
            else:
                text = t(self.lang, "th_resolved_by", user=user(by), why=escape(why))
            self.reply(key, text)
        return alert

    def refresh_parent(self, key: str) -> None:
        alert = self.store.get_alert(key)
        if alert and alert["ts"]:
            self.poster.update(alert["channel"], alert["ts"], alert_parent(self.card(alert), now=self.clock()))

    def reply(self, key: str, mrkdwn_text: str) -> None:
        """A thread reply. `mrkdwn_text` must be built from escaped parts."""
        alert = self.store.get_alert(key)
        if alert and alert["ts"]:
            self.poster.post(alert["channel"], thread_reply(mrkdwn_text, lang=self.lang), thread_ts=alert["ts"])


# How far people have taken a cause, least first: an invoice's parent shows the least
# advanced of its open causes (all acknowledged: "Acknowledged by ..."; one still open: "Open").
PROGRESS = {"open": 0, "acknowledged": 1, "fixing": 2, "snoozed": 3}


def invoice_state(live: list[dict]) -> dict:
    """The state line of an invoice parent whose open causes are `live` (AlertCard fields):
    the least advanced state; who acknowledged (every cause in it) and the earliest snooze end."""
    state = min((c["state"] for c in live), key=lambda s: PROGRESS.get(s, 0))
    at = [c for c in live if c["state"] == state]
    ackers = tuple(dict.fromkeys(c["acknowledged_by"] for c in at if c["acknowledged_by"]))
    ends = [c["snoozed_until"] for c in at if c["snoozed_until"]]
    return {"state": state, "acknowledged_by": ackers[0] if ackers else None, "acknowledgers": ackers,
            "snoozed_until": min(ends) if ends else None}


def has_invoice_parent(alert: dict) -> bool:
    """A cause of one invoice shown in the invoice's own thread (not a storm member listed in
    its group's thread, not a group or global alert)."""
    if not alert["invoice_id"] or is_group(alert) or alert["key"].startswith(GLOBAL_PREFIX):
        return False
    return not (alert["group_key"] and not alert["ts"])


def parent_key(alert: dict) -> str:
    """What the parent message of `alert` stands for: its invoice, or the alert itself."""
    return INVOICE_PREFIX + alert["invoice_id"] if has_invoice_parent(alert) else alert["key"]


def rule_order(rule_id: str) -> int:
    try:
        return registry.get(rule_id).order
    except KeyError:  # a rule removed since the alert was stored: after the known ones
        return 10_000


def is_group(alert: dict) -> bool:
    """A storm group's own alert (not an invoice's)."""
    return alert["key"].startswith(GROUP_PREFIX)


def _member_parts(alert: dict, lang: str) -> tuple[str, list[str]]:
    """A storm member's number, then who and how much (plain text)."""
    inv = alert["evidence"].get("invoice", {})
    number = alert["invoice_number"] or alert["invoice_id"] or alert["key"]
    return number, [x for x in (inv.get("who"), invoice_amount(inv, lang)) if x]


def member_line(alert: dict, lang: str = "en") -> str:
    """One invoice in a storm listing (plain text; the builder escapes it)."""
    number, rest = _member_parts(alert, lang)
    return " · ".join([number, *rest])


def member_mrkdwn(alert: dict, lang: str, links: RecordLinks | None) -> str:
    """One invoice in a storm group's thread, as mrkdwn: its number linked to the invoice in
    HubSpot (when the portal is known), then who and how much, escaped. A storm parent stands
    for many invoices, so each member line carries the link an invoice's own parent would."""
    number, rest = _member_parts(alert, lang)
    url = links.hubspot("invoice", alert["invoice_id"]) if links is not None and alert["invoice_id"] else None
    head = link(url, number) if url else escape(number)
    return " · ".join([head, *(escape(x) for x in rest)])
