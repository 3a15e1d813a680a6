"""Batch import: a session (a new folder) for pictures of known species, and the upload
of each picture into it, labelled with its seed, stored once per session."""

from __future__ import annotations

from uuid import UUID

from shared import images
from shared.db import connection
from shared.db.queries import folders, pictures, seeds
from shared.errors import BadRequest, NotFound, UnsupportedMediaType
from shared.http import decode_data_url
from shared.pictures import stored_picture
from shared.services.catalogue import clean_label
from shared.services.folders import create_folder, owned_folder
from shared.settings import get_settings

SEED_NAME_MAX = 200


class _AlreadyStored(Exception):
    """The same bytes were stored in the session by a post that committed first."""


def new_batch_import(user_id: UUID, *, nb_pictures: int, folder_name: object) -> dict:
    """Create the session's folder, named `folder_name` or, when it is "" or None, after
    its id, recording the expected picture count; return {"session_id"}.

    Raises BadRequest (nb_pictures below 1, a name that breaks the folder name rules),
    Conflict (a folder of that name exists), DependencyUnavailable.
    """
    if nb_pictures < 1:
        raise BadRequest("nb_pictures must be at least 1")
    if folder_name is not None and not isinstance(folder_name, str):
        raise BadRequest("folder_name must be a string")
    folder_id = create_folder(user_id, folder_name or None, metadata={"nb_pictures": nb_pictures})
    return {"session_id": str(folder_id)}


def _seed_name(value: str | None) -> str | None:
    """`value` cleaned as a feedback label is, so that both name a new seed alike."""
    if value is None:
        return None
    value = clean_label(value)
    if len(value) > SEED_NAME_MAX:
        raise BadRequest(f"seed_name is longer than {SEED_NAME_MAX} characters")
    return value or None


def upload_picture(
    user_id: UUID, *, session_id: UUID, seed_id: UUID | None, seed_name: str | None, image: object,
    zoom_level: float | None = None, nb_seeds: int | None = None,
) -> list[bool]:
    """Store the picture (data URL `image`) in the user's folder `session_id`, labelled
    with the seed `seed_id`, else the seed named `seed_name` (added to the catalogue when
    unknown), so validated at once; zoom_level and nb_seeds go into its metadata. The same
    bytes posted again into the session store nothing new. Returns [True].

    Raises BadRequest (no seed named, bad data URL, negative nb_seeds or zoom_level),
    NotFound (folder or seed_id), Forbidden (another user's folder), PayloadTooLarge,
    UnsupportedMediaType, DependencyUnavailable.
    """
    seed_name = _seed_name(seed_name)
    if seed_id is None and seed_name is None:
        raise BadRequest("seed_id or seed_name is missing")
    if zoom_level is not None and zoom_level <= 0:
        raise BadRequest("zoom_level must be greater than 0")
    if nb_seeds is not None and nb_seeds < 0:
        raise BadRequest("nb_seeds must be at least 0")
    data = decode_data_url(image).data
    sha256 = images.sha256_hex(data)
    with connection() as conn:
        owned_folder(conn, user_id, session_id)
        if seed_id is not None and seeds.find_by_id(conn, seed_id) is None:
            raise NotFound("no seed with this seed_id")
        if pictures.uploaded_in_session(conn, session_id, sha256):
            return [True]

    settings = get_settings()
    picture = images.decode(data, max_pixels=settings.max_image_pixels)
    if picture.extension not in settings.valid_extensions:
        raise UnsupportedMediaType(f"{picture.format} images are not accepted here")
    metadata = {key: value for key, value in (("zoom_level", zoom_level), ("nb_seeds", nb_seeds))
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
                assert seed_name is not None  # one of the two is given, checked above
                label = seeds.insert_missing(conn, [seed_name])[0].id
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
