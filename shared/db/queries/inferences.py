"""Queries on inferences, their boxes (object) and the boxes' guesses (seed_obj)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Connection
from shared.db.rows import fetch_all, fetch_one


@dataclass(frozen=True)
class InferenceRow:
    """An inference with its picture's blob name."""

    id: UUID
    pipeline_id: UUID
    picture_id: UUID
    result: dict[str, Any]
    verified: bool
    blob_name: str


@dataclass(frozen=True)
class BoxRow:
    """A box (object row). The defaults are a new box's, as a model found it."""

    id: UUID
    inference_id: UUID
    position: int  # the model's order, from 0
    box: dict[str, int]  # {topX, topY, bottomX, bottomY} in pixels
    color: str  # #RRGGBB, as the model run gave it
    overlapping: bool
    overlapping_indices: list[int]  # 1-based positions of the boxes it overlaps
    top_id: UUID | None  # its best guess
    verified_id: UUID | None = None  # the guess an analyst confirmed
    valid: bool = True  # False: marked not a seed
    manual_detection: bool = False  # added by an analyst
    type_id: int = 1  # object_type: a seed


@dataclass(frozen=True)
class GuessRow:
    """A guess of a box (seed_obj row): a model's (rank 1 and up, best first) or an
    analyst's correction (rank 0)."""

    id: UUID
    object_id: UUID
    seed_id: UUID | None  # None: a label that names no species (a detector's `seed`)
    label: str  # the catalogue's name when it names a seed
    score: float
    rank: int


_HEADER = """
    SELECT i.id, i.pipeline_id, i.picture_id, i.result, i.verified, p.blob_name
    FROM inference i JOIN picture p ON p.id = i.picture_id
"""


# New rows of object and seed_obj go as one JSON array each, typed column by column by
# the AS clause: one statement per table, however many boxes.
_INSERT_OBJECTS = """
    INSERT INTO object (id, inference_id, position, box, color, overlapping, overlapping_indices,
                        top_id, verified_id, valid, manual_detection, type_id)
    SELECT * FROM jsonb_to_recordset(%(objects)s) AS o(
        id uuid, inference_id uuid, position integer, box jsonb, color text, overlapping boolean,
        overlapping_indices integer[], top_id uuid, verified_id uuid, valid boolean,
        manual_detection boolean, type_id integer)
"""
_INSERT_GUESSES = """
    INSERT INTO seed_obj (id, object_id, seed_id, label, score, rank)
    SELECT * FROM jsonb_to_recordset(%(guesses)s) AS g(
        id uuid, object_id uuid, seed_id uuid, label text, score double precision, rank integer)
"""


def _rows(rows: Sequence[BoxRow] | Sequence[GuessRow]) -> Jsonb:
    """Rows as a JSON array of objects named by column (the fields are the columns; vars,
    not asdict, which deep-copies each row and took four times as long)."""
    return Jsonb([vars(r) for r in rows], dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)  # UUIDs as text


def insert(
    conn: Connection, *, inference_id: UUID, picture_id: UUID, user_id: UUID, pipeline_id: UUID,
    result: dict, objects: Sequence[BoxRow], guesses: Sequence[GuessRow],
) -> None:
    """Insert an inference with its boxes and their guesses, in one statement. The boxes'
    top_id and verified_id name guesses of `guesses` (their foreign keys are checked at
    commit)."""
    conn.execute(
        f"""
        WITH new_inference AS (
            INSERT INTO inference (id, picture_id, user_id, pipeline_id, result)
            VALUES (%(id)s, %(picture_id)s, %(user_id)s, %(pipeline_id)s, %(result)s)
        ), new_objects AS ({_INSERT_OBJECTS})
        {_INSERT_GUESSES}
        """,
        {"id": inference_id, "picture_id": picture_id, "user_id": user_id, "pipeline_id": pipeline_id,
         "result": Jsonb(result), "objects": _rows(objects), "guesses": _rows(guesses)},
    )


def insert_objects(conn: Connection, rows: Sequence[BoxRow]) -> None:
    """Insert boxes in one statement. top_id and verified_id may name seed_obj rows
    inserted later in the transaction (the foreign keys are checked at commit)."""
    conn.execute(_INSERT_OBJECTS, {"objects": _rows(rows)})


def insert_guesses(conn: Connection, rows: Sequence[GuessRow]) -> None:
    """Insert guesses in one statement."""
    conn.execute(_INSERT_GUESSES, {"guesses": _rows(rows)})


def find(conn: Connection, inference_id: UUID) -> InferenceRow | None:
    """The inference, or None."""
    return fetch_one(conn, InferenceRow, _HEADER + " WHERE i.id = %s", [inference_id])


def find_latest_for_picture(conn: Connection, picture_id: UUID) -> InferenceRow | None:
    """The picture's most recent inference, or None."""
    return fetch_one(
        conn, InferenceRow,
        _HEADER + " WHERE i.picture_id = %s ORDER BY i.created_at DESC, i.id DESC LIMIT 1",
        [picture_id],
    )


def list_objects(conn: Connection, inference_id: UUID) -> list[BoxRow]:
    """The inference's boxes in model order."""
    return fetch_all(
        conn, BoxRow,
        """
        SELECT id, inference_id, position, box, color, overlapping, overlapping_indices, top_id,
               verified_id, valid, manual_detection, type_id
        FROM object WHERE inference_id = %s ORDER BY position
        """,
        [inference_id],
    )


def list_guesses(conn: Connection, inference_id: UUID) -> list[GuessRow]:
    """Every guess of the inference's boxes, by box and rank."""
    return fetch_all(
        conn, GuessRow,
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
    )
