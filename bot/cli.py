"""The `qbsync` command line (console script `qbsync = bot.cli:main`).

Exit codes: 0 success, 1 a check or remote call failed, 2 configuration problems (or bad
arguments, as argparse does), 3 the command is not built yet, 130 interrupted.

The sandbox package is imported only inside the demo/sandbox commands, so `run`,
`doctor` and `connect` never load test stand-ins.
"""
from __future__ import annotations

import argparse
import re
import os
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .config import LANGUAGES, load_settings
from .errors import ApiError, ConfigError, QbsyncError
from .logging_setup import configure_logging
from rules.catalog import plural

EXIT_OK, EXIT_FAIL, EXIT_CONFIG, EXIT_NOT_BUILT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


# --------------------------------------------------------------------------- commands

def _settings(args, command: str | None):
    """Load settings; with a command, raise ConfigError listing every problem it has (main()
    prints them). Then route logging through the redacting JSON formatter."""
    env_file = args.env_file
    # `connect quickbooks --write-env` may create the file, so only then may it be absent.
    may_create = getattr(args, "write_env", False)
    if args.env_file_given and not may_create and not Path(env_file).is_file():
        raise ConfigError([f"--env-file {env_file}: no such file"])
    settings = load_settings(env_file=env_file, require=command)
    configure_logging(settings.log_level, secrets=settings.secret_values())
    return settings


def cmd_run(args) -> int:
    """Run the bot: Slack (Socket Mode or HTTP) plus a scan on every poll interval, until
    SIGTERM or Ctrl-C. With PostgreSQL: Slack only; `qbsync worker` runs the scans."""
    from . import wiring
    from .jobs import env_company_configured
    from .runner import run_forever
    from .store import Store

    settings = _settings(args, None)
    if env_company_configured(settings):  # a single-company install: exactly as before connections
        return run_forever(wiring.build(settings.require("run")))
    if any(p.kind != "missing" for p in settings.problems_for("run")):
        settings.require("run")  # every problem at once, as before; nothing opened yet
    if settings.database_url:
        from .jobs import ensure_schema

        ensure_schema(settings.database_url)
    store = Store(settings.store_target)
    try:
        # With connections only the listener has no "default" company: its parts are the main
        # store and the Slack app's client (wiring.build_listener).
        if _require_run_settings(settings, store):
            parts = wiring.build(settings, store=store)
        else:
            parts = wiring.build_listener(settings, store=store)
    except BaseException:
        store.close()
        raise
    return run_forever(parts)


def cmd_worker(args) -> int:
    """Run scan, fix and digest jobs from PostgreSQL (bot/jobs.py) until SIGTERM or Ctrl-C: the
    same parts as `run` (bot/wiring.py) without the Slack listener; alerts still go out through
    the Slack Web API. Any number of workers, on any machines, share the queue. Each tick scans
    the company configured from the environment (if it is) and every complete connection; a
    fix or digest job runs with the parts of the connection it names."""
    from handlers.deferred import WorkerInteractions

    from .jobs import ScanJobs, WorkerScans, ensure_schema, scan_targets, services_for
    from .metrics import Metrics
    from .ops import start_ops
    from .store import Store
    from .worker_health import WorkerHealth

    settings = _settings(args, None)
    if not settings.database_url:
        raise ConfigError(["qbsync worker needs QBSYNC_DATABASE_URL (PostgreSQL): with the SQLite file, "
                           "`qbsync run` scans in its own process"])
    ensure_schema(settings.database_url)
    store = Store(settings.store_target)
    ops = None
    try:
        _require_worker_settings(settings, store)
        # Counts and times every connection's passes; the open-alert gauges read the main store.
        metrics = Metrics(store=store)
        scans = WorkerScans(settings, store, interval_s=settings.poll_interval_s, metrics=metrics)
        # The listener's Services of each connection, without a job queue: a fix job runs here.
        interactions = WorkerInteractions(services_for(scans))
        jobs = ScanJobs(settings.database_url, poll_interval_s=settings.poll_interval_s,
                        stalled_after_s=args.stalled_after, run_scan=scans,
                        connections=lambda: scan_targets(settings, store),
                        run_fix=interactions.fix, run_bulk_fix=interactions.bulk_fix,
                        run_digest=interactions.digest)
        # /healthz and /metrics on QBSYNC_OPS_PORT, as `run` has (container health checks).
        ops = start_ops(health=WorkerHealth(settings.database_url, worker=lambda: jobs.worker,
                                            stalled_after_s=args.stalled_after),
                        metrics=metrics.render, port=int(settings.ops_port or 0))
        try:
            jobs.run_worker()
        finally:
            scans.close()
    finally:
        if ops is not None:
            ops.stop()
        store.close()
    return EXIT_OK


