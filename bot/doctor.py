"""`qbsync doctor`: check every connection qbsync needs and print one table.

Each check is a small function that takes an already-built client/adapter and returns
CheckResult rows, so tests can hand it real adapters pointed at the sandbox. `run_doctor`
builds those objects from Settings and turns missing settings into SKIP rows (the config
rows above them say what is missing).

Statuses: OK, WARN (works, but act soon), SKIP (not checked), FAIL. Exit code 1 when any
row is FAIL.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import IO, Any, Callable, Iterable

from .config import Settings
from rules.catalog import plural
from .errors import ApiError, AuthError, QbsyncError
from .slack_scopes import BOT_SCOPES, HUBSPOT_SCOPE_ALTERNATIVES, HUBSPOT_SCOPES, missing_scopes

OK, WARN, SKIP, FAIL = "OK", "WARN", "SKIP", "FAIL"
REFRESH_WARN_DAYS = 14

# Slack's error codes for auth.test that mean "this token is not usable".
_SLACK_AUTH_ERRORS = {
    "invalid_auth": "the bot token is not valid",
    "not_authed": "no token was sent",
    "account_inactive": "the token's app or user was deactivated",
    "token_revoked": "the token was revoked (app uninstalled?)",
    "token_expired": "the token expired (token rotation is on: turn it off or refresh)",
}


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: str
    detail: str = ""


def _clean(text: Any) -> str:
    # Remote text (company names, error bodies) goes to a terminal: drop control
    # characters so it cannot move the cursor or recolour the screen.
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", str(text)).strip()


# --------------------------------------------------------------------------- Slack

def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else value
    return None


def check_slack(client, required: Iterable[str] = BOT_SCOPES) -> list[CheckResult]:
    """auth.test with the bot token, then compare the granted scopes (Slack sends them in
    the `x-oauth-scopes` response header) with the ones qbsync uses."""
    from slack_sdk.errors import SlackApiError, SlackClientError

    try:
        resp = client.auth_test()
    except SlackApiError as exc:
        code = exc.response.get("error", "") if exc.response is not None else ""
        why = _SLACK_AUTH_ERRORS.get(code, "Slack refused the token")
        return [CheckResult("slack auth.test", FAIL, _clean(f"{code}: {why}"))]
    except (SlackClientError, OSError) as exc:
        return [CheckResult("slack auth.test", FAIL,
                            _clean(f"cannot reach Slack at {client.base_url}: {type(exc).__name__}: {exc}"))]
    rows = [CheckResult("slack auth.test", OK, _clean(
        f"team {resp.get('team')} ({resp.get('team_id')}), bot user {resp.get('user')} ({resp.get('user_id')})"))]
    header = _header(resp.headers, "x-oauth-scopes")
    if header is None:
        rows.append(CheckResult("slack scopes", WARN, "Slack did not report the granted scopes"))
        return rows
    granted = {s.strip() for s in header.split(",") if s.strip()}
    missing = missing_scopes(tuple(required), granted)
    extra = sorted(granted - set(required))
    if missing:
        rows.append(CheckResult("slack scopes", FAIL,
                                f"missing: {', '.join(missing)} (add them from manifest.yml and reinstall the app)"))
    else:
        note = f"; also granted, unused: {', '.join(extra)}" if extra else ""
        rows.append(CheckResult("slack scopes", OK, _clean(f"{', '.join(required)}{note}")))
    return rows


# Why conversations.history answers "can the bot post here": posting needs the bot to be a
# member of the channel (bot/slack_scopes.py: no chat:write.public), and conversations.history
# works with the scopes qbsync already has (channels:history, groups:history) only in a channel
# the bot can read. Its documented errors include channel_not_found and missing_scope
# (https://api.slack.com/methods/conversations.history, as mirrored in slack-ruby/slack-api-ref
# methods/conversations/conversations.history.json); for a public channel the bot was not
# invited to, Slack answers not_in_channel (met by tools reading history, e.g.
# https://github.com/simstudioai/sim/pull/1990). Any other error is a FAIL row with its code.
# conversations.info would need channels:read / groups:read, which qbsync does not ask for.
_CHANNEL_ERRORS = {
    "not_in_channel": "the bot is not a member: invite it (/invite @qbsync in the channel)",
    "channel_not_found": "no such channel, or a private channel the bot is not in: check the id, invite the bot",
    "is_archived": "the channel is archived",
}


def check_channels(client, alert_channel: str | None, routes: dict[str, str]) -> list[CheckResult]:
    """The routes (QBSYNC_ROUTES), then one row per channel alerts may go to: is the bot in it."""
    from slack_sdk.errors import SlackApiError, SlackClientError

    rows = []
    if routes:
        where = "; ".join(f"{rule} -> {channel}" for rule, channel in routes.items())
        rows.append(CheckResult("slack routes", OK,
                                _clean(f"{where}; everything else -> {alert_channel or 'QBSYNC_ALERT_CHANNEL'}")))
    channels: dict[str, list[str]] = {}
    if alert_channel:
        channels[alert_channel] = ["alerts not routed elsewhere"]
    for rule, channel in routes.items():
        channels.setdefault(channel, []).append(rule)
    for channel, what in channels.items():
        check = f"slack channel {channel}"
        try:
            client.conversations_history(channel=channel, limit=1)
        except SlackApiError as exc:
            code = exc.response.get("error", "") if exc.response is not None else ""
            why = _CHANNEL_ERRORS.get(code, "Slack refused to read it")
            if code == "missing_scope":
                why = f"the token lacks {exc.response.get('needed') or 'a history scope'} (see slack scopes)"
            rows.append(CheckResult(check, FAIL, _clean(f"{code}: {why} ({', '.join(what)})")))
        except (SlackClientError, OSError) as exc:
            rows.append(CheckResult(check, FAIL, _clean(f"{type(exc).__name__}: {exc}")))
        else:
            rows.append(CheckResult(check, OK, _clean(f"the bot is a member ({', '.join(what)})")))
    return rows


# --------------------------------------------------------------------------- HubSpot

def check_hubspot(adapter, required: Iterable[str] = HUBSPOT_SCOPES) -> list[CheckResult]:
    """HubSpotAdapter.check(): the token works; which of the scopes qbsync needs it lacks. A
    legacy private-app token's scopes come from HubSpot's token-info endpoint; for any other
    token (service key, project-based app) the adapter reads one record of each type and
    HubSpot's 403 answers name what is missing (see HubSpotAdapter.check)."""
    try:
        info = adapter.check() or {}
    except AuthError as exc:
        # 401: the token is unknown/revoked; 403: it works but lacks a scope it needs.
        what = "token lacks a scope" if exc.status == 403 else "token refused"
        return [CheckResult("hubspot token", FAIL, _clean(f"{what}: {exc}"))]
    except ApiError as exc:
        return [CheckResult("hubspot token", FAIL, _clean(str(exc)))]
    hub = info.get("hub_id") or info.get("portal_id")
    rows = [CheckResult("hubspot token", OK, f"account {hub}" if hub else "token accepted")]
    scopes = info.get("scopes")
    if scopes is not None:
        missing = missing_scopes(tuple(required), set(scopes), HUBSPOT_SCOPE_ALTERNATIVES)
    elif info.get("missing_scopes") is not None:
        missing = list(info["missing_scopes"])
    else:
        rows.append(CheckResult("hubspot scopes", SKIP, "HubSpot did not report the token's scopes"))
        return rows
    if missing:
        rows.append(CheckResult("hubspot scopes", FAIL, _clean(
            f"missing: {', '.join(missing)} (add them to the service key or private app; a private "
            "app's token must then be rotated)")))
        return rows
    unverified = [s for s in info.get("unverified_scopes") or () if s in set(required)]
    if unverified:
        proven = [s for s in required if s not in unverified]
        rows.append(CheckResult("hubspot scopes", OK, _clean(
            f"{', '.join(proven)} (each proven by a read); not checkable without writing: "
            f"{', '.join(unverified)} - a Fix reports it if missing")))
    else:
        rows.append(CheckResult("hubspot scopes", OK, ", ".join(required)))
    return rows


