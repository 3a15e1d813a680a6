"""Queries on the seed catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.db.pool import Connection
from shared.db.rows import fetch_all, fetch_one


@dataclass(frozen=True)
class Seed:
    """A seed of the catalogue."""

    id: UUID
    name: str


@dataclass(frozen=True)
class SeedRecord(Seed):
    """A seed with its record, as seed-data shows it."""

    object_type_id: int
    data: dict[str, Any]


_RECORD = "SELECT id, name, object_type_id, data FROM seed"


def list_all(conn: Connection) -> list[Seed]:
    """Every seed, sorted by name."""
    return fetch_all(conn, Seed, "SELECT id, name FROM seed ORDER BY lower(name), name")


def find_by_name(conn: Connection, name: str) -> SeedRecord | None:
    """The seed named `name` (any case), or None."""
    return fetch_one(conn, SeedRecord, _RECORD + " WHERE lower(name) = lower(%s)", [name])


def insert_missing(conn: Connection, names: list[str]) -> list[Seed]:
    """Add the names that the catalogue lacks (any case); return every seed so named."""
    conn.execute("INSERT INTO seed (name) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", [names])
    return fetch_all(conn, Seed, "SELECT id, name FROM seed WHERE lower(name) = ANY(%s)",
                     [[n.lower() for n in names]])


def find_by_id(conn: Connection, seed_id: UUID) -> SeedRecord | None:
    """The seed, or None."""
    return fetch_one(conn, SeedRecord, _RECORD + " WHERE id = %s", [seed_id])
