"""A bot in HTTP mode against a sandbox, in a process of its own, for tests that measure the
process (tests/e2e/test_http_memory.py). Prints {"url", "pid"} as one JSON line, then serves
until its standard input closes."""
from __future__ import annotations

import json
import os
import sys
import tempfile

from bot import wiring
from bot.app import HttpRunner, create_app
from bot.config import load_settings
from bot.store import Store
from sandbox.app import Sandbox


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Sandbox() as sb:
        sb.load("missing-customer")
        env = sb.bot_environment() | {"QBSYNC_DB_PATH": os.path.join(tmp, "q.db"), "QBSYNC_SLACK_TRANSPORT": "http"}
        settings = load_settings(env, env_file=None)
        parts = wiring.build(settings, store=Store(settings.db_path), post_interval=0)
        runner = HttpRunner(create_app(parts), 0).start()
        print(json.dumps({"url": runner.url, "pid": os.getpid()}), flush=True)
        sys.stdin.read()
        runner.stop()
        parts.store.close()


if __name__ == "__main__":
    main()
