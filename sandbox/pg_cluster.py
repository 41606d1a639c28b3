"""A throwaway PostgreSQL server for the tests (tests/pg.py) and the benchmark (bench/), built
from the machine's binaries (/usr/lib/postgresql/*/bin: initdb + pg_ctl): a private data
directory, a free port on 127.0.0.1, its unix socket in its own temp dir, trust auth, fsync
off (nothing here needs durability), stopped and deleted by `stop()`.

PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user (or
`nobody`), through setpriv. Production code never imports this (it is in sandbox/).
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


def binaries() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, else initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_user() -> tuple[list[str], pwd.struct_passwd | None]:
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
    """One throwaway PostgreSQL server. `start()` returns the URL of its maintenance database."""

    def __init__(self, bindir: Path, *, max_connections: int = 200):
        self.bindir = bindir
        self.max_connections = max_connections
        self.dir = Path(tempfile.mkdtemp(prefix="qbsync-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        prefix, user = as_user()
        self.prefix = prefix
        if user is not None:
            os.chown(self.dir, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=timeout, cwd=self.dir)

    def start(self) -> str:
        # trust auth on a private socket dir and 127.0.0.1 only; fsync off: a throwaway
        # cluster, durability is not what it is for.
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        last: Exception | None = None
        for _ in range(5):  # a free port can be taken by someone else before we bind it
            self.port = free_port()
            opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                    f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections}")
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


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def create_database(url: str, prefix: str = "qbsync_t_") -> tuple[str, Callable[[], None]]:
    """A new empty database on the server at `url`: (its URL, drop)."""
    import psycopg

    name = prefix + uuid.uuid4().hex[:16]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return with_database(url, name), drop
