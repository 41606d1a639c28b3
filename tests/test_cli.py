"""The `qbsync` command line: help for every command, exit codes, one readable message
listing every configuration problem, no tracebacks, unfinished commands say so."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bot import __version__
from bot.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]

HELP_COMMANDS = [[], ["run"], ["demo"], ["sandbox"], ["explain"], ["doctor"], ["connect"],
                 ["connect", "quickbooks"]]

# A local port nothing listens on: "Slack" refuses the connection at once (no network here).
CLOSED_SLACK = "http://127.0.0.1:9/api/"

VALID = {
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-abcdefghijkl",
    "SLACK_APP_TOKEN": "xapp-1-A0123-3333-deadbeef",
    "QBSYNC_ALERT_CHANNEL": "C0123ABCD",
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-11111111-2222-3333-4444-555555555555",
    "QBO_CLIENT_ID": "clientid",
    "QBO_CLIENT_SECRET": "clientsecret",
    "QBO_REALM_ID": "9341453189012345",
    "QBO_REFRESH_TOKEN": "AB11refresh",
    "QBSYNC_FIX_ALLOWED": "U0123ABCD,S0123ABCD",
}


def qbsync(*args: str, env: dict[str, str] | None = None, cwd: Path, timeout: float = 30):
    """Run `python -m bot.cli` in a clean environment (no inherited QBSYNC_*/SLACK_* values)."""
    base = {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")}
    base["PYTHONPATH"] = str(ROOT)
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("cmd", HELP_COMMANDS, ids=lambda c: " ".join(c) or "qbsync")
def test_help_exits_zero(cmd, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*cmd, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: qbsync")


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("run", "demo", "sandbox", "explain", "doctor", "connect"):
        assert name in out


def test_subcommand_options_exist():
    p = build_parser()
    demo = p.parse_args(["demo", "--scenario", "s.json", "--once", "--auto-fix", "--report", "r.json"])
    assert (demo.scenario, demo.once, demo.auto_fix, demo.report) == ("s.json", True, True, "r.json")
    sb = p.parse_args(["sandbox", "--scenario", "s.json", "--print-env", "--hubspot-port", "5001"])
    assert (sb.scenario, sb.print_env, sb.hubspot_port, sb.qbo_port) == ("s.json", True, 5001, 0)
    ex = p.parse_args(["explain", "Duplicate Name Exists", "--invoice", "INV-1", "--json", "--lang", "nl"])
    assert (ex.text, ex.invoice, ex.json, ex.lang) == ("Duplicate Name Exists", "INV-1", True, "nl")
    with pytest.raises(SystemExit):
        p.parse_args(["explain", "x", "--lang", "fr"])


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"qbsync {__version__}"


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2


def test_config_problems_exit_2_with_every_problem_and_no_traceback(tmp_path):
    env = dict(VALID, SLACK_BOT_TOKEN="xoxp-user", QBO_REALM_ID="12ab", QBSYNC_LANGUAGE="de")
    del env["HUBSPOT_ACCESS_TOKEN"]
    r = qbsync("run", env=env, cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr.startswith("qbsync: configuration problems:\n  - ")
    problem_lines = [l for l in r.stderr.splitlines() if l.startswith("  - ")]
    assert len(problem_lines) == 4
    for name in ("SLACK_BOT_TOKEN", "QBO_REALM_ID", "QBSYNC_LANGUAGE", "HUBSPOT_ACCESS_TOKEN"):
        assert any(name in l for l in problem_lines), name


def test_env_file_is_read_and_a_missing_one_is_a_config_problem(tmp_path):
    unreachable = dict(VALID, QBSYNC_SLACK_API_BASE=CLOSED_SLACK)
    (tmp_path / "custom.env").write_text("".join(f"{k}={v}\n" for k, v in unreachable.items()))
    r = qbsync("--env-file", "custom.env", "run", cwd=tmp_path)
    assert r.returncode == 1, r.stderr  # config valid: gets as far as contacting Slack (unreachable here)
    assert "could not start" in r.stderr and "Traceback" not in r.stderr
    r = qbsync("--env-file", "absent.env", "run", cwd=tmp_path)
    assert r.returncode == 2 and "absent.env" in r.stderr and "Traceback" not in r.stderr


def test_run_with_slack_unreachable_is_one_line_and_leaks_no_secret(tmp_path):
    r = qbsync("run", env=dict(VALID, QBSYNC_SLACK_API_BASE=CLOSED_SLACK), cwd=tmp_path)
    assert r.returncode == 1
    assert "could not start" in r.stderr and "Traceback" not in r.stderr
    for secret in (VALID["SLACK_BOT_TOKEN"], VALID["QBO_CLIENT_SECRET"], VALID["QBO_REFRESH_TOKEN"]):
        assert secret not in r.stderr + r.stdout


def test_explain_needs_text_or_invoice(tmp_path):
    # What explain prints is tested in tests/test_explain.py (issue #3).
    r = qbsync("explain", cwd=tmp_path)
    assert r.returncode == 2 and "TEXT or --invoice" in r.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_api_error_is_one_line_exit_1(tmp_path):
    # connect needs Intuit's discovery document first; nothing listens on this port.
    env = {"QBO_CLIENT_ID": "id", "QBO_CLIENT_SECRET": "secret-value",
           "QBO_ENVIRONMENT": f"http://127.0.0.1:{_closed_port()}/.well-known/openid_sandbox_configuration",
           "QBO_REDIRECT_URI": f"http://localhost:{_closed_port()}/callback"}
    r = qbsync("connect", "quickbooks", "--no-browser", "--timeout", "2", env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qbsync: qbo") and "discovery" in lines[0]


def test_connect_needs_only_the_qbo_app_keys(tmp_path):
    r = qbsync("connect", "quickbooks", "--no-browser", cwd=tmp_path)
    assert r.returncode == 2
    named = [l for l in r.stderr.splitlines() if l.startswith("  - ")]
    assert len(named) == 2
    assert "QBO_CLIENT_ID" in named[0] and "QBO_CLIENT_SECRET" in named[1]


def test_doctor_runs_without_configuration_and_fails(tmp_path):
    r = qbsync("doctor", env={"QBSYNC_DB_PATH": str(tmp_path / "q.db")}, cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "SLACK_BOT_TOKEN" in r.stdout and "SKIP" in r.stdout
    assert "database" in r.stdout and (tmp_path / "q.db").exists()


def test_demo_and_sandbox_delegate_to_the_sandbox_cli(monkeypatch):
    calls = []
    fake = types.ModuleType("sandbox.cli")
    fake.demo_main = lambda args: calls.append(("demo", args)) or 0
    fake.sandbox_main = lambda args: calls.append(("sandbox", args)) or 7
    monkeypatch.setitem(sys.modules, "sandbox.cli", fake)
    import sandbox
    monkeypatch.setattr(sandbox, "cli", fake, raising=False)
    assert main(["demo", "--once", "--scenario", "x.json", "--report", "out.json"]) == 0
    assert main(["sandbox", "--print-env"]) == 7
    (name1, a1), (name2, a2) = calls
    assert name1 == "demo" and a1.once and a1.scenario == "x.json" and a1.report == "out.json"
    assert not a1.auto_fix
    assert name2 == "sandbox" and a2.print_env


def test_production_commands_never_import_the_sandbox(tmp_path):
    code = ("import sys, bot.cli, bot.doctor, bot.connect, bot.config, bot.logging_setup\n"
            "bad = sorted(m for m in sys.modules if m == 'sandbox' or m.startswith('sandbox.'))\n"
            "print(bad); sys.exit(1 if bad else 0)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_console_script_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'qbsync = "bot.cli:main"' in text
