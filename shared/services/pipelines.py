"""Pipelines as the web client sees them (never an endpoint or a key), and their import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.db import connection
from shared.db.queries import pipelines
from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from shared.pipeline.definitions import Definition

# What the current backend's model-endpoints-metadata also showed of a pipeline (its blob
# entry as it was), answered where the definition set it.
_OPTIONAL_METADATA = ("job_name", "dataset_description", "accuracy")


@dataclass(frozen=True)
class ImportResult:
    """What an import did: `changed` is False when the definition was already the active one."""

    changed: bool
    retired: int  # pipelines made inactive


def pipelines_metadata() -> list[dict[str, Any]]:
    """The active pipelines, in the shape of API.md's model-endpoints-metadata."""
    with connection() as conn:
        rows = pipelines.list_active(conn)
    return [
        {
            "pipeline_id": str(r.id),
            "model_name": r.name,
            "pipeline_name": r.name,
            "default": r.is_default,
            "models": list(r.models),
            "version": r.version,
            "description": r.data.get("description", ""),
            "creation_date": str(r.data.get("creation_date", "")),
            "created_by": r.data.get("created_by", ""),
            **{k: r.data[k] for k in _OPTIONAL_METADATA if r.data.get(k) is not None},
        }
        for r in rows
    ]


def import_definition(definition: Definition) -> ImportResult:
    """Make `definition` the active pipelines and models, in one transaction: the ones
    active before become inactive (kept for their inferences). Importing the definition
    that is already active changes nothing. Endpoints are stored encrypted: as the token
    the definition gave, or encrypted here under NACHET_BLOB_PIPELINE_DECRYPTION_KEY.

    Raises ConfigurationError (an endpoint to encrypt and no key), DependencyUnavailable.
    """
    tokens = _endpoint_tokens(definition)
    with connection() as conn:
        pipelines.lock_definitions(conn)
        if pipelines.active_definition_sha256(conn) == definition.sha256:
            return ImportResult(changed=False, retired=0)
        retired = pipelines.retire_active(conn)
        definition_id = pipelines.insert_definition(conn, definition)
        model_ids = {m.name: pipelines.insert_model(conn, definition_id, m, tokens[m.name])
                     for m in definition.models}
        for p in definition.pipelines:
            pipelines.insert_pipeline(conn, definition_id, p, [model_ids[n] for n in p.models])
    return ImportResult(changed=True, retired=retired)


def _endpoint_tokens(definition: Definition) -> dict[str, str | None]:
    """Each model's endpoint as it will rest: a Fernet token, never the URL."""
    from shared.pipeline.encryption import MAKE_KEY, encrypt
    from shared.settings import get_settings

    clear = [m.name for m in definition.models if m.endpoint and not m.endpoint_encrypted]
    key = get_settings().blob_pipeline_decryption_key
    if clear and key is None:
        raise ConfigurationError(
            f"NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not set: endpoints rest encrypted under it "
            f"({', '.join(clear)} of {definition.source} {'has' if len(clear) == 1 else 'have'} one). "
            f"Set it to a Fernet key, such as the output of: {MAKE_KEY}")
    return {m.name: m.endpoint_encrypted or (encrypt(m.endpoint, key) if m.endpoint and key else None)
            for m in definition.models}
