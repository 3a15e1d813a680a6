"""Queries on folders (picture_set)."""

from __future__ import annotations

from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb


def insert(conn: Connection, owner_id: UUID, name: str, metadata: dict | None = None) -> UUID:
    """Insert a folder and return its id. A duplicate (owner, name) raises UniqueViolation."""
    row = conn.execute(
        "INSERT INTO picture_set (owner_id, name, metadata) VALUES (%s, %s, %s) RETURNING id",
        [owner_id, name, Jsonb(metadata or {})],
    ).fetchone()
    return row["id"]


def find_by_id(conn: Connection, folder_id: UUID) -> dict | None:
    """The folder {id, owner_id, name, metadata}, or None."""
    return conn.execute(
        "SELECT id, owner_id, name, metadata FROM picture_set WHERE id = %s", [folder_id]
    ).fetchone()


def find_by_name(conn: Connection, owner_id: UUID, name: str) -> dict | None:
    """The owner's folder named `name` (any case) as {id, owner_id, name, metadata}, or None."""
    return conn.execute(
        "SELECT id, owner_id, name, metadata FROM picture_set"
        " WHERE owner_id = %s AND lower(name) = lower(%s)",
        [owner_id, name],
    ).fetchone()
