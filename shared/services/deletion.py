"""Deleting a folder: permanently, or with its validated pictures moved to the archive
user first (DATA.md, Archive), so that no training data is lost.

The steps are ordered so that no failure loses a picture or leaves a row without its blob:
1. read the folder and, to archive, its validated pictures;
2. copy their blobs to the archive folder's paths;
3. in one transaction: lock the folder, move the validated pictures' rows (their
   inferences, boxes and labels follow) to the archive folder, delete the folder and
   everything left in it;
4. delete the blobs that no row points at any more, with their thumbnails.
A failure in 2 or 3 changes nothing: the copies are deleted again (when the database can
say that no row points at them; else `manage.py repair` does it). A failure in 4 leaves
blobs without rows, which `manage.py repair` removes; the delete itself has happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

from shared import storage
from shared.db import connection
from shared.db.pool import Connection
from shared.db.queries import folders, pictures
from shared.db.queries.folders import FolderRow
from shared.db.queries.pictures import PictureBlob
from shared.errors import AppError, BadRequest, Conflict, NotFound
from shared.identity import get_or_register
from shared.picture_blobs import blob_name, thumbnail_blob_name
from shared.services.folders import owned_folder, resolve_folder
from shared.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Archive:
    """Where a folder's validated pictures go: the archive user's folder and new blob names."""

    owner_id: UUID
    folder_id: UUID  # existing, or created with this id when the pictures move
    folder_name: str
    old_names: dict[UUID, str]
    new_names: dict[UUID, str]


@dataclass(frozen=True)
class FolderId:
    """A user's folder, by id (delete-request, delete-permanently, delete-with-archive)."""

    user_id: UUID
    folder_id: UUID


def has_validated_pictures(req: FolderId) -> bool:
    """Whether the user's folder holds validated pictures. Raises NotFound, Forbidden,
    DependencyUnavailable."""
    with connection() as conn:
        owned_folder(conn, req.user_id, req.folder_id)
        return pictures.has_validated(conn, req.folder_id)


def delete_permanently(req: FolderId) -> bool:
    """Delete the user's folder with all its pictures, validated ones too; return True.
    Raises BadRequest (default folder), NotFound, Forbidden, DependencyUnavailable."""
    _delete(req.user_id, lambda conn: owned_folder(conn, req.user_id, req.folder_id), archive=False)
    return True


def delete_with_archive(req: FolderId) -> bool:
    """Archive the validated pictures of the user's folder, then delete it; return True.
    Raises BadRequest (default folder), NotFound, Forbidden, Conflict (pictures were
    validated meanwhile: try again), DependencyUnavailable."""
    _delete(req.user_id, lambda conn: owned_folder(conn, req.user_id, req.folder_id), archive=True)
    return True


@dataclass(frozen=True)
class FolderRef:
    """A user's folder, by id or by name (/del)."""

    user_id: UUID
    ref: str


def delete_folder(req: FolderRef) -> list[bool]:
    """/del: as delete_with_archive, for the folder that `ref` names (an id or a name);
    returns [True]."""
    _delete(req.user_id, lambda conn: resolve_folder(conn, req.user_id, req.ref), archive=True)
    return [True]


def _delete(user_id: UUID, find: Callable[[Connection], FolderRow], *, archive: bool) -> None:
    container = get_settings().pictures_container
    with connection() as conn:
        folder = find(conn)
        if folder.is_default:
            raise BadRequest("the default folder cannot be deleted")
        validated = pictures.list_validated(conn, folder.id) if archive else []
    plan = _plan_archive(user_id, folder, validated) if validated else None
    copies: list[str] = []
    moved: set[UUID] = set()
    try:
        if plan:
            for picture_id, new_name in plan.new_names.items():
                try:
                    storage.copy(container, plan.old_names[picture_id], new_name)
                except NotFound:
                    # Its bytes were already gone: its row, boxes and labels are archived
                    # all the same, and `manage.py repair` reports the row without a blob.
                    log.warning("archived picture %s without its blob: it was gone", picture_id)
                    continue
                copies.append(new_name)
        with connection() as conn:
            if folders.lock_for_delete(conn, folder.id) is None:
                raise NotFound("no such folder")
            if plan:
                moved = _move_to_archive(conn, plan, user_id, folder)
            removed = pictures.delete_in_folder(conn, folder.id)
            folders.delete(conn, folder.id)
    except BaseException:
        _discard_copies(copies)
        raise
    if plan:
        removed += [plan.old_names[i] for i in moved]
        removed += [name for i, name in plan.new_names.items() if i not in moved]
    _delete_blobs(removed)


def _plan_archive(user_id: UUID, folder: FolderRow, validated: list[PictureBlob]) -> _Archive:
    archive_user = get_or_register(get_settings().archive_user_email)
    name = f"{user_id}/{folder.name}"
    with connection() as conn:
        existing = folders.find_by_name(conn, archive_user, name)
    folder_id = existing.id if existing else uuid4()
    old_names = {picture.id: picture.blob_name for picture in validated}
    new_names = {
        picture_id: blob_name(archive_user, folder_id, picture_id, old.rsplit(".", 1)[-1])
        for picture_id, old in old_names.items()
    }
    return _Archive(archive_user, folder_id, name, old_names, new_names)


def _move_to_archive(conn: Connection, plan: _Archive, user_id: UUID, folder: FolderRow) -> set[UUID]:
    """Move the planned pictures' rows; returns the ids moved. Raises Conflict when a
    picture of the folder was validated after the blobs were copied."""
    validated_now = {picture.id for picture in pictures.list_validated(conn, folder.id)}
    if validated_now - plan.new_names.keys():
        raise Conflict("pictures of this folder were validated meanwhile; try again")
    if folders.find_by_id(conn, plan.folder_id) is None:
        folders.insert(conn, plan.owner_id, plan.folder_name,
                       {"archive_of": {"user_id": str(user_id), "folder_name": folder.name}},
                       folder_id=plan.folder_id)
    audit = {"user_id": str(user_id), "folder_id": str(folder.id), "folder_name": folder.name}
    return pictures.move(conn, {i: plan.new_names[i] for i in validated_now}, plan.folder_id, audit)


def _discard_copies(copies: list[str]) -> None:
    """Delete archive copies after a failed delete, unless a row points at them (a commit
    whose answer was lost); when that cannot be known, leave them to the repair command."""
    if not copies:
        return
    try:
        with connection() as conn:
            kept = pictures.referenced_blob_names(conn, copies)
    except AppError:
        log.error("left %d archive copies to the repair command", len(copies))
        return
    _delete_blobs([name for name in copies if name not in kept])


def _delete_blobs(names: list[str]) -> None:
    """Delete picture blobs that no row points at, with their thumbnails; on a storage
    failure stop and leave the rest to the repair command (the rows are already gone)."""
    settings = get_settings()
    for done, name in enumerate(names):
        try:
            storage.delete(settings.pictures_container, name)
            storage.delete(settings.thumbnails_container, thumbnail_blob_name(name))
        except AppError:
            log.error("storage failed: left %d blobs without rows to the repair command", len(names) - done)
            return
