"""The connection pool under load. A light request takes one connection from the pool for
"who is asking" and the route's own work, and always gives it back (under load every
checkout is a wait in the pool's queue: with a lookup and a listing on two checkouts,
get-directories waited twice where get-user-id waited once, and its p50 was twice
get-user-id's, bench/bench_load.py). A route that first reads a picture holds no
connection meanwhile; nothing outside a request keeps one. A pool with no connection free
answers 503 and stays the one pool; a deadlock is a 503 to try again."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from shared import settings
from shared.db import connection
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


@pytest.fixture
def pool_of_one(app, monkeypatch) -> None:
    """The app's pool limited to one connection, and a short wait for it."""
    monkeypatch.setenv("NACHET_DB_POOL_MAX_SIZE", "1")
    monkeypatch.setenv("NACHET_DB_TIMEOUT_S", "1")
    settings.reset()


def test_a_saturated_pool_answers_busy_and_opens_no_second_pool(app, client, pool_of_one):
    """The pool's one connection held (by a long transaction, in this process): a request
    waits for it, answers 503, and the pool is not replaced by a new one beside the held
    connection, which would take the instance past NACHET_DB_POOL_MAX_SIZE connections
    (and answer the next request with a second connection)."""
    user_id = client.user_id()
    listing = {"container_name": user_id}
    with connection() as held:
        for _ in range(2):
            assert_error(client.post("get-directories", listing), 503, "database", "busy")
        held.execute("SELECT 1")  # still the pool's, and working
    assert client.post("get-directories", listing).status_code == 200


def test_a_route_reading_a_picture_holds_no_connection_meanwhile(app, make_client, pool_of_one,
                                                                monkeypatch):
    """image-validation decodes its picture before any database work: the caller lookup's
    connection goes back to the pool first, so that a light route is served meanwhile."""
    from shared.http import image_checks

    parsing, go_on = threading.Event(), threading.Event()
    real_parse = image_checks.sent_image

    def slow_parse(request):
        parsing.set()
        assert go_on.wait(30)
        return real_parse(request)

    monkeypatch.setattr(image_checks, "sent_image", slow_parse)
    validator, lister = make_client(), make_client()
    lister_id = lister.user_id()
    with ThreadPoolExecutor(1) as pool:
        validation = pool.submit(validator.post, "image-validation", {"image": data_url(picture())})
        assert parsing.wait(30)
        try:
            r = lister.post("get-directories", {"container_name": lister_id})
        finally:
            go_on.set()
        assert r.status_code == 200, r.text
        assert validation.result().status_code == 200


def test_a_caller_lookup_outside_a_request_keeps_no_connection(app, client, pool_of_one):
    """identity's lookups keep their connection only inside a request that asks for it: a
    blob trigger, an admin command or a bench calling them on a thread of their own must not
    leave the connection to that thread's next invocation."""
    from shared.identity import get_or_register

    get_or_register(f"outside-{uuid.uuid4().hex[:8]}@example.org")
    user_id = client.user_id()
    assert client.post("get-directories", {"container_name": user_id}).status_code == 200


def test_a_deadlock_is_a_503_to_try_again(app, client, monkeypatch):
    """create-dir's transaction deadlocks with another one (real locks on the server): the
    database aborts it; the client is told to try again, nothing is written, and the next
    request is served."""
    from shared.db.queries import folders

    user_id = client.user_id()
    holds_first, other_waits = threading.Event(), threading.Event()
    real_insert = folders.insert

    def insert_after_two_locks(conn, *args, **kwargs):
        conn.execute("SELECT pg_advisory_xact_lock(1)")
        holds_first.set()
        assert other_waits.wait(30)
        conn.execute("SELECT pg_advisory_xact_lock(2)")  # the other transaction holds it
        return real_insert(conn, *args, **kwargs)

    monkeypatch.setattr(folders, "insert", insert_after_two_locks)
    with psycopg.connect(app.direct_url) as other, ThreadPoolExecutor(2) as pool:
        # Its own deadlock check runs late, so that the app's transaction is the one aborted.
        other.execute("SET LOCAL deadlock_timeout = '60s'")
        other.execute("SELECT pg_advisory_xact_lock(2)")
        created = pool.submit(client.post, "create-dir", {"container_name": user_id, "folder_name": "Lot A"})
        assert holds_first.wait(30)
        waiting = pool.submit(other.execute, "SELECT pg_advisory_xact_lock(1)")
        deadline = time.monotonic() + 30
        while not app.sql("SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                          " WHERE d.datname = current_database() AND l.locktype = 'advisory'"
                          " AND NOT l.granted"):
            assert time.monotonic() < deadline, "the other transaction never waited for the lock"
            time.sleep(0.02)
        other_waits.set()
        assert_error(created.result(), 503, "database", "try again")
        waiting.result(timeout=30)  # granted once the app's transaction rolled back
    monkeypatch.setattr(folders, "insert", real_insert)
    assert app.sql("SELECT count(*) FROM picture_set WHERE name = 'Lot A'") == [(0,)]
    assert client.post("create-dir", {"container_name": user_id, "folder_name": "Lot A"}).status_code == 200
