"""The route of seed-data, as services.seeds takes it."""

from __future__ import annotations

from shared.http.request import Request
from shared.services.seeds import SeedName


def seed_name(request: Request) -> SeedName:
    """The {seed_name} of the route. Raises BadRequest (text that cannot be stored)."""
    return SeedName(request.route("seed_name"))
