"""What the listeners need, in one object: the bot's parts, the permission check, each
person's language, a worker pool for the slow work done after the ack, one scan at a time,
and the data `status` and the App Home show."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError

from bot.alerts import GLOBAL_PREFIX, OPEN_STATES, is_group
from bot.permissions import Permissions
from bot.scan_guard import lock_for
from rules.text import lang_of

log = logging.getLogger(__name__)

LANG_TTL_S = 3600.0
SCAN_LAST = "scan.last_finished_at"
SCAN_NEXT = "scan.next_at"


@dataclass
class StatusData:
    open_by_rule: dict[str, list[dict]] = field(default_factory=dict)
    last_scan: float | None = None
    next_scan: float | None = None
    qbo_days_left: float | None = None
    qbo_broken: bool = False
    throttled: bool = False
    mutes: dict[str, float] = field(default_factory=dict)
    risks: list = field(default_factory=list)  # bot.sync_risks.Risk: settings that will break syncs

    @property
    def open_count(self) -> int:
        return sum(len(v) for v in self.open_by_rule.values())


@dataclass
class ScanQueued:
    """`/qbsync scan` on PostgreSQL: the scan was queued for a `qbsync worker` (bot/jobs.py);
    job_id None: one was already waiting."""
    job_id: int | None


class Services:
    """Built once per App. `work(fn, *args)` runs fn on the worker pool (never on bolt's ack
    threads, so a long scan cannot delay anyone's acknowledgement)."""

    def __init__(self, parts, *, permissions: Permissions | None = None, workers: int = 8,
                 lang_ttl: float = LANG_TTL_S, clock=time.time, connection_id: str = "default"):
        # The connection (bot/connections.py) these parts serve: "default" is the company
        # configured from the environment; handlers/tenancy.py builds one Services per connection.
        self.connection_id = connection_id
        self.parts = parts
        self.settings = parts.settings
        self.store = parts.store
        self.alerts = parts.alerts
        self.scanner = parts.scanner
        self.hubspot = parts.hubspot
        self.qbo = parts.qbo
        self.slack = parts.slack
        self.permissions = permissions or Permissions.from_settings(parts.settings, parts.slack)
        self.clock = clock
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qbsync-work")
        self._lang_ttl = lang_ttl
        self._locales: dict[str, tuple[float, str | None]] = {}
        # sync_risks(), computed once per scan (see there): (scan key, risks)
        self._risks_lock = threading.Lock()
        self._risks: tuple[tuple, list] | None = None
        self._lock = threading.Lock()
        # bot.jobs.ScanJobs when scans run in `qbsync worker` processes (`qbsync run` on
        # PostgreSQL sets it): this process then queues scans and never runs one.
        self.scan_jobs = None

    # -- background work -------------------------------------------------------------------
    def work(self, fn, *args, **kwargs):
        def run():
            try:
                fn(*args, **kwargs)
            except Exception:  # a listener's slow part must never take the pool down
                log.exception("background work %s failed", getattr(fn, "__name__", fn))
        return self.pool.submit(run)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)

    # -- language --------------------------------------------------------------------------
    @property
    def default_lang(self) -> str:
        return lang_of(self.settings.language)

    def lang(self, user_id: str | None, *, client=None) -> str:
        """`/qbsync lang` choice, else the Slack locale (users.info, asked with `client`: the
        token of the person's workspace; default the bot's own), else QBSYNC_LANGUAGE."""
        if not user_id:
            return self.default_lang
        chosen = self.store.user_lang(user_id)
        if chosen:
            return chosen
        locale = self._locale(user_id, client or self.slack)
        return lang_of(locale, self.default_lang) if locale else self.default_lang

    def _locale(self, user_id: str, client) -> str | None:
        now = time.monotonic()
        with self._lock:
            hit = self._locales.get(user_id)
            if hit and now - hit[0] < self._lang_ttl:
                return hit[1]
        try:
            resp = client.users_info(user=user_id, include_locale=True)
            locale = (resp.get("user") or {}).get("locale")
        except SlackApiError as exc:
            log.info("users.info for %s failed: %s", user_id, exc.response.get("error"))
            return None  # not cached: ask again next time
        except Exception as exc:
            log.info("users.info for %s failed: %s", user_id, type(exc).__name__)
            return None
        with self._lock:
            self._locales[user_id] = (now, locale)
        return locale

    def forget_locale(self, user_id: str) -> None:
        with self._lock:
            self._locales.pop(user_id, None)

    # -- scans -----------------------------------------------------------------------------
    @property
    def scan_lock(self) -> threading.Lock:
        """Shared with every other scanner of this company in the process (bot/scan_guard.py)."""
        return lock_for(self.store)

    def run_scan(self, *, wait: bool = False):
        """One scan at a time (two at once could post one failure twice). Returns the
        ScanResult, or None when another scan holds the lock and `wait` is False. The
        scheduler should scan through here too. With scan_jobs: queues one, returns ScanQueued."""
        if self.scan_jobs is not None:
            return ScanQueued(self.scan_jobs.defer_scan(self.connection_id))
        if not self.scan_lock.acquire(blocking=wait):
            return None
        try:
            return self.scanner.scan()
        finally:
            self.scan_lock.release()

    # -- status ----------------------------------------------------------------------------
    def status(self) -> StatusData:
        data = StatusData()
        for alert in self.store.list_alerts(states=OPEN_STATES):
            if is_group(alert):
                continue  # its members are counted
            if alert["key"].startswith(GLOBAL_PREFIX):
                if alert["rule"] == "qbo-auth":
                    data.qbo_broken = True
                elif alert["rule"] == "rate-limited":
                    data.throttled = True
            data.open_by_rule.setdefault(alert["rule"], []).append(alert)
        data.last_scan = _float(self.store.get_cursor(SCAN_LAST))
        data.next_scan = _float(self.store.get_cursor(SCAN_NEXT))
        try:
            data.qbo_days_left = self.qbo.refresh_token_days_left()
        except Exception as exc:  # status must answer even when the token store is unreadable
            log.info("refresh_token_days_left failed: %s", type(exc).__name__)
        data.mutes = self.store.active_mutes()
        data.risks = self.sync_risks()
        return data

    def sync_risks(self) -> list:
        """Settings that will break syncs, from the poller's local data (mirrored Preferences,
        cached open invoices) and the stored CompanyInfo (re-read at most every six hours).

        That data changes only inside a scan, so the answer is kept until the next scan ends,
        here (Scanner.generation) or in another process (the scan.last_finished_at cursor every
        scan writes): reading and parsing every cached invoice for each `/qbsync status` cost
        ~0.5 s of CPU per 10,000 invoices, all of it holding the GIL, and 8 workers doing it at
        once held 8 copies of the cache in memory. One computes, others wait and reuse it."""
        key = self._scan_key()
        with self._risks_lock:
            if self._risks is not None and self._risks[0] == key:
                return self._risks[1]
            found = self._read_sync_risks()
            if found is None:
                return []  # unreadable now: not kept, the next status tries again
            if key == self._scan_key():
                self._risks = (key, found)  # no scan ended meanwhile
            return found

    def _scan_key(self) -> tuple:
        return getattr(self.scanner, "generation", None), self.store.get_cursor(SCAN_LAST)

    def _read_sync_risks(self) -> list | None:
        from bot import sync_risks
        from bot.mirror import MirrorQboView, QboMirror
        try:
            prefs = MirrorQboView(self.store).preferences()
            info = QboMirror(self.store, self.qbo).company_info()
            return sync_risks.risks(prefs, info, sync_risks.from_cache(self.store))
        except Exception as exc:  # status must answer even when the local data is unreadable
            log.info("sync risks failed: %s", type(exc).__name__)
            return None


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None
