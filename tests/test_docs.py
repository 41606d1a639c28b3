"""README.md, .ci/run and the scope lists must agree with the code."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from bot.slack_scopes import BOT_SCOPES, HUBSPOT_SCOPES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEMO_CMD = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/qbsync demo --once --auto-fix"
TEST_CMD = ("python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/ruff check bot handlers rules"
            " && .venv/bin/mypy bot handlers rules && .venv/bin/python -m pytest -n 4")
# The headless-browser test (tests/e2e/test_slack_install_browser.py) needs Debian's chromium:
# CI installs it first when missing (as root, with apt); the README shows the same line.
CHROMIUM_CMD = "if [ ! -x /usr/bin/chromium ]; then apt-get update && apt-get install -y chromium; fi"


def _sh_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]


def test_quick_start_has_exactly_the_two_one_line_commands():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert _sh_blocks(quick) == [DEMO_CMD, TEST_CMD]


PG_INSTALL = ("ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update && "
              "DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }")


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    commands = [l for l in script.splitlines() if l.strip() and not l.startswith("#")
                and not l.startswith(("set ", "cd "))]
    assert commands[0] == CHROMIUM_CMD and CHROMIUM_CMD in README
    commands = commands[1:]
    # first PostgreSQL's binaries when missing (the same line README's "PostgreSQL" gives), then
    # the README command, optionally followed by -p no:cacheprovider
    assert len(commands) == 2
    assert commands[0] == PG_INSTALL and PG_INSTALL in README
    assert commands[1] in (TEST_CMD, TEST_CMD + " -p no:cacheprovider")
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111, ".ci/run must be executable"
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True)


def test_readme_names_every_scope_the_benchmark_and_each_issue():
    for scope in BOT_SCOPES + HUBSPOT_SCOPES:
        assert f"`{scope}`" in README, scope
    bench = README.split("## Benchmarks", 1)[1].split("\n## ", 1)[0]
    assert "python -m bench --invoices" in bench and "bench/bounds.py" in bench
    for figure in ("lower bound", "nothing changed", "1%", "alert latency", "per second per channel", "storm",
                   "peak RSS", "ack p99"):
        assert figure in bench, figure
    status = README.split("## Status", 1)[1].split("\n## ", 1)[0]
    for issue in ("#2", "#3", "#4", "#5"):
        assert f"| {issue} |" in status, issue
    assert "request_url" in README  # the HTTP-mode variant of the manifest
