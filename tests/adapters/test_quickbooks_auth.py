"""QboTokenManager against the sandbox's OAuth endpoints (intuit-oauth's AuthClient over HTTP)
and the real Store."""
from __future__ import annotations

import threading
import time

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

    def qbo_token_lock(self, realm_id, **kw):
        return self.store.qbo_token_lock(realm_id, **kw)

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


class SlowSaveStore:
    """The real Store of a second process whose save lands late (descheduled between Intuit's
    answer and the write): `answered` is set when its refresh came back, the save follows
    `delay_s` later."""

    def __init__(self, store, delay_s: float):
        self.store, self.delay_s = store, delay_s
        self.answered = threading.Event()

    def __getattr__(self, name):
        return getattr(self.store, name)

    def save_qbo_tokens(self, realm_id, tokens):
        self.answered.set()
        time.sleep(self.delay_s)
        self.store.save_qbo_tokens(realm_id, tokens)


def test_two_processes_refreshing_at_once_refresh_once(factory, qbo_service, store_target):
    """The listener and a worker (two processes, one database) both find the access token
    expired. Intuit retires a refresh token once it is used (the stand-in plays that), so the
    second to refresh with the same token gets invalid_grant; if the first has not saved the
    new one yet, that became "reconnect the books" and a failed scan (seen in the
    multi-company benchmark under load). The refresh is one at a time across processes: the
    second waits, reads the first's tokens and uses them."""
    seed = qbo_service.issue_refresh_token()
    first_store, second_store = Store(store_target), Store(store_target)
    try:
        slow = SlowSaveStore(first_store, delay_s=1.0)
        first = QboTokenManager(factory, slow, REALM, seed)
        second = QboTokenManager(factory, second_store, REALM, seed)
        got: dict[str, object] = {}

        def run_first():
            try:
                got["first"] = first.access_token()
            except Exception as exc:  # pragma: no cover - the assertion below shows it
                got["first"] = exc

        t = threading.Thread(target=run_first)
        t.start()
        assert slow.answered.wait(10)  # the first has its new tokens, not saved yet
        got["second"] = second.access_token()
        t.join(10)
        assert got["first"] == got["second"], got
        assert qbo_service.registry.check_access(got["second"]) is not None
        assert qbo_service.registry.refresh_count == 1
        assert second_store.load_qbo_tokens(REALM)["access_token"] == got["second"]
    finally:
        first_store.close()
        second_store.close()


def test_a_refresh_stuck_in_another_process_is_a_transient_error_not_a_reconnect(factory, qbo_service, store_target,
                                                                               monkeypatch):
    """The lock's holder hangs (an HTTP call without an answer): the others stop waiting after
    SHARED_LOCK_WAIT_S and say so as a passing problem, never "reconnect the books"; once the
    holder lets go, the next call refreshes."""
    from bot.adapters import qbo_auth
    from bot.errors import Transient

    monkeypatch.setattr(qbo_auth, "SHARED_LOCK_WAIT_S", 0.3)
    holder, ours = Store(store_target), Store(store_target)
    try:
        manager = QboTokenManager(factory, ours, REALM, qbo_service.issue_refresh_token())
        with holder.qbo_token_lock(REALM):
            with pytest.raises(Transient) as caught:
                manager.access_token()
        assert caught.value.words == "qbo_refresh_busy" and qbo_service.registry.refresh_count == 0
        assert qbo_service.registry.check_access(manager.access_token()) is not None
        assert qbo_service.registry.refresh_count == 1
    finally:
        holder.close()
        ours.close()


@pytest.mark.timeout(60)
def test_a_token_call_intuit_never_answers_times_out_and_lets_the_others_go(factory, qbo_service, store_target,
                                                                            monkeypatch):
    """intuitlib sends its token calls without a timeout; qbsync gives them one, so a
    connection Intuit accepts and never answers ends as a passing error, and the lock every
    process refreshes under is free again."""
    import socket

    from bot.adapters import qbo_auth
    from bot.errors import Transient

    monkeypatch.setattr(qbo_auth, "TOKEN_CALL_TIMEOUT_S", 0.5)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts (the kernel does), never answers
    store = Store(store_target)
    try:
        def hanging():
            client = factory()
            client.token_endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}/oauth2/v1/tokens/bearer"
            return client

        manager = QboTokenManager(hanging, store, REALM, qbo_service.issue_refresh_token())
        started = time.monotonic()
        with pytest.raises(Transient) as caught:
            manager.access_token()
        assert time.monotonic() - started < 10 and "Timeout" in caught.value.message
        with store.qbo_token_lock(REALM, timeout_s=0.2):
            pass  # released
    finally:
        silent.close()
        store.close()
