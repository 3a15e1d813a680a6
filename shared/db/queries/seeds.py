"""Queries on the seed catalogue."""

from __future__ import annotations

from psycopg import Connection


def list_all(conn: Connection) -> list[dict]:
    """Every seed as {id, name}, sorted by name."""
    return conn.execute("SELECT id, name FROM seed ORDER BY lower(name), name").fetchall()


def find_by_name(conn: Connection, name: str) -> dict | None:
    """The seed named `name` (any case) as {id, name, object_type_id, data}, or None."""
    return conn.execute(
        "SELECT id, name, object_type_id, data FROM seed WHERE lower(name) = lower(%s)", [name]
    ).fetchone()
