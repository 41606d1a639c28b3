"""`python -m bot.healthcheck`: the container health check (Dockerfile HEALTHCHECK, compose.yaml).

GET http://127.0.0.1:$QBSYNC_OPS_PORT/healthz (bot/ops.py; default port 9464) of the process
in the same container (`qbsync run` or `qbsync worker`), with the standard library's urllib:
python:*-slim images have no curl. Exit 0 when it answers 200, else 1; Docker reads the exit
status as healthy (0) or unhealthy (1) and keeps the first 4096 bytes of the output, so the
output is the answer's problems on one line.
https://docs.docker.com/reference/dockerfile/#healthcheck

Standard library only, nothing of the bot's configuration is loaded: a probe runs every
30 s and must stay cheap. It reads QBSYNC_OPS_PORT from the environment, which is where
Docker and compose put the settings (env_file / --env-file).
"""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

DEFAULT_PORT = "9464"  # bot/config.py ops_port
TIMEOUT_S = 4  # under the health check's timeout (5 s in the Dockerfile and compose.yaml)


def check(port: str, timeout_s: float = TIMEOUT_S) -> tuple[bool, str]:
    """(healthy, one line saying why)."""
    if port.strip() in ("", "0"):
        return False, "QBSYNC_OPS_PORT is 0: the ops endpoints are off, so there is no /healthz to ask"
    if not port.strip().isdigit():
        return False, f"QBSYNC_OPS_PORT={port!r} is not a port number"
    url = f"http://127.0.0.1:{int(port)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310 - a fixed http URL on localhost
            return True, f"healthy ({answer.status})"
    except urllib.error.HTTPError as exc:  # 503: the body says why
        try:
            problems = json.loads(exc.read() or b"{}").get("problems") or []
        except ValueError:
            problems = []
        return False, f"unhealthy ({exc.code}): " + ("; ".join(map(str, problems)) or "no reason given")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"no answer from {url}: {reason}"


def main() -> int:
    ok, line = check(os.environ.get("QBSYNC_OPS_PORT", DEFAULT_PORT))
    print(line[:1000])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
