"""GET /api/health: real checks of the database and the storage, 503 naming the part
that is down, and recovery without a restart when it comes back."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from devhost.services import azurite_connection_string, free_port, start_azurite, stop
from shared import settings
from tests.conftest import ROOT, Client, assert_error
from tests.support.faults import own_postgres as postgres_of_its_own
from tests.support.faults import stop_postgres


def test_health_ok(app):
    r = Client(app.base_url, None).get("health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "storage": "ok"}


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
    assert_error(client.get("health"), 503, "database")
    own_postgres.ensure_postgres_running()
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
        assert_error(client.get("health"), 503, "storage")
        azurite = start_azurite(ROOT, folder, port)
        assert client.get("health").status_code == 200
    finally:
        stop(azurite)
        settings.reset()


def test_both_down_names_both(app, own_postgres, monkeypatch):
    monkeypatch.setenv("NACHET_AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string(free_port()))
    settings.reset()
    stop_postgres(own_postgres)
    assert_error(Client(app.base_url, None).get("health"), 503, "database", "storage")
