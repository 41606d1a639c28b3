"""`qbsync doctor` for connections (bot/connections.py).

- `qbsync doctor --connection ID`: that connection through doctor's own checks
  (bot/doctor.py collect): its HubSpot credential (an OAuth access token is renewed first, as
  a scan would: bot/wiring.py connection_credentials), the QBO token chain in its own store,
  and its alert channel with its workspace's bot token; first a row saying what it still
  lacks (Connection.missing) and the shared settings' problems.
- plain `qbsync doctor`: one line per connection, complete or what it lacks (ids, names and
  what is missing: nothing secret). With connections only (no company in the environment),
  the config rows judge the settings by the listener's rule (bot/jobs.py), not the env
  company's.
"""
from __future__ import annotations

from .config import Settings
from .doctor import FAIL, OK, CheckResult, _clean, check_store, collect


def _connection_row(connection) -> CheckResult:
    check = f"connection {connection.id}"
    if connection.missing:
        return CheckResult(check, FAIL, _clean(
            f"not fully connected: missing {', '.join(connection.missing)} "
            f"(qbsync connect {connection.missing[0]} --connection {connection.id})"))
    return CheckResult(check, OK, _clean(
        f"{connection.name or connection.id}: HubSpot portal {connection.hubspot_portal_id or '?'} "
        f"({connection.hubspot_auth}), QuickBooks company {connection.qbo_realm_id}, "
        f"Slack {connection.slack_team_id}/{connection.slack_channel}"))


def shared_config_rows(settings: Settings) -> list[CheckResult]:
    from .jobs import connections_only_problems

    problems = connections_only_problems(settings, listener=True)
    if not problems:
        return [CheckResult("config", OK, "everything the connections share is set")]
    return [CheckResult("config", FAIL, str(p)) for p in problems]


def collect_connection(settings: Settings, connection_id: str, *, timeout: float = 15) -> list[CheckResult]:
    """The rows of `qbsync doctor --connection ID`."""
    from .connections import ConnectionRegistry, settings_for
    from .wiring import connection_credentials

    rows, main = check_store(settings.store_target)
    if main is None:
        return rows
    try:
        connection = ConnectionRegistry(main).get(connection_id)
        if connection is None:
            return rows + [CheckResult(f"connection {_clean(connection_id)}", FAIL,
                                       "no such connection (qbsync connections list)")]
        config = [_connection_row(connection)] + shared_config_rows(settings)
        hubspot_token = slack_token = None
        try:
            hubspot_token, slack_token = connection_credentials(settings, main, connection)
        except Exception as exc:  # an OAuth refresh HubSpot refused, the HubSpot app unset, a bad key
            config.append(CheckResult("hubspot credential", FAIL, _clean(
                f"{type(exc).__name__}: {exc} (qbsync connect hubspot --connection {connection.id})")))
            slack_token = None
        if slack_token is None:
            # The HubSpot step failed before the Slack token was read: read it on its own.
            from .slack_oauth_store import SlackInstallationStore
            from .token_cipher import TokenCipher

            found = SlackInstallationStore(main, cipher=TokenCipher(settings.secret_key)).find_bot(
                enterprise_id=None, team_id=connection.slack_team_id)
            slack_token = found.bot_token if found is not None else settings.slack_bot_token
        mine = settings_for(settings, connection, hubspot_token=hubspot_token, slack_bot_token=slack_token)
    finally:
        main.close()
    checked = collect(mine, timeout=timeout, connection=connection.id, config_rows=config)
    # doctor's QBO rows name the env company's reconnect command; this connection has its own.
    again = f"qbsync connect quickbooks --connection {connection.id}"
    return rows + [CheckResult(r.check, r.status, r.detail.replace("qbsync connect quickbooks`", again + "`"))
                   for r in checked]


def connection_summary(settings: Settings) -> list[str]:
    """One line per connection for plain `qbsync doctor` (empty without connections)."""
    from .connections import ConnectionRegistry
    from .store import Store

    try:
        store = Store(settings.store_target)
    except Exception:  # doctor's database row already says why
        return []
    try:
        connections = ConnectionRegistry(store).all()
    finally:
        store.close()
    lines = []
    for c in connections:
        label = c.id if not c.name or c.name == c.id else f"{c.id} ({_clean(c.name)})"
        if c.missing:
            lines.append(f"{label}: missing {', '.join(c.missing)} (qbsync connect {c.missing[0]} --connection {c.id})")
        else:
            lines.append(f"{label}: complete (qbsync doctor --connection {c.id} checks it)")
    return lines


def uses_connections_only(settings: Settings) -> bool:
    """No company in the environment and connections in the registry (bot/jobs.py)."""
    from .jobs import connections_only
    from .store import Store

    try:
        store = Store(settings.store_target)
    except Exception:
        return False
    try:
        return connections_only(settings, store)
    finally:
        store.close()
