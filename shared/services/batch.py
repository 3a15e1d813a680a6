"""Batch import: a session (a new folder) for pictures of known species, and the upload
of each picture into it, labelled with its seed, stored once per session."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shared import images
from shared.db import connection
from shared.db.queries import folders, pictures, seeds
from shared.errors import NotFound
from shared.picture_blobs import stored_picture
from shared.services.folders import create_folder, owned_folder
from shared.settings import get_settings


@dataclass(frozen=True)
class NewBatch:
    """new-batch-import: the session's folder to create."""

    user_id: UUID
    nb_pictures: int  # at least 1
    folder_name: str | None  # None: named after its id


@dataclass(frozen=True)
class Upload:
    """upload-picture: a picture of a known species for a session's folder."""

    user_id: UUID
    session_id: UUID
    seed_id: UUID | None  # the seed, else
    seed_name: str | None  # the seed of that name, cleaned as a feedback label is
    image: bytes
    zoom_level: float | None  # greater than 0
    nb_seeds: int | None  # at least 0


class _AlreadyStored(Exception):
    """The same bytes were stored in the session by a post that committed first."""


def new_batch_import(req: NewBatch) -> dict:
    """Create the session's folder, recording the expected picture count; return
    {"session_id"}. Raises BadRequest (a name that breaks the folder name rules), Conflict
    (a folder of that name exists), DependencyUnavailable."""
    folder_id = create_folder(req.user_id, req.folder_name, metadata={"nb_pictures": req.nb_pictures})
    return {"session_id": str(folder_id)}


def upload_picture(req: Upload) -> list[bool]:
    """Store the picture in the user's folder `session_id`, labelled with the seed
    `seed_id`, else the seed named `seed_name` (added to the catalogue when unknown), so
    validated at once; zoom_level and nb_seeds go into its metadata. The same bytes
    posted again into the session store nothing new. Returns [True].

    Raises NotFound (folder or seed_id), Forbidden (another user's folder),
    UnsupportedMediaType, PayloadTooLarge, DependencyUnavailable.
    """
    user_id, session_id, seed_id, data = req.user_id, req.session_id, req.seed_id, req.image
    sha256 = images.sha256_hex(data)
    with connection() as conn:
        owned_folder(conn, user_id, session_id)
        if seed_id is not None and seeds.find_by_id(conn, seed_id) is None:
            raise NotFound("no seed with this seed_id")
        if pictures.uploaded_in_session(conn, session_id, sha256):
            return [True]

    settings = get_settings()
    picture = images.decode(data, max_pixels=settings.max_image_pixels)
    images.check_accepted(picture.format, settings.valid_extensions)
    metadata = {key: value for key, value in (("zoom_level", req.zoom_level), ("nb_seeds", req.nb_seeds))
                if value is not None}
    try:
        with stored_picture(user_id, session_id, data, extension=picture.extension,
                            content_type=picture.content_type) as new, connection() as conn:
            # Holds off a delete of the folder until this commits; finds it gone if one won.
            if folders.lock_for_insert(conn, session_id) is None:
                raise NotFound("no such folder")
            if seed_id is not None:
                label = seed_id
            else:
                assert req.seed_name is not None  # the edge requires one of the two
                label = seeds.insert_missing(conn, [req.seed_name])[0].id
            if not pictures.insert(
                conn, picture_id=new.id, folder_id=session_id, blob_name=new.blob_name,
                content_type=picture.content_type, width=picture.width, height=picture.height,
                sha256=picture.sha256, metadata=metadata, upload_session_id=session_id,
            ):
                raise _AlreadyStored
            pictures.add_label(conn, new.id, label)
    except _AlreadyStored:
        pass  # the blob just written was deleted again by stored_picture
    return [True]
