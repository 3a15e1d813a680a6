"""Everything the app keeps, read back for a test to show that a request changed nothing:
every row of every table of the app's schema, and every blob (name and ETag) of its
pictures and thumbnails containers."""

from __future__ import annotations

from typing import Any

from tests.conftest import SCHEMA, App
from tests.support.triggers import container


def snapshot(app: App) -> dict[str, Any]:
    """Every row, by table, and every blob's ETag, by container and name."""
    tables = [t for (t,) in app.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
        " AND table_type = 'BASE TABLE' ORDER BY table_name", [SCHEMA])]
    state: dict[str, Any] = {t: sorted(map(repr, app.sql(f'SELECT * FROM "{t}"'))) for t in tables}
    for name in (app.pictures_container, app.thumbnails_container):
        state[name] = {b.name: b.etag for b in container(app, name).list_blobs()}
    return state


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What differs between two snapshots, by table or container: {} when nothing does."""
    return {key: (before.get(key), after.get(key)) for key in before.keys() | after.keys()
            if before.get(key) != after.get(key)}