def _require_worker_settings(settings, store) -> None:
    """A single-company install (no connections) needs every `run` setting, as before. With
    connections (bot/jobs.py connections_only), the company in the environment is optional:
    only malformed values and what every connection shares (the QBO app's client id and
    secret) stop the worker."""
    from .jobs import connections_only, connections_only_problems

    if not connections_only(settings, store):
        settings.require("run")
        return
    problems = connections_only_problems(settings, listener=False)
    if problems:
        raise ConfigError([str(p) for p in problems])


def _require_run_settings(settings, store) -> bool:
    """`qbsync run`'s requirements; True when the environment configures the company (every
    `run` setting required, exactly as before connections), False for connections only (the
    worker's rule plus the Slack app's own settings: bot/jobs.py connections_only_problems)."""
    from .jobs import connections_only, connections_only_problems

    if not connections_only(settings, store):
        settings.require("run")
        return True
    problems = connections_only_problems(settings, listener=True)
    if problems:
        raise ConfigError([str(p) for p in problems])
    return False


def cmd_explain(args) -> int:
    """Explain an error TEXT (no configuration needed) or diagnose --invoice NUMBER live
    (needs the HubSpot and QBO settings). Language: --lang, else QBSYNC_LANGUAGE, else en."""
    from .explain import dumps, explain_invoice, explain_text, print_entries

    if args.invoice:
        settings = _settings(args, None)
        lang = args.lang or settings.language
        entries, note = explain_invoice(settings, args.invoice, lang)
        if args.json:
            sys.stdout.write(dumps(entries) + "\n")
            if note:
                sys.stderr.write(note + "\n")
        else:
            heading = (plural("{number}: {count} cause, to fix:", "{number}: {count} causes, fix them in this order:")
                       .format(number=args.invoice, count=len(entries)) if entries else note)
            print_entries(entries, sys.stdout, heading=heading)
            if entries and note:
                sys.stdout.write(note + "\n")
        return EXIT_OK
    lang = args.lang
    if lang is None:
        settings = load_settings(env_file=args.env_file, require=None)
        lang = settings.language
    result = explain_text(args.text, lang)
    if args.json:
        sys.stdout.write(dumps(result) + "\n")
    else:
        print_entries([result], sys.stdout)
    return EXIT_OK


def cmd_doctor(args) -> int:
    from .doctor import run_doctor

    # Doctor shows configuration problems in its table instead of stopping on them.
    settings = _settings(args, None)
    return run_doctor(settings, timeout=args.timeout, connection=args.connection)


def _print_missing(connection, out=None) -> None:
    """What a connection still needs, after any `connect ... --connection` (bot/connections.py)."""
    out = out or sys.stdout
    if connection.missing:
        out.write(f"Connection {connection.id} still needs: {', '.join(connection.missing)} "
                  f"(qbsync connect {connection.missing[0]} --connection {connection.id}).\n")
    else:
        out.write(f"Connection {connection.id} is complete: HubSpot portal {connection.hubspot_portal_id}, "
                  f"QuickBooks company {connection.qbo_realm_id}, Slack {connection.slack_team_id}/"
                  f"{connection.slack_channel}. The workers scan it from now on.\n")


def _connection_command(run) -> int:
    """Run a `connect ... --connection` step; a refused connection change is a config problem."""
    from .connections import ConnectionProblem

    try:
        return run()
    except ConnectionProblem as exc:
        sys.stderr.write(f"qbsync: {_one_line(str(exc))}\n")
        return EXIT_CONFIG


def _main_store(settings):
    from .store import Store

    return Store(settings.store_target)


def _connect_settings(args):
    """Settings for `connect hubspot|slack`: the QuickBooks app is not needed, but a malformed
    value of a setting `connect` uses is still a configuration problem, not a silent default."""
    settings = _settings(args, None)
    bad = [p for p in settings.problems_for("connect") if p.kind == "invalid"]
    if bad:
        raise ConfigError([str(p) for p in bad])
    return settings