SOURCE_DAYS = 90
SOURCE_SAMPLE = 2000
_SHOWN_VALUES = 6


def _tally(counts) -> str:
    items = counts.most_common()
    text = ", ".join(f"{label} {n}" for label, n in items[:_SHOWN_VALUES])
    return text + (f", {len(items) - _SHOWN_VALUES} more values" if len(items) > _SHOWN_VALUES else "")


def check_hubspot_sources(adapter, *, now: datetime | None = None, days: int = SOURCE_DAYS,
                          limit: int = SOURCE_SAMPLE) -> list[CheckResult]:
    """How recent invoices split by "Invoice Source" value into native (qbsync diagnoses them)
    and synced (skipped). HubSpot documents no internal value for HubSpot-created invoices
    (bot/invoice_source.py), so a wrong guess must show here: WARN when no invoice counts as
    native (qbsync would never alert), or when none has a value at all (the property name is
    probably wrong, and synced invoices would be diagnosed too)."""
    check = "hubspot invoice sources"
    now = now or datetime.now(timezone.utc)
    split, capped = adapter.source_split(now - timedelta(days=days), limit=limit)
    prop = getattr(adapter, "source_property", "the source property")
    scope = f"{'first ' if capped else ''}{split.total} invoices changed in the last {days} days"
    if split.total == 0:
        return [CheckResult(check, SKIP, f"no invoices changed in the last {days} days: nothing to compare")]
    detail = (f"{scope}: {split.native_count} native ({_tally(split.native) or 'none'}), "
              f"{split.total - split.native_count} from a sync ({_tally(split.synced) or 'none'})")
    if split.all_empty:
        return [CheckResult(check, WARN, _clean(
            f"{detail}. No invoice has a value in {prop}: check QBSYNC_HUBSPOT_SOURCE_PROPERTY; until then "
            "every invoice counts as native, synced ones too"))]
    if split.native_count == 0:
        return [CheckResult(check, WARN, _clean(
            f"{detail}. None counts as native, so qbsync would never alert: if one of these values marks "
            "invoices created in HubSpot, take it out of QBSYNC_HUBSPOT_SYNC_SOURCES"))]
    return [CheckResult(check, OK, _clean(detail))]


