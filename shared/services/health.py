"""Health: a real round trip to the database and to the storage, at most every FRESH_S
seconds per process.

The route is anonymous: without the cache, anyone could make each instance run a database
round trip (and, with an identity-based storage connection, ask Azure for a user delegation
key) per request. An answer is at most FRESH_S old, whether it says up or down."""

from __future__ import annotations

import time

from shared import storage
from shared.db import connection
from shared.errors import DependencyUnavailable
from shared.settings import on_reset

FRESH_S = 2.0
# (when it was checked, on the monotonic clock; the parts that were down). Replaced whole,
# never changed in place: requests read it without a lock, and two that find it stale
# both check (no lock is held across the checks' I/O).
_last: tuple[float, tuple[str, ...]] | None = None


def check_health() -> dict:
    """{"status": "ok", "database": "ok", "storage": "ok"}.

    Raises DependencyUnavailable naming every part that is down.
    """
    global _last
    last = _last
    if last is None or time.monotonic() - last[0] >= FRESH_S:
        last = _last = (time.monotonic(), _down())
    if last[1]:
        raise DependencyUnavailable(f"unavailable: {', '.join(last[1])}")
    return {"status": "ok", "database": "ok", "storage": "ok"}


def _down() -> tuple[str, ...]:
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
    return tuple(down)


@on_reset
def forget() -> None:
    """Check again at the next request: the settings name other parts now."""
    global _last
    _last = None
