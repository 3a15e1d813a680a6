"""Queries on pipelines and their models."""

from __future__ import annotations

from psycopg import Connection


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
