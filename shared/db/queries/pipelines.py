"""Queries on pipelines and their models."""

from __future__ import annotations

from psycopg import Connection

from shared.pipeline.types import ModelSpec, PipelineSpec


def list_active(conn: Connection) -> list[dict]:
    """Active pipelines with their model names in call order, the default first."""
    return conn.execute(
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
        """
    ).fetchall()


def load(conn: Connection, name: str | None) -> PipelineSpec | None:
    """The active pipeline named `name` (the default one when None) with its models in
    call order, or None."""
    row = conn.execute(
        """
        SELECT id, name, version FROM pipeline
        WHERE active AND CASE WHEN %(name)s::text IS NULL THEN is_default ELSE name = %(name)s END
        """,
        {"name": name},
    ).fetchone()
    if row is None:
        return None
    models = conn.execute(
        """
        SELECT m.id, m.name, m.type, m.task, m.version, m.endpoint, m.deployment, m.content_type,
               m.api_key_setting, m.api_key_encrypted, m.data
        FROM pipeline_model pm JOIN model m ON m.id = pm.model_id
        WHERE pm.pipeline_id = %s ORDER BY pm.position
        """,
        [row["id"]],
    ).fetchall()
    return PipelineSpec(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        models=tuple(
            ModelSpec(
                id=m["id"], name=m["name"], type=m["type"], task=m["task"], version=m["version"],
                endpoint=m["endpoint"], deployment=m["deployment"], content_type=m["content_type"],
                api_key_setting=m["api_key_setting"], api_key_encrypted=m["api_key_encrypted"],
                labels=tuple(m["data"].get("labels", ())),
            )
            for m in models
        ),
    )
