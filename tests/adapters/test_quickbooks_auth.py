"""QboTokenManager against the sandbox's OAuth endpoints (intuit-oauth's AuthClient over HTTP)
and the real Store."""
from __future__ import annotations

import threading

import pytest
from intuitlib.client import AuthClient

from bot.adapters.qbo_auth import QboTokenManager, seed_hash
from bot.errors import AuthError
from bot.store import Store
from tests.adapters.conftest_qbo import (REALM, discovery_url, qbo_clock, qbo_company, qbo_log,  # noqa: F401
                                         qbo_server, qbo_service, store_path)


@pytest.fixture
def store(store_path):
    s = Store(store_path)
    yield s
    s.close()


@pytest.fixture
def factory(qbo_service, qbo_server):
    built = []

    def make():
        built.append(1)
        return AuthClient(qbo_service.client_id, qbo_service.client_secret, "http://localhost:9/cb",
                          discovery_url(qbo_server))
    make.built = built
    return make


class Clock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_first_use_starts_from_the_seed_and_persists_before_returning(factory, store, qbo_service, qbo_clock):
    seed = qbo_service.issue_refresh_token()
    clock = Clock(qbo_clock.time())
    manager = QboTokenManager(factory, store, REALM, seed, clock=clock)
    token = manager.access_token()
    saved = store.load_qbo_tokens(REALM)
    assert saved["access_token"] == token
    assert saved["refresh_token"] != seed and qbo_service.registry.refresh_token_valid(saved["refresh_token"])
    assert saved["seed_hash"] == seed_hash(seed)
    assert saved["access_expires_at"] == pytest.approx(clock.now + 3600)
    assert manager.refresh_token_days_left() == pytest.approx(8726400 / 86400)
    assert qbo_service.registry.check_access(token) is not None
    # still valid: no new refresh
    assert manager.access_token() == token and qbo_service.registry.refresh_count == 1
    # within 60 s of expiry: refresh ahead of time
    clock.now += 3600 - 59
    assert manager.access_token() != token and qbo_service.registry.refresh_count == 2
    assert len(factory.built) == 1  # one AuthClient (one discovery fetch)


def test_a_new_seed_restarts_the_chain(factory, store, qbo_service):
    first = qbo_service.issue_refresh_token()
    QboTokenManager(factory, store, REALM, first).access_token()
    chained = store.load_qbo_tokens(REALM)["refresh_token"]
    pasted = qbo_service.issue_refresh_token()  # the operator reconnected and pasted a new one
    manager = QboTokenManager(factory, store, REALM, pasted)
    manager.access_token()
    saved = store.load_qbo_tokens(REALM)
    assert saved["seed_hash"] == seed_hash(pasted)
    assert saved["refresh_token"] not in (chained, pasted)
    # the same seed again keeps using the stored chain (it would fail with the used seed)
    again = QboTokenManager(factory, store, REALM, pasted)
    assert again.access_token() == saved["access_token"]


def test_refused_refresh_is_an_auth_error_a_person_can_act_on(factory, store, qbo_service):
    seed = qbo_service.issue_refresh_token()
    qbo_service.registry.revoke_all()
    with pytest.raises(AuthError) as err:
        QboTokenManager(factory, store, REALM, seed).access_token()
    assert "run `qbsync connect quickbooks`" in err.value.message
    assert store.load_qbo_tokens(REALM) is None


def test_wrong_client_secret_is_reported_as_such(qbo_service, qbo_server, store):
    def bad():
        return AuthClient(qbo_service.client_id, "wrong", "http://localhost:9/cb", discovery_url(qbo_server))
    with pytest.raises(AuthError) as err:
        QboTokenManager(bad, store, REALM, qbo_service.issue_refresh_token()).access_token()
    assert err.value.code == "invalid_client" and "QBO_CLIENT_SECRET" in err.value.message


def test_nothing_configured_or_stored(factory, store):
    with pytest.raises(AuthError) as err:
        QboTokenManager(factory, store, REALM, "").access_token()
    assert "qbsync connect quickbooks" in err.value.message


def test_one_refresh_at_a_time(factory, store, qbo_service):
    manager = QboTokenManager(factory, store, REALM, qbo_service.issue_refresh_token())
    tokens, errors = [], []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        try:
            tokens.append(manager.access_token())
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(tokens)) == 1
    assert qbo_service.registry.refresh_count == 1


def test_force_refresh_reuses_a_token_another_thread_already_replaced(factory, store, qbo_service):
    manager = QboTokenManager(factory, store, REALM, qbo_service.issue_refresh_token())
    old = manager.access_token()
    new = manager.force_refresh(old)
    assert new != old and qbo_service.registry.refresh_count == 2
    assert manager.force_refresh(old) == new  # a second caller holding the old token: no refresh
    assert qbo_service.registry.refresh_count == 2


class FailingSaveStore:
    """The real Store, except that saving fails (disk full): the new tokens must not be used."""

    def __init__(self, store):
        self.store = store

    def load_qbo_tokens(self, realm_id):
        return self.store.load_qbo_tokens(realm_id)

    def save_qbo_tokens(self, realm_id, tokens):
        raise OSError("disk full")


def test_tokens_are_not_used_when_they_could_not_be_saved(factory, store, qbo_service):
    manager = QboTokenManager(factory, FailingSaveStore(store), REALM, qbo_service.issue_refresh_token())
    with pytest.raises(OSError):
        manager.access_token()
    assert store.load_qbo_tokens(REALM) is None


def test_another_process_rotated_the_token_meanwhile(factory, store, qbo_service, store_path):
    seed = qbo_service.issue_refresh_token()
    ours = QboTokenManager(factory, store, REALM, seed)
    ours.access_token()
    theirs_store = Store(store_path)
    try:
        theirs = QboTokenManager(factory, theirs_store, REALM, seed)
        theirs.force_refresh()  # the CLI refreshed: our in-memory refresh token is now retired
    finally:
        theirs_store.close()
    fresh = ours.force_refresh("whatever-was-rejected")
    assert fresh == store.load_qbo_tokens(REALM)["access_token"]
