"""GET /api/health: real checks of the database and the storage, at most every FRESH_S
seconds per process, 503 naming the part that is down, and recovery without a restart when
it comes back."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from devhost.services import azurite_connection_string, free_port, start_azurite, stop
from shared import settings, storage
from shared.services.health import FRESH_S
from tests.conftest import ROOT, Client, assert_error
from tests.support.faults import own_postgres as postgres_of_its_own
from tests.support.faults import stop_postgres


def past_the_cached_answer() -> None:
    """Wait until the answer checked before is no longer given (a wait, not a timing)."""
    time.sleep(FRESH_S)


def test_health_ok(app):
    r = Client(app.base_url, None).get("health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "storage": "ok"}


def test_health_is_checked_at_most_every_few_seconds(app, monkeypatch):
    # Anonymous: each request would be a database round trip and a storage request.
    pings = []
    real_ping = storage.ping
    monkeypatch.setattr(storage, "ping", lambda: (pings.append(1), real_ping())[1])
    client = Client(app.base_url, None)
    for _ in range(5):
        assert client.get("health").status_code == 200
    assert len(pings) == 1
    past_the_cached_answer()
    assert client.get("health").status_code == 200
    assert len(pings) == 2


@pytest.fixture
def own_postgres(app, scratch, monkeypatch):
    """A PostgreSQL of this test's own, so that it can be stopped and started."""
    with postgres_of_its_own(scratch / f"pg-{uuid.uuid4().hex[:8]}") as server:
        monkeypatch.setenv("NACHET_DB_URL", server.get_uri())
        settings.reset()
        yield server
        settings.reset()


def test_database_down_is_503_and_recovers(app, own_postgres):
    client = Client(app.base_url, None)
    assert client.get("health").status_code == 200
    stop_postgres(own_postgres)
    past_the_cached_answer()
    assert_error(client.get("health"), 503, "database")
    own_postgres.ensure_postgres_running()
    past_the_cached_answer()
    r = client.get("health")
    assert r.status_code == 200, r.text


def test_a_restart_while_idle_is_not_seen_by_the_next_requests(app, own_postgres):
    """The pool checks no connection when it hands one out: the first statement of each
    transaction finds the ones the restart broke, and the request goes on with another."""
    clients = [Client(app.base_url, f"idle-{n}@example.org") for n in range(4)]
    with ThreadPoolExecutor(len(clients)) as pool:
        for _ in range(3):  # several connections left idle in the pool
            assert set(pool.map(lambda c: c.post("get-user-id").status_code, clients)) == {200}
        stop_postgres(own_postgres)
        own_postgres.ensure_postgres_running()
        assert clients[0].post("get-user-id").status_code == 200
        assert set(pool.map(lambda c: c.post("get-user-id").status_code, clients)) == {200}


def test_database_down_at_first_request_recovers(app, own_postgres):
    stop_postgres(own_postgres)
    client = Client(app.base_url, "analyst@example.org")
    assert_error(client.post("get-user-id"), 503, "database")
    own_postgres.ensure_postgres_running()
    assert client.post("get-user-id").status_code == 200


def test_storage_down_is_503_and_recovers(app, scratch, monkeypatch):
    port = free_port()
    folder = scratch / f"azurite-{port}"
    azurite = start_azurite(ROOT, folder, port)
    try:
        monkeypatch.setenv("NACHET_AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string(port))
        settings.reset()
        client = Client(app.base_url, None)
        assert client.get("health").status_code == 200
        azurite.kill()  # a crash, not a clean stop
        azurite.wait()
        past_the_cached_answer()
        assert_error(client.get("health"), 503, "storage")
        azurite = start_azurite(ROOT, folder, port)
        past_the_cached_answer()
        assert client.get("health").status_code == 200
    finally:
        stop(azurite)
        settings.reset()


def test_both_down_names_both(app, own_postgres, monkeypatch):
    monkeypatch.setenv("NACHET_AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string(free_port()))
    settings.reset()
    stop_postgres(own_postgres)
    assert_error(Client(app.base_url, None).get("health"), 503, "database", "storage")
