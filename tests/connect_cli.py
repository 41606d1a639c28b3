"""Shared by the `qbsync connect ... --connection` tests: the settings that point the CLI at a
started sandbox (its HubSpot app and QuickBooks app registered), and a way to run the CLI as a
process, read the consent URL it prints, and hand that URL to a browser or a script."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
HUBSPOT_CLIENT_ID = "5f2d7c1e-0000-4000-8000-00000000c0de"
HUBSPOT_CLIENT_SECRET = "hubspot-app-secret-0000-0000-000000000000"
SECRET_KEY = Fernet.generate_key().decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect_env(sb, db: Path, **extra) -> dict[str, str]:
    """Settings for `qbsync connect` against the sandbox `sb`; registers qbsync's HubSpot app
    with a fresh localhost redirect URI (QBO's sandbox client accepts any)."""
    from sandbox.app import QBO_CLIENT_ID, QBO_CLIENT_SECRET

    hubspot_redirect = f"http://localhost:{free_port()}/hubspot/callback"
    sb.hubspot_oauth.register_app(HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET, [hubspot_redirect])
    env = {"HUBSPOT_CLIENT_ID": HUBSPOT_CLIENT_ID, "HUBSPOT_CLIENT_SECRET": HUBSPOT_CLIENT_SECRET,
           "HUBSPOT_REDIRECT_URI": hubspot_redirect, "QBSYNC_HUBSPOT_AUTHORIZE_URL": sb.hubspot_authorize_url,
           "QBSYNC_HUBSPOT_API_BASE": sb.hubspot_url,
           "QBO_CLIENT_ID": QBO_CLIENT_ID, "QBO_CLIENT_SECRET": QBO_CLIENT_SECRET,
           "QBO_ENVIRONMENT": sb.qbo_discovery_url, "QBO_REDIRECT_URI": f"http://localhost:{free_port()}/callback",
           "QBSYNC_QBO_API_BASE": sb.qbo_api_base, "QBSYNC_SLACK_API_BASE": sb.slack_api_base,
           "QBSYNC_DB_PATH": str(db), "QBSYNC_SECRET_KEY": SECRET_KEY}
    env.update(extra)
    return env


def run_connect(args: list[str], env: dict[str, str], cwd: Path, *,
                visit: Callable[[str], None] | None = None, url_pattern: str = r"(http://127\.0\.0\.1:\d+/\S+)",
                timeout: float = 30) -> tuple[str | None, int, str, str]:
    """Run `qbsync connect ARGS` as a process with `env` (and nothing else of ours). When it
    prints a consent URL, call `visit(url)` (a browser clicking through). Returns
    (url, exit code, stdout, stderr)."""
    full = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    full.update(env, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "connect", *args], cwd=cwd, env=full,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    url = None
    try:
        if visit is not None:
            while url is None:
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(line)
                m = re.search(url_pattern, line)
                url = m.group(1) if m else None
            if url:
                visit(url)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return url, proc.returncode, "".join(seen) + out, err
