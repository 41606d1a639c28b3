"""One scan: read HubSpot's invoices and the QBO data they need, diagnose, update the alerts.

What `/qbsync scan` and the scheduler run is, by default, the incremental poll cycle
(bot/poller.py: HubSpot changes since a cursor, QBO through CDC into a local mirror,
diagnosis from local data). `Scanner(..., incremental=False)` keeps the simple complete scan
(every open or paid invoice read, QBO asked live) for comparison and as a fallback.

A failure of the QBO connection (AuthError) or throttling that outlasts the adapter's own
waiting (RateLimited) stops the scan and becomes one grouped alert, not one per invoice; the
next scan that gets through clears it. A company whose QBO subscription ended (fault 6190,
CompanyUnavailable) refuses writes, while reads may still work (the text says "You can't add
data", QuickBooks-V3-PHP-SDK#211): a scan that meets it stops, and a fix that meets it leaves a
mark (SUBSCRIPTION_MARK, rules/fixes.py) that keeps the one `qbo-subscription` alert up until a
QBO write succeeds again; a read getting through proves nothing about writes.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from rules import registry
from rules.base import Classification
from rules.classify import classify
from rules.diagnose import diagnose, diagnose_live, eligible
from rules.fixes import SUBSCRIPTION_MARK
from rules.refusals import described
from rules.view import LiveContactDirectory, LiveQboView

from .alerts import PassReport
from .errors import ApiError, AuthError, CompanyUnavailable, NotFound, QbsyncError, RateLimited
from .slack.texts import t

log = logging.getLogger(__name__)


@dataclass
class ScanResult:
    started_at: float
    finished_at: float = 0.0
    invoices: int = 0
    checked: int = 0
    failing: dict[str, list[str]] = field(default_factory=dict)  # invoice number -> rule ids
    created: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    problem: str | None = None  # rule id of a shared problem that stopped the scan


class Scanner:
    def __init__(self, hubspot, qbo, store, alerts, *, grace_minutes: float = 10, clock=time.time,
                 incremental: bool = True, poller=None):
        self.incremental = incremental
        if incremental and poller is None:
            from .poller import Poller
            poller = Poller(hubspot, qbo, store, grace_minutes=grace_minutes, clock=clock)
        self.poller = poller
        self.hubspot = hubspot
        self.qbo = qbo
        self.store = store
        self.alerts = alerts
        self.grace = timedelta(minutes=grace_minutes)
        self.clock = clock
        # bot.digest_service.DigestService (wiring.build sets it): checked at the end of each scan.
        self.digest: Any = None
        # Scans ended so far: what reads only the scan's local data (sync risks) is kept until it moves.
        self.generation = 0

    def scan(self) -> ScanResult:
        try:
            return self._scan_once()
        finally:
            self.generation += 1

    def _scan_once(self) -> ScanResult:
        result = ScanResult(started_at=self.clock())
        try:
            self.settle_interrupted_fixes()
            self._scan(result)
        except AuthError as exc:
            self._shared_problem(result, "qbo-auth" if exc.service == "qbo" else "unknown", exc)
        except RateLimited as exc:
            self._shared_problem(result, "rate-limited", exc)
        except CompanyUnavailable as exc:
            self.store.set_cursor(SUBSCRIPTION_MARK, exc.raw or exc.message)
            self._shared_problem(result, "qbo-subscription", exc)
        result.finished_at = self.clock()
        self.store.set_cursor("scan.last_finished_at", str(result.finished_at))
        self.store.audit("system", "scan", "failed" if result.problem else "ok",
                         detail={"invoices": result.invoices, "failing": len(result.failing),
                                 "problem": result.problem})
        self._send_digest_if_due()
        return result

    def _send_digest_if_due(self) -> None:
        """The digest reads only the store, so it goes out even when this scan met a shared
        problem; a digest that cannot be sent (Slack down) is tried again by the next scan and
        never fails the scan."""
        if self.digest is None:
            return
        try:
            self.digest.send_if_due()
        except Exception:
            log.exception("digest not sent; the next scan tries again")

    def _scan(self, result: ScanResult) -> None:
        if self.incremental:
            self._cycle(result)
        else:
            self._full_scan(result)

    def _cycle(self, result: ScanResult) -> None:
        since = self.clock()  # data read from here on; a fix finishing later makes it stale
        cycle = self.poller.cycle()
        result.invoices = cycle.cached
        self._clear_shared_problems()
        report = PassReport()
        # In chunks, so a first run on a big company never holds every invoice at once; new
        # alerts are posted after the last chunk, together (a storm is seen as one).
        for chunk in self.poller.diagnose_chunks(cycle):
            by_id = {inv.id: inv for inv in chunk.invoices}
            self.alerts.apply_findings(chunk.findings, by_id, chunk.checked, report=report, finish=False,
                                       since=since)
            result.checked += len(chunk.checked)
            result.failing.update({by_id[i].number: [f.rule for f in fs] for i, fs in chunk.findings.items()
                                   if i not in report.deferred})
            self.poller.chunk_done(chunk, deferred=report.deferred)
        self.alerts.finish_pass(report)
        self.poller.committed(cycle)
        result.created, result.resolved = report.created, report.resolved

    def settle_interrupted_fixes(self) -> list[str]:
        """Fixes a crash (kill -9, a lost machine) stopped half-way leave their alert in
        "fixing", where every button answers "a fix is already running". After the guard's
        timeout the re-check decides: the cause is gone (the write had landed) -> resolved and
        watched until HubSpot syncs; it still holds -> open again. The thread says which. A
        re-check that cannot run now (QBO or HubSpot down) is tried again next scan."""
        settled = []
        for run in self.alerts.guard.interrupted():
            key = run["key"]
            alert = self.store.get_alert(key)
            if alert is None or alert["state"] != "fixing" or not alert["invoice_id"]:
                self.store.end_fix_run(key)
                continue
            try:
                invoice = self.hubspot.get_invoice(alert["invoice_id"])
                now = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
                found = diagnose_live(invoice, self.qbo, self.hubspot, now=now,
                                      mapping=self.store.invoice_pairs([invoice.id]))
            except NotFound:
                found = []
            except QbsyncError as exc:
                log.warning("re-check of interrupted fix %s failed, trying again next scan: %s", key, exc)
                continue
            lang = self.alerts.lang
            if any(f.rule == alert["rule"] for f in found):
                self.store.transition(key, "open")
                self.alerts.refresh_parent(key)
                self.alerts.reply(key, t(lang, "th_fix_interrupted_still"))
                outcome = "still"
            else:
                self.alerts.resolve(key, t(lang, "why_fix_interrupted_gone"), by=run["by"])
                done = self.store.get_alert(key)
                if done and done["state"] == "resolved":
                    self.store.watch_sync(key, done["invoice_id"], done["version"], run["by"])
                outcome = "gone"
            self.store.end_fix_run(key)
            self.store.audit("system", "fix-recovery", "ok", target=key,
                             detail={"fix": run["fix_id"], "by": run["by"], "cause": outcome})
            settled.append(key)
        return settled

    def _clear_shared_problems(self) -> None:
        # The scan got through: a shared problem from an earlier scan is over.
        for rule_id in ("qbo-auth", "rate-limited"):
            self.alerts.clear_global(rule_id, t(self.alerts.lang, "why_qbo_back"))
        # Reads getting through say nothing about writes: a 6190 a fix met stays one alert
        # until a write succeeds (rules/fixes.py clears the mark).
        mark = self.store.get_cursor(SUBSCRIPTION_MARK)
        if mark:
            self._shared_problem(None, "qbo-subscription",
                                 CompanyUnavailable("qbo", "Invalid Company Status", code="6190", raw=mark))
        else:
            self.alerts.clear_global("qbo-subscription", t(self.alerts.lang, "why_qbo_back"))

    def _apply(self, result: ScanResult, findings: dict, by_id: dict, checked: list[str], since: float) -> None:
        self._clear_shared_problems()
        report = self.alerts.apply_findings(findings, by_id, checked, since=since)  # posts what is new, too
        result.failing = {by_id[i].number: [f.rule for f in fs] for i, fs in findings.items()}
        result.created, result.resolved = report.created, report.resolved

    def _full_scan(self, result: ScanResult) -> None:
        since = self.clock()
        ids = [rec["id"] for rec in self.hubspot.search_invoices(modified_since=None)]
        invoices = self.hubspot.read_invoices(ids)
        result.invoices = len(invoices)
        now = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
        view = LiveQboView(self.qbo)
        paired: dict[str, tuple[str, str]] = {}
        findings = diagnose(invoices, view, now=now, grace=self.grace,
                            directory=LiveContactDirectory(self.hubspot),
                            mapping=self.store.invoice_pairs(ids), taken=self.store.paired_elsewhere,
                            paired=paired)
        self.store.save_invoice_pairs(paired)
        by_id = {inv.id: inv for inv in invoices}
        checked = [inv.id for inv in invoices if eligible(inv, now, self.grace)]
        result.checked = len(checked)
        self._apply(result, findings, by_id, checked, since)

    def _shared_problem(self, result: ScanResult | None, rule_id: str, exc: ApiError) -> None:
        if result is not None:
            result.problem = rule_id
        # The error text says what it says; the alert is about the shared cause we know it is.
        classification = classify(exc.raw or exc.message)
        if classification.rule != rule_id:
            classification = Classification(rule_id, exc.code, {}, None)
        explanation = registry.get(rule_id).explain(classification, self.alerts.lang)
        if result is not None:
            log.warning("scan stopped: %s", exc)
        else:
            log.info("shared problem still holds: %s", exc)
        # the error in the channel's language: qbsync's own words translated, the service's quoted
        self.alerts.raise_global(rule_id, explanation.title,
                                 f"{explanation.text}\n\n{described(exc, self.alerts.lang)}")
