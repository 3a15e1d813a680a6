"""Folders (picture sets) of a user: names, ownership, listing and creation.

Folder names (checked by `valid_folder_name`): 1 to 100 characters once stripped and
NFC-normalised; letters and digits of any script, spaces and `- _ . , ( ) + # :`, with
at least one letter or digit; no `..`; not a UUID (routes accept an id or a name).
Slashes, backslashes, quotes, `<>`, `;`, `=` and control characters are refused: a name
is shown in web pages and is never needed to hold them. Names are unique per user
regardless of case. They never reach blob paths, and SQL always takes them as parameters.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from uuid import UUID

from shared.db import connection
from shared.db.pool import Connection
from shared.db.queries import folders, pictures
from shared.errors import BadRequest, Conflict, Forbidden, NotFound
from shared.http import parse_uuid
from shared.services.thumbnails import thumbnail_url

FOLDER_NAME_MAX = 100
_NAME_CHARS = re.compile(r"[\w .,()+#:-]+")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def valid_folder_name(value: str, field: str = "folder_name") -> str:
    """`value` stripped and NFC-normalised, if it follows the folder name rules of this
    module's docstring. Raises BadRequest naming `field` and the rule broken."""
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise BadRequest(f"{field} is empty")
    if len(name) > FOLDER_NAME_MAX:
        raise BadRequest(f"{field} is longer than {FOLDER_NAME_MAX} characters")
    if "/" in name or "\\" in name:
        raise BadRequest(f"{field} may not contain / or \\")
    if not _NAME_CHARS.fullmatch(name):
        raise BadRequest(f"{field} may only hold letters, digits, spaces and - _ . , ( ) + # :")
    if ".." in name or not _LETTER_OR_DIGIT.search(name):
        raise BadRequest(f"{field} must hold a letter or a digit and may not contain '..'")
    try:
        uuid.UUID(name)
    except ValueError:
        return name
    raise BadRequest(f"{field} may not be an id")


def _owned(row: dict, user_id: UUID) -> dict:
    if row["owner_id"] != user_id:
        raise Forbidden("this folder is not yours")
    return row


def owned_folder(conn: Connection, user_id: UUID, folder_id: UUID) -> dict:
    """The folder {id, owner_id, name, metadata, created_at, is_default}.

    Raises NotFound (no such folder) and Forbidden (another user's).
    """
    row = folders.find_by_id(conn, folder_id)
    if row is None:
        raise NotFound("no such folder")
    return _owned(row, user_id)


def resolve_folder(conn: Connection, user_id: UUID, ref: str, *, name: str = "folder_name") -> dict:
    """The caller's folder that `ref` names: a folder id, or the name of one of the
    caller's folders (`General` is the default folder). Returns the folder as owned_folder.

    Raises BadRequest (empty), NotFound (no such folder), Forbidden (another user's).
    """
    ref = ref.strip()
    if not ref:
        raise BadRequest(f"{name} is missing")
    try:
        folder_id = parse_uuid(ref, name)
    except BadRequest:
        folder_id = None
    row = folders.find_by_id(conn, folder_id) if folder_id is not None else None
    if row is not None:
        return _owned(row, user_id)
    row = folders.find_by_name(conn, user_id, ref)
    if row is None:
        raise NotFound(f"no folder {ref!r}")
    return row


def _picture_entry(row: dict) -> dict:
    """A picture as get-directories lists it: the one place that shapes it."""
    return {
        "picture_id": row["id"],
        "is_validated": row["is_validated"],
        "inference_exist": row["inference_exist"],
        "thumbnail": thumbnail_url(row["thumbnail"]),
    }


def list_directories(user_id: UUID) -> dict:
    """{"folders": [{"picture_set_id", "folder_name", "nb_pictures", "pictures"}]}, the
    default folder first, then by creation; pictures oldest first. Two queries, whatever
    the number of folders and pictures. Raises DependencyUnavailable."""
    with connection() as conn:
        folder_rows = folders.list_for_owner(conn, user_id)
        picture_rows = pictures.list_for_owner(conn, user_id)
    by_folder: dict[str, list[dict]] = {str(row["id"]): [] for row in folder_rows}
    for row in picture_rows:
        # A folder created between the two queries is not listed; neither are its pictures.
        if row["picture_set_id"] in by_folder:
            by_folder[row["picture_set_id"]].append(_picture_entry(row))
    listed = []
    for row in folder_rows:
        entries = by_folder[str(row["id"])]
        listed.append({"picture_set_id": str(row["id"]), "folder_name": row["name"],
                       "nb_pictures": len(entries), "pictures": entries})
    return {"folders": listed}


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
