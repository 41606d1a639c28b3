"""`qbsync explain`: text, JSON and language for an error TEXT; `--invoice` diagnosing live
through the adapters against the sandbox (settings from sb.bot_environment())."""
from __future__ import annotations

import io
import json

import pytest

from bot.cli import main
from bot.config import load_settings
from bot.explain import explain_invoice, print_entries
from sandbox.app import Sandbox
from tests.test_cli import qbsync

KEYS = {"rule", "title", "explanation", "fixes", "locale", "evidence"}


def test_text_plain(tmp_path):
    r = qbsync("explain", "The display name is a duplicate", "--lang", "en", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[duplicate-display-name]" in r.stdout and "unique" in r.stdout and "What to do" in r.stdout


def test_text_json_and_language(capsys):
    assert main(["explain", "QB Exception 6140: DocNumber=INV-1001 is assigned to TxnType=CreditMemo with TxnId=201",
                 "--json", "--lang", "nl"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == KEYS
    assert out["rule"] == "duplicate-doc-number" and out["locale"] == "nl"
    assert out["evidence"]["extracted"] == {"DocNumber": "INV-1001", "TxnType": "CreditMemo", "TxnId": "201"}
    assert "INV-1001" in out["explanation"] and "creditnota" in out["explanation"]
    assert main(["explain", "Una factura debe tener un cliente asociado", "--json", "--lang", "es"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rule"], out["locale"], out["evidence"]["text_language"]) == ("missing-customer", "es", "es")
    assert "correo" in out["explanation"]


def test_text_language_defaults_to_the_configured_one(tmp_path):
    r = qbsync("explain", "{\"Fault\":{\"Error\":[{\"Message\":\"x\",\"code\":\"6210\"}]}}", "--json",
               env={"QBSYNC_LANGUAGE": "es"}, cwd=tmp_path)
    out = json.loads(r.stdout)
    assert (out["rule"], out["locale"], out["evidence"]["code"]) == ("unknown", "es", "6210")


@pytest.fixture
def sandbox_env(tmp_path):
    # Several CLI processes run back to back against one company: QBO's 10 requests a second
    # would make the adapter wait Intuit's 60 seconds (tested in tests/adapters), so the
    # sandbox allows more here.
    with Sandbox(qbo_per_second=100) as sb:
        sb.load("mixed")
        env = sb.bot_environment()
        env["QBSYNC_DB_PATH"] = str(tmp_path / "qbsync.db")
        yield sb, env


def test_invoice_with_two_causes(sandbox_env):
    sb, env = sandbox_env
    settings = load_settings(environ=env, env_file=None)
    entries, note = explain_invoice(settings, "INV-1007", "en")
    assert [e["rule"] for e in entries] == ["missing-customer", "duplicate-doc-number"]
    assert all(set(e) == KEYS for e in entries)
    assert "Gus Haines" in entries[0]["explanation"] and "64" in entries[0]["explanation"]
    assert [f["id"] for f in entries[1]["fixes"]] == ["renumber-conflicting-document", "disable-custom-txn-numbers"]
    assert entries[1]["evidence"]["conflicts"][0]["id"] == "150"
    out = io.StringIO()
    print_entries(entries, out)
    assert "1. " in out.getvalue() and "2. " in out.getvalue() and "Confirm" not in out.getvalue()
    entries, note = explain_invoice(settings, "INV-1001", "nl")
    assert entries == [] and "nothing to fix" in note
    entries, note = explain_invoice(settings, "INV-1008", "en")
    assert entries == [] and "draft" in note
    # imported by a sync (served as hs_invoice_source "data_sync"): not the integration's to push
    entries, note = explain_invoice(settings, "INV-1009", "en")
    assert entries == [] and "'data_sync'" in note and "QBSYNC_HUBSPOT_SYNC_SOURCES" in note


def test_invoice_from_the_command_line(sandbox_env, tmp_path):
    sb, env = sandbox_env
    r = qbsync("explain", "--invoice", "INV-1002", "--json", "--lang", "es", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [e["rule"] for e in out] == ["duplicate-display-name"] and out[0]["locale"] == "es"
    assert out[0]["evidence"]["holder"]["id"] == "58"
    r = qbsync("explain", "--invoice", "INV-1005", env=env, cwd=tmp_path)
    assert r.returncode == 0 and "Rush fee" in r.stdout and "revert-qbo-invoice" in r.stdout
    r = qbsync("explain", "--invoice", "INV-9999", env=env, cwd=tmp_path)
    assert r.returncode == 1 and "INV-9999" in r.stderr and "Traceback" not in r.stderr


def test_invoice_needs_hubspot_and_qbo_settings(tmp_path):
    r = qbsync("explain", "--invoice", "INV-1", env={"HUBSPOT_ACCESS_TOKEN": "pat-na1-x"}, cwd=tmp_path)
    assert r.returncode == 2 and "QBO_CLIENT_ID" in r.stderr and "QBO_REALM_ID" in r.stderr
    assert "SLACK_BOT_TOKEN" not in r.stderr  # Slack is not needed to explain an invoice
