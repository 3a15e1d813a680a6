"""Migration 6, after its SQL: the endpoints that rested in clear are encrypted under
NACHET_BLOB_PIPELINE_DECRYPTION_KEY, the app setting that SQL cannot read."""

from __future__ import annotations

from typing import Any

import psycopg

from shared.errors import ConfigurationError
from shared.pipeline.encryption import MAKE_KEY, encrypt
from shared.settings import get_settings


def run(conn: psycopg.Connection[Any]) -> None:
    """Encrypt every endpoint of `model` (each one in clear until now), in the migration's
    transaction. Raises ConfigurationError, changing nothing, when there are some and the
    key is not set."""
    rows = conn.execute(
        "SELECT id, name, endpoint_encrypted FROM model WHERE endpoint_encrypted IS NOT NULL"
        " ORDER BY name"
    ).fetchall()
    if not rows:
        return
    key = get_settings().blob_pipeline_decryption_key
    if key is None:
        names = ", ".join(sorted({name for _, name, _ in rows}))
        raise ConfigurationError(
            f"NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not set: migration 0006 encrypts the model "
            f"endpoints stored in clear ({names}) under it. Set it to a Fernet key, such as the "
            f"output of: {MAKE_KEY}")
    with conn.cursor() as cur:
        cur.executemany("UPDATE model SET endpoint_encrypted = %s WHERE id = %s",
                        [(encrypt(endpoint, key), row_id) for row_id, _, endpoint in rows])
