"""A request takes one connection from the pool for "who is asking" and the route's own
work, and always gives it back. Under load every checkout is a wait in the pool's queue:
with a lookup and a listing on two checkouts, get-directories waited twice where
get-user-id waited once, and its p50 was twice get-user-id's (bench/bench_load.py)."""

from __future__ import annotations

import uuid

import pytest
from psycopg_pool import ConnectionPool

from shared import settings
from tests.conftest import Client, assert_error
from tests.support.images import data_url, picture


@pytest.fixture
def checkouts(monkeypatch) -> list[int]:
    """Counts the connections taken from the pool (getconn), from now on."""
    count = [0]
    real_getconn = ConnectionPool.getconn

    def counting(self, *args, **kwargs):
        count[0] += 1
        return real_getconn(self, *args, **kwargs)

    monkeypatch.setattr(ConnectionPool, "getconn", counting)
    return count


def taken(count: list[int], call) -> int:
    """How many connections one `call()` takes, once the user is registered."""
    assert call().status_code == 200
    count[0] = 0
    r = call()
    assert r.status_code == 200, r.text
    return count[0]


@pytest.mark.parametrize("mode", ["production", "local"])
def test_light_routes_take_one_connection(app, checkouts, monkeypatch, mode):
    monkeypatch.setenv("NACHET_ENV", mode)
    settings.reset()
    email = f"light-{uuid.uuid4().hex[:8]}@example.org"
    client = Client(app.base_url, email if mode == "production" else None)
    who = {} if mode == "production" else {"email": email}
    user_id = client.post("get-user-id", who).json()["user_id"]
    assert taken(checkouts, lambda: client.post("get-user-id", who)) == 1
    assert taken(checkouts, lambda: client.post("get-directories", {**who, "container_name": user_id})) == 1
    assert taken(checkouts, lambda: client.post("create-dir", {
        **who, "container_name": user_id, "folder_name": f"Lot {uuid.uuid4().hex[:8]}"})) == 1


def test_the_connection_is_given_back_whatever_the_route_does(app, make_client, monkeypatch):
    """With a pool of one connection, a connection kept by the caller lookup and not given
    back would make the next request wait for the pool and answer 503."""
    monkeypatch.setenv("NACHET_DB_POOL_MAX_SIZE", "1")
    settings.reset()
    owner, other = make_client(), make_client()
    owner_id = owner.user_id()
    for _ in range(2):
        # Refused after the lookup, a route with no database work, a body that does not parse.
        assert_error(other.post("get-directories", {"container_name": owner_id}), 403)
        assert other.post("image-validation", {"image": data_url(picture())}).status_code == 200
        assert_error(other.post("create-dir", data="{"), 400)
        assert owner.post("get-directories", {"container_name": owner_id}).status_code == 200
