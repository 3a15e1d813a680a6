"""Where a picture's bytes live, and writing them together with its rows: the blob
first, then the rows in one transaction; the blob is deleted again if that fails."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

from shared import storage
from shared.errors import AppError
from shared.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewPicture:
    """A picture whose blob is written and whose rows are being inserted."""

    id: UUID
    blob_name: str


def blob_name(user_id: UUID, folder_id: UUID, picture_id: UUID, extension: str) -> str:
    """`<user_id>/<picture_set_id>/<picture_id>.<ext>`: ids only, no user text."""
    return f"{user_id}/{folder_id}/{picture_id}.{extension}"


@contextmanager
def stored_picture(
    user_id: UUID, folder_id: UUID, data: bytes, *, extension: str, content_type: str
) -> Iterator[NewPicture]:
    """Upload the picture's blob, then run the block, which inserts its rows in a
    transaction that commits before the block ends. If the block fails, the blob is
    deleted again (a crash in between leaves it to the repair command).

    Raises DependencyUnavailable when the upload fails (the blob is deleted then too).
    """
    picture_id = uuid.uuid4()
    picture = NewPicture(picture_id, blob_name(user_id, folder_id, picture_id, extension))
    container = get_settings().pictures_container
    try:
        # Inside the try: an upload that fails after the storage wrote the blob (a lost
        # answer) leaves nothing behind either.
        storage.upload(container, picture.blob_name, data, content_type=content_type)
        yield picture
    except BaseException:
        try:
            storage.delete(container, picture.blob_name)
        except AppError:
            log.error("could not delete blob %s after a failed write; repair will", picture.blob_name)
        raise
