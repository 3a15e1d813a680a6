"""Queries of the accuracy report: every box of the verified inferences, with what the
model said of it and what the analyst chose, streamed; and the pipeline versions that
ran them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.db.pool import Connection
from shared.db.rows import fetch_all, stream_all


@dataclass(frozen=True)
class PipelineVersion:
    """A pipeline row (one version of a pipeline) with its models in call order."""

    id: UUID
    name: str
    version: str
    models: list[dict[str, Any]]  # [{"name", "version"}]


@dataclass(frozen=True)
class JudgedBox:
    """A box of a verified inference: the model's top guess and guesses, the analyst's
    choice."""

    pipeline_id: UUID
    pipeline_name: str
    inference_id: UUID
    manual: bool  # added by an analyst: a seed the model missed
    valid: bool  # False: marked not a seed
    model_label: str | None  # the model's top guess (None for a manual box)
    analyst_label: str | None  # what the analyst verified it as (None when not a seed)
    analyst_seed_id: UUID | None  # ... when that names a species
    guesses: list[UUID | None]  # the seeds of the model's guesses, best first (None: no species)


@dataclass(frozen=True)
class Window:
    """Which verified inferences count: of a pipeline (by name, any version), run within
    the times given; None: any."""

    pipeline: str | None
    run_from: datetime | None  # inclusive
    run_before: datetime | None  # exclusive


_WHERE = """
    i.verified
    AND (%(pipeline)s::text IS NULL OR pl.name = %(pipeline)s)
    AND (%(run_from)s::timestamptz IS NULL OR i.created_at >= %(run_from)s)
    AND (%(run_before)s::timestamptz IS NULL OR i.created_at < %(run_before)s)
"""


def _params(window: Window) -> dict[str, Any]:
    return {"pipeline": window.pipeline, "run_from": window.run_from, "run_before": window.run_before}


def pipeline_versions(conn: Connection, ids: list[UUID]) -> list[PipelineVersion]:
    """The pipeline versions of `ids`, by name then creation. Pipelines, models and their
    links are only ever added, so every id that a query found is found here afterwards."""
    return fetch_all(
        conn, PipelineVersion,
        """
        SELECT pl.id, pl.name, pl.version,
               coalesce((SELECT jsonb_agg(jsonb_build_object('name', m.name, 'version', m.version)
                                          ORDER BY pm.position)
                         FROM pipeline_model pm JOIN model m ON m.id = pm.model_id
                         WHERE pm.pipeline_id = pl.id), '[]') AS models
        FROM pipeline pl
        WHERE pl.id = ANY(%s)
        ORDER BY pl.name, pl.created_at, pl.id
        """,
        [ids],
    )


def stream_boxes(conn: Connection, window: Window) -> Iterator[JudgedBox]:
    """Every box of the verified inferences counted, by pipeline and inference, streamed."""
    return stream_all(
        conn, JudgedBox,
        """
        SELECT i.pipeline_id, pl.name AS pipeline_name, i.id AS inference_id,
               o.manual_detection AS manual, o.valid,
               CASE WHEN NOT o.manual_detection THEN coalesce(ts.name, top.label) END AS model_label,
               CASE WHEN o.valid THEN coalesce(vs.name, ver.label) END AS analyst_label,
               CASE WHEN o.valid THEN ver.seed_id END AS analyst_seed_id,
               ARRAY(SELECT g.seed_id FROM seed_obj g
                     WHERE g.object_id = o.id AND g.rank >= 1 ORDER BY g.rank) AS guesses
        FROM inference i
        JOIN pipeline pl ON pl.id = i.pipeline_id
        JOIN object o ON o.inference_id = i.id
        LEFT JOIN seed_obj top ON top.id = o.top_id
        LEFT JOIN seed ts ON ts.id = top.seed_id
        LEFT JOIN seed_obj ver ON ver.id = o.verified_id
        LEFT JOIN seed vs ON vs.id = ver.seed_id
        WHERE """ + _WHERE + """
        ORDER BY i.pipeline_id, i.id, o.position
        """,
        _params(window),
    )
