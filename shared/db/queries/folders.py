"""Queries on folders (picture_set)."""

from __future__ import annotations

import uuid
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Connection

# A folder row with whether it is its owner's default folder.
_FOLDER = """
    SELECT ps.id, ps.owner_id, ps.name, ps.metadata, ps.created_at,
           ps.id IS NOT DISTINCT FROM u.default_set_id AS is_default
    FROM picture_set ps JOIN users u ON u.id = ps.owner_id
"""


def insert(
    conn: Connection, owner_id: UUID, name: str, metadata: dict | None = None, *,
    folder_id: UUID | None = None,
) -> UUID:
    """Insert a folder (with `folder_id`, else a new id) and return its id. A duplicate
    (owner, name) raises UniqueViolation."""
    row = conn.execute(
        "INSERT INTO picture_set (id, owner_id, name, metadata) VALUES (%s, %s, %s, %s) RETURNING id",
        [folder_id or uuid.uuid4(), owner_id, name, Jsonb(metadata or {})],
    ).fetchone()
    assert row is not None, "INSERT … RETURNING gives one row"
    return row["id"]


def find_by_id(conn: Connection, folder_id: UUID) -> dict | None:
    """The folder {id, owner_id, name, metadata, created_at, is_default}, or None."""
    return conn.execute(_FOLDER + " WHERE ps.id = %s", [folder_id]).fetchone()


def find_by_name(conn: Connection, owner_id: UUID, name: str) -> dict | None:
    """The owner's folder named `name` (any case), as find_by_id, or None."""
    return conn.execute(
        _FOLDER + " WHERE ps.owner_id = %s AND lower(ps.name) = lower(%s)", [owner_id, name]
    ).fetchone()


def lock_for_delete(conn: Connection, folder_id: UUID) -> dict | None:
    """The folder as find_by_id, locked until the transaction ends: pictures inserted into
    it by others wait for this transaction (and then find it gone). None if there is none."""
    return conn.execute(_FOLDER + " WHERE ps.id = %s FOR UPDATE OF ps", [folder_id]).fetchone()


def lock_for_insert(conn: Connection, folder_id: UUID) -> UUID | None:
    """The owner of the folder, which is kept from being deleted until the transaction ends;
    None if there is no such folder (a delete that committed first)."""
    row = conn.execute(
        "SELECT owner_id FROM picture_set WHERE id = %s FOR KEY SHARE", [folder_id]
    ).fetchone()
    return row["owner_id"] if row else None


def list_for_owner(conn: Connection, owner_id: UUID) -> list[dict]:
    """The owner's folders as find_by_id, the default folder first, then by creation."""
    return conn.execute(
        _FOLDER + " WHERE ps.owner_id = %s ORDER BY is_default DESC, ps.created_at, ps.id", [owner_id]
    ).fetchall()


def delete(conn: Connection, folder_id: UUID) -> None:
    """Delete the folder; its pictures, their inferences and boxes go with it (cascade)."""
    conn.execute("DELETE FROM picture_set WHERE id = %s", [folder_id])
