"""The seed catalogue as the routes show it."""

from __future__ import annotations

from dataclasses import dataclass

from shared.db import connection
from shared.db.queries import seeds
from shared.errors import BadRequest, NotFound


def list_seeds() -> dict:
    """{"seeds": [{"seed_id", "seed_name"}]} sorted by name."""
    with connection() as conn:
        rows = seeds.list_all(conn)
    return {"seeds": [{"seed_id": str(r.id), "seed_name": r.name} for r in rows]}


@dataclass(frozen=True)
class SeedName:
    """seed-data: the seed's name as the route gives it."""

    name: str


def seed_record(req: SeedName) -> dict:
    """The record of the seed named `req.name`. Raises BadRequest, NotFound."""
    name = req.name.strip()
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
