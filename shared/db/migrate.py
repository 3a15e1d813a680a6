"""Applies the numbered SQL migrations in shared/db/migrations, each once, in order.

A migration that needs the app (a setting, such as a key that SQL cannot read) adds a
Python step beside its SQL file, `NNNN_name.py` defining `run(conn)`: it runs right after
that SQL, in the same transaction.

All pending files run in one transaction and are recorded in `schema_version`; a
transaction-scoped advisory lock keeps instances that start together from racing, and
no session state is left behind, so it works behind PgBouncer in transaction mode.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

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

    Everything happens in one transaction, with a transaction-scoped advisory lock and
    SET LOCAL: behind PgBouncer in transaction mode, session state (a session lock, a
    session search_path) would land on whichever server connection the next statement
    gets. The pending migrations are applied all or none.

    Raises DependencyUnavailable when the database cannot be reached.
    """
    try:
        conn = psycopg.connect(db_url, connect_timeout=5, prepare_threshold=None)
    except psycopg.OperationalError as exc:
        raise DependencyUnavailable("the database is unavailable") from exc
    applied_now: list[int] = []
    with conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute("SELECT set_config('search_path', %s, true)", [schema])
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
            conn.execute(path.read_text())
            _run_python_step(conn, path.with_suffix(".py"))
            conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", [version, path.name])
            log.info("applied migration %s", path.name)
            applied_now.append(version)
    return applied_now


def _run_python_step(conn: psycopg.Connection[Any], path: Path) -> None:
    if not path.exists():
        return
    # Loaded from its file: a migration's name starts with its number, no module name.
    spec = importlib.util.spec_from_file_location(f"nachet_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None, f"{path} is a Python file"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.run(conn)
