"""A picture's blobs: where its bytes and its thumbnail live, and the write of a new
picture (stored_picture): the blob (and maybe its thumbnail) first, then its rows in one
transaction; the blobs are deleted again if that fails, unless the database went away
during the commit and a row may name them."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from contextvars import copy_context
from dataclasses import dataclass
from uuid import UUID

from shared import storage
from shared.db import connection, lost_mid_transaction
from shared.db.queries import pictures
from shared.errors import AppError
from shared.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewPicture:
    """A picture whose blob is being written and whose rows are to be inserted."""

    id: UUID
    blob_name: str
    upload: Future[None]
    processing: Future[dict] | None

    def uploaded(self) -> None:
        """Wait for the blob. Raises DependencyUnavailable when the upload failed."""
        self.upload.result()

    def processed(self) -> dict:
        """What the `processing` given to stored_picture returned, for the row's metadata;
        {} without one, or when it failed (the blob trigger does that work then)."""
        try:
            return self.processing.result() if self.processing else {}
        except AppError as exc:
            log.warning("left %s to the blob trigger: %s", self.blob_name, exc.message)
            return {}


_executor_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _uploads() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="picture-upload")
        return _executor


def blob_name(user_id: UUID, folder_id: UUID, picture_id: UUID, extension: str) -> str:
    """`<user_id>/<picture_set_id>/<picture_id>.<ext>`: ids only, no user text."""
    return f"{user_id}/{folder_id}/{picture_id}.{extension}"


def thumbnail_blob_name(picture_blob_name: str) -> str:
    """The thumbnail's name in NACHET_THUMBNAILS_CONTAINER: the picture's path, ending .webp."""
    stem, dot, _ = picture_blob_name.rpartition(".")
    return f"{stem if dot else picture_blob_name}.webp"


@contextmanager
def stored_picture(
    user_id: UUID, folder_id: UUID, data: bytes, *, extension: str, content_type: str,
    in_background: bool = False, processing: Callable[[str], dict] | None = None,
) -> Iterator[NewPicture]:
    """Upload the picture's blob, then run the block, which inserts its rows in a
    transaction that commits before the block ends. If the block fails, the blob is
    deleted again (a crash in between leaves it to the repair command).

    With `in_background`, the block starts while the upload runs, so that slow work
    (running the models) overlaps it; the block must call `picture.uploaded()` before
    it commits rows that name the blob.

    `processing`, run beside the upload with the blob's name, does the blob trigger's work
    (its thumbnail, written, and the metadata recording it: NewPicture.processed()); its
    thumbnail is deleted with the blob if the block fails.

    Raises DependencyUnavailable when the upload fails (the blob is deleted then too).
    """
    picture_id = uuid.uuid4()
    name = blob_name(user_id, folder_id, picture_id, extension)
    container = get_settings().pictures_container
    # In copies of the request's context: their spans are the request's (shared.telemetry).
    upload = _uploads().submit(copy_context().run, storage.upload, container, name, data,
                               content_type=content_type)
    work = _uploads().submit(copy_context().run, processing, name) if processing else None
    picture = NewPicture(picture_id, name, upload, work)
    try:
        # Inside the try: an upload that fails after the storage wrote the blob (a lost
        # answer) leaves nothing behind either.
        if not in_background:
            picture.uploaded()
        yield picture
        picture.uploaded()  # a block that forgot to wait has committed rows: still wait
    except BaseException as exc:
        for writing in (upload, work):
            with suppress(Exception):
                if writing:
                    writing.result()  # let it end before deleting what it wrote
        if lost_mid_transaction(exc) and _may_have_row(name):
            # Committed, but the answer was lost with the connection: the blob is a picture's.
            log.error("kept blob %s: its rows may have been committed; repair will decide", name)
            raise
        blobs = [(container, name)]
        if work:
            blobs.append((get_settings().thumbnails_container, thumbnail_blob_name(name)))
        for blob in blobs:
            try:
                storage.delete(*blob)
            except AppError:
                log.error("could not delete blob %s/%s after a failed write; repair will", *blob)
        raise


def _may_have_row(name: str) -> bool:
    """Whether a picture row names the blob, or that cannot be known now."""
    try:
        with connection() as conn:
            return bool(pictures.referenced_blob_names(conn, [name]))
    except AppError:
        return True