def cmd_connect_hubspot(args) -> int:
    """HubSpot for a connection: OAuth through qbsync's HubSpot app, or a Service Key."""
    from . import connect_hubspot

    settings = _connect_settings(args)

    def run() -> int:
        key = connect_hubspot.read_service_key() if args.service_key else None
        store = _main_store(settings)
        try:
            if key is not None:
                conn = connect_hubspot.connect_service_key(settings, store, args.connection, key)
            else:
                conn = connect_hubspot.connect_oauth(settings, store, args.connection,
                                                     open_browser=not args.no_browser, timeout=args.timeout)
            if args.name:
                from .connections import ConnectionRegistry

                conn = ConnectionRegistry(store).save(args.connection, name=args.name)
        finally:
            store.close()
        how = "a Service Key" if key is not None else "OAuth"
        kept = ("sealed with QBSYNC_SECRET_KEY" if settings.secret_key
                else "UNENCRYPTED (set QBSYNC_SECRET_KEY to seal it, then connect again)")
        print(f"\nConnected HubSpot portal {conn.hubspot_portal_id} to connection {conn.id} with {how}; the "
              f"credential is stored {kept}.")
        _print_missing(conn)
        return EXIT_OK

    return _connection_command(run)


def cmd_connect_slack(args) -> int:
    """Bind a connection to an installed workspace and a channel the bot can see."""
    from .connect_slack import connect_slack

    settings = _connect_settings(args)

    def run() -> int:
        store = _main_store(settings)
        try:
            bound = connect_slack(settings, store, args.connection, args.channel, args.team)
        finally:
            store.close()
        conn = bound.connection
        print(f"Alerts of connection {conn.id} go to channel {conn.slack_channel} of workspace {conn.slack_team_id}.")
        _print_missing(conn)
        return EXIT_OK

    return _connection_command(run)


def cmd_connect_quickbooks(args) -> int:
    from .connect import connect_quickbooks, report, write_env

    settings = _settings(args, "connect")
    if args.connection is not None:
        if args.write_env or args.show_token:
            raise ConfigError(["--write-env and --show-token are for the company configured from the environment, "
                               "not for --connection (its tokens stay in its own store)"])

        def run() -> int:
            from .connections import ConnectionRegistry

            result = connect_quickbooks(settings, open_browser=not args.no_browser, timeout=args.timeout,
                                        connection=args.connection)
            report(result, settings, sys.stdout)
            store = _main_store(settings)
            try:
                _print_missing(ConnectionRegistry(store).require(args.connection))
            finally:
                store.close()
            return EXIT_OK

        return _connection_command(run)
    result = connect_quickbooks(settings, open_browser=not args.no_browser, timeout=args.timeout)
    env_file = None
    if args.write_env:
        write_env(args.env_file, result)
        env_file = args.env_file
    report(result, settings, sys.stdout, env_file=env_file, show_token=args.show_token)
    return EXIT_OK


