"""Queries on pictures."""

from __future__ import annotations

from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb


def insert(
    conn: Connection, *, picture_id: UUID, folder_id: UUID, blob_name: str, content_type: str,
    width: int, height: int, sha256: str, metadata: dict | None = None,
) -> None:
    """Insert a picture row (its blob must already be written)."""
    conn.execute(
        """
        INSERT INTO picture (id, picture_set_id, blob_name, content_type, width, height, sha256, metadata)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        """,
        [picture_id, folder_id, blob_name, content_type, width, height, sha256, Jsonb(metadata or {})],
    )