# --------------------------------------------------------------------------- QBO

def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def check_qbo(adapter, warn_days: int = REFRESH_WARN_DAYS) -> list[CheckResult]:
    """CompanyInfo (proves the token chain and realm work), then the refresh token's age."""
    rows: list[CheckResult] = []
    try:
        info = adapter.company_info()
    except AuthError as exc:
        return [CheckResult("qbo company", FAIL,
                            _clean(f"{exc} - run `qbsync connect quickbooks` to reconnect"))]
    except ApiError as exc:
        return [CheckResult("qbo company", FAIL, _clean(str(exc)))]
    name = _field(info, "CompanyName")
    rows.append(CheckResult("qbo company", OK, _clean(f"{name}" if name else "company info read")))
    try:
        days = adapter.refresh_token_days_left()
    except QbsyncError as exc:
        rows.append(CheckResult("qbo refresh token", FAIL, _clean(str(exc))))
        return rows
    if days is None:
        rows.append(CheckResult("qbo refresh token", SKIP, "expiry unknown"))
    elif days <= 0:
        rows.append(CheckResult("qbo refresh token", FAIL,
                                "expired - run `qbsync connect quickbooks` to reconnect"))
    elif days < warn_days:
        rows.append(CheckResult("qbo refresh token", WARN,
                                f"expires in {days:.0f} days - qbsync renews it while it runs; "
                                "if it is not running, reconnect with `qbsync connect quickbooks`"))
    else:
        rows.append(CheckResult("qbo refresh token", OK, f"{days:.0f} days left"))
    return rows


