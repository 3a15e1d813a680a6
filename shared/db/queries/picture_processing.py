"""Queries of the blob trigger on picture rows: find a blob's row, record what the blob really holds."""

from __future__ import annotations

from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Connection


def find_by_blob_name(conn: Connection, blob_name: str) -> dict | None:
    """The picture stored in `blob_name` as {id, content_type}, or None."""
    return conn.execute(
        "SELECT id, content_type FROM picture WHERE blob_name = %s", [blob_name]
    ).fetchone()


def record_processing(
    conn: Connection, picture_id: UUID, blob_name: str, *, sha256: str, metadata: dict,
    content_type: str | None = None, width: int | None = None, height: int | None = None,
) -> bool:
    """Set the picture's sha256, its content type and size when given, and merge `metadata`
    into its metadata (other keys are kept). Returns False when no picture has that id
    in that blob any more (deleted or moved meanwhile)."""
    cur = conn.execute(
        """
        UPDATE picture
        SET sha256 = %s,
            content_type = coalesce(%s, content_type),
            width = coalesce(%s, width),
            height = coalesce(%s, height),
            metadata = metadata || %s
        WHERE id = %s AND blob_name = %s
        """,
        [sha256, content_type, width, height, Jsonb(metadata), picture_id, blob_name],
    )
    return cur.rowcount == 1
