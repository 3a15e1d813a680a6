"""Queries that record analysts' feedback: the inference locked, boxes corrected, the
inference verified and its picture labelled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Connection
from shared.db.rows import fetch_one, fetch_value


@dataclass(frozen=True)
class LockedInference:
    """An inference locked for feedback, with its picture's folder, owner and size."""

    id: UUID
    picture_id: UUID
    folder_id: UUID
    owner_id: UUID  # the folder's
    width: int
    height: int
    verified: bool
    result: dict[str, Any]


@dataclass(frozen=True)
class BoxState:
    """A box's state as feedback leaves it."""

    id: UUID
    box: dict[str, int]
    verified_id: UUID | None
    valid: bool
    manual_detection: bool
    comment: str | None  # None keeps the stored one


# An inference (i) with its picture (p) and the picture's folder (ps).
_INFERENCE_IN_FOLDER = """
    inference i
    JOIN picture p ON p.id = i.picture_id
    JOIN picture_set ps ON ps.id = p.picture_set_id
"""


def lock_folder_of(conn: Connection, inference_id: UUID) -> UUID | None:
    """The folder of the inference's picture, kept from being deleted until the
    transaction ends; None if there is no such inference (or a delete committed first)."""
    return fetch_value(
        conn, f"SELECT ps.id FROM {_INFERENCE_IN_FOLDER} WHERE i.id = %s FOR KEY SHARE OF ps", [inference_id]
    )


def lock_inference(conn: Connection, inference_id: UUID) -> LockedInference | None:
    """The inference, locked until the transaction ends; or None."""
    return fetch_one(
        conn, LockedInference,
        f"""
        SELECT i.id, i.picture_id, p.picture_set_id AS folder_id, ps.owner_id, p.width, p.height,
               i.verified, i.result
        FROM {_INFERENCE_IN_FOLDER}
        WHERE i.id = %s
        FOR UPDATE OF i
        """,
        [inference_id],
    )


def find_box_owner(conn: Connection, box_id: UUID) -> UUID | None:
    """The owner of the box's picture's folder, or None when there is no such box."""
    return fetch_value(
        conn,
        f"SELECT ps.owner_id FROM {_INFERENCE_IN_FOLDER} JOIN object o ON o.inference_id = i.id"
        " WHERE o.id = %s",
        [box_id],
    )


def update_boxes(conn: Connection, rows: Sequence[BoxState]) -> None:
    """Store boxes' new state in one batch."""
    with conn.cursor() as cur:
        cur.executemany(
            """
            UPDATE object
            SET box = %s, verified_id = %s, valid = %s, manual_detection = %s,
                comment = coalesce(%s, comment), updated_at = now()
            WHERE id = %s
            """,
            [(Jsonb(r.box), r.verified_id, r.valid, r.manual_detection, r.comment, r.id) for r in rows],
        )


def set_overlapping_indices(conn: Connection, indices: dict[UUID, list[int]]) -> None:
    """Store which boxes each box overlaps (1-based positions), by box id."""
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE object SET overlapping_indices = %s WHERE id = %s",
            [(list(value), box_id) for box_id, value in indices.items()],
        )


def record_feedback(conn: Connection, inference_id: UUID, user_id: UUID, counts: dict) -> bool:
    """Note who gave feedback and when, store `counts` ({labelOccurrence, totalBoxes}) in
    the result, and mark the inference verified when each of its boxes is verified or
    invalid. Returns whether it is verified. The inference must exist (the caller holds
    its lock)."""
    verified = fetch_value(
        conn,
        """
        UPDATE inference i
        SET feedback_user_id = %s, updated_at = now(), result = i.result || %s,
            verified = NOT EXISTS (
                SELECT 1 FROM object o WHERE o.inference_id = i.id AND o.valid AND o.verified_id IS NULL)
        WHERE i.id = %s
        RETURNING i.verified
        """,
        [user_id, Jsonb(counts), inference_id],
    )
    assert verified is not None, "the inference is locked by the caller, so it exists"
    return bool(verified)


def label_picture(conn: Connection, inference_id: UUID) -> None:
    """Give the inference's picture one picture_seed row per distinct seed of its valid
    verified boxes (rows it has already are kept)."""
    conn.execute(
        """
        INSERT INTO picture_seed (picture_id, seed_id)
        SELECT DISTINCT i.picture_id, so.seed_id
        FROM inference i
        JOIN object o ON o.inference_id = i.id
        JOIN seed_obj so ON so.id = o.verified_id
        WHERE i.id = %s AND o.valid AND so.seed_id IS NOT NULL
        ON CONFLICT DO NOTHING
        """,
        [inference_id],
    )
