"""Queries on folders (picture_set)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Connection
from shared.db.rows import fetch_all, fetch_one, fetch_value


@dataclass(frozen=True)
class FolderRow:
    """A folder, with whether it is its owner's default folder."""

    id: UUID
    owner_id: UUID
    name: str
    is_default: bool


_FOLDER = """
    SELECT ps.id, ps.owner_id, ps.name, ps.id IS NOT DISTINCT FROM u.default_set_id AS is_default
    FROM picture_set ps JOIN users u ON u.id = ps.owner_id
"""


def insert(
    conn: Connection, owner_id: UUID, name: str, metadata: dict | None = None, *,
    folder_id: UUID | None = None,
) -> UUID:
    """Insert a folder (with `folder_id`, else a new id) and return its id. A duplicate
    (owner, name) raises UniqueViolation."""
    inserted: UUID = fetch_value(
        conn, "INSERT INTO picture_set (id, owner_id, name, metadata) VALUES (%s, %s, %s, %s) RETURNING id",
        [folder_id or uuid.uuid4(), owner_id, name, Jsonb(metadata or {})],
    )
    return inserted


def find_by_id(conn: Connection, folder_id: UUID) -> FolderRow | None:
    """The folder, or None."""
    return fetch_one(conn, FolderRow, _FOLDER + " WHERE ps.id = %s", [folder_id])


def find_by_name(conn: Connection, owner_id: UUID, name: str) -> FolderRow | None:
    """The owner's folder named `name` (any case), or None."""
    return fetch_one(
        conn, FolderRow, _FOLDER + " WHERE ps.owner_id = %s AND lower(ps.name) = lower(%s)", [owner_id, name]
    )


def lock_for_delete(conn: Connection, folder_id: UUID) -> FolderRow | None:
    """The folder, locked until the transaction ends: pictures inserted into it by others
    wait for this transaction (and then find it gone). None if there is none."""
    return fetch_one(conn, FolderRow, _FOLDER + " WHERE ps.id = %s FOR UPDATE OF ps", [folder_id])


def lock_for_insert(conn: Connection, folder_id: UUID) -> UUID | None:
    """The owner of the folder, which is kept from being deleted until the transaction ends;
    None if there is no such folder (a delete that committed first)."""
    return fetch_value(conn, "SELECT owner_id FROM picture_set WHERE id = %s FOR KEY SHARE", [folder_id])


def list_for_owner(conn: Connection, owner_id: UUID) -> list[FolderRow]:
    """The owner's folders, the default folder first, then by creation."""
    return fetch_all(
        conn, FolderRow, _FOLDER + " WHERE ps.owner_id = %s ORDER BY is_default DESC, ps.created_at, ps.id",
        [owner_id],
    )


def delete(conn: Connection, folder_id: UUID) -> None:
    """Delete the folder; its pictures, their inferences and boxes go with it (cascade)."""
    conn.execute("DELETE FROM picture_set WHERE id = %s", [folder_id])
