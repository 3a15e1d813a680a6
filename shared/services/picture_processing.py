"""The blob trigger's work on each new picture: record on its row what the blob really
holds (format, size, sha256, checks) and write its WebP thumbnail."""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime

from shared import storage
from shared.db import connection
from shared.db.queries import picture_processing as queries
from shared.errors import NotFound
from shared.images import sha256_hex
from shared.picture_blobs import thumbnail_blob_name
from shared.services.image_checks import inspect_image
from shared.settings import get_settings

log = logging.getLogger(__name__)

# Every setting is checked when the trigger loads, as shared.http does for the HTTP
# functions: a bad deployment fails at start-up, not on the first picture.
get_settings()

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_PICTURE_BLOB = re.compile(rf"{_UUID}/{_UUID}/{_UUID}\.\w+")
_ROW_POLL_S = 0.5


def _wait_for_row(container: str, blob_name: str) -> queries.BlobPicture | None:
    # The blob is uploaded before its row commits (shared.picture_blobs): a young blob
    # without a row is waited for, an old one is an orphan left to the repair command.
    grace_s = get_settings().trigger_row_grace_s
    while True:
        with connection() as conn:
            row = queries.find_by_blob_name(conn, blob_name)
        if row is not None:
            return row
        try:
            written = storage.last_modified(container, blob_name)
        except NotFound:
            log.info("ignored %s/%s: deleted before a row was committed", container, blob_name)
            return None
        age_s = (datetime.now(UTC) - written).total_seconds()
        if age_s >= grace_s:
            log.warning("ignored %s/%s: no picture row %.0f s after upload", container, blob_name, age_s)
            return None
        time.sleep(min(_ROW_POLL_S, grace_s - age_s))


def process_picture(path: str, data: bytes) -> bool:
    """Post-process the picture blob at `path` ("<container>/<blob name>", as the host names
    it) holding `data`: write its thumbnail when it decodes (remove a stale one when it
    does not), then record its sha256, real format and size and its checks on its row.
    The same blob processed again gives the same row and thumbnail.

    Returns False when the blob is ignored: not a picture's blob name, or no picture row
    (see NACHET_TRIGGER_ROW_GRACE_S). Bad bytes are recorded, never raised. Raises
    DependencyUnavailable (database or storage down), on which the host retries.
    """
    container, _, blob_name = path.partition("/")
    if not _PICTURE_BLOB.fullmatch(blob_name):
        log.warning("ignored %s: not <user_id>/<picture_set_id>/<picture_id>.<ext>", path)
        return False
    row = _wait_for_row(container, blob_name)
    if row is None:
        return False
    inspection = inspect_image(data, claimed_type=row.content_type)
    checked = inspection.checked
    thumbnails = get_settings().thumbnails_container
    thumbnail: str | None = None
    if checked:
        thumbnail = thumbnail_blob_name(blob_name)
        storage.upload(thumbnails, thumbnail, checked.thumbnail, content_type="image/webp")
    else:
        # A new version of the blob that no longer decodes: the old thumbnail goes.
        storage.delete(thumbnails, thumbnail_blob_name(blob_name))
    decoded = checked.decoded if checked else None
    with connection() as conn:
        recorded = queries.record_processing(
            conn, row.id, blob_name, sha256=sha256_hex(data),
            metadata={"thumbnail": thumbnail, "checks": inspection.checks},
            content_type=decoded.content_type if decoded else None,
            width=decoded.width if decoded else None,
            height=decoded.height if decoded else None,
        )
    if not recorded:
        # The picture went while it was processed: its thumbnail must not outlive it.
        if thumbnail:
            storage.delete(thumbnails, thumbnail)
        log.info("ignored %s: its picture was deleted or moved meanwhile", path)
        return False
    log.info("processed %s: checks %s%s", path, inspection.checks["status"],
             f" ({inspection.checks['reason']})" if inspection.checks["reason"] else "")
    return True
