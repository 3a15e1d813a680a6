"""The seed catalogue as the routes show it."""

from __future__ import annotations

from shared.db import connection
from shared.db.queries import seeds
from shared.errors import BadRequest, NotFound


def list_seeds() -> dict:
    """{"seeds": [{"seed_id", "seed_name"}]} sorted by name."""
    with connection() as conn:
        rows = seeds.list_all(conn)
    return {"seeds": [{"seed_id": str(r.id), "seed_name": r.name} for r in rows]}


def seed_record(name: str) -> dict:
    """The record of the seed named `name`. Raises BadRequest, NotFound."""
    name = name.strip()
    if not name or len(name) > 200:
        raise BadRequest("seed_name is missing or too long")
    with connection() as conn:
        row = seeds.find_by_name(conn, name)
    if row is None:
        raise NotFound(f"no seed named {name!r}")
    return {
        **row.data,
        "seed_id": str(row.id),
        "seed_name": row.name,
        "object_type_id": row.object_type_id,
    }
