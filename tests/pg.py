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

import os
from typing import Callable

import pytest

# The cluster itself is shared with the benchmark (bench/companies.py), which must not import tests/.
from sandbox.pg_cluster import Cluster, binaries as _binaries  # noqa: F401  (tests/pg.py's API)
from sandbox.pg_cluster import create_database as _create_database

ENV_URL = "QBSYNC_TEST_DATABASE_URL"


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
    return _create_database(url)
