"""Queries on pipelines and their models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Connection
from shared.db.rows import fetch_all
from shared.pipeline.types import DEPLOYMENT_HEADER, ModelSpec, PipelineSpec

if TYPE_CHECKING:
    from shared.pipeline.definitions import Definition, ModelDefinition, PipelineDefinition


@dataclass(frozen=True)
class ActivePipeline:
    """An active pipeline row, with its model names in call order."""

    id: UUID
    name: str
    version: str
    is_default: bool
    data: dict[str, Any]  # description, created_by, creation_date, job_name…
    models: list[str]


def list_active(conn: Connection) -> list[ActivePipeline]:
    """Active pipelines with their model names in call order, the default first."""
    return fetch_all(
        conn, ActivePipeline,
        """
        SELECT p.id, p.name, p.version, p.is_default, p.data,
               coalesce(array_agg(m.name ORDER BY pm.position)
                        FILTER (WHERE m.id IS NOT NULL), '{}') AS models
        FROM pipeline p
        LEFT JOIN pipeline_model pm ON pm.pipeline_id = p.id
        LEFT JOIN model m ON m.id = pm.model_id
        WHERE p.active
        GROUP BY p.id
        ORDER BY p.is_default DESC, p.name
        """,
    )


def load(conn: Connection, name: str | None) -> PipelineSpec | None:
    """The active pipeline named `name` (the default one when None) with its models in
    call order, or None."""
    rows = conn.execute(
        """
        SELECT p.id, p.name, p.version, m.id AS model_id, m.name AS model_name, m.type, m.task,
               m.version AS model_version, m.endpoint_encrypted, m.deployment, m.content_type,
               m.api_key_setting, m.api_key_encrypted, m.data
        FROM pipeline p
        LEFT JOIN pipeline_model pm ON pm.pipeline_id = p.id
        LEFT JOIN model m ON m.id = pm.model_id
        WHERE p.active AND CASE WHEN %(name)s::text IS NULL THEN p.is_default ELSE p.name = %(name)s END
        ORDER BY pm.position
        """,
        {"name": name},
    ).fetchall()
    if not rows:
        return None
    return PipelineSpec(
        id=rows[0]["id"],
        name=rows[0]["name"],
        version=rows[0]["version"],
        models=tuple(
            ModelSpec(
                id=m["model_id"], name=m["model_name"], type=m["type"], task=m["task"],
                version=m["model_version"], endpoint_encrypted=m["endpoint_encrypted"],
                deployment=m["deployment"], content_type=m["content_type"],
                api_key_setting=m["api_key_setting"], api_key_encrypted=m["api_key_encrypted"],
                labels=tuple(m["data"].get("labels", ())),
                deployment_header=m["data"].get("deployment_header", DEPLOYMENT_HEADER),
            )
            for m in rows if m["model_id"] is not None
        ),
    )


def lock_definitions(conn: Connection) -> None:
    """Take the lock that serialises imports until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('nachet.pipeline_definition'))")


def active_definition_sha256(conn: Connection) -> str | None:
    """The content hash of the definition that every active pipeline comes from, or None
    (no active pipeline, pipelines from several definitions, or from none)."""
    rows = conn.execute(
        """
        SELECT DISTINCT d.sha256 FROM pipeline p
        LEFT JOIN pipeline_definition d ON d.id = p.definition_id
        WHERE p.active
        """
    ).fetchall()
    return rows[0]["sha256"] if len(rows) == 1 else None


def retire_active(conn: Connection) -> int:
    """Make every active pipeline and model inactive (kept for the inferences that used
    them); return how many pipelines were active."""
    # The default flag goes too: at most one pipeline, active or not, may hold it.
    retired = conn.execute("UPDATE pipeline SET active = false, is_default = false WHERE active")
    conn.execute("UPDATE model SET active = false WHERE active")
    return retired.rowcount


def insert_definition(conn: Connection, definition: Definition) -> UUID:
    """Record an imported definition; return its id."""
    row = conn.execute(
        """
        INSERT INTO pipeline_definition (version, date, sha256, source)
        VALUES (%(version)s, %(date)s, %(sha256)s, %(source)s) RETURNING id
        """,
        {"version": definition.version, "date": definition.date, "sha256": definition.sha256,
         "source": definition.source},
    ).fetchone()
    assert row is not None, "INSERT … RETURNING gives one row"
    return row["id"]


def insert_model(conn: Connection, definition_id: UUID, model: ModelDefinition,
                 endpoint_encrypted: str | None) -> UUID:
    """Add an active model of a definition, its endpoint as the token `endpoint_encrypted`
    (never `model.endpoint` in clear); return its id."""
    row = conn.execute(
        """
        INSERT INTO model (name, type, task, endpoint_encrypted, api_key_setting, api_key_encrypted,
                           deployment, content_type, version, data, definition_id)
        VALUES (%(name)s, %(type)s, %(task)s, %(endpoint_encrypted)s, %(api_key_setting)s,
                %(api_key_encrypted)s, %(deployment)s, %(content_type)s, %(version)s, %(data)s,
                %(definition_id)s)
        RETURNING id
        """,
        {"name": model.name, "type": model.type, "task": model.task,
         "endpoint_encrypted": endpoint_encrypted,
         "api_key_setting": model.api_key_setting, "api_key_encrypted": model.api_key_encrypted,
         "deployment": model.deployment, "content_type": model.content_type,
         "version": model.version, "data": Jsonb(model.data), "definition_id": definition_id},
    ).fetchone()
    assert row is not None, "INSERT … RETURNING gives one row"
    return row["id"]


def insert_pipeline(conn: Connection, definition_id: UUID, pipeline: PipelineDefinition,
                    model_ids: list[UUID]) -> UUID:
    """Add an active pipeline of a definition with its models (ids in call order); return its id."""
    row = conn.execute(
        """
        INSERT INTO pipeline (name, version, is_default, data, definition_id)
        VALUES (%(name)s, %(version)s, %(is_default)s, %(data)s, %(definition_id)s)
        RETURNING id
        """,
        {"name": pipeline.name, "version": pipeline.version, "is_default": pipeline.default,
         "data": Jsonb(pipeline.data), "definition_id": definition_id},
    ).fetchone()
    assert row is not None, "INSERT … RETURNING gives one row"
    pipeline_id = row["id"]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO pipeline_model (pipeline_id, model_id, position) VALUES (%s, %s, %s)",
            [(pipeline_id, model_id, position) for position, model_id in enumerate(model_ids)],
        )
    return pipeline_id
