"""tests/pg.py: without PostgreSQL, its tests fail in CI (CI=true) and skip elsewhere."""
from __future__ import annotations

import os

import pytest

from tests import pg


def test_no_postgresql_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI"):
        pg.unavailable("no initdb")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL here"):
        pg.unavailable("no initdb")


def test_each_test_gets_its_own_empty_database(pg_url):
    import psycopg

    other, drop = pg.create_database(pg_url)
    try:
        assert other != pg_url
        with psycopg.connect(pg_url, autocommit=True) as a, psycopg.connect(other, autocommit=True) as b:
            a.execute("CREATE TABLE only_here (x int)")
            assert b.execute("SELECT to_regclass('only_here')").fetchone()[0] is None
            assert b.execute("SHOW server_version").fetchone()[0]
            if not os.environ.get(pg.ENV_URL):                  # the throwaway cluster: 127.0.0.1 only
                assert str(a.execute("SELECT inet_server_addr()").fetchone()[0]) == "127.0.0.1"
    finally:
        drop()
