"""Pipelines as the web client sees them (never an endpoint or a key)."""

from __future__ import annotations

from shared.db import connection
from shared.db.queries import pipelines


def pipelines_metadata() -> list[dict]:
    """The active pipelines, in the shape of API.md's model-endpoints-metadata."""
    with connection() as conn:
        rows = pipelines.list_active(conn)
    return [
        {
            "pipeline_id": str(r["id"]),
            "model_name": r["name"],
            "pipeline_name": r["name"],
            "default": r["is_default"],
            "models": list(r["models"]),
            "version": r["version"],
            "description": r["data"].get("description", ""),
            "creation_date": str(r["data"].get("creation_date", "")),
            "created_by": r["data"].get("created_by", ""),
        }
        for r in rows
    ]