def _printable(text: str) -> str:
    """A workspace name is whatever its owner typed: no control characters on the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def cmd_slack_installations(args) -> int:
    """The workspaces installed through Add to Slack (never their tokens)."""
    from datetime import datetime, timezone

    from .slack_oauth_store import SlackInstallationStore
    from .store import Store

    settings = _settings(args, None)
    store = Store(settings.db_path)
    try:
        rows = SlackInstallationStore(store).installations()
    finally:
        store.close()
    if not rows:
        print("No Slack workspace installed through Add to Slack.")
        return EXIT_OK
    print("team id       name                          installed by  installed at (UTC)")
    for r in rows:
        when = datetime.fromtimestamp(r.installed_at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
        print(f"{_printable(r.team_id):<13} {_printable(r.team_name)[:29]:<29} "
              f"{_printable(r.installed_by) or '-':<13} {when}")
    return EXIT_OK


def cmd_slack_remove(args) -> int:
    from .slack_oauth_store import SlackInstallationStore
    from .store import Store

    settings = _settings(args, None)
    store = Store(settings.db_path)
    try:
        removed = SlackInstallationStore(store).remove(args.team_id)
    finally:
        store.close()
    if not removed:
        sys.stderr.write(f"qbsync: no installation for workspace {_printable(args.team_id)}\n")
        return EXIT_FAIL
    print(f"Removed the installation of workspace {_printable(args.team_id)}: its requests are now refused. "
          "Uninstall the app in that workspace too (its token stays valid at Slack until then).")
    return EXIT_OK


def cmd_connections_list(args) -> int:
    """The companies qbsync watches (bot/connections.py): the one configured from the
    environment ("default"), if it is, and every connection, with what each still misses.
    Nothing secret: no token, only where each one points."""
    from .connections import ConnectionRegistry, describe
    from .jobs import env_company_configured

    settings = _settings(args, None)
    store = _main_store(settings)
    try:
        rows = describe(ConnectionRegistry(store).all())
    finally:
        store.close()
    if env_company_configured(settings):
        rows.insert(0, {"id": "default", "name": "(from the environment)", "hubspot": "HUBSPOT_ACCESS_TOKEN",
                        "quickbooks": f"company {settings.qbo_realm_id}", "slack": settings.alert_channel or "",
                        "missing": "-"})
    if not rows:
        print("No company configured: set the HUBSPOT_/QBO_/Slack settings, or add a connection "
              "(qbsync connect ... --connection ID).")
        return EXIT_OK
    columns = ("id", "name", "hubspot", "quickbooks", "slack", "missing")
    cells = [[_printable(r[c]) or "-" for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return EXIT_OK


def cmd_connections_set(args) -> int:
    """A connection's own settings (bot/connection_settings.py): NAME=VALUE pairs and --unset
    NAMEs; every value is checked first (route channels with Slack), nothing saved on a refusal.
    Prints the connection's settings after; audited in the main store."""
    import getpass

    from .connection_settings import change_settings, parse_assignments
    from .connections import ConnectionProblem, ConnectionRegistry, env_company_channels
    from .slack_oauth_store import SlackInstallationStore
    from .token_cipher import TokenCipher

    settings = _settings(args, None)
    try:
        changes = parse_assignments(args.assignments, args.unset or [])
    except ConnectionProblem as exc:
        sys.stderr.write(f"qbsync: {_printable(_one_line(str(exc)))}\n")
        return EXIT_FAIL
    store = _main_store(settings)

    def slack_client(connection):
        # The connection's workspace installation (Add to Slack), else SLACK_BOT_TOKEN's
        # workspace, as wiring.connection_credentials picks it.
        found = SlackInstallationStore(store, cipher=TokenCipher(settings.secret_key)).find_bot(
            enterprise_id=None, team_id=connection.slack_team_id)
        token = found.bot_token if found is not None else settings.slack_bot_token
        if not token:
            return None
        from .slack.client import make_web_client

        return make_web_client(token, base_url=settings.slack_api_base)

    try:
        registry = ConnectionRegistry(store)
        try:
            connection = change_settings(registry, args.connection_id, changes, slack_client=slack_client,
                                         env_channels=env_company_channels(settings))
        except ConnectionProblem as exc:
            sys.stderr.write(f"qbsync: {_printable(_one_line(str(exc)))}\n")
            return EXIT_FAIL
        try:
            who = getpass.getuser()
        except Exception:  # no user name in this environment (a container without /etc/passwd entry)
            who = "unknown"
        store.audit(f"cli:{who}", "connection:set", "ok", target=connection.id,
                    detail={"set": sorted(k for k, v in changes.items() if v is not None),
                            "unset": sorted(k for k, v in changes.items() if v is None)})
    finally:
        store.close()
    print(f"Settings of connection {connection.id}:")
    for name, value in sorted(connection.overrides.items()):
        print(f"  {name}={_printable(value)}")
    if not connection.overrides:
        print("  (none: the defaults; nobody may fix until QBSYNC_FIX_ALLOWED is set)")
    return EXIT_OK


