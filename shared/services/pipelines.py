"""Pipelines as the web client sees them (never an endpoint or a key), and their import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.db import connection
from shared.db.queries import pipelines

if TYPE_CHECKING:
    from shared.pipeline.definitions import Definition


@dataclass(frozen=True)
class ImportResult:
    """What an import did: `changed` is False when the definition was already the active one."""

    changed: bool
    retired: int  # pipelines made inactive


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


def import_definition(definition: Definition) -> ImportResult:
    """Make `definition` the active pipelines and models, in one transaction: the ones
    active before become inactive (kept for their inferences). Importing the definition
    that is already active changes nothing.

    Raises DependencyUnavailable.
    """
    with connection() as conn:
        pipelines.lock_definitions(conn)
        if pipelines.active_definition_sha256(conn) == definition.sha256:
            return ImportResult(changed=False, retired=0)
        retired = pipelines.retire_active(conn)
        definition_id = pipelines.insert_definition(conn, definition)
        model_ids = {m.name: pipelines.insert_model(conn, definition_id, m) for m in definition.models}
        for p in definition.pipelines:
            pipelines.insert_pipeline(conn, definition_id, p, [model_ids[n] for n in p.models])
    return ImportResult(changed=True, retired=retired)
