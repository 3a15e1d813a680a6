"""The app behind a real PgBouncer in transaction mode (Debian's pgbouncer, in front of the
session's PostgreSQL), where each transaction may get another server connection: the
migrations and the routes keep no session state that such a pool would mix up."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from shared import settings
from shared.db.migrate import migrate, migration_files
from tests.conftest import Client
from tests.support.inference import body, sample_url
from tests.support.pgbouncer import PgBouncer, start_pgbouncer


@pytest.fixture(scope="module")
def pgbouncer(services, tmp_path_factory) -> Iterator[PgBouncer]:
    """A PgBouncer of this module's own, with only four server connections per database so
    that consecutive transactions of one client really land on different ones."""
    bouncer = start_pgbouncer(services.admin_url, tmp_path_factory.mktemp("pgbouncer"), pool_size=4)
    yield bouncer
    bouncer.stop()


@pytest.fixture
def empty_db(services) -> Iterator[str]:
    name = f"bouncer_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    yield name
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_racing_migrations_through_pgbouncer_apply_each_once(pgbouncer, empty_db, services):
    url = pgbouncer.url(empty_db)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(url, "nachet"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(v for r in results for v in r) == [v for v, _ in migration_files()]
    assert migrate(url, "nachet") == []
    with psycopg.connect(services.direct_url(empty_db)) as conn:
        # Nothing landed outside the app's schema, and no advisory lock is left held.
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone() == (0,)


def test_the_routes_through_pgbouncer(app, pgbouncer, monkeypatch):
    monkeypatch.setenv("NACHET_DB_URL", pgbouncer.url(str(conninfo_to_dict(app.direct_url)["dbname"])))
    settings.reset()
    clients = [Client(app.base_url, f"analyst{i}@example.org") for i in range(4)]

    def work(client: Client) -> None:
        user_id = client.user_id()
        for n in range(3):
            r = client.post("create-dir", {"container_name": user_id, "folder_name": f"Lot {n}"})
            assert r.status_code == 200, r.text
            assert client.post("get-directories", {"container_name": user_id}).status_code == 200
        r = client.post("inf", body(user_id, sample_url()))
        assert r.status_code == 200, r.text

    with ThreadPoolExecutor(len(clients)) as pool:
        for done in [pool.submit(work, c) for c in clients]:
            done.result(120)
    assert app.sql("SELECT count(*) FROM picture_set") == [(4 * 4,)]  # General and three lots each
    assert app.sql("SELECT count(*) FROM inference") == [(4,)]
