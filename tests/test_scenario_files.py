"""A scenario file that cannot be used (a directory, bytes that are not UTF-8, an impossible
date) stops `qbsync demo` and `qbsync sandbox` with one clear line on stderr and exit code 1,
never a traceback. Run as real processes, as a person would."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.scenario import shipped

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def _with(tmp_path: Path, name: str, change) -> Path:
    data = json.loads(shipped()["mixed"].read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _directory(tmp_path):
    return tmp_path, "is a directory"


def _latin1(tmp_path):
    path = tmp_path / "latin1.json"
    text = shipped()["mixed"].read_text(encoding="utf-8").replace('"name": "mixed"', '"name": "Café"', 1)
    path.write_bytes(text.encode("latin-1", "replace"))
    return path, "not UTF-8"


def _impossible_hubspot_date(tmp_path):
    path = _with(tmp_path, "date.json",
                 lambda d: d["hubspot"]["invoices"][0].__setitem__("invoice_date", "2026-02-30"))
    return path, "invoice_date: '2026-02-30' is not a 'date'"


def _impossible_qbo_date(tmp_path):
    path = _with(tmp_path, "txn.json", lambda d: d["qbo"]["invoices"][0].__setitem__("TxnDate", "2026-02-30"))
    return path, "TxnDate: '2026-02-30' is not a 'date'"


@pytest.mark.parametrize("command", ["demo", "sandbox"])
@pytest.mark.parametrize("make", [_directory, _latin1, _impossible_hubspot_date, _impossible_qbo_date])
def test_unusable_scenario_file_is_one_line_and_exit_1(tmp_path, command, make):
    path, words = make(tmp_path)
    extra = ["--once"] if command == "demo" else []
    r = _run(command, *extra, "--scenario", str(path))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"qbsync: {path}") and words in lines[0]
