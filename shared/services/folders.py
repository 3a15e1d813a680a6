"""Folders (picture sets) of a user: ownership, listing and creation. Their names follow
the rules of shared.folder_names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from shared.db import connection
from shared.db.pool import Connection
from shared.db.queries import folders, pictures
from shared.db.queries.folders import FolderRow
from shared.db.queries.pictures import ListedPicture
from shared.errors import BadRequest, Conflict, Forbidden, NotFound
from shared.folder_names import valid_folder_name
from shared.services.thumbnails import thumbnail_url


@dataclass(frozen=True)
class Listing:
    """get-directories: whose folders to list."""

    user_id: UUID


@dataclass(frozen=True)
class NewFolder:
    """create-dir: the folder to create, for its owner."""

    user_id: UUID
    name: str


def _owned(row: FolderRow, user_id: UUID) -> FolderRow:
    if row.owner_id != user_id:
        raise Forbidden("this folder is not yours")
    return row


def owned_folder(conn: Connection, user_id: UUID, folder_id: UUID) -> FolderRow:
    """The user's folder `folder_id`. Raises NotFound (no such folder) and Forbidden (another user's).
    """
    row = folders.find_by_id(conn, folder_id)
    if row is None:
        raise NotFound("no such folder")
    return _owned(row, user_id)


def resolve_folder(conn: Connection, user_id: UUID, ref: str, *, name: str = "folder_name") -> FolderRow:
    """The caller's folder that `ref` names: a folder id, or the name of one of the
    caller's folders (`General` is the default folder). Returns the folder as owned_folder.

    Raises BadRequest (empty), NotFound (no such folder), Forbidden (another user's).
    """
    ref = ref.strip()
    if not ref:
        raise BadRequest(f"{name} is missing")
    try:
        folder_id: UUID | None = uuid.UUID(ref)
    except ValueError:
        folder_id = None
    row = folders.find_by_id(conn, folder_id) if folder_id is not None else None
    if row is not None:
        return _owned(row, user_id)
    row = folders.find_by_name(conn, user_id, ref)
    if row is None:
        raise NotFound(f"no folder {ref!r}")
    return row


def _picture_entry(row: ListedPicture) -> dict:
    """A picture as get-directories lists it: the one place that shapes it."""
    return {
        "picture_id": row.id,
        "is_validated": row.is_validated,
        "inference_exist": row.inference_exist,
        "thumbnail": thumbnail_url(row.thumbnail),
    }


def list_directories(req: Listing) -> dict:
    """{"folders": [{"picture_set_id", "folder_name", "nb_pictures", "pictures"}]}, the
    default folder first, then by creation; pictures oldest first. Two queries, whatever
    the number of folders and pictures. Raises DependencyUnavailable."""
    with connection() as conn:
        folder_rows = folders.list_for_owner(conn, req.user_id)
        picture_rows = pictures.list_for_owner(conn, req.user_id)
    by_folder: dict[str, list[dict]] = {str(folder.id): [] for folder in folder_rows}
    for picture in picture_rows:
        # A folder created between the two queries is not listed; neither are its pictures.
        if picture.picture_set_id in by_folder:
            by_folder[picture.picture_set_id].append(_picture_entry(picture))
    listed = []
    for folder in folder_rows:
        entries = by_folder[str(folder.id)]
        listed.append({"picture_set_id": str(folder.id), "folder_name": folder.name,
                       "nb_pictures": len(entries), "pictures": entries})
    return {"folders": listed}


def create_dir(req: NewFolder) -> list[str]:
    """create-dir: [the new folder's id]. Raises as create_folder."""
    return [str(create_folder(req.user_id, req.name))]


def create_folder(user_id: UUID, name: str | None, *, metadata: dict | None = None) -> UUID:
    """Create a folder of the user and return its id. With `name` None, the folder is named
    after its id. Raises BadRequest (name rules), Conflict (the user has a folder of that
    name, in any case), DependencyUnavailable."""
    folder_id = uuid.uuid4()
    name = str(folder_id) if name is None else valid_folder_name(name)
    try:
        with connection() as conn:
            folders.insert(conn, user_id, name, metadata, folder_id=folder_id)
    except Conflict:
        raise Conflict(f"you already have a folder named {name!r}") from None
    return folder_id