# --------------------------------------------------------------------------- sync risks

RISK_LIMIT = 2000  # open invoices read for the risk check (doctor is a spot check, not a scan)


def check_sync_risks(qbo, hubspot, *, limit: int = RISK_LIMIT) -> list[CheckResult]:
    """QBO settings that will break syncs (bot/sync_risks.py), read live: CompanyInfo,
    Preferences, and up to `limit` open HubSpot-native invoices. One WARN row per risk, with
    where to change it; one OK row when none holds."""
    from . import sync_risks

    info, prefs = qbo.company_info(), qbo.preferences()
    records = []
    for rec in hubspot.search_invoices(modified_since=None, statuses=("open",)):
        source = (rec.get("properties") or {}).get(getattr(hubspot, "source_property", ""))
        rule = getattr(hubspot, "source_rule", None)
        if rule is None or rule.is_native(source):
            records.append(rec)
        if len(records) >= limit:
            break
    found = sync_risks.risks(prefs, info, sync_risks.from_search(records))
    if not found:
        return [CheckResult("sync risks", OK, "no QuickBooks setting is known to break the sync")]
    return [CheckResult(f"sync risk {r.id}", WARN, _clean(f"{r.text()} Where: {r.where()}")) for r in found]


# --------------------------------------------------------------------------- database

def check_store(path: str, connection: str | None = None) -> tuple[list[CheckResult], Any]:
    """Open (and migrate) the database: the main store, or a connection's own
    (bot/connections.py) beside it. Returns the rows and the open Store (or None)."""
    from .store import Store
    from .store.db import describe

    where = describe(path)  # a PostgreSQL URL is shown without its password
    if connection is not None:
        where += f", connection {connection}"
    try:
        store = Store(path, connection=connection)
        version = store.schema_version()
    except Exception as exc:  # sqlite3/psycopg errors, permissions, a corrupt file: all FAIL rows
        return [CheckResult("database", FAIL, _clean(f"{where}: {type(exc).__name__}: {exc}"))], None
    return [CheckResult("database", OK, f"{where} ({store.dialect}, schema version {version})")], store


# --------------------------------------------------------------------------- config

def check_config(settings: Settings) -> list[CheckResult]:
    problems = settings.problems_for("run")
    if not problems:
        return [CheckResult("config", OK, "everything `qbsync run` needs is set")]
    return [CheckResult("config", FAIL, str(p)) for p in problems]


# --------------------------------------------------------------------------- runner

def _missing(settings: Settings, names: Iterable[str]) -> list[str]:
    from .config import SPECS_BY_NAME

    return [SPECS_BY_NAME[n].env for n in names if not settings.is_set(n)]


def _guard(check: str, fn: Callable[[], list[CheckResult]]) -> list[CheckResult]:
    """A check that blows up (a bug, an unexpected reply) becomes a FAIL row, not a traceback."""
    try:
        return fn()
    except QbsyncError as exc:
        return [CheckResult(check, FAIL, _clean(str(exc)))]
    except Exception as exc:
        return [CheckResult(check, FAIL, _clean(f"{type(exc).__name__}: {exc}"))]


