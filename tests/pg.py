"""A PostgreSQL for the tests: QBSYNC_TEST_DATABASE_URL if set (a server where the user may
CREATE DATABASE), else a throwaway cluster started here from the machine's binaries
(/usr/lib/postgresql/*/bin: initdb + pg_ctl), on a free port of 127.0.0.1 with its unix
socket in its own temp dir, stopped and deleted when the test session (one per pytest-xdist
worker) ends. Each test gets a database of its own, dropped afterwards, so tests run in
parallel without seeing each other's rows.

PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user (or
`nobody`), through setpriv. Without the binaries, a test that needs PostgreSQL fails with a
clear message in CI (CI=true) and is skipped elsewhere.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Callable

import pytest

ENV_URL = "QBSYNC_TEST_DATABASE_URL"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that drops root (postgres will not run as root), and the user."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"], user
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")


class Cluster:
    """One throwaway PostgreSQL server."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="qbsync-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        prefix, user = _as_user()
        self.prefix = prefix
        if user is not None:
            os.chown(self.dir, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=timeout, cwd=self.dir)

    def start(self) -> str:
        # trust auth on a private socket dir and 127.0.0.1 only; fsync off: a test cluster
        # is thrown away, durability is not what these tests check.
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        last: Exception | None = None
        for _ in range(5):  # a free port can be taken by someone else before we bind it
            self.port = _free_port()
            opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                          str(self.dir / "log"), "-w", "-t", "60", "start", timeout=90)
                return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
            except subprocess.CalledProcessError as exc:
                last = exc
        raise RuntimeError(f"PostgreSQL did not start: {last}; log: {self.log()}")

    def log(self) -> str:
        try:
            return (self.dir / "log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def unavailable(reason: str):
    """Fail in CI, skip elsewhere: a PostgreSQL test must not pass silently by not running."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason} (.ci/run installs the postgresql package)")
    pytest.skip(f"no PostgreSQL here: {reason}")


def admin_url(request) -> str:
    """The session's server URL (maintenance database): started once per session/worker."""
    cache = request.config
    if getattr(cache, "_qbsync_pg_url", None):
        return cache._qbsync_pg_url
    if os.environ.get(ENV_URL):
        url = os.environ[ENV_URL]
    else:
        bindir = _binaries()
        if bindir is None:
            unavailable("no initdb in /usr/lib/postgresql/*/bin or on PATH, and QBSYNC_TEST_DATABASE_URL is unset")
        cluster = Cluster(bindir)
        try:
            url = cluster.start()
        except Exception:
            cluster.stop()
            raise
        request.config.add_cleanup(cluster.stop)
    cache._qbsync_pg_url = url
    return url


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def create_database(url: str) -> tuple[str, Callable[[], None]]:
    """A new empty database on the server at `url`: (its URL, drop)."""
    import psycopg

    name = "qbsync_t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return _with_database(url, name), drop
