"""A picture's blobs: where its bytes and its thumbnail live, and the write of a new
picture (stored_picture): the blob (and maybe its thumbnail) first, then its rows in one
transaction; the blobs are deleted again if that fails, unless the database went away
during the commit and a row may name them."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared import storage
from shared.db import connection, lost_mid_transaction
from shared.db.queries import pictures
from shared.errors import AppError, DependencyUnavailable
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
        """Wait for the blob, at most UPLOAD_WAIT_S. Raises DependencyUnavailable when the
        upload failed or did not end in time."""
        try:
            self.upload.result(timeout=UPLOAD_WAIT_S)
        except TimeoutError:
            log.warning("blob %s: not stored within %.0f s", self.blob_name, UPLOAD_WAIT_S)
            raise _UploadTooSlow("the storage did not store the picture in time") from None

    def processed(self) -> dict:
        """What the `processing` given to stored_picture returned, for the row's metadata;
        {} without one, or when it failed or did not end within UPLOAD_WAIT_S (the blob
        trigger does that work then)."""
        try:
            return self.processing.result(timeout=UPLOAD_WAIT_S) if self.processing else {}
        except TimeoutError:
            log.warning("left %s to the blob trigger: not processed within %.0f s", self.blob_name,
                        UPLOAD_WAIT_S)
            return {}
        except AppError as exc:
            log.warning("left %s to the blob trigger: %s", self.blob_name, exc.message)
            return {}


class _UploadTooSlow(DependencyUnavailable):
    """An upload that did not end within UPLOAD_WAIT_S (a 503)."""


# The uploads of every request of the process share _uploads()' threads: a hung storage
# call must not hold a request (and its connection and locks) past this, queued or not.
# The storage client's read timeout: an upload that is taking longer is stuck.
UPLOAD_WAIT_S = 60.0


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

    Raises DependencyUnavailable when the upload fails or takes more than UPLOAD_WAIT_S (the
    blobs are deleted then too, once their writes end).
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
        writes: list[Future[Any]] = [w for w in (upload, work) if w is not None]
        for writing in writes:
            writing.cancel()  # still queued: it never runs
        if all(w.cancelled() for w in writes):
            raise
        # Let them end before deleting what they wrote, unless the upload has had its time.
        wait(writes, timeout=0 if isinstance(exc, _UploadTooSlow) else UPLOAD_WAIT_S)
        blobs = [(container, name)]
        if work:
            blobs.append((get_settings().thumbnails_container, thumbnail_blob_name(name)))
        if not all(w.done() for w in writes):
            # Still writing (a hung storage): deleted once the writes end, by their thread,
            # rather than this request waiting for them. No row names them.
            _delete_once_done(writes, blobs)
            raise
        if lost_mid_transaction(exc) and _may_have_row(name):
            # Committed, but the answer was lost with the connection: the blob is a picture's.
            log.error("kept blob %s: its rows may have been committed; repair will decide", name)
            raise
        _delete(blobs)
        raise


def _delete_once_done(writes: list[Future[Any]], blobs: list[tuple[str, str]]) -> None:
    """Delete `blobs` once every one of `writes` has ended, in the thread of the last to end."""
    pending = [w for w in writes if not w.done()]
    if pending:
        pending[0].add_done_callback(lambda _: _delete_once_done(pending[1:], blobs))
    else:
        _delete(blobs)


def _delete(blobs: list[tuple[str, str]]) -> None:
    """Delete the blobs of a failed write, or log that repair will."""
    for blob in blobs:
        try:
            storage.delete(*blob)
        except AppError:
            log.error("could not delete blob %s/%s after a failed write; repair will", *blob)


def _may_have_row(name: str) -> bool:
    """Whether a picture row names the blob, or that cannot be known now."""
    try:
        with connection() as conn:
            return bool(pictures.referenced_blob_names(conn, [name]))
    except AppError:
        return True