def collect(settings: Settings, *, timeout: float = 15, connection: str | None = None,
            config_rows: list[CheckResult] | None = None) -> list[CheckResult]:
    """Every check with `settings`. connection: check a connection's own store (its QBO token
    chain) instead of the main one; config_rows: rows that replace check_config's (a
    connection's settings come from the registry, bot/doctor_connections.py)."""
    rows = check_config(settings) if config_rows is None else list(config_rows)

    # Slack
    need = _missing(settings, ["slack_bot_token"])
    if need:
        rows.append(CheckResult("slack auth.test", SKIP, f"not configured: {', '.join(need)}"))
    else:
        def slack():
            from slack_sdk import WebClient

            kwargs: dict[str, Any] = {"token": settings.slack_bot_token, "timeout": int(timeout)}
            if settings.slack_api_base:
                kwargs["base_url"] = settings.slack_api_base
            client = WebClient(**kwargs)
            rows = check_slack(client)
            if rows[0].status == OK:
                rows += _guard("slack channels", lambda: check_channels(
                    client, settings.alert_channel, settings.route_map))
            return rows
        rows += _guard("slack auth.test", slack)

    # HubSpot
    need = _missing(settings, ["hubspot_token"])
    if need:
        rows.append(CheckResult("hubspot token", SKIP, f"not configured: {', '.join(need)}"))
    else:
        def hubspot():
            from .wiring import hubspot_adapter

            adapter = hubspot_adapter(settings, timeout=timeout, max_attempts=2)
            rows = check_hubspot(adapter)
            if rows[0].status == OK:
                rows += _guard("hubspot invoice sources", lambda: check_hubspot_sources(adapter))
            return rows
        rows += _guard("hubspot token", hubspot)

    # Database (QBO keeps its token chain there, so it comes first)
    store_rows, store = check_store(settings.store_target, connection)
    rows += store_rows

    # QBO_REFRESH_TOKEN may be empty: the adapter then uses the chain `connect` stored.
    need = _missing(settings, ["qbo_client_id", "qbo_client_secret", "qbo_realm_id"])
    if need:
        rows.append(CheckResult("qbo company", SKIP, f"not configured: {', '.join(need)}"))
    elif store is None:
        rows.append(CheckResult("qbo company", SKIP, "needs the database (see above)"))
    else:
        def qbo():
            from .wiring import qbo_adapter

            adapter = qbo_adapter(settings, store, timeout=timeout, max_attempts=2)
            rows = check_qbo(adapter)
            if rows[0].status == OK and not _missing(settings, ["hubspot_token"]):
                from .wiring import hubspot_adapter

                hubspot = hubspot_adapter(settings, timeout=timeout, max_attempts=2)
                rows += _guard("sync risks", lambda: check_sync_risks(adapter, hubspot))
            return rows
        rows += _guard("qbo company", qbo)
    if store is not None:
        store.close()
    return rows


def format_table(rows: list[CheckResult]) -> str:
    head = ("check", "status", "detail")
    w0 = max([len(head[0])] + [len(r.check) for r in rows])
    w1 = max([len(head[1])] + [len(r.status) for r in rows])
    lines = [f"{head[0]:<{w0}}  {head[1]:<{w1}}  {head[2]}",
             f"{'-' * w0}  {'-' * w1}  {'-' * 6}"]
    lines += [f"{r.check:<{w0}}  {r.status:<{w1}}  {r.detail}" for r in rows]
    return "\n".join(lines) + "\n"


def exit_code(rows: list[CheckResult]) -> int:
    return 1 if any(r.status == FAIL for r in rows) else 0


def run_doctor(settings: Settings, *, out: IO[str] | None = None, timeout: float = 15,
               connection: str | None = None) -> int:
    """The env company's checks, then one line per connection (complete, or what it lacks).
    connection: that connection's checks instead (bot/doctor_connections.py)."""
    from .doctor_connections import collect_connection, connection_summary, shared_config_rows, uses_connections_only

    out = out or sys.stdout
    if connection is not None:
        rows = collect_connection(settings, connection, timeout=timeout)
        summary: list[str] = []
    else:
        # Connections only: no company in the environment to miss (`qbsync run`'s rule).
        config = shared_config_rows(settings) if uses_connections_only(settings) else None
        rows = collect(settings, timeout=timeout, config_rows=config)
        summary = connection_summary(settings)
    out.write(format_table(rows))
    if summary:
        out.write("\nConnections:\n" + "".join(f"  {line}\n" for line in summary))
    failed = sum(r.status == FAIL for r in rows)
    found = plural("{count} problem found.", "{count} problems found.").format(count=failed)
    out.write(f"\n{found}\n" if failed else "\nAll checks passed.\n")
    return exit_code(rows)
