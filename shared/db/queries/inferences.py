"""Queries on inferences, their boxes (object) and the boxes' guesses (seed_obj)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Connection

_HEADER = """
    SELECT i.id, i.pipeline_id, i.picture_id, i.result, i.verified, p.blob_name
    FROM inference i JOIN picture p ON p.id = i.picture_id
"""


def insert(
    conn: Connection, *, inference_id: UUID, picture_id: UUID, user_id: UUID, pipeline_id: UUID,
    result: dict,
) -> None:
    """Insert an inference row."""
    conn.execute(
        "INSERT INTO inference (id, picture_id, user_id, pipeline_id, result) VALUES (%s, %s, %s, %s, %s)",
        [inference_id, picture_id, user_id, pipeline_id, Jsonb(result)],
    )


def insert_objects(conn: Connection, rows: Sequence[dict]) -> None:
    """Insert boxes, each {id, inference_id, position, box, color, overlapping,
    overlapping_indices, top_id}, in one pipelined batch. top_id may name a seed_obj row
    inserted later in the transaction (the foreign key is checked at commit)."""
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO object (id, inference_id, position, box, color, overlapping,
                                overlapping_indices, top_id)
            VALUES (%(id)s, %(inference_id)s, %(position)s, %(box)s, %(color)s, %(overlapping)s,
                    %(overlapping_indices)s, %(top_id)s)
            """,
            [{**row, "box": Jsonb(row["box"])} for row in rows],
        )


def insert_guesses(conn: Connection, rows: Sequence[dict]) -> None:
    """Insert guesses, each {id, object_id, seed_id, label, score, rank}, in one batch."""
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO seed_obj (id, object_id, seed_id, label, score, rank)
            VALUES (%(id)s, %(object_id)s, %(seed_id)s, %(label)s, %(score)s, %(rank)s)
            """,
            rows,
        )


def find(conn: Connection, inference_id: UUID) -> dict | None:
    """The inference {id, pipeline_id, picture_id, result, verified, blob_name}, or None."""
    return conn.execute(_HEADER + " WHERE i.id = %s", [inference_id]).fetchone()


def find_latest_for_picture(conn: Connection, picture_id: UUID) -> dict | None:
    """The picture's most recent inference, as `find` gives it, or None."""
    return conn.execute(
        _HEADER + " WHERE i.picture_id = %s ORDER BY i.created_at DESC, i.id DESC LIMIT 1",
        [picture_id],
    ).fetchone()


def list_objects(conn: Connection, inference_id: UUID) -> list[dict]:
    """The inference's boxes in model order: {id, position, box, color, overlapping,
    overlapping_indices, type_id, top_id, verified_id, valid, manual_detection}."""
    return conn.execute(
        """
        SELECT id, position, box, color, overlapping, overlapping_indices, type_id, top_id,
               verified_id, valid, manual_detection
        FROM object WHERE inference_id = %s ORDER BY position
        """,
        [inference_id],
    ).fetchall()


def list_guesses(conn: Connection, inference_id: UUID) -> list[dict]:
    """Every seed_obj row of the inference's boxes, by box and rank: {id, object_id,
    seed_id, label (the catalogue's name when it names a seed), score, rank}."""
    return conn.execute(
        """
        SELECT so.id, so.object_id, so.seed_id, coalesce(s.name, so.label) AS label,
               so.score, so.rank
        FROM seed_obj so
        JOIN object o ON o.id = so.object_id
        LEFT JOIN seed s ON s.id = so.seed_id
        WHERE o.inference_id = %s
        ORDER BY so.object_id, so.rank
        """,
        [inference_id],
    ).fetchall()
