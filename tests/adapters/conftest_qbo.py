"""Fixtures that point qbsync's QBO adapter (python-quickbooks + intuit-oauth) at the sandbox
over real HTTP. Imported by tests/adapters/test_quickbooks_*.py."""
from __future__ import annotations

import pytest

from bot.adapters.quickbooks import QuickBooksAdapter
from bot.store import Store
from tests.sandbox.conftest_qbo import (BASE_SECTION, REALM, qbo_clock, qbo_company, qbo_log,  # noqa: F401
                                        qbo_server, qbo_service, sales_line)


def discovery_url(server) -> str:
    return f"{server.url}/.well-known/openid_sandbox_configuration"


class FakeSleep:
    """Stands in for time.sleep: records each wait and moves the sandbox clock instead of
    blocking, so a 60-second throttle wait costs nothing."""

    def __init__(self, clock):
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


@pytest.fixture
def fake_sleep(qbo_clock) -> FakeSleep:
    return FakeSleep(qbo_clock)


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "qbsync.db"


@pytest.fixture
def make_adapter(qbo_server, qbo_service, store_path, fake_sleep):
    """make_adapter(store=None, refresh_token=None, service=None, server=None, **overrides):
    an adapter on the sandbox (its own Store on store_path unless one is given)."""
    opened: list[Store] = []
    seed = {"token": None}

    def make(store: Store | None = None, refresh_token: str | None = None, *, service=None, server=None,
             **overrides) -> QuickBooksAdapter:
        service, server = service or qbo_service, server or qbo_server
        if store is None:
            store = Store(store_path)
            opened.append(store)
        if refresh_token is None:
            if service is not qbo_service:
                refresh_token = service.issue_refresh_token()
            else:
                if seed["token"] is None:
                    seed["token"] = qbo_service.issue_refresh_token()
                refresh_token = seed["token"]
        kwargs = dict(
            client_id=service.client_id, client_secret=service.client_secret, realm_id=REALM,
            refresh_token=refresh_token, environment=discovery_url(server), store=store,
            api_base=f"{server.url}/v3", timeout=10, max_attempts=4, sleep=fake_sleep,
            backoff_base=0.01, backoff_cap=0.05,
        )
        kwargs.update(overrides)
        return QuickBooksAdapter(**kwargs)

    make.seed = seed
    yield make
    for store in opened:
        store.close()


@pytest.fixture
def adapter(make_adapter) -> QuickBooksAdapter:
    return make_adapter()


@pytest.fixture
def start_service(qbo_company, qbo_clock):
    """start_service(**limits) -> (service, log, server) on the shared company; stopped after."""
    from sandbox.qbo import QboService
    from sandbox.server import RequestLog, ServiceServer

    servers = []

    def start(**limits):
        service = QboService(qbo_company, clock=qbo_clock, **limits)
        log = RequestLog()
        server = ServiceServer(service, log).start()
        servers.append(server)
        return service, log, server

    yield start
    for server in servers:
        server.stop()
