"""Queries of dataset exports: the validated pictures with their verified boxes, streamed,
and the categories (the seed catalogue by number)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.db.pool import Connection
from shared.db.rows import fetch_all, fetch_value, stream_all

# The category of a box verified as a seed of no species (a detector's own label, such as
# `seed`, confirmed as it was): no catalogue seed has this number.
UNNAMED_SEED = 0


@dataclass(frozen=True)
class Category:
    """A seed of the catalogue, by its number (stable across exports)."""

    id: int
    name: str


@dataclass(frozen=True)
class DatasetPicture:
    """A validated picture as an export holds it: with its verified valid boxes (from its
    latest verified inference), or, with none, its picture-level species (a batch import)."""

    id: UUID
    blob_name: str
    width: int  # of the upright picture, the boxes' space
    height: int
    uploaded_at: datetime
    pipeline: str | None  # of the inference; None for a batch import
    pipeline_version: str | None
    # [{"box": {topX, topY, bottomX, bottomY}, "category": number, "manual": bool}] in the
    # inference's box order; None for a batch import.
    boxes: list[dict[str, Any]] | None
    image_category: int | None  # a batch import's species
    stratum: int  # the species the split is stratified by
    validation: bool  # in the validation split, else training


@dataclass(frozen=True)
class DatasetFilter:
    """Which validated pictures an export holds; every field None holds them all."""

    uploaded_from: datetime | None  # inclusive
    uploaded_before: datetime | None  # exclusive
    species: list[UUID] | None  # pictures labelled with at least one of these seeds
    pipeline: str | None  # verified inferences of the pipeline of that name (any version)


def list_categories(conn: Connection) -> list[Category]:
    """Every seed of the catalogue, by number. Seeds are only ever added (none is deleted,
    renamed or renumbered), so a list read after a query names every seed it found."""
    return fetch_all(conn, Category, "SELECT number AS id, name FROM seed ORDER BY number")


def find_seed_ids(conn: Connection, names: list[str]) -> dict[str, UUID]:
    """The seeds named (any case), by the name as given."""
    rows = conn.execute(
        "SELECT n.name, s.id FROM unnest(%s::text[]) AS n(name) JOIN seed s ON lower(s.name) = lower(n.name)",
        [names],
    ).fetchall()
    return {row["name"]: row["id"] for row in rows}


def pipeline_exists(conn: Connection, name: str) -> bool:
    """Whether a pipeline of that name was ever registered (active or not)."""
    return fetch_value(conn, "SELECT 1 FROM pipeline WHERE name = %s LIMIT 1", [name]) is not None


def stream_pictures(
    conn: Connection, where: DatasetFilter, *, validation_fraction: float, split_seed: str,
) -> Iterator[DatasetPicture]:
    """The validated pictures that `where` picks, oldest first, each with its split.

    The split is drawn per stratum (the picture's most frequent species; a batch import's
    own species): the pictures of a stratum are ordered by md5(split_seed || id), and the
    first n * validation_fraction of them, rounded half up, go to validation. So it is exact per
    species, depends on nothing but the seed and the pictures, and a picture keeps its
    side as long as its stratum's size does. Streamed through a server-side cursor: the
    rows of one snapshot, however long they take to fetch.
    """
    return stream_all(
        conn, DatasetPicture,
        """
        WITH verified AS (
            -- A picture's latest verified inference (/inf stores one per picture).
            SELECT DISTINCT ON (i.picture_id) i.picture_id, i.id, i.pipeline_id
            FROM inference i WHERE i.verified
            ORDER BY i.picture_id, i.updated_at DESC, i.id DESC
        ), chosen AS (
            SELECT p.id, p.blob_name, p.width, p.height, p.uploaded_at, v.id AS inference_id,
                   pl.name AS pipeline, pl.version AS pipeline_version
            FROM picture p
            LEFT JOIN verified v ON v.picture_id = p.id
            LEFT JOIN pipeline pl ON pl.id = v.pipeline_id
            WHERE EXISTS (SELECT 1 FROM picture_seed ps WHERE ps.picture_id = p.id)
              AND (%(uploaded_from)s::timestamptz IS NULL OR p.uploaded_at >= %(uploaded_from)s)
              AND (%(uploaded_before)s::timestamptz IS NULL OR p.uploaded_at < %(uploaded_before)s)
              AND (%(pipeline)s::text IS NULL OR pl.name = %(pipeline)s)
              AND (%(species)s::uuid[] IS NULL OR EXISTS (
                  SELECT 1 FROM picture_seed ps
                  WHERE ps.picture_id = p.id AND ps.seed_id = ANY(%(species)s)))
        ), boxes AS (
            SELECT o.inference_id,
                   jsonb_agg(jsonb_build_object(
                       'box', o.box, 'category', coalesce(s.number, %(unnamed)s),
                       'manual', o.manual_detection) ORDER BY o.position) AS boxes,
                   mode() WITHIN GROUP (ORDER BY s.number) FILTER (WHERE s.number IS NOT NULL) AS stratum
            FROM chosen c
            JOIN object o ON o.inference_id = c.inference_id
            JOIN seed_obj so ON so.id = o.verified_id
            LEFT JOIN seed s ON s.id = so.seed_id
            WHERE o.valid
            GROUP BY o.inference_id
        ), labels AS (
            -- Pictures with no verified boxes are labelled as a whole (upload-picture: one seed).
            SELECT c.id AS picture_id, min(s.number) AS category
            FROM chosen c
            JOIN picture_seed ps ON ps.picture_id = c.id
            JOIN seed s ON s.id = ps.seed_id
            WHERE c.inference_id IS NULL
            GROUP BY c.id
            HAVING count(*) = 1
        ), kept AS (
            SELECT c.*, b.boxes, l.category AS image_category,
                   coalesce(b.stratum, l.category) AS stratum
            FROM chosen c
            LEFT JOIN boxes b ON b.inference_id = c.inference_id
            LEFT JOIN labels l ON l.picture_id = c.id
            WHERE b.stratum IS NOT NULL OR l.category IS NOT NULL
        )
        SELECT id, blob_name, width, height, uploaded_at, pipeline, pipeline_version, boxes,
               image_category, stratum,
               row_number() OVER (PARTITION BY stratum ORDER BY md5(%(split_seed)s || id::text), id)
                   <= floor(count(*) OVER (PARTITION BY stratum) * %(fraction)s + 0.5) AS validation
        FROM kept
        ORDER BY uploaded_at, id
        """,
        {"uploaded_from": where.uploaded_from, "uploaded_before": where.uploaded_before,
         "pipeline": where.pipeline, "species": where.species, "unnamed": UNNAMED_SEED,
         "split_seed": split_seed, "fraction": validation_fraction},
    )


def current_blob_name(conn: Connection, picture_id: UUID) -> str | None:
    """Where the picture's blob is now (it moves when its folder is archived), or None."""
    return fetch_value(conn, "SELECT blob_name FROM picture WHERE id = %s", [picture_id])
