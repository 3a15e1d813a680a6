"""Applies the numbered SQL migrations in shared/db/migrations, each once, in order.

Each file runs in its own transaction and is recorded in `schema_version`; an
advisory lock keeps instances that start together from racing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql

from shared.errors import ConfigurationError, DependencyUnavailable

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x4E414348  # "NACH"


class MigrationMismatch(ConfigurationError):
    """The database's applied migrations are not the app's."""


def migration_files() -> list[tuple[int, Path]]:
    """The migrations as (version, path), in order."""
    files = sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    return [(int(p.name[:4]), p) for p in files]


def migrate(db_url: str, schema: str) -> list[int]:
    """Bring `schema` up to date; return the versions applied now.

    Raises DependencyUnavailable when the database cannot be reached.
    """
    try:
        conn = psycopg.connect(db_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise DependencyUnavailable("the database is unavailable") from exc
    applied_now: list[int] = []
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done: dict[int, str] = dict(conn.execute("SELECT version, name FROM schema_version").fetchall())
            for version, path in migration_files():
                if version in done:
                    if done[version] != path.name:
                        # Never run DDL over a schema that another history built.
                        raise MigrationMismatch(
                            f"migration {version} of this database is {done[version]}, but the app's "
                            f"is {path.name}: the database was migrated by another version of the app"
                        )
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute(
                        "INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                        [version, path.name],
                    )
                log.info("applied migration %s", path.name)
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
    return applied_now
