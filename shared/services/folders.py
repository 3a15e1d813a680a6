"""Folders (picture sets) of a user."""

from __future__ import annotations

from uuid import UUID

from psycopg import Connection

from shared.db.queries import folders
from shared.errors import BadRequest, Forbidden, NotFound
from shared.http import parse_uuid


def resolve_folder(conn: Connection, user_id: UUID, ref: str, *, name: str = "folder_name") -> dict:
    """The caller's folder that `ref` names: a folder id, or the name of one of the
    caller's folders (`General` is the default folder). Returns {id, owner_id, name, metadata}.

    Raises BadRequest (empty), NotFound (no such folder), Forbidden (another user's).
    """
    ref = ref.strip()
    if not ref:
        raise BadRequest(f"{name} is missing")
    row = None
    try:
        folder_id = parse_uuid(ref, name)
    except BadRequest:
        folder_id = None
    if folder_id is not None:
        row = folders.find_by_id(conn, folder_id)
        if row is not None and row["owner_id"] != user_id:
            raise Forbidden("this folder is not yours")
    if row is None:
        row = folders.find_by_name(conn, user_id, ref)
    if row is None:
        raise NotFound(f"no folder {ref!r}")
    return row