def cmd_connections_remove(args) -> int:
    """Forget a connection; unless --keep-data, delete its own store (alerts, mirror, QBO
    tokens, audit). Asks first unless --yes. The removal is audited in the main store."""
    import getpass

    from .connections import DEFAULT_CONNECTION, ConnectionProblem, ConnectionRegistry, check_id

    cid = args.connection_id
    if cid == DEFAULT_CONNECTION:
        sys.stderr.write("qbsync: \"default\" is the company configured from the environment, not a "
                         "connection: remove its HUBSPOT_/QBO_/QBSYNC_ALERT_CHANNEL settings instead\n")
        return EXIT_FAIL
    try:
        check_id(cid)
    except ConnectionProblem as exc:
        sys.stderr.write(f"qbsync: {_printable(_one_line(str(exc)))}\n")
        return EXIT_FAIL
    settings = _settings(args, None)
    store = _main_store(settings)
    try:
        registry = ConnectionRegistry(store)
        found = registry.get(cid)
        if found is None:
            sys.stderr.write(f"qbsync: no connection {cid!r} (qbsync connections list shows them)\n")
            return EXIT_FAIL
        what = "keeping its data" if args.keep_data else \
            "and DELETE its data (alerts, QuickBooks mirror and tokens, audit log)"
        if not args.yes and not _confirm(f"Remove connection {cid} ({_printable(found.name) or 'no name'}) {what}? "
                                         "[y/N] "):
            print("Not removed.")
            return EXIT_FAIL
        registry.remove(cid, keep_data=args.keep_data)
        try:
            who = getpass.getuser()
        except Exception:  # no user name in this environment (a container without /etc/passwd entry)
            who = "unknown"
        store.audit(f"cli:{who}", "connection:remove", "ok", target=cid, detail={"keep_data": bool(args.keep_data)})
    finally:
        store.close()
    kept = " Its data is kept (qbsync connect ... with the same id finds it again)." if args.keep_data else ""
    print(f"Removed connection {cid}: it is no longer scanned and its channel gets no alerts.{kept}")
    return EXIT_OK


def _confirm(question: str) -> bool:
    sys.stdout.write(question)
    sys.stdout.flush()
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):  # no stdin to ask on: not confirmed
        return False
    return answer.strip().lower() in ("y", "yes")


def _sandbox_entry(name: str):
    try:
        import sandbox.cli as sandbox_cli
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("sandbox"):
            raise QbsyncError("the sandbox is not available in this installation "
                              "(install qbsync from its source tree: pip install -e .)") from None
        raise
    return getattr(sandbox_cli, name)


def cmd_demo(args) -> int:
    return int(_sandbox_entry("demo_main")(args) or 0)


def cmd_sandbox(args) -> int:
    return int(_sandbox_entry("sandbox_main")(args) or 0)


# --------------------------------------------------------------------------- parser

