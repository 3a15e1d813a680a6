"""The blob trigger's work on each new picture: record on its row what the blob really
holds (format, size, sha256, checks) and write its WebP thumbnail. A route that decoded the
picture it stores does the thumbnail and checks itself (processed_by_request); the trigger
then leaves those bytes as they are."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from shared import storage
from shared.db import connection
from shared.db.queries import picture_processing as queries
from shared.errors import ConfigurationError, NotFound
from shared.images import DecodedImage, sha256_hex
from shared.memory import large_arrays_reused
from shared.picture_blobs import thumbnail_blob_name
from shared.services.image_checks import CheckedImage, inspect_decoded, inspect_image
from shared.settings import get_settings

log = logging.getLogger(__name__)

# Every setting is checked when the trigger loads, as shared.http does for the HTTP
# functions: a bad deployment fails at start-up, not on the first picture.
get_settings()

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_PICTURE_BLOB = re.compile(rf"{_UUID}/{_UUID}/{_UUID}\.\w+")
_ROW_POLL_S = 0.5
# How long one invocation waits for a missing row before failing, so that the host tries
# again: well within its own functionTimeout, and five tries (the host's default) outlast
# the grace below even when the host retries at once, as Azure's does.
_ROW_WAIT_S = 90.0


def _function_timeout_s(host_json: Path) -> float:
    """host.json's functionTimeout ([d.]hh:mm:ss) in seconds. Raises ConfigurationError."""
    try:
        value = json.loads(host_json.read_text())["functionTimeout"]
        days, _, clock = value.rpartition(".")
        hours, minutes, seconds = (float(part) for part in clock.split(":"))
        return (float(days or 0) * 24 + hours) * 3600 + minutes * 60 + seconds
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ConfigurationError(f"{host_json} must set functionTimeout as hh:mm:ss: the blob "
                                 "trigger waits that long for a new picture's row") from None


# A request that uploads a picture commits its row before host.json's functionTimeout ends
# it (/api/inf runs its models in between): a blob older than that with no row has none to
# come, and is an orphan left to the repair command. A minute more for the clocks of the
# storage and of this instance.
ROW_GRACE_S = _function_timeout_s(Path(__file__).resolve().parents[2] / "host.json") + 60


class RowNotCommittedYet(Exception):
    """A young blob has no row yet: raised so that the host tries the blob again later."""


def _wait_for_row(container: str, blob_name: str) -> queries.BlobPicture | None:
    # The blob is uploaded before its row commits (shared.picture_blobs): a young blob
    # without a row is waited for (_ROW_WAIT_S here, then again at the host's next try),
    # one older than ROW_GRACE_S is ignored.
    waited_until = time.monotonic() + _ROW_WAIT_S
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
        if age_s >= ROW_GRACE_S:
            log.warning("ignored %s/%s: no picture row %.0f s after upload", container, blob_name, age_s)
            return None
        if time.monotonic() >= waited_until:
            raise RowNotCommittedYet(f"no picture row yet {age_s:.0f} s after upload; tried again "
                                     f"until {ROW_GRACE_S:.0f} s")
        time.sleep(min(_ROW_POLL_S, ROW_GRACE_S - age_s))


@large_arrays_reused()  # the blob's bytes, decoded pixels and thumbnail come and go
def process_picture(path: str, data: bytes) -> bool:
    """Post-process the picture blob at `path` ("<container>/<blob name>", as the host names
    it) holding `data`: write its thumbnail when it decodes (remove a stale one when it
    does not), then record its sha256, real format and size and its checks on its row.
    The same blob processed again gives the same row and thumbnail; a blob whose row
    records its sha256 with its checks and thumbnail (processed_by_request, or an earlier
    run) is left as it is.

    Returns False when the blob is ignored: not a picture's blob name, or no picture row
    ROW_GRACE_S after upload. Bad bytes are recorded, never raised. Raises
    DependencyUnavailable (database or storage down) and RowNotCommittedYet, on which the
    host retries.
    """
    container, _, blob_name = path.partition("/")
    if not _PICTURE_BLOB.fullmatch(blob_name):
        log.warning("ignored %s: not <user_id>/<picture_set_id>/<picture_id>.<ext>", path)
        return False
    row = _wait_for_row(container, blob_name)
    if row is None:
        return False
    sha256 = sha256_hex(data)
    if row.sha256 == sha256 and row.checked and row.thumbnail == thumbnail_blob_name(blob_name):
        # Recorded for these very bytes, by the route that stored them or an earlier run.
        log.info("processed %s: already recorded", path)
        return True
    inspection = inspect_image(data, claimed_type=row.content_type)
    checked = inspection.checked
    thumbnails = get_settings().thumbnails_container
    thumbnail: str | None = None
    if checked:
        thumbnail = _write_thumbnail(blob_name, checked)
    else:
        # A new version of the blob that no longer decodes: the old thumbnail goes.
        storage.delete(thumbnails, thumbnail_blob_name(blob_name))
    decoded = checked.decoded if checked else None
    with connection() as conn:
        recorded = queries.record_processing(
            conn, row.id, blob_name, sha256=sha256,
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


def processed_by_request(picture: DecodedImage, blob_name: str) -> dict:
    """process_picture's work on a new picture's blob `blob_name`, done by the request that
    stores it from the pixels it decoded (rather than by the trigger, decoding them again):
    writes the WebP thumbnail and returns the thumbnail's name and the checks for the row's
    metadata; {} when the pixels do not decode. With these and the file's sha256 on its
    row, the trigger leaves the blob as it is. Raises DependencyUnavailable."""
    inspection = inspect_decoded(picture)
    if inspection.checked is None:
        return {}
    return {"thumbnail": _write_thumbnail(blob_name, inspection.checked), "checks": inspection.checks}


def _write_thumbnail(blob_name: str, checked: CheckedImage) -> str:
    name = thumbnail_blob_name(blob_name)
    storage.upload(get_settings().thumbnails_container, name, checked.thumbnail, content_type="image/webp")
    return name
