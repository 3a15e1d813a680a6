"""Health: a real round trip to the database and to the storage."""

from __future__ import annotations

from shared import storage
from shared.db import connection
from shared.errors import DependencyUnavailable


def check_health() -> dict:
    """{"status": "ok", "database": "ok", "storage": "ok"}.

    Raises DependencyUnavailable naming every part that is down.
    """
    down = []
    try:
        with connection() as conn:
            conn.execute("SELECT 1")
    except DependencyUnavailable:
        down.append("database")
    try:
        storage.ping()
    except DependencyUnavailable:
        down.append("storage")
    if down:
        raise DependencyUnavailable(f"unavailable: {', '.join(down)}")
    return {"status": "ok", "database": "ok", "storage": "ok"}
