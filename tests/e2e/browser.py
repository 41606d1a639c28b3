"""Headless Chromium for the tests that click through pages the way a person does (Add to Slack,
the HubSpot and QuickBooks connect flows): Debian's package, driven by Playwright, which must not
download a browser of its own. .ci/run installs chromium when /usr/bin/chromium is missing;
without it these tests fail with CI=true and skip locally."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags this machine's Chromium has its connections refused
# many at a time; a fresh profile per run keeps one test from seeing another's cookies.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_or_skip():
    why = None
    if not os.path.exists(CHROMIUM):
        why = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = why or "the playwright package is missing (pip install -e '.[test]')"
        sync_playwright = None
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"headless browser test cannot run: {why}")
        pytest.skip(why)
    return sync_playwright


@contextmanager
def chromium_context() -> Iterator:
    """A browser context on a fresh, throwaway profile."""
    sync_playwright = browser_or_skip()
    profile = tempfile.mkdtemp(prefix="qbsync-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                            args=FLAGS)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def starts(prefix: str):
    """A URL predicate for wait_for_url (its globs' `*` stops at characters of a query)."""
    return lambda url: url.startswith(prefix)
