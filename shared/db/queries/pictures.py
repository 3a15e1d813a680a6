"""Queries on pictures and their labels (picture_seed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple
from uuid import UUID

from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from shared.db.pool import Connection
from shared.db.rows import fetch_all, fetch_one, fetch_tuples, fetch_value, fetch_values


@dataclass(frozen=True)
class PictureRow:
    """A picture with its folder's owner and its thumbnail's blob name, once the blob
    trigger wrote it."""

    id: UUID
    picture_set_id: UUID
    owner_id: UUID
    blob_name: str
    content_type: str
    thumbnail: str | None


class ListedPicture(NamedTuple):
    """A picture as get-directories lists it. The ids are text, ready for JSON (parsing ten
    thousand UUIDs only to print them again costs more than the query). A NamedTuple, not
    a dataclass: a listing makes one per picture, and for ten thousand, dataclasses took
    two to three times as long as dicts, NamedTuples no longer."""

    id: str
    picture_set_id: str
    is_validated: bool
    inference_exist: bool
    thumbnail: str | None


@dataclass(frozen=True)
class PictureBlob:
    """A picture's id and blob name."""

    id: UUID
    blob_name: str


def insert(
    conn: Connection, *, picture_id: UUID, folder_id: UUID, blob_name: str, content_type: str,
    width: int, height: int, sha256: str, metadata: dict | None = None,
    upload_session_id: UUID | None = None,
) -> bool:
    """Insert a picture row (its blob must already be written), keeping its folder from
    being deleted until the transaction ends. Returns False, inserting nothing, when the
    folder is gone (a delete that committed first), or when `upload_session_id` is given
    and a picture with the same sha256 was already uploaded in that session (also by a
    transaction that commits meanwhile)."""
    inserted = fetch_value(
        conn,
        """
        INSERT INTO picture (id, picture_set_id, blob_name, content_type, width, height, sha256,
                             metadata, upload_session_id)
        SELECT %s, ps.id, %s, %s, %s, %s, %s, %s, %s
        FROM picture_set ps WHERE ps.id = %s FOR KEY SHARE
        ON CONFLICT (upload_session_id, sha256) WHERE upload_session_id IS NOT NULL DO NOTHING
        RETURNING id
        """,
        [picture_id, blob_name, content_type, width, height, sha256, Jsonb(metadata or {}),
         upload_session_id, folder_id],
    )
    return inserted is not None


def uploaded_in_session(conn: Connection, session_id: UUID, sha256: str) -> bool:
    """Whether a picture with these bytes was already uploaded in the session."""
    return fetch_value(
        conn, "SELECT 1 FROM picture WHERE upload_session_id = %s AND sha256 = %s", [session_id, sha256]
    ) is not None


def add_label(conn: Connection, picture_id: UUID, seed_id: UUID) -> None:
    """Label the picture with a seed: it is validated (ground truth)."""
    conn.execute(
        "INSERT INTO picture_seed (picture_id, seed_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        [picture_id, seed_id],
    )


def find(conn: Connection, picture_id: UUID) -> PictureRow | None:
    """The picture, or None."""
    return fetch_one(
        conn, PictureRow,
        """
        SELECT p.id, p.picture_set_id, ps.owner_id, p.blob_name, p.content_type,
               p.metadata->>'thumbnail' AS thumbnail
        FROM picture p JOIN picture_set ps ON ps.id = p.picture_set_id
        WHERE p.id = %s
        """,
        [picture_id],
    )


def list_for_owner(conn: Connection, owner_id: UUID) -> list[ListedPicture]:
    """Every picture in the owner's folders, oldest first: one query for all folders."""
    return fetch_tuples(
        conn, ListedPicture,
        """
        SELECT p.id::text AS id, p.picture_set_id::text AS picture_set_id,
               EXISTS (SELECT 1 FROM picture_seed s WHERE s.picture_id = p.id) AS is_validated,
               EXISTS (SELECT 1 FROM inference i WHERE i.picture_id = p.id) AS inference_exist,
               p.metadata->>'thumbnail' AS thumbnail
        FROM picture p JOIN picture_set ps ON ps.id = p.picture_set_id
        WHERE ps.owner_id = %s
        ORDER BY p.uploaded_at, p.id
        """,
        [owner_id],
    )


def has_validated(conn: Connection, folder_id: UUID) -> bool:
    """Whether the folder holds at least one validated picture."""
    found: bool = fetch_value(
        conn,
        """
        SELECT EXISTS (
            SELECT 1 FROM picture p JOIN picture_seed s ON s.picture_id = p.id
            WHERE p.picture_set_id = %s
        )
        """,
        [folder_id],
    )
    return found


def list_validated(conn: Connection, folder_id: UUID) -> list[PictureBlob]:
    """The folder's validated pictures."""
    return fetch_all(
        conn, PictureBlob,
        """
        SELECT p.id, p.blob_name FROM picture p
        WHERE p.picture_set_id = %s
          AND EXISTS (SELECT 1 FROM picture_seed s WHERE s.picture_id = p.id)
        ORDER BY p.id
        """,
        [folder_id],
    )


def move(conn: Connection, new_blob_names: dict[UUID, str], folder_id: UUID, audit: dict) -> set[UUID]:
    """Move pictures into `folder_id` under new blob names, recording `audit` in each
    picture's metadata as `archived_from`; their inferences, boxes and labels follow.
    Their `thumbnail` goes (it is the old blob's, deleted with it): the blob trigger
    records the new blob's. Returns the ids of the pictures moved."""
    ids = list(new_blob_names)
    moved = fetch_values(
        conn,
        """
        UPDATE picture p
        SET picture_set_id = %(folder_id)s,
            blob_name = m.blob_name,
            metadata = (p.metadata - 'thumbnail') || jsonb_build_object(
                'archived_from', %(audit)s::jsonb || jsonb_build_object('archived_at', now()))
        FROM unnest(%(ids)s::uuid[], %(names)s::text[]) AS m(id, blob_name)
        WHERE p.id = m.id
        RETURNING p.id
        """,
        {"folder_id": folder_id, "audit": Jsonb(audit), "ids": ids,
         "names": [new_blob_names[i] for i in ids]},
    )
    return set(moved)


def delete_in_folder(conn: Connection, folder_id: UUID) -> list[str]:
    """Delete the folder's pictures (inferences, boxes and labels cascade); return their
    blob names."""
    return fetch_values(
        conn, "DELETE FROM picture WHERE picture_set_id = %s RETURNING blob_name", [folder_id]
    )


def iter_blob_names(conn: Connection) -> Iterator[tuple[UUID, str]]:
    """(id, blob_name) of every picture, streamed."""
    with conn.cursor(row_factory=tuple_row) as cur:
        yield from cur.stream("SELECT id, blob_name FROM picture")


def referenced_blob_names(conn: Connection, blob_names: list[str]) -> set[str]:
    """Those of `blob_names` that a picture row points at."""
    return set(fetch_values(conn, "SELECT blob_name FROM picture WHERE blob_name = ANY(%s)", [blob_names]))
