"""Queries of the blob trigger on picture rows: find a blob's row, record what the blob really holds."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Connection
from shared.db.rows import fetch_one


@dataclass(frozen=True)
class BlobPicture:
    """The picture row of a blob: what the trigger needs of it."""

    id: UUID
    content_type: str  # as stored at upload
    sha256: str | None
    thumbnail: str | None  # the thumbnail's blob name recorded in its metadata
    checked: bool  # its metadata records the checks


def find_by_blob_name(conn: Connection, blob_name: str) -> BlobPicture | None:
    """The picture stored in `blob_name`, or None."""
    return fetch_one(
        conn, BlobPicture,
        "SELECT id, content_type, sha256, metadata ->> 'thumbnail' AS thumbnail,"
        " metadata ? 'checks' AS checked FROM picture WHERE blob_name = %s",
        [blob_name],
    )


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
