"""shared.db.migrate: an empty database migrated from scratch, once, even when instances race."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from shared.db.migrate import MigrationMismatch, migrate, migration_files


@pytest.fixture
def empty_db(services):
    name = f"empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    yield services.db_url(name)
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migration_files_are_numbered_one_after_another():
    versions = [v for v, _ in migration_files()]
    assert versions == list(range(1, len(versions) + 1))


def test_empty_database_is_migrated_in_order_then_left_alone(empty_db):
    versions = [v for v, _ in migration_files()]
    assert migrate(empty_db, "nachet") == versions
    assert migrate(empty_db, "nachet") == []
    with psycopg.connect(empty_db) as conn:
        rows = conn.execute("SELECT version FROM nachet.schema_version ORDER BY version").fetchall()
        seeds = conn.execute("SELECT count(*) FROM nachet.seed").fetchone()[0]
        default = conn.execute("SELECT name FROM nachet.pipeline WHERE is_default").fetchall()
    assert [r[0] for r in rows] == versions
    assert seeds == 15
    assert default == [("seed-detector-builtin",)]


def test_instances_starting_together_apply_each_migration_once(empty_db):
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda: results.append(migrate(empty_db, "nachet"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    applied = sorted(v for r in results for v in r)
    assert applied == [v for v, _ in migration_files()]


def test_database_from_another_history_is_refused_not_migrated_over(empty_db):
    migrate(empty_db, "nachet")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("UPDATE nachet.schema_version SET name = '0003_something_else.sql' WHERE version = 3")
    with pytest.raises(MigrationMismatch, match=r"0003_something_else\.sql"):
        migrate(empty_db, "nachet")
