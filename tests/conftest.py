"""Shared test helpers.

`../shared` (the official specs) sits beside the repository in CI and on developers'
machines. Tests that check the project against those specs skip on a machine without it,
but fail in CI (CI=true), where a skip would hide a broken check.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have ../shared beside the repository")
        pytest.skip(f"{path} is not here (../shared is not beside the repository)")
    return path


# -- PostgreSQL (tests/pg.py) ---------------------------------------------------------------
@pytest.fixture
def pg_url(request):
    """The URL of a fresh, empty PostgreSQL database for this test (dropped afterwards)."""
    from tests import pg

    url, drop = pg.create_database(pg.admin_url(request))
    yield url
    drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path):
    """Where a test's Store lives: a SQLite file, then a PostgreSQL database (QBSYNC_DATABASE_URL)."""
    if request.param == "sqlite":
        return tmp_path / "qbsync.db"
    return request.getfixturevalue("pg_url")
