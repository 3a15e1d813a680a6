"""Queries on the seed catalogue."""

from __future__ import annotations

from uuid import UUID

from shared.db.pool import Connection


def list_all(conn: Connection) -> list[dict]:
    """Every seed as {id, name}, sorted by name."""
    return conn.execute("SELECT id, name FROM seed ORDER BY lower(name), name").fetchall()


def find_by_name(conn: Connection, name: str) -> dict | None:
    """The seed named `name` (any case) as {id, name, object_type_id, data}, or None."""
    return conn.execute(
        "SELECT id, name, object_type_id, data FROM seed WHERE lower(name) = lower(%s)", [name]
    ).fetchone()


def insert_missing(conn: Connection, names: list[str]) -> list[dict]:
    """Add the names that the catalogue lacks (any case); return every seed so named as {id, name}."""
    conn.execute("INSERT INTO seed (name) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", [names])
    return conn.execute(
        "SELECT id, name FROM seed WHERE lower(name) = ANY(%s)", [[n.lower() for n in names]]
    ).fetchall()


def find_by_id(conn: Connection, seed_id: UUID) -> dict | None:
    """The seed {id, name, object_type_id, data}, or None."""
    return conn.execute("SELECT id, name, object_type_id, data FROM seed WHERE id = %s", [seed_id]).fetchone()