class _EnvFileAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.env_file_given = True


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qbsync",
        description="Finds HubSpot invoices that failed to sync to QuickBooks Online and helps fix "
                    "them from Slack.",
        epilog="Configuration comes from the environment and a .env file; see README.md.")
    p.add_argument("--version", action="version", version=f"qbsync {__version__}")
    p.add_argument("--env-file", default=".env", action=_EnvFileAction, metavar="FILE",
                   help="dotenv file that fills settings missing from the environment (default: .env)")
    p.set_defaults(env_file_given=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("run", help="run the bot: scan on a schedule, alert and fix in Slack",
                       description="Check HubSpot and QBO every QBSYNC_POLL_INTERVAL seconds, post "
                                   "alerts to QBSYNC_ALERT_CHANNEL and answer /qbsync and buttons, "
                                   "until SIGTERM or Ctrl-C. With QBSYNC_DATABASE_URL (PostgreSQL) "
                                   "it only answers Slack: `qbsync worker` processes run the scans, fixes "
                                   "and on-demand digests.")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("worker", help="run scan, fix and digest jobs from PostgreSQL (with QBSYNC_DATABASE_URL)",
                       description="Run the scans queued in PostgreSQL (every QBSYNC_POLL_INTERVAL, "
                                   "and by /qbsync scan), the Fix clicks and /qbsync digest until "
                                   "SIGTERM or Ctrl-C. Start any number, on any machines; one company "
                                   "is never scanned twice at once, nor one invoice fixed twice at once.")
    s.add_argument("--stalled-after", type=float, default=30, metavar="SECONDS",
                   help="a worker silent this long is taken as dead and its job runs again "
                        "(default: 30; heartbeats every third of it)")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("demo", help="run qbsync against the local sandbox (no accounts needed)",
                       description="Start the HubSpot and QuickBooks stand-ins, load a scenario and "
                                   "show what qbsync finds.")
    s.add_argument("--scenario", metavar="FILE",
                   help="scenario JSON (format: docs/scenarios.md; default: the shipped demo scenario)")
    s.add_argument("--once", action="store_true", help="run one check and exit")
    s.add_argument("--auto-fix", action="store_true", help="apply the proposed fixes without asking")
    s.add_argument("--report", metavar="FILE", help="write a JSON report of what was found and done")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("sandbox", help="serve the HubSpot and QuickBooks stand-ins until Ctrl-C",
                       description="Serve the local HubSpot and QuickBooks Online stand-ins on "
                                   "127.0.0.1 with a scenario loaded.")
    s.add_argument("--scenario", metavar="FILE", help="scenario JSON (format: docs/scenarios.md)")
    s.add_argument("--hubspot-port", type=int, default=0, metavar="PORT",
                   help="port for the HubSpot stand-in (default: any free port)")
    s.add_argument("--qbo-port", type=int, default=0, metavar="PORT",
                   help="port for the QuickBooks stand-in (default: any free port)")
    s.add_argument("--print-env", action="store_true",
                   help="print the settings (QBSYNC_*_API_BASE, tokens) that point qbsync at the sandbox")
    s.set_defaults(func=cmd_sandbox)

    s = sub.add_parser("explain", help="explain a sync error, or why a HubSpot invoice did not sync",
                       description="Classify a HubSpot/QuickBooks sync error text and say how to fix it "
                                   "(no configuration needed), or, with --invoice, diagnose that HubSpot "
                                   "invoice live through the HubSpot and QBO APIs (needs their settings).")
    s.add_argument("text", nargs="?", metavar="TEXT", help="the error text, as HubSpot or QBO shows it")
    s.add_argument("--invoice", metavar="NUMBER", help="explain why this HubSpot invoice did not sync")
    s.add_argument("--json", action="store_true", help="print the explanation as JSON")
    s.add_argument("--lang", choices=LANGUAGES, default=None, help="language of the explanation")
    s.set_defaults(func=cmd_explain, _needs_text=True)

    s = sub.add_parser("doctor", help="check the configuration and every connection",
                       description="Check Slack (auth.test and scopes), HubSpot (token and scopes), "
                                   "QuickBooks (company info, refresh token age) and the database.")
    s.add_argument("--timeout", type=float, default=15, metavar="SECONDS",
                   help="per-request timeout (default: 15)")
    s.add_argument("--connection", metavar="ID",
                   help="check this connection (qbsync connections list) instead of the environment's company")
    s.set_defaults(func=cmd_doctor)

    s = sub.add_parser("connect", help="connect an account (hubspot, quickbooks, slack)",
                       description="Connect qbsync to an account through its consent page. With "
                                   "--connection ID, the account becomes part of that connection (one "
                                   "company: a HubSpot portal, a QuickBooks company, a Slack channel).")
    csub = s.add_subparsers(dest="target", metavar="TARGET", required=True)
    h = csub.add_parser("hubspot", help="give a connection its HubSpot portal (OAuth or a Service Key)",
                        description="OAuth: open HubSpot's page to pick the account and connect qbsync's "
                                    "HubSpot app (HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET), receive the "
                                    "callback on HUBSPOT_REDIRECT_URI's localhost port, store the tokens "
                                    "sealed. --service-key: a Service Key made in the portal, read from "
                                    "HUBSPOT_SERVICE_KEY or a hidden prompt (never from the command line).")
    h.add_argument("--connection", required=True, metavar="ID",
                   help="the connection (lower-case letters, digits, hyphens); made if new")
    h.add_argument("--service-key", action="store_true",
                   help="use a HubSpot Service Key instead of OAuth")
    h.add_argument("--name", metavar="TEXT", help="a name for the connection, for lists")
    h.add_argument("--no-browser", action="store_true", help="only print the consent URL")
    h.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                   help="how long to wait for the consent page (default: 300)")
    h.set_defaults(func=cmd_connect_hubspot)
    k = csub.add_parser("slack", help="send a connection's alerts to a channel of an installed workspace",
                        description="Bind the connection to a channel of a workspace where qbsync is installed "
                                    "(Add to Slack, or SLACK_BOT_TOKEN's own workspace); the bot must see "
                                    "the channel and be in it.")
    k.add_argument("--connection", required=True, metavar="ID", help="the connection; made if new")
    k.add_argument("--channel", required=True, metavar="CHANNEL_ID", help="the channel id, e.g. C0123ABCD")
    k.add_argument("--team", metavar="TEAM_ID",
                   help="the workspace id, e.g. T0123ABCD (default: the only one qbsync is installed in)")
    k.set_defaults(func=cmd_connect_slack)
    q = csub.add_parser("quickbooks", help="authorize qbsync for a QuickBooks Online company",
                        description="Open Intuit's consent page, receive the callback on "
                                    "QBO_REDIRECT_URI's localhost port, and save the tokens. "
                                    "Needs QBO_CLIENT_ID and QBO_CLIENT_SECRET.")
    q.add_argument("--connection", metavar="ID",
                   help="the connection this company belongs to (tokens in its own store); "
                        "default: the company configured from the environment")
    q.add_argument("--no-browser", action="store_true", help="only print the consent URL")
    q.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                   help="how long to wait for the consent page (default: 300)")
    out = q.add_mutually_exclusive_group()
    out.add_argument("--write-env", action="store_true",
                     help="also write QBO_REALM_ID and QBO_REFRESH_TOKEN into the --env-file "
                          "(created owner-only if missing)")
    out.add_argument("--show-token", action="store_true",
                     help="also print the refresh token (a secret), to configure qbsync elsewhere")
    q.set_defaults(func=cmd_connect_quickbooks)

    s = sub.add_parser("connections", help="list or remove the companies qbsync watches",
                       description="Connections: one HubSpot portal, one QuickBooks company and one "
                                   "Slack channel each, with a store of their own. \"default\" is the "
                                   "company configured from the environment.")
    csub = s.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = csub.add_parser("list", help="every connection and what it still misses (never a token)")
    a.set_defaults(func=cmd_connections_list)
    from .connections import OVERRIDABLE

    a = csub.add_parser("set", help="a connection's own settings (who may fix, language, routes, digest ...)",
                        description="Set or unset a connection's own settings: " + ", ".join(OVERRIDABLE)
                                    + ". Values are written as in the environment (README, Configuration); "
                                    "route channels must be channels of the connection's own workspace.")
    a.add_argument("connection_id", metavar="ID", help="the connection's id (qbsync connections list)")
    a.add_argument("assignments", nargs="*", metavar="NAME=VALUE", help="e.g. QBSYNC_LANGUAGE=nl")
    a.add_argument("--unset", action="append", metavar="NAME", help="back to the default (repeatable)")
    a.set_defaults(func=cmd_connections_set)
    a = csub.add_parser("remove", help="forget a connection and delete its data",
                        description="Forget the connection: it is no longer scanned. Its own store "
                                    "(alerts, QuickBooks mirror and tokens, audit log) is deleted "
                                    "unless --keep-data.")
    a.add_argument("connection_id", metavar="ID", help="the connection's id (qbsync connections list)")
    a.add_argument("--keep-data", action="store_true", help="keep its store (a later connect with the same id "
                                                            "finds it again)")
    a.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    a.set_defaults(func=cmd_connections_remove)

    s = sub.add_parser("slack", help="Slack workspaces installed through Add to Slack",
                       description="The workspaces installed through /slack/install (HTTP mode with "
                                   "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET).")
    ssub = s.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = ssub.add_parser("installations", help="list the installed workspaces (never their tokens)")
    a.set_defaults(func=cmd_slack_installations)
    a = ssub.add_parser("remove", help="forget a workspace's installation (its requests are then refused)")
    a.add_argument("team_id", metavar="TEAM_ID", help="the workspace id, e.g. T0123ABCD")
    a.set_defaults(func=cmd_slack_remove)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_needs_text", False) and not args.text and not args.invoice:
        sys.stderr.write("qbsync explain: give the error TEXT or --invoice NUMBER\n")
        return EXIT_CONFIG
    try:
        return args.func(args)
    except ConfigError as exc:
        lines = "\n".join(f"  - {_one_line(p)}" for p in exc.problems)
        sys.stderr.write(f"qbsync: configuration problems:\n{lines}\n")
        return EXIT_CONFIG
    except ApiError as exc:
        sys.stderr.write(f"qbsync: {_one_line(str(exc))}\n")
        return EXIT_FAIL
    except QbsyncError as exc:
        sys.stderr.write(f"qbsync: {_one_line(str(exc))}\n")
        return EXIT_FAIL
    except KeyboardInterrupt:
        sys.stderr.write("qbsync: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`qbsync explain ... | head`): nothing more to say, no traceback.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
